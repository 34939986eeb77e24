"""Loading a model folder's weights, in either layout, into :class:`~csm_desktop.engine.model.CsmModel`.

The layout and files come from :func:`csm_desktop.engine.weights.choose`. The model is built on
the meta device and its parameters are made one at a time from memory-mapped pieces (see
:func:`load_model`), so loading needs no second copy of the model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from csm_desktop.engine import weights
from csm_desktop.engine.config import CsmModelConfig, read_config
from csm_desktop.engine.model import CsmModel
from csm_desktop.engine.weights import folder_weights
from csm_desktop.errors import CheckpointError

__all__ = ["checkpoint_name_map", "folder_weights", "load_model"]


def half_to_interleaved(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rotate-half Q/K rows to torchtune's interleaved-pair order, the inverse of what loading does
    (used to write original-layout checkpoints)."""
    out_dim, in_dim = w.shape
    hd = out_dim // n_heads
    return w.view(n_heads, 2, hd // 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


# Per-layer names: (ours, original, transformers).
_LAYER_NAMES = [
    ("attn_norm.weight", "sa_norm.scale", "input_layernorm.weight"),
    ("attn.q", "attn.q_proj.weight", "self_attn.q_proj.weight"),
    ("attn.k", "attn.k_proj.weight", "self_attn.k_proj.weight"),
    ("attn.v", "attn.v_proj.weight", "self_attn.v_proj.weight"),
    ("attn.wo.weight", "attn.output_proj.weight", "self_attn.o_proj.weight"),
    ("mlp_norm.weight", "mlp_norm.scale", "post_attention_layernorm.weight"),
    ("mlp.gate", "mlp.w1.weight", "mlp.gate_proj.weight"),
    ("mlp.up", "mlp.w3.weight", "mlp.up_proj.weight"),
    ("mlp.w2.weight", "mlp.w2.weight", "mlp.down_proj.weight"),
]
_TOP_NAMES = [
    ("text_embeddings.weight", "text_embeddings.weight", "embed_text_tokens.weight"),
    ("audio_embeddings.weight", "audio_embeddings.weight", "backbone_model.embed_tokens.embed_audio_tokens.weight"),
    ("projection.weight", "projection.weight", "depth_decoder.model.inputs_embeds_projector.weight"),
    ("codebook0_head.weight", "codebook0_head.weight", "lm_head.weight"),
    ("audio_head", "audio_head", "depth_decoder.codebooks_head.weight"),
    ("backbone.norm.weight", "backbone.norm.scale", "backbone_model.norm.weight"),
    ("decoder.norm.weight", "decoder.norm.scale", "depth_decoder.model.norm.weight"),
]
_PREFIX = {"backbone": ("backbone", "backbone_model"), "decoder": ("decoder", "depth_decoder.model")}


def checkpoint_name_map(cfg: CsmModelConfig) -> dict[str, str]:
    """Our (pre-fusion) parameter names -> the names used by the checkpoint's layout."""
    col = 1 if cfg.layout == "original" else 2
    names = {row[0]: row[col] for row in _TOP_NAMES}
    for part, tcfg in (("backbone", cfg.backbone), ("decoder", cfg.decoder)):
        prefix = _PREFIX[part][col - 1]
        for i in range(tcfg.num_layers):
            for row in _LAYER_NAMES:
                names[f"{part}.layers.{i}.{row[0]}"] = f"{prefix}.layers.{i}.{row[col]}"
    return names


# transformers' save_pretrained stores the tied audio embedding once, under the depth decoder.
_TIED_AUDIO_EMBEDDING = "depth_decoder.model.embed_tokens.weight"


def _sources(cfg: CsmModelConfig, present: set[str]) -> dict[str, str]:
    """Our (pre-fusion) names -> the checkpoint names that hold them, in ``present``."""
    found, missing = {}, []
    for ours, src in checkpoint_name_map(cfg).items():
        alternatives = (src, _TIED_AUDIO_EMBEDDING) if ours == "audio_embeddings.weight" else (src,)
        name = next((n for n in alternatives if n in present), None)
        if name is None:
            missing.append(src)
        else:
            found[ours] = name
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise CheckpointError(f"The model files lack {len(missing)} weights ({shown}). Download the model again.")
    return found


def _parts(cfg: CsmModelConfig, name: str) -> list[tuple[str, int]]:
    """The pre-fusion pieces of our parameter ``name``, stacked along dim 0 in this order, each
    with the head count to permute its rows by (0: no permutation)."""
    part, _, rest = name.partition(".")
    if rest.startswith("layers.") and rest.endswith(("attn.wqkv.weight", "mlp.w13.weight")):
        prefix = name.rsplit(".", 2)[0]
        if rest.endswith("mlp.w13.weight"):
            return [(f"{prefix}.gate", 0), (f"{prefix}.up", 0)]
        tcfg = cfg.backbone if part == "backbone" else cfg.decoder
        heads = (tcfg.num_heads, tcfg.num_kv_heads) if cfg.layout == "original" else (0, 0)
        return [(f"{prefix}.q", heads[0]), (f"{prefix}.k", heads[1]), (f"{prefix}.v", 0)]
    return [(name, 0)]


def _place(target: torch.Tensor, source: torch.Tensor, heads: int) -> None:
    """Copy ``source`` (CPU, any dtype) into ``target`` (the model's device and dtype): one copy
    that casts and moves, with no whole intermediate tensor."""
    if heads:  # interleaved-pair RoPE rows (torchtune) -> rotate-half rows
        out_dim, in_dim = source.shape
        hd = out_dim // heads
        target = target.view(heads, 2, hd // 2, in_dim)
        source = source.view(heads, hd // 2, 2, in_dim).transpose(1, 2)
    target.copy_(source)


def load_model(folder: Path, device: torch.device, dtype: torch.dtype,
               chosen: weights.WeightSet | None = None) -> CsmModel:
    """Build :class:`CsmModel` from a folder of either layout, on ``device`` in ``dtype``.

    Sizes come from ``config.json`` (a transformers ``CsmConfig`` or Sesame's ``ModelArgs``);
    the layout from the weights' own tensor names.

    Memory: each parameter is made in turn, largest first: its pieces are read from memory maps
    on the CPU, fused, permuted, cast and moved by copies into the one tensor that the model
    keeps, and the maps are dropped before the next. Loading peaks near the final model's size
    (``bench/load_memory.py``), where reading everything, fusing and casting kept three copies.
    """
    chosen = chosen or folder_weights(folder)
    cfg = dataclasses.replace(read_config(folder), layout=chosen.layout)
    sources = _sources(cfg, weights.tensor_names(folder, chosen))
    with torch.device("meta"):
        model = CsmModel(cfg)
    shapes = {name: t.shape for name, t in model.state_dict().items()}
    state: dict[str, torch.Tensor] = {}
    try:
        for name in sorted(shapes, key=lambda n: -shapes[n].numel()):
            state[name] = _assemble(folder, chosen, cfg, name, shapes[name], sources, device, dtype)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"The weights in {folder} do not fit its config.json: {exc}") from exc
    model.load_state_dict(state, assign=True, strict=True)
    model.eval().requires_grad_(False)
    model.setup_caches(batch=1)
    return model


def _assemble(folder: Path, chosen: weights.WeightSet, cfg: CsmModelConfig, name: str, shape: torch.Size,
              sources: dict[str, str], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Our parameter ``name`` on ``device`` in ``dtype``, from its pieces in the checkpoint."""
    parts = _parts(cfg, name)
    wanted = {sources[p] for p, _ in parts}
    found = weights.read_weights(folder, chosen, wanted.__contains__)  # memory maps, CPU
    if name == "audio_head":  # [N-1, D, V] in checkpoints; [N-1, V, D] in the model
        found = {k: t.transpose(1, 2) for k, t in found.items()}
    if len(parts) == 1:
        t = found[sources[name]]
        if t.shape != shape:
            raise RuntimeError(f"{name} is {tuple(t.shape)} in the checkpoint, the config makes it {tuple(shape)}")
        # Nothing to change on the CPU in the same dtype: keep the memory map (no copy at all).
        if t.device == device and t.dtype == dtype and t.is_contiguous():
            return t
    out = torch.empty(shape, dtype=dtype, device=device)
    row = 0
    for piece, heads in parts:
        t = found[sources[piece]]
        _place(out[row : row + t.shape[0]], t, heads)
        row += t.shape[0]
    if row != shape[0]:
        raise RuntimeError(f"{name} has {row} rows in the checkpoint, the config makes it {shape[0]}")
    return out
