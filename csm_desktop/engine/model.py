"""CSM-1B: a Llama backbone over 33-column frames and a small depth decoder for the codebooks.

gpt-fast style: plain modules, static KV caches in buffers, RoPE tables in buffers, fused
QKV and gate/up projections. Q/K weights are in rotate-half order (the transformers layout);
the original layout is permuted at load time (see ``checkpoint.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from csm_desktop.engine.config import CsmModelConfig, RopeScaling, TransformerConfig
from csm_desktop.engine.policy import CPU_POLICY, DevicePolicy


def rope_frequencies(head_dim: int, base: float, scaling: RopeScaling | None) -> torch.Tensor:
    """Inverse frequencies ``[head_dim // 2]`` in float32, with Llama-3 scaling if given."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if scaling is None:
        return inv_freq
    low_wavelen = scaling.original_max_position_embeddings / scaling.low_freq_factor
    high_wavelen = scaling.original_max_position_embeddings / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / scaling.factor, inv_freq)
    smooth = (scaling.original_max_position_embeddings / wavelen - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, smoothed, scaled)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half RoPE. x: ``[B, H, T, D]``; cos, signed_sin: ``[T, D]``, see :func:`signed_sin`.

    ``rotate_half(x) * sin`` is ``roll(x, D/2) * signed_sin``: three kernels (roll, mul,
    addcmul) where slicing, negating and concatenating took five.
    """
    return torch.addcmul(x * cos, torch.roll(x, x.shape[-1] // 2, dims=-1), signed_sin)


def signed_sin(sin: torch.Tensor) -> torch.Tensor:
    """``sin`` with its first half negated: rotate-half's minus sign moved into the table."""
    half = sin.shape[-1] // 2
    return torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One fused kernel; on CUDA and the CPU it normalises and scales in float32 (the kernel's
        # accumulation type) and rounds once (PyTorch 2.9's MPS kernel rounds before scaling, as
        # Llama's reference does). Llama's casts around it cost three more kernels per norm.
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.n_heads = cfg.num_heads
        self.n_kv = cfg.num_kv_heads
        self.head_dim = cfg.attn_head_dim
        self.wqkv = nn.Linear(cfg.embed_dim, (self.n_heads + 2 * self.n_kv) * self.head_dim, bias=False)
        self.wo = nn.Linear(self.n_heads * self.head_dim, cfg.embed_dim, bias=False)
        self.policy = CPU_POLICY  # cache writes and GQA folding: see CsmModel.use_policy
        self.register_buffer("k_cache", None, persistent=False)  # [B, KV, S, hd] after setup_cache
        self.register_buffer("v_cache", None, persistent=False)

    def setup_cache(self, batch: int, length: int, dtype: torch.dtype, device: torch.device) -> None:
        shape = (batch, self.n_kv, length, self.head_dim)
        self.register_buffer("k_cache", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v_cache", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, D]
        cos: torch.Tensor,  # [T, hd]
        sin: torch.Tensor,
        input_pos: torch.Tensor,  # [T]
        mask: torch.Tensor,  # [T, S] additive (0 = attend, -inf = not), or bool (True = attend)
        first: int | None = None,  # input_pos[0] when the host knows it (eager frames, prefill)
        attend: int | None = None,  # with no mask: how many cache positions to read
    ) -> torch.Tensor:
        b, t, _ = x.shape
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv * self.head_dim
        qk, v = self.wqkv(x).split([q_size + kv_size, kv_size], dim=-1)
        # RoPE on queries and keys together: half the small ops of rotating them apart.
        qk = apply_rope(qk.view(b, t, self.n_heads + self.n_kv, self.head_dim).transpose(1, 2), cos, sin)
        q, k = qk.split([self.n_heads, self.n_kv], dim=1)  # [B, H, T, hd], [B, KV, T, hd]
        v = v.view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        assert self.k_cache is not None and self.v_cache is not None, "call setup_caches() first"
        if first is not None and self.policy.cache_writes == "slice":
            self.k_cache[:, :, first : first + t] = k
            self.v_cache[:, :, first : first + t] = v
        else:
            self.k_cache.index_copy_(2, input_pos, k)
            self.v_cache.index_copy_(2, input_pos, v)
        s = mask.shape[-1] if mask is not None else attend  # attend to the first S cached positions only
        keys, values = self.k_cache[:, :, :s], self.v_cache[:, :, :s]
        g = self.n_heads // self.n_kv
        if g > 1 and self.policy.gqa_fold:
            # Heads kv*g .. kv*g+g-1 share key/value head kv: as rows of one call they need no
            # copy of K/V per query head. [B, H, T, hd] -> [B, KV, G*T, hd], the mask tiled G times.
            folded = None if mask is None else mask.expand(g, t, s).reshape(g * t, s)
            y = F.scaled_dot_product_attention(q.reshape(b, self.n_kv, g * t, self.head_dim), keys, values,
                                               attn_mask=folded)
            y = y.view(b, self.n_heads, t, self.head_dim)
        else:
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=g > 1)
        return self.wo(y.transpose(1, 2).reshape(b, t, q_size))


class FeedForward(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.hidden = cfg.intermediate_dim
        self.w13 = nn.Linear(cfg.embed_dim, 2 * cfg.intermediate_dim, bias=False)  # gate, up
        self.w2 = nn.Linear(cfg.intermediate_dim, cfg.embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).split(self.hidden, dim=-1)
        return self.w2(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.embed_dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.embed_dim, cfg.norm_eps)
        self.mlp = FeedForward(cfg)

    def forward(self, x, cos, sin, input_pos, mask, first=None, attend=None):
        h = x + self.attn(self.attn_norm(x), cos, sin, input_pos, mask, first, attend)
        return h + self.mlp(self.mlp_norm(h))


class Transformer(nn.Module):
    """Llama decoder without token embedding or output head; returns normed hidden states."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.embed_dim, cfg.norm_eps)
        self.policy = CPU_POLICY  # attended length and mask type: see CsmModel.use_policy
        self.register_buffer("cos", None, persistent=False)  # [S, hd] after setup_caches
        self.register_buffer("sin", None, persistent=False)  # signed: see signed_sin
        self.register_buffer("causal", None, persistent=False)  # [S, S] additive or bool mask

    def setup_caches(self, batch: int, length: int, dtype: torch.dtype, device: torch.device) -> None:
        hd = self.cfg.attn_head_dim
        inv_freq = rope_frequencies(hd, self.cfg.rope_base, self.cfg.rope_scaling)
        freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)  # [S, hd/2]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos().to(device=device, dtype=dtype), persistent=False)
        self.register_buffer("sin", signed_sin(emb.sin()).to(device=device, dtype=dtype), persistent=False)
        self.register_buffer("causal", self._causal_mask(length, dtype, device), persistent=False)
        for layer in self.layers:
            layer.attn.setup_cache(batch, length, dtype, device)

    def _causal_mask(self, length: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        allowed = torch.tril(torch.ones(length, length, dtype=torch.bool, device=device))
        if self.policy.bool_mask:
            return allowed
        # Additive on CUDA and the CPU: SDPA skips a bool->float step.
        return torch.zeros(length, length, dtype=dtype, device=device).masked_fill(~allowed, float("-inf"))

    def use_policy(self, policy: DevicePolicy) -> None:
        """Attend and write the caches as ``policy`` says (rebuilds the mask if its type changes)."""
        old, self.policy = self.policy, policy
        for layer in self.layers:
            layer.attn.policy = policy
        if self.causal is not None and old.bool_mask != policy.bool_mask:
            self.causal = self._causal_mask(self.causal.shape[0], self.cos.dtype, self.causal.device)

    def forward(self, x: torch.Tensor, input_pos: torch.Tensor, kv_len: int | None = None,
                first: int | None = None) -> torch.Tensor:
        """x: ``[B, T, D]``; input_pos: ``[T]``; kv_len: how many cache positions may be
        attended (None: the whole cache, as a CUDA graph needs static shapes); given, the ``T``
        positions are the last of those ``kv_len``. first: ``input_pos[0]``, when the host knows
        it and ``kv_len`` does not say it."""
        assert self.cos is not None and self.sin is not None and self.causal is not None
        cos, sin = self.cos[input_pos], self.sin[input_pos]
        mask, attend = self.causal[input_pos], None  # [T, S]
        if kv_len is not None:
            first = kv_len - x.shape[1]
            if self.policy.unmasked_decode and x.shape[1] == 1:  # the newest position sees all filled ones
                mask, attend = None, kv_len
            else:
                mask = mask[:, : self.policy.attended(kv_len, mask.shape[-1])]
        for layer in self.layers:
            x = layer(x, cos, sin, input_pos, mask, first, attend)
        return self.norm(x)


class CsmModel(nn.Module):
    """Backbone predicts codebook 0 of each frame; the depth decoder predicts codebooks 1..N-1."""

    def __init__(self, cfg: CsmModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bdim, ddim = cfg.backbone.embed_dim, cfg.decoder.embed_dim
        self.backbone = Transformer(cfg.backbone)
        self.decoder = Transformer(cfg.decoder)
        self.text_embeddings = nn.Embedding(cfg.text_vocab_size, bdim)
        self.audio_embeddings = nn.Embedding(cfg.audio_vocab_size * cfg.audio_num_codebooks, bdim)
        self.projection = nn.Linear(bdim, ddim, bias=False)
        self.codebook0_head = nn.Linear(bdim, cfg.audio_vocab_size, bias=False)
        # [N-1, V, D]: each codebook's head is a contiguous [V, D] weight (checkpoints store
        # [N-1, D, V], whose per-codebook vocabulary slice is strided: a copy per codebook).
        self.audio_head = nn.Parameter(torch.empty(cfg.audio_num_codebooks - 1, cfg.audio_vocab_size, ddim))
        self.register_buffer(
            "codebook_offsets",
            torch.arange(cfg.audio_num_codebooks) * cfg.audio_vocab_size,
            persistent=False,
        )
        self.register_buffer("decoder_positions", torch.arange(cfg.audio_num_codebooks), persistent=False)

    @property
    def policy(self) -> DevicePolicy:
        return self.backbone.policy

    def use_policy(self, policy: DevicePolicy) -> None:
        """Write caches, attend and mask as ``policy`` says (its dtype is the loader's business)."""
        self.backbone.use_policy(policy)
        self.decoder.use_policy(policy)

    def setup_caches(self, batch: int = 1) -> None:
        dtype, device = self.projection.weight.dtype, self.projection.weight.device
        n = self.cfg.audio_num_codebooks  # index buffers made here: a meta-built model has none
        self.codebook_offsets = torch.arange(n, device=device) * self.cfg.audio_vocab_size
        self.decoder_positions = torch.arange(n, device=device)
        self.backbone.setup_caches(batch, self.cfg.backbone.max_seq_len, dtype, device)
        # Depth decoder positions: the backbone state, then codebooks 0..N-2.
        self.decoder.setup_caches(batch, self.cfg.audio_num_codebooks, dtype, device)
        self._cache_sets = {batch: self._caches()}
        self.batch = batch
        self.batch_rows = 1  # rows of the shared set that batches of candidates use (see use_batch)
        self.cache_generation = 0

    def _attentions(self) -> list[Attention]:
        return [layer.attn for t in (self.backbone, self.decoder) for layer in t.layers]

    def _caches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(a.k_cache, a.v_cache) for a in self._attentions()]

    def use_batch(self, batch: int) -> None:
        """Point the attention layers at the KV caches for ``batch`` rows.

        Batch 1 has caches of its own (the prompt the next line reuses lives there). Every larger
        batch size uses the first ``batch`` rows of one shared set, as big as the largest batch
        asked for so far (about 64 MiB a row for CSM-1B): a graph captured for one size stays
        valid until a larger batch replaces the shared set, which bumps :attr:`cache_generation`.
        A failed allocation (out of memory) changes nothing.
        """
        if batch == self.batch:
            return
        if batch > 1 and batch > self.batch_rows:
            dtype, device = self.projection.weight.dtype, self.projection.weight.device
            shared = [
                tuple(torch.zeros(batch, a.n_kv, length, a.head_dim, dtype=dtype, device=device) for _ in range(2))
                for a, length in zip(self._attentions(), self._cache_lengths())
            ]  # all made before any is used: an allocation that fails leaves the model as it was
            self._cache_sets = {1: self._cache_sets[1], batch: shared}
            self.batch_rows = batch
            self.cache_generation += 1
        if batch not in self._cache_sets:
            full = self._cache_sets[self.batch_rows]
            self._cache_sets[batch] = [(k[:batch], v[:batch]) for k, v in full]
        for a, (k, v) in zip(self._attentions(), self._cache_sets[batch]):
            a.k_cache, a.v_cache = k, v
        self.batch = batch

    def _cache_lengths(self) -> list[int]:
        return [self.cfg.backbone.max_seq_len] * len(self.backbone.layers) + [
            self.cfg.audio_num_codebooks
        ] * len(self.decoder.layers)

    def copy_prompt(self, source: int, target: int, positions: int) -> None:
        """Copy the backbone's first ``positions`` cached keys and values of the ``source``-row
        caches (one row) into every row of the ``target``-row caches: a prompt prefilled once
        serves a batch of candidates."""
        self.use_batch(target)
        n = len(self.backbone.layers)
        for (k, v), (ks, vs) in zip(self._cache_sets[target][:n], self._cache_sets[source][:n]):
            k[:, :, :positions].copy_(ks[:1, :, :positions].expand(k.shape[0], -1, -1, -1))
            v[:, :, :positions].copy_(vs[:1, :, :positions].expand(v.shape[0], -1, -1, -1))

    def embed_prompt(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """tokens, mask: ``[B, T, N+1]`` (codebooks then text). Returns ``[B, T, D]``."""
        text = self.text_embeddings(tokens[..., -1]) * mask[..., -1:]
        audio = self.audio_embeddings(tokens[..., :-1] + self.codebook_offsets)  # [B, T, N, D]
        return text + (audio * mask[..., :-1, None]).sum(dim=2)

    def embed_frame(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, N]`` -> the next backbone input ``[B, 1, D]``."""
        return self.audio_embeddings(codes + self.codebook_offsets).sum(dim=1, keepdim=True)

    def backbone_step(self, embeds: torch.Tensor, input_pos: torch.Tensor, kv_len: int | None = None):
        """Run the backbone on ``[B, T, D]`` and return the last position's state ``[B, D]``."""
        return self.backbone(embeds, input_pos, kv_len)[:, -1]

    def decode_frame(self, last_h: torch.Tensor, sample, valid_vocab: int) -> torch.Tensor:
        """Predict one frame's codes ``[B, N]`` from the backbone state ``[B, D]``.

        ``sample(logits [B, V], codebook) -> [B]`` picks each code. Only the first
        ``valid_vocab`` logits are computed: ids past the codec's cardinality (CSM's 2048-2050
        padding/special rows) cannot be decoded by Mimi, so audio never contains them.

        Shapes are static (the decoder attends over its whole 32-position cache, masked), so
        the frame can be captured in a CUDA graph when ``sample`` can.
        """
        n = self.cfg.audio_num_codebooks
        c0 = sample(F.linear(last_h, self.codebook0_head.weight[:valid_vocab]), 0)  # [B]
        codes = [c0]
        x = torch.stack([last_h, self.audio_embeddings(c0)], dim=1)  # [B, 2, Db]
        pos = self.decoder_positions[:2]
        for i in range(1, n):
            if self.policy.unmasked_decode:  # read only the i + 1 positions filled so far
                h = self.decoder(self.projection(x), pos, kv_len=i + 1)[:, -1]  # [B, Dd]
            else:
                h = self.decoder(self.projection(x), pos, first=0 if i == 1 else i)[:, -1]
            ci = sample(F.linear(h, self.audio_head[i - 1, :valid_vocab]), i)
            codes.append(ci)
            if i < n - 1:
                x = self.audio_embeddings(ci + self.codebook_offsets[i]).unsqueeze(1)
                pos = self.decoder_positions[i + 1 : i + 2]
        return torch.stack(codes, dim=1)
