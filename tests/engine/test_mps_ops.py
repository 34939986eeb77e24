"""The Mac path's operators, checked on Linux: everything that loading, generating, streaming and
Mimi's encode/decode run under the MPS policy must exist on MPS (per the operator registry that
this PyTorch ships in torchgen) and never be float64 or complex (MPS has neither)."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import torch
import torchgen
import yaml
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.engine.policy import policy_for

NATIVE_FUNCTIONS = os.path.join(os.path.dirname(torchgen.__file__), "packaged", "ATen", "native",
                                "native_functions.yaml")
# Kernels registered for every backend at once count as present on MPS.
_EVERYWHERE = {"CompositeImplicitAutograd", "CompositeExplicitAutograd", "CompositeExplicitAutogradNonFunctional"}


class _OpRecorder(TorchDispatchMode):
    """Counts every aten op that runs, and notes those that touch a float64 or complex tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()
        self.wide: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops[f"{func._schema.name}.{func._overloadname}"] += 1
        for t in tree_leaves((args, kwargs, out)):
            if isinstance(t, torch.Tensor) and (t.dtype == torch.float64 or t.is_complex()):
                self.wide.add(str(func))
        return out


def _registry() -> dict[str, dict]:
    with open(NATIVE_FUNCTIONS, encoding="utf-8") as f:
        return {e["func"].split("(")[0]: e for e in yaml.load(f, Loader=yaml.CSafeLoader)}


def _has_mps_kernel(registry: dict[str, dict], op: str) -> bool:
    """``op`` as ``aten::name.overload``: an MPS kernel, or one for every backend, is registered."""
    name, overload = op.split("::", 1)[1].rsplit(".", 1)
    entry = registry.get(name if overload == "default" else f"{name}.{overload}")
    while entry is not None and "structured_delegate" in entry:  # the out= variant holds the kernels
        entry = registry.get(entry["structured_delegate"])
    if entry is None:
        return False
    if "dispatch" not in entry:  # no kernels of its own: it decomposes into other ops
        return True
    keys = {k.strip() for names in entry["dispatch"] for k in names.split(",")}
    return "MPS" in keys or bool(keys & _EVERYWHERE)


@pytest.fixture(scope="module")
def traced(tiny_folder):
    """Every op of a Mac session in miniature: load (MPS policy, float16, warm-up), a greedy and a
    sampled take, a stream, two candidates, Mimi encode and decode."""
    audio = torch.randn(1920 * 6, generator=torch.Generator().manual_seed(0)) * 0.1
    recorder = _OpRecorder()
    with recorder:
        gen = load_csm_1b("cpu", model=tiny_folder, policy=policy_for(torch.device("mps")))
        ctx = [Segment(0, "Earlier words.", codes=gen.encode_audio(audio))]
        gen.generate_codes("Hi there.", 1, ctx, max_audio_length_ms=400, topk=1)
        codes = gen.generate_codes("Hi there.", 1, ctx, max_audio_length_ms=400, seed=1)
        list(gen.stream("Hi there.", 1, ctx, max_audio_length_ms=400, seed=2))
        gen.generate_candidates("Hi there.", 1, ctx, num_candidates=2, max_audio_length_ms=240, seed=3)
        gen.decode_codes(codes)
    return recorder


def test_no_float64_or_complex_op_runs(traced):
    assert traced.ops["aten::scaled_dot_product_attention.default"] > 0  # it saw the model run
    assert traced.ops["aten::conv_transpose1d.default"] > 0 and traced.ops["aten::conv1d.default"] > 0  # and Mimi
    assert not traced.wide


def test_every_op_has_an_mps_kernel_in_this_pytorch(traced):
    registry = _registry()
    # The check itself can fail: CPU-only and CUDA-only kernels are not MPS kernels.
    assert not _has_mps_kernel(registry, "aten::_scaled_dot_product_flash_attention_for_cpu.default")
    assert not _has_mps_kernel(registry, "aten::_fused_moving_avg_obs_fq_helper.default")
    assert _has_mps_kernel(registry, "aten::index_copy.default")  # structured: its out= variant has MPS
    missing = sorted(op for op in traced.ops if not _has_mps_kernel(registry, op))
    assert not missing, f"ops without an MPS kernel in torch {torch.__version__}: {missing}"
