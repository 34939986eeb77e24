"""Top-k sampling that a CUDA graph can hold: no host synchronisation, no generator state.

The random numbers are a counter-based hash of (key, position, index), computed with integer
tensor ops: a frame's noise depends only on the seed and where the frame sits, and nothing has
to be re-seeded inside a captured graph. The noise is the same on every device; the codes are
the same for the same seed on the same device type, dtype and PyTorch build, whether or not
the step is graphed or compiled. Across those the logits round differently (CPU float32 and
CUDA bfloat16 already give other codes), so a seed names a take on one setup, not everywhere.
"""

from __future__ import annotations

import random

import torch

_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash on int64 tensors holding values in ``[0, 2**32)``.

    xorshift-multiply rounds (the shape of Wellons' "lowbias32"), with multipliers below 2**31
    so that no product leaves int64.
    """
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & _MASK32
    return x ^ (x >> 15)


def sampling_key(seed: int | None, attempt: int = 0) -> int:
    """A 32-bit key for :func:`gumbel_noise` from a user seed (None: a fresh random one)."""
    if seed is None:
        return random.getrandbits(32)
    x = torch.tensor([(int(seed) ^ (int(seed) >> 32)) & _MASK32], dtype=torch.long)
    x = _mix32((_mix32(x) + attempt * 0x632BE5AB) & _MASK32)
    return int(x)


def gumbel_noise(key: torch.Tensor, position: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Standard Gumbel noise (float32) for one frame: ``[rows, cols]`` for one key, or
    ``[B, rows, cols]`` for ``B`` keys (a batch of candidates; the noise of each key is the
    noise it gets alone).

    Args:
        key: int64 scalar or ``[B]`` tensor of keys from :func:`sampling_key`.
        position: int64 ``[1]`` tensor, the frame's position in the sequence.
    """
    stream = _mix32((key.reshape(-1, 1) + position * 0x9E3779B1) & _MASK32)  # [B, 1]
    index = torch.arange(rows * cols, device=position.device, dtype=torch.long)
    bits = _mix32((_mix32(index) + stream) & _MASK32) >> 8  # [B, rows * cols]: 24 uniform bits
    u = (bits.float() + 0.5) * (1.0 / (1 << 24))  # (0, 1), never 0 or 1
    noise = -torch.log(-torch.log(u))
    return noise.view(rows, cols) if key.ndim == 0 else noise.view(-1, rows, cols)


def first_argmax(x: torch.Tensor) -> torch.Tensor:
    """Index ``[B]`` of the largest value of each row of ``x`` ``[B, V]``, the lowest index on a
    tie. ``argmax`` promises no order among ties (MPS reduces in its own order), and greedy
    float16 logits tie often enough to matter."""
    top = x.amax(dim=-1, keepdim=True)
    index = torch.arange(x.shape[-1], device=x.device)
    # A row without its maximum (NaN) gets the last index, never one past the vocabulary.
    return torch.where(x == top, index, x.shape[-1] - 1).amin(dim=-1)


def pick_codes(
    logits: torch.Tensor, topk: int, temperature: torch.Tensor | float, noise: torch.Tensor | None
) -> torch.Tensor:
    """Ids ``[B]`` from logits ``[B, V]``: greedy when ``topk <= 1`` or ``noise`` is None, else a
    top-k sample at ``temperature`` by the Gumbel-max trick (argmax of logits / T + Gumbel noise,
    which draws from the softmax without a multinomial call that would synchronise with the host).

    Args:
        noise: ``[V]`` or ``[B, V]`` Gumbel noise, see :func:`gumbel_noise`.
    """
    if topk <= 1 or noise is None:
        return first_argmax(logits)
    scores = logits.float() / temperature
    # The k-th largest score is the smallest of the top k: unsorted top-k skips a sort per call.
    kth = torch.topk(scores, min(topk, scores.shape[-1]), dim=-1, sorted=False).values.amin(dim=-1, keepdim=True)
    scores = scores.masked_fill(scores < kth, float("-inf")) + noise
    return scores.argmax(dim=-1)
