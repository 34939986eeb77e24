"""Loading never holds two copies of the model: each parameter is made once, in the model's dtype,
from checkpoint tensors read for it alone (the full-size figures are in bench/RESULTS.md, from
bench/load_memory.py)."""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from csm_desktop.engine import weights
from csm_desktop.engine.checkpoint import load_model
from csm_desktop.engine.model import CsmModel


class _NewStorage(TorchDispatchMode):
    """Adds up the bytes of every new storage an op makes (views and in-place ops make none)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self._seen: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor) and t.device.type != "meta"}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                ptr = t.untyped_storage().data_ptr()
                if ptr not in inputs and ptr not in self._seen:
                    self._seen.add(ptr)
                    self.bytes += t.untyped_storage().nbytes()
        return out


def test_loading_holds_one_parameters_pieces_at_a_time_and_makes_each_parameter_once(tiny_folder, monkeypatch):
    """Float32 checkpoint, float16 model (the Mac's cast): the old loader read every tensor first,
    then fused and cast them all (the file's pages, the fused and the cast copies at once)."""
    live = {"now": 0, "peak": 0}
    read = weights.read_weights

    def counted_read(*args, **kwargs):
        found = read(*args, **kwargs)
        for t in found.values():
            live["now"] += t.nbytes
            live["peak"] = max(live["peak"], live["now"])
            weakref.finalize(t, lambda n=t.nbytes: live.__setitem__("now", live["now"] - n))
        return found

    monkeypatch.setattr(weights, "read_weights", counted_read)
    made = {}
    setup = CsmModel.setup_caches

    def before_caches(self, *args, **kwargs):
        made["bytes"] = recorder.bytes  # the parameters alone, before the KV caches and masks
        return setup(self, *args, **kwargs)

    monkeypatch.setattr(CsmModel, "setup_caches", before_caches)
    with _NewStorage() as recorder:
        model = load_model(tiny_folder, torch.device("cpu"), torch.float16)
    params = sum(p.nbytes for p in model.parameters())
    assert {p.dtype for p in model.parameters()} == {torch.float16}
    assert made["bytes"] == params  # each parameter made once, no fused or float32 intermediates
    largest_piece = max(p.numel() for p in model.parameters()) * 4  # float32 in the file
    assert live["peak"] <= largest_piece, (live["peak"], largest_piece, params)
