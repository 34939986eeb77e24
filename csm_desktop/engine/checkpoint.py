"""Loading a model folder's weights, in either layout, into :class:`~csm_desktop.engine.model.CsmModel`.

The layout and files come from :func:`csm_desktop.engine.weights.choose`. The model is built on
the meta device and the memory-mapped tensors are assigned, so loading needs no second copy.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from csm_desktop.engine import weights
from csm_desktop.engine.config import CsmModelConfig, TransformerConfig, read_config
from csm_desktop.engine.model import CsmModel
from csm_desktop.engine.weights import folder_weights
from csm_desktop.errors import CheckpointError

__all__ = ["checkpoint_name_map", "folder_weights", "load_model", "read_tensors"]


def _interleaved_to_half(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Permute Q/K rows from interleaved-pair RoPE order (torchtune) to rotate-half order."""
    out_dim, in_dim = w.shape
    hd = out_dim // n_heads
    return w.view(n_heads, hd // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def half_to_interleaved(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Inverse of :func:`_interleaved_to_half` (used to write original-layout checkpoints)."""
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


def read_tensors(folder: Path, chosen: weights.WeightSet, wanted: dict[str, tuple[str, ...]],
                 device: torch.device) -> dict[str, torch.Tensor]:
    """``wanted``: our name -> the checkpoint names that may hold it, first found wins."""
    sources = {src for names in wanted.values() for src in names}
    found = weights.read_weights(folder, chosen, sources.__contains__, str(device))
    tensors, missing = {}, []
    for ours, names in wanted.items():
        src = next((n for n in names if n in found), None)
        if src is None:
            missing.append(names[0])
        else:
            tensors[ours] = found[src]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise CheckpointError(f"The model files lack {len(missing)} weights ({shown}). Download the model again.")
    return tensors


def load_model(folder: Path, device: torch.device, dtype: torch.dtype,
               chosen: weights.WeightSet | None = None) -> CsmModel:
    """Build :class:`CsmModel` from a folder of either layout, on ``device`` in ``dtype``.

    Sizes come from ``config.json`` (a transformers ``CsmConfig`` or Sesame's ``ModelArgs``);
    the layout from the weights' own tensor names.
    """
    chosen = chosen or folder_weights(folder)
    cfg = dataclasses.replace(read_config(folder), layout=chosen.layout)
    names = checkpoint_name_map(cfg)
    wanted = {ours: (src,) for ours, src in names.items()}
    if cfg.layout == "transformers":
        wanted["audio_embeddings.weight"] += (_TIED_AUDIO_EMBEDDING,)
    ours = read_tensors(folder, chosen, wanted, device)

    state: dict[str, torch.Tensor] = {}
    parts: dict[str, TransformerConfig] = {"backbone": cfg.backbone, "decoder": cfg.decoder}
    for name, tensor in ours.items():
        part, _, rest = name.partition(".")
        if rest.startswith("layers.") and rest.endswith(("attn.q", "attn.k", "attn.v", "mlp.gate", "mlp.up")):
            continue  # fused below
        state[name] = tensor
    for part, tcfg in parts.items():
        for i in range(tcfg.num_layers):
            p = f"{part}.layers.{i}"
            q, k, v = ours[f"{p}.attn.q"], ours[f"{p}.attn.k"], ours[f"{p}.attn.v"]
            if cfg.layout == "original":
                q = _interleaved_to_half(q, tcfg.num_heads)
                k = _interleaved_to_half(k, tcfg.num_kv_heads)
            state[f"{p}.attn.wqkv.weight"] = torch.cat([q, k, v], dim=0)
            state[f"{p}.mlp.w13.weight"] = torch.cat([ours[f"{p}.mlp.gate"], ours[f"{p}.mlp.up"]], dim=0)
    state = {k: v.to(dtype) for k, v in state.items()}

    with torch.device("meta"):
        model = CsmModel(cfg)
    try:
        model.load_state_dict(state, assign=True, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"The weights in {folder} do not fit its config.json: {exc}") from exc
    model.eval().requires_grad_(False)
    model.setup_caches(batch=1)
    return model
