"""CSM-1B's transformers in MLX, for Apple Silicon: the same model as ``model.py``, op for op.

The weights come from the torch loader (:func:`csm_desktop.engine.checkpoint.load_model`, so
both checkpoint layouts work), converted one tensor at a time; the torch copy is dropped as
it goes. Only the language model runs here: the caller embeds prompts and gets codes back as
torch CPU tensors, and Mimi stays in torch.

Shapes follow ``model.py``: ``B`` rows, ``T`` positions, ``H``/``KV`` query/key-value heads of
``hd`` dimensions, ``N`` codebooks, ``V`` codebook entries.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlx.core as mx
import torch

from csm_desktop.engine import weights
from csm_desktop.engine.checkpoint import load_model
from csm_desktop.engine.config import CsmModelConfig, TransformerConfig
from csm_desktop.engine.model import CsmModel, rope_frequencies
from csm_desktop.errors import CsmError

MLX_DTYPE_ENV = "CSM_DESKTOP_MLX_DTYPE"  # float16 (the default on the Apple GPU), bfloat16 or float32
DTYPES = {"float16": mx.float16, "bfloat16": mx.bfloat16, "float32": mx.float32}
# The torch dtype the weights are read in before conversion: no wider than the MLX copy.
TORCH_DTYPES = {mx.float16: torch.float16, mx.bfloat16: torch.float32, mx.float32: torch.float32}


def mlx_dtype(choice: str | None = None) -> mx.Dtype:
    """``choice``, else :data:`MLX_DTYPE_ENV`, else float16 on the Apple GPU and float32 on
    the CPU (where MLX's half-precision matrix products are slow)."""
    choice = choice or os.environ.get(MLX_DTYPE_ENV)
    if choice is None:
        return mx.float16 if mx.default_device() == mx.gpu else mx.float32
    if choice not in DTYPES:
        raise CsmError(f"Unknown MLX precision {choice!r} (from {MLX_DTYPE_ENV}?): use one of {', '.join(DTYPES)}.")
    return DTYPES[choice]


class KVCache:
    """One attention layer's keys and values ``[B, KV, S, hd]``, written where each call sits."""

    def __init__(self, batch: int, n_kv: int, length: int, head_dim: int, dtype: mx.Dtype) -> None:
        self.k = mx.zeros((batch, n_kv, length, head_dim), dtype=dtype)
        self.v = mx.zeros((batch, n_kv, length, head_dim), dtype=dtype)

    def write(self, k: mx.array, v: mx.array, offset: int) -> tuple[mx.array, mx.array]:
        """Store ``[B, KV, T, hd]`` at ``offset`` and return every position up to the last written."""
        end = offset + k.shape[2]
        self.k[:, :, offset:end] = k
        self.v[:, :, offset:end] = v
        return self.k[:, :, :end], self.v[:, :, :end]

    def copy_rows(self, source: KVCache, positions: int) -> None:
        """The first ``positions`` of ``source``'s first row, into every row of this cache."""
        shape = (self.k.shape[0], *source.k.shape[1:2], positions, source.k.shape[3])
        self.k[:, :, :positions] = mx.broadcast_to(source.k[:1, :, :positions], shape)
        self.v[:, :, :positions] = mx.broadcast_to(source.v[:1, :, :positions], shape)

    def arrays(self) -> list[mx.array]:
        return [self.k, self.v]


class MlxTransformer:
    """A Llama decoder without embedding or head, as :class:`~csm_desktop.engine.model.Transformer`."""

    def __init__(self, cfg: TransformerConfig, params: dict[str, mx.array]) -> None:
        self.cfg = cfg
        self.n_heads, self.n_kv, self.head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.attn_head_dim
        self.layers = [{name: params[f"layers.{i}.{name}"] for name in _LAYER_PARAMS} for i in range(cfg.num_layers)]
        self.norm = params["norm.weight"]
        inv_freq = rope_frequencies(self.head_dim, cfg.rope_base, cfg.rope_scaling)  # float32, Llama-3 scaled
        self.rope_periods = mx.array((1.0 / inv_freq).numpy())  # mx.fast.rope takes periods, not frequencies
        self.scale = self.head_dim**-0.5

    def caches(self, batch: int, length: int, dtype: mx.Dtype) -> list[KVCache]:
        return [KVCache(batch, self.n_kv, length, self.head_dim, dtype) for _ in self.layers]

    def __call__(self, x: mx.array, offset: int, caches: list[KVCache]) -> mx.array:
        """x: ``[B, T, D]`` at positions ``offset .. offset+T-1``; returns normed states ``[B, T, D]``."""
        t = x.shape[1]
        mask = None  # one position attends to everything before it: no mask
        if t > 1:
            mask = mx.arange(offset + t)[None] <= (offset + mx.arange(t))[:, None]  # [T, offset+T] causal
        eps = self.cfg.norm_eps
        for p, cache in zip(self.layers, caches):
            h = x + self._attention(p, mx.fast.rms_norm(x, p["attn_norm.weight"], eps), offset, cache, mask)
            gate, up = mx.split(mx.fast.rms_norm(h, p["mlp_norm.weight"], eps) @ p["w13"].T, 2, axis=-1)
            x = h + (gate * mx.sigmoid(gate) * up) @ p["w2"].T
        return mx.fast.rms_norm(x, self.norm, eps)

    def _attention(self, p: dict[str, mx.array], x: mx.array, offset: int, cache: KVCache,
                   mask: mx.array | None) -> mx.array:
        b, t, _ = x.shape
        hd, q_size, kv_size = self.head_dim, self.n_heads * self.head_dim, self.n_kv * self.head_dim
        qkv = x @ p["wqkv"].T
        q = qkv[..., :q_size].reshape(b, t, self.n_heads, hd).transpose(0, 2, 1, 3)  # [B, H, T, hd]
        k = qkv[..., q_size : q_size + kv_size].reshape(b, t, self.n_kv, hd).transpose(0, 2, 1, 3)
        v = qkv[..., q_size + kv_size :].reshape(b, t, self.n_kv, hd).transpose(0, 2, 1, 3)
        q, k = (mx.fast.rope(a, hd, traditional=False, base=None, scale=1.0, offset=offset, freqs=self.rope_periods)
                for a in (q, k))
        keys, values = cache.write(k, v, offset)
        y = mx.fast.scaled_dot_product_attention(q, keys, values, scale=self.scale, mask=mask)  # GQA native
        return y.transpose(0, 2, 1, 3).reshape(b, t, q_size) @ p["wo"].T


_LAYER_PARAMS = ("attn_norm.weight", "mlp_norm.weight", "wqkv", "wo", "w13", "w2")
_RENAMES = {"attn.wqkv.weight": "wqkv", "attn.wo.weight": "wo", "mlp.w13.weight": "w13", "mlp.w2.weight": "w2"}


class MlxCsmModel:
    """CSM's backbone and depth decoder in MLX. Prompts come in as torch tensors; the frame
    step (:mod:`csm_desktop.engine.mlx_step`) runs the frames."""

    backend = "mlx"
    # The generator keeps batch steps while a batch fits this many rows; each MLX batch step holds
    # caches of its own, so it keeps none: the next batch size frees the last one's caches.
    batch_rows = 1

    def __init__(self, cfg: CsmModelConfig, params: dict[str, mx.array], dtype: mx.Dtype) -> None:
        self.cfg = cfg
        self.dtype = dtype
        self.device = torch.device("cpu")  # where its torch inputs and outputs live
        self.runs_on = "Apple GPU" if mx.default_device() == mx.gpu else "CPU"  # said in the status bar
        self.backbone = MlxTransformer(cfg.backbone, _part(params, "backbone."))
        self.decoder = MlxTransformer(cfg.decoder, _part(params, "decoder."))
        self.text_embeddings = params["text_embeddings.weight"]  # [Vt, Db]
        self.audio_embeddings = params["audio_embeddings.weight"]  # [V * N, Db]
        self.projection = params["projection.weight"]  # [Dd, Db]
        self.codebook0_head = params["codebook0_head.weight"]  # [V, Db]
        self.audio_head = params["audio_head"]  # [N-1, V, Dd]: rows per code, so a head's first ids are contiguous
        self.codebook_offsets = mx.arange(cfg.audio_num_codebooks) * cfg.audio_vocab_size
        # Nothing lazy is kept between calls: an MLX graph runs on the streams of the thread that
        # made it, and the engine may be loaded on one thread and used on another.
        mx.eval(self.codebook_offsets)

    def embed_prompt(self, tokens: torch.Tensor, mask: torch.Tensor) -> mx.array:
        """tokens, mask: ``[B, T, N+1]`` torch tensors (codebooks then text). Returns ``[B, T, Db]``."""
        tok = mx.array(tokens.cpu().numpy())
        keep = mx.array(mask.cpu().numpy())
        text = self.text_embeddings[tok[..., -1]] * keep[..., -1:]
        audio = self.audio_embeddings[tok[..., :-1] + self.codebook_offsets]  # [B, T, N, Db]
        return text + (audio * keep[..., :-1, None]).sum(axis=2)

    def embed_frame(self, codes: mx.array) -> mx.array:
        """codes ``[B, N]`` -> the next backbone input ``[B, 1, Db]``."""
        return self.audio_embeddings[codes + self.codebook_offsets].sum(axis=1, keepdims=True)

    def parameters(self) -> list[mx.array]:
        tops = [self.text_embeddings, self.audio_embeddings, self.projection, self.codebook0_head, self.audio_head]
        parts = [w for t in (self.backbone, self.decoder) for layer in t.layers for w in layer.values()]
        return tops + parts + [self.backbone.norm, self.decoder.norm]

    def nbytes(self) -> int:
        return sum(w.nbytes for w in self.parameters())


def _part(params: dict[str, mx.array], prefix: str) -> dict[str, mx.array]:
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def _mlx_name(name: str) -> str:
    for ours, short in _RENAMES.items():
        if name.endswith(ours):
            return name[: -len(ours)] + short
    return name


def from_torch(model: CsmModel, dtype: mx.Dtype = mx.float32) -> MlxCsmModel:
    """Convert a torch :class:`CsmModel` (any device, any dtype); ``model`` is left as it was."""
    return convert_state(model.cfg, dict(model.state_dict()), dtype)


def convert_state(cfg: CsmModelConfig, state: dict[str, torch.Tensor], dtype: mx.Dtype) -> MlxCsmModel:
    """Convert tensor by tensor, taking each out of ``state``: when nothing else holds the torch
    weights, each goes as its MLX copy comes, so the two never both exist whole."""
    params: dict[str, mx.array] = {}
    for name in list(state):
        tensor = state.pop(name).detach()
        array = mx.array(tensor.to("cpu", TORCH_DTYPES[dtype]).contiguous().numpy()).astype(dtype)
        del tensor
        mx.eval(array)  # made now, while the torch tensor it copies is still mapped
        params[_mlx_name(name)] = array
    return MlxCsmModel(cfg, params, dtype)


def load_mlx_model(folder: Path, chosen: weights.WeightSet | None = None, dtype: mx.Dtype | None = None) -> MlxCsmModel:
    """Read a model folder of either layout with the torch loader (on the CPU, in a dtype no wider
    than the MLX copy's) and convert it to MLX, dropping the torch weights as it goes."""
    dtype = dtype or mlx_dtype()
    model = load_model(folder, torch.device("cpu"), TORCH_DTYPES[dtype], chosen)
    cfg, state = model.cfg, dict(model.state_dict())
    del model  # the state dict now holds the only references to the torch weights
    return convert_state(cfg, state, dtype)
