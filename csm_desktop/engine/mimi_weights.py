"""Mimi weights stored by transformers (``codec_model.*`` in a CSM checkpoint) as moshi's ``MimiModel``.

transformers' ``MimiModel`` is a port of moshi's: same layers, other names, the attention's
fused input projection split into Q/K/V with Q/K rows in rotate-half order (moshi's RoPE pairs
neighbouring channels). We build moshi's model for the config and fetch each of its tensors
under the name transformers gives it, so every tensor is accounted for, both ways.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.errors import CheckpointError

# moshi name fragment -> transformers name fragment, applied in order.
_RENAMES = [
    (r"\.conv\.conv\.conv\.", ".conv."),
    (r"\.convtr\.convtr\.convtr\.", ".conv."),
    (r"\.conv\.conv\.", ".conv."),
    (r"\.convtr\.convtr\.", ".conv."),
    (r"^quantizer\.rvq_first\.(vq\.)?", "quantizer.semantic_residual_vector_quantizer."),
    (r"^quantizer\.rvq_rest\.(vq\.)?", "quantizer.acoustic_residual_vector_quantizer."),
    (r"\._codebook\.", ".codebook."),
    (r"\._initialized$", ".initialized"),
    (r"\.embedding_sum$", ".embed_sum"),
    (r"^(en|de)coder\.model\.", r"\1coder.layers."),
    (r"^(en|de)coder_transformer\.transformer\.", r"\1coder_transformer."),
    (r"\.linear1\.", ".mlp.fc1."),
    (r"\.linear2\.", ".mlp.fc2."),
    (r"\.self_attn\.out_projs?(\.0)?\.", ".self_attn.o_proj."),
    (r"\.norm1\.", ".input_layernorm."),
    (r"\.norm2\.", ".post_attention_layernorm."),
    (r"\.layer_scale_1\.", ".self_attn_layer_scale."),
    (r"\.layer_scale_2\.", ".mlp_layer_scale."),
]
_RENAMES_COMPILED = [(re.compile(a), b) for a, b in _RENAMES]


def transformers_name(moshi_name: str) -> str:
    for pattern, replacement in _RENAMES_COMPILED:
        moshi_name = pattern.sub(replacement, moshi_name)
    return moshi_name


def moshi_config(codec: dict[str, Any]) -> dict[str, Any]:
    """moshi's ``mimi_config`` for a transformers ``MimiConfig`` (as stored in ``codec_config``).

    Raises:
        CheckpointError: the codec uses an option moshi's Mimi does not have.
    """
    try:
        hidden = int(codec.get("hidden_size", 512))
        ratios = [int(r) for r in codec.get("upsampling_ratios") or [8, 6, 5, 4]]
        rate = int(codec.get("sampling_rate", SAMPLE_RATE))
        heads = int(codec.get("num_attention_heads", 8))
        codebook_dim = int(codec.get("codebook_dim") or hidden)
        frame_rate = codec.get("frame_rate") or codec.get("_frame_rate") or rate / (math.prod(ratios) * 2)
        unsupported = {
            "hidden_act": (codec.get("hidden_act", "gelu"), "gelu"),
            "num_key_value_heads": (int(codec.get("num_key_value_heads", heads)), heads),
            "vector_quantization_hidden_dimension":
                (int(codec.get("vector_quantization_hidden_dimension", 256)), codebook_dim),
            "num_semantic_quantizers": (int(codec.get("num_semantic_quantizers", 1)), 1),
            "upsample_groups": (int(codec.get("upsample_groups", 512)), hidden),
            "attention_bias": (bool(codec.get("attention_bias", False)), False),
            "use_conv_shortcut": (bool(codec.get("use_conv_shortcut", False)), False),
        }
        for key, (got, want) in unsupported.items():
            if got != want:
                raise CheckpointError(
                    f"The codec in this model folder has {key}={got!r}; CSM Desktop's Mimi supports {want!r} only. "
                    "Use a CSM-1B checkpoint with the standard Mimi codec.")
        seanet = {
            "channels": int(codec.get("audio_channels", 1)), "dimension": hidden,
            "causal": bool(codec.get("use_causal_conv", True)), "n_filters": int(codec.get("num_filters", 64)),
            "n_residual_layers": int(codec.get("num_residual_layers", 1)), "activation": "ELU",
            "compress": int(codec.get("compress", 2)), "dilation_base": int(codec.get("dilation_growth_rate", 2)),
            "disable_norm_outer_blocks": 0, "kernel_size": int(codec.get("kernel_size", 7)),
            "residual_kernel_size": int(codec.get("residual_kernel_size", 3)),
            "last_kernel_size": int(codec.get("last_kernel_size", 3)), "norm": "none",
            "pad_mode": str(codec.get("pad_mode", "constant")), "ratios": ratios, "true_skip": True,
        }
        transformer = {
            "d_model": hidden, "num_heads": heads, "num_layers": int(codec.get("num_hidden_layers", 8)),
            "causal": True, "layer_scale": float(codec.get("layer_scale_initial_scale", 0.01)),
            "context": int(codec.get("sliding_window", 250)), "conv_layout": True,
            "max_period": float(codec.get("rope_theta", 10_000.0)), "gating": "none", "norm": "layer_norm",
            "positional_embedding": "rope", "dim_feedforward": int(codec.get("intermediate_size", 2048)),
            "input_dimension": hidden, "output_dimensions": [hidden],
        }
        quantizer = {
            "dimension": codebook_dim, "n_q": int(codec.get("num_quantizers", 32)),
            "bins": int(codec.get("codebook_size", 2048)), "input_dimension": hidden, "output_dimension": hidden,
        }
        return {"sample_rate": rate, "channels": seanet["channels"], "frame_rate": float(frame_rate),
                "seanet": seanet, "quantizer": quantizer, "transformer": transformer}
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise CheckpointError(f"config.json has a malformed codec_config ({exc}). Download the model again.") from exc


def _rotate_half_to_pairs(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Q/K rows from rotate-half order (transformers) back to moshi's neighbouring pairs."""
    out_dim, in_dim = w.shape
    return w.view(n_heads, 2, out_dim // n_heads // 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def moshi_state(moshi_names: list[str], tensors: dict[str, torch.Tensor], num_heads: int) -> dict[str, torch.Tensor]:
    """moshi's state dict from transformers-named Mimi ``tensors`` (without the ``codec_model.`` prefix).

    Raises:
        CheckpointError: a tensor moshi's model needs is missing, or one is left over.
    """
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    for name in moshi_names:
        fused = re.search(r"\.in_proj_weight$|\.in_projs\.0\.weight$", name)  # older and newer moshi
        if fused:
            base = transformers_name(name[: fused.start() + 1])
            parts = [f"{base}{p}_proj.weight" for p in "qkv"]
            if not all(p in tensors for p in parts):
                missing += [p for p in parts if p not in tensors]
                continue
            q, k, v = (tensors[p] for p in parts)
            state[name] = torch.cat([_rotate_half_to_pairs(q, num_heads), _rotate_half_to_pairs(k, num_heads), v])
            used.update(parts)
            continue
        source = transformers_name(name)
        if source not in tensors:
            missing.append(source)
            continue
        state[name] = tensors[source]
        used.add(source)
    extra = sorted(set(tensors) - used)
    if missing or extra:
        shown = ", ".join((missing or extra)[:4])
        raise CheckpointError(
            f"The codec weights in this model folder do not fit its codec_config ({len(missing)} missing, "
            f"{len(extra)} unexpected: {shown}). Download the model again.")
    return state
