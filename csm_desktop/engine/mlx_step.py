"""The frame step in MLX: what :class:`csm_desktop.engine.step.FrameStep` does, for an
:class:`~csm_desktop.engine.mlx_model.MlxCsmModel`, with the same interface for the generator.

A frame is one lazy MLX graph (backbone step, 31 depth-decoder steps, sampling) evaluated once;
only its 32 codes per row cross back, into torch CPU buffers (:attr:`MlxFrameStep.codes`,
:attr:`MlxFrameStep.ended`), where the generator and Mimi read them.

Sampling is ``sampling.py``'s, op for op: greedy argmax, or top-k by the Gumbel-max trick with
the same counter-based hash of (key, position, index) in 32-bit integers, so a seed gives the
torch engine's codes wherever the two round alike.
"""

from __future__ import annotations

import contextlib

import mlx.core as mx
import numpy as np
import torch

from csm_desktop.engine.mlx_model import MlxCsmModel
from csm_desktop.engine.step import PREFILL_BLOCK
from csm_desktop.errors import DeviceError

_MASK32 = 0xFFFFFFFF


def mix32(x: mx.array) -> mx.array:
    """``sampling._mix32`` on uint32 arrays: the products wrap at 2**32 as its ``& 0xFFFFFFFF`` does."""
    x = x ^ (x >> 16)
    x = x * 0x21F0AAAD
    x = x ^ (x >> 15)
    x = x * 0x735A2D97
    return x ^ (x >> 15)


def pick_codes(logits: mx.array, topk: int, temperature: float, noise: mx.array | None) -> mx.array:
    """``sampling.pick_codes`` in MLX: ids ``[B]`` from logits ``[B, V]``, greedy when ``topk <= 1``
    or ``noise`` (``[B, V]`` Gumbel noise) is None, else the top-k Gumbel-max sample."""
    if topk <= 1 or noise is None:
        return mx.argmax(logits, axis=-1)
    scores = logits.astype(mx.float32) / temperature
    kth = mx.topk(scores, min(topk, scores.shape[-1]), axis=-1).min(axis=-1, keepdims=True)
    return mx.argmax(mx.where(scores < kth, -mx.inf, scores) + noise, axis=-1)


@contextlib.contextmanager
def _memory_errors():
    """MLX reports a full GPU as a RuntimeError ("[metal::malloc] ...", "Insufficient Memory")."""
    try:
        yield
    except RuntimeError as exc:
        text = str(exc).lower()
        if "memory" not in text and "malloc" not in text:
            raise
        raise DeviceError(
            "MLX ran out of memory. Close other programs, shorten the context or the line, or choose "
            "another device in Settings."
        ) from exc


def _shared_prefix(rows: torch.Tensor | None, cached: torch.Tensor | None, n: int) -> int:
    """How many of the first ``n`` prompt rows equal the cached ones, counted from the start."""
    if rows is None or cached is None:
        return 0
    m = min(n, len(cached))
    differing = (rows[:m] != cached[:m]).any(dim=1).nonzero()
    return int(differing[0]) if len(differing) else m


class MlxFrameStep:
    """Generates one frame per :meth:`run` for ``batch`` rows, as :class:`FrameStep` does.

    Each step holds its own KV caches; the batch-1 step remembers which prompt positions its
    caches hold (reused by the next prompt that shares them, in the torch step's blocks, so
    the codes do not depend on what was cached), and a batch step prefills through it.
    """

    accel = "mlx"  # MLX has one way to run: a lazy graph per frame
    fallback_reason: str | None = None

    def __init__(self, model: MlxCsmModel, valid_vocab: int, batch: int = 1) -> None:
        cfg = model.cfg
        self.model = model
        self.valid_vocab = valid_vocab
        self.batch = batch
        self.device = model.device
        n_pos, n_cb = cfg.backbone.max_seq_len, cfg.audio_num_codebooks
        self.codes = torch.zeros(n_pos, batch, n_cb, dtype=torch.long)  # [S, B, N] codes made at each position
        self.ended = torch.zeros(n_pos, batch, dtype=torch.bool)  # [S, B] that row's frame is all zeros
        self.embeds = mx.zeros((batch, 1, cfg.backbone.embed_dim), dtype=model.dtype)  # [B, 1, Db]
        self.keys = [0] * batch
        self.temperature = 1.0
        self.topk = 1
        self._host_pos = 0
        self._cached_rows: torch.Tensor | None = None  # [P, N+1] prompt rows whose keys/values are cached
        self.prefilled: tuple[int, int] = (0, 0)
        self._caches = model.backbone.caches(batch, n_pos, model.dtype)
        self._decoder_caches = model.decoder.caches(batch, n_cb, model.dtype)
        self._index_bits = mix32(mx.arange(n_cb * valid_vocab, dtype=mx.uint32))  # [N * V]
        mx.eval(self.embeds, self._index_bits, *self._cache_arrays())  # made here, whichever thread runs it

    # ----- per generation ---------------------------------------------------------------------
    def start(self, prompt_embeds: mx.array, keys: list[int], temperature: float, topk: int,
              rows: torch.Tensor | None = None, prefill: MlxFrameStep | None = None) -> None:
        """As :meth:`FrameStep.start`: prefill the prompt ``[1, T, Db]`` but its last position."""
        if len(keys) != self.batch:
            raise ValueError(f"{len(keys)} sampling keys for a batch of {self.batch}")
        t = prompt_embeds.shape[1]
        with _memory_errors():
            if self.batch > 1:
                if prefill is None or prefill.batch != 1:
                    raise ValueError("a batch step prefills through the batch-1 step")
                prefill.prefill(prompt_embeds, rows)
                for cache, source in zip(self._caches, prefill._caches):
                    cache.copy_rows(source, t - 1)
                self.prefilled = prefill.prefilled
            else:
                self.prefill(prompt_embeds, rows)
            self.embeds = mx.broadcast_to(prompt_embeds[:, -1:], (self.batch, 1, prompt_embeds.shape[2]))
            mx.eval(self.embeds, *self._cache_arrays())
        self.keys = [int(k) for k in keys]
        self.temperature = max(temperature, 1e-5)
        self.topk = 1 if temperature <= 0 else max(1, int(topk))
        self._host_pos = t - 1

    def prefill(self, prompt_embeds: mx.array, rows: torch.Tensor | None) -> None:
        """Compute the keys and values of the prompt's positions but its last (batch 1)."""
        n = prompt_embeds.shape[1] - 1
        begin = _shared_prefix(rows, self._cached_rows, n) // PREFILL_BLOCK * PREFILL_BLOCK
        for s in range(begin, n, PREFILL_BLOCK):
            e = min(s + PREFILL_BLOCK, n)
            self.model.backbone(prompt_embeds[:, s:e], s, self._caches)  # only the caches are evaluated
            mx.eval(*self._cache_arrays())
        self._cached_rows = None if rows is None else rows[: n // PREFILL_BLOCK * PREFILL_BLOCK]
        self.prefilled = (begin, n)

    def forget_prompt(self) -> None:
        """Compute the next prompt in full."""
        self._cached_rows = None

    def run(self) -> int:
        """Make the frame at the current position and return that position."""
        p = self._host_pos
        with _memory_errors():
            codes, embeds = self._frame(p)
            mx.eval(codes, embeds, *self._cache_arrays())
        made = np.asarray(codes).astype(np.int64)  # [B, N]: the only values that come back
        self.codes[p] = torch.from_numpy(made)
        self.ended[p] = torch.from_numpy((made == 0).all(axis=1))
        self.embeds = embeds
        self._host_pos += 1
        return p

    def warm_up(self, topks: tuple[int, ...]) -> None:
        """Run a frame for each top-k value, so that MLX builds its GPU kernels now, not in the
        first line; the generation state is put back and the next prompt computed in full."""
        saved = self.embeds, self._host_pos, self.topk
        for k in topks:
            self.embeds, self._host_pos, self.topk = mx.zeros_like(saved[0]), 0, k
            self.run()
        self.embeds, self._host_pos, self.topk = saved
        self.forget_prompt()

    # ----- the frame ----------------------------------------------------------------------------
    def _cache_arrays(self) -> list[mx.array]:
        return [a for cache in (*self._caches, *self._decoder_caches) for a in cache.arrays()]

    def _noise(self, pos: int) -> mx.array:
        """``sampling.gumbel_noise`` for this step's keys at ``pos``: ``[B, N, V]`` float32."""
        n_cb = self.model.cfg.audio_num_codebooks
        streams = mix32(mx.array([(k + pos * 0x9E3779B1) & _MASK32 for k in self.keys], dtype=mx.uint32))
        bits = mix32(self._index_bits[None] + streams[:, None]) >> 8  # [B, N * V]: 24 uniform bits
        u = (bits.astype(mx.float32) + 0.5) * (1.0 / (1 << 24))  # (0, 1), never 0 or 1
        return (-mx.log(-mx.log(u))).reshape(self.batch, n_cb, self.valid_vocab)

    def _frame(self, pos: int) -> tuple[mx.array, mx.array]:
        """The codes ``[B, N]`` of the frame at ``pos`` and the next input ``[B, 1, Db]`` (lazy)."""
        model, vocab, topk = self.model, self.valid_vocab, self.topk
        n_cb, v_all = model.cfg.audio_num_codebooks, model.cfg.audio_vocab_size
        h = model.backbone(self.embeds, pos, self._caches)[:, -1]  # [B, Db]
        noise = self._noise(pos) if topk > 1 else None

        def sample(logits: mx.array, codebook: int) -> mx.array:
            return pick_codes(logits, topk, self.temperature, None if noise is None else noise[:, codebook])

        c = sample(h @ model.codebook0_head[:vocab].T, 0)  # [B]
        codes = [c]
        x = mx.stack([h, model.audio_embeddings[c]], axis=1)  # [B, 2, Db]: decoder positions 0 and 1
        offset = 0
        for i in range(1, n_cb):
            d = model.decoder(x @ model.projection.T, offset, self._decoder_caches)[:, -1]  # [B, Dd]
            c = sample(d @ model.audio_head[i - 1, :vocab].T, i)
            codes.append(c)
            offset += x.shape[1]
            x = model.audio_embeddings[c + i * v_all][:, None]  # [B, 1, Db]
        frame = mx.stack(codes, axis=1)  # [B, N]
        return frame, model.embed_frame(frame)
