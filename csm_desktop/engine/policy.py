"""How the engine runs on each kind of device: one object that the loader, the model, the frame
step and the generator read, so that a test can force the Apple GPU (MPS) choices on the CPU.

Why MPS differs (PyTorch 2.9's MPS backend, read against its kernels; no Mac here):

* float16 for the CSM transformer: a frame reads every weight once, and at float32 that is
  more memory traffic than a Mac moves in 80 ms. Mimi and sampling stay float32.
* slice writes into the KV caches: ``index_copy_`` on MPS rewrites the whole cache per call;
  eager frames know their position on the host, so they write a slice.
* attention: the query groups of GQA are folded into rows (no ``repeat_interleave`` copy of
  K/V); the attended length is rounded up to a multiple of 256 and the rest masked, so a
  frame does not build a new MPS graph for every new length. The mask is boolean, which
  MPS's Metal decode kernel takes; but a review of PyTorch 2.9's ``scaled_dot_product_attention``
  found that it turns a boolean mask into a float one before it picks a kernel, so in 2.9
  every call takes the MPSGraph path (whose graphs the rounding keeps few). Unmasked
  single-position calls over the exact filled length might reach the Metal kernel instead:
  a thing to time on a Mac (``bench/mac.py``), not assumed.
* the end-of-audio flag is read two frames behind, and the eager step is run at load so the
  first line does not pay for building the device's kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from csm_desktop.engine.accel import resolve_accel

CACHE_WRITES = ("index_copy", "slice")


@dataclass(frozen=True)
class DevicePolicy:
    """The per-device choices of the engine.

    Attributes:
        dtype: of the CSM transformer's weights and caches (Mimi and sampling stay float32).
        accel: the frame step's mode, ``"off"``, ``"graph"`` or ``"compile"`` (see ``accel.py``).
        end_lag: frames the end-of-audio flag is read behind the newest queued frame (the frames
            made past the end are dropped).
        cache_writes: ``"index_copy"`` (position from a device tensor: a CUDA graph needs it) or
            ``"slice"`` (eager frames write the slice the host knows).
        attend_round: 0 attends exactly the filled cache; else that length rounded up to a
            multiple of this (the rest masked), so few attention shapes occur.
        gqa_fold: fold each key/value head's query heads into rows of one attention call.
        bool_mask: a boolean attention mask (True = attend) instead of an additive float one.
        warm_up: run the eager frame step at load too (graphs and compiled steps always are).
        unmasked_decode: single-position (decode) attention calls read exactly the filled cache
            positions with no mask (prompt blocks stay masked). Off by default: in PyTorch 2.9
            this may reach MPS's Metal decode kernel, which a mask rules out, but it gives a new
            shape every frame; ``bench/mac.py`` times it as ``torch-mps-unmasked``.
    """

    dtype: torch.dtype
    accel: str
    end_lag: int
    cache_writes: str = "index_copy"
    attend_round: int = 0
    gqa_fold: bool = False
    bool_mask: bool = False
    warm_up: bool = False
    unmasked_decode: bool = False

    def __post_init__(self) -> None:
        if self.cache_writes not in CACHE_WRITES:
            raise ValueError(f"cache_writes must be one of {CACHE_WRITES}, not {self.cache_writes!r}")
        if self.cache_writes == "slice" and self.accel != "off":
            raise ValueError("slice cache writes need eager frames: a graph or compiled step reads its position "
                             "from a device tensor")
        if self.attend_round < 0 or self.end_lag < 0:
            raise ValueError("attend_round and end_lag are counts: 0 or more")

    def attended(self, kv_len: int, cache_len: int) -> int:
        """Cache positions an attention call reads when ``kv_len`` of them are filled."""
        if not self.attend_round:
            return kv_len
        r = self.attend_round
        return min(-(-kv_len // r) * r, cache_len)


CPU_POLICY = DevicePolicy(dtype=torch.float32, accel="off", end_lag=0)


def policy_for(device: torch.device, accel: str | None = "auto") -> DevicePolicy:
    """The policy for ``device`` with the requested speed-up mode (see :func:`resolve_accel`,
    which refuses ``compile`` on MPS).

    CUDA: bfloat16, a CUDA graph, the end flag read one frame behind. MPS: float16, eager, slice
    cache writes, attended length rounded to 256, GQA folded, boolean masks, the end flag read
    two frames behind, warmed up at load. CPU: float32, eager, the end flag read at once.
    """
    mode = resolve_accel(accel, device)
    if device.type == "cuda":
        return DevicePolicy(dtype=torch.bfloat16, accel=mode, end_lag=1)
    if device.type == "mps":
        return DevicePolicy(dtype=torch.float16, accel=mode, end_lag=2, cache_writes="slice", attend_round=256,
                            gqa_fold=True, bool_mask=True, warm_up=True)
    return DevicePolicy(dtype=torch.float32, accel=mode, end_lag=0)
