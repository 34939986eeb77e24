"""Model configuration, read from either checkpoint layout.

Two layouts exist for CSM-1B:

* the original (Sesame's ``ModelArgs``): ``backbone_flavor``/``decoder_flavor`` name a
  torchtune Llama-3.2 builder; we also accept explicit ``backbone_config``/``decoder_config``
  dicts in that builder's argument names, which is how tiny test checkpoints describe
  themselves;
* the transformers layout (``model_type: "csm"``, a ``CsmConfig``).

Every size comes from the file; nothing of CSM-1B's size is assumed beyond the two named
flavors of the original release.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csm_desktop.errors import CheckpointError


@dataclass(frozen=True)
class RopeScaling:
    """Llama-3 frequency scaling (``rope_type: llama3``)."""

    factor: float
    low_freq_factor: float
    high_freq_factor: float
    original_max_position_embeddings: int


@dataclass(frozen=True)
class TransformerConfig:
    num_layers: int
    num_heads: int
    num_kv_heads: int
    embed_dim: int
    intermediate_dim: int
    max_seq_len: int
    norm_eps: float = 1e-5
    rope_base: float = 500_000.0
    rope_scaling: RopeScaling | None = None
    head_dim: int | None = None

    @property
    def attn_head_dim(self) -> int:
        return self.head_dim or self.embed_dim // self.num_heads


@dataclass(frozen=True)
class CsmModelConfig:
    backbone: TransformerConfig
    decoder: TransformerConfig
    text_vocab_size: int
    audio_vocab_size: int
    audio_num_codebooks: int
    layout: str  # "original" or "transformers"
    test_model: bool = False  # a tiny random-weight model (its output is noise)


TEST_MODEL_MARKER = "csm_desktop_test_model"


def _torchtune_llama(args: dict[str, Any]) -> TransformerConfig:
    """A ``torchtune.models.llama3_2.llama3_2`` call's arguments as a config."""
    scale = args.get("scale_factor", 32)
    return TransformerConfig(
        num_layers=int(args["num_layers"]),
        num_heads=int(args["num_heads"]),
        num_kv_heads=int(args["num_kv_heads"]),
        embed_dim=int(args["embed_dim"]),
        intermediate_dim=int(args["intermediate_dim"]),
        max_seq_len=int(args["max_seq_len"]),
        norm_eps=float(args.get("norm_eps", 1e-5)),
        rope_base=float(args.get("rope_base", 500_000)),
        # torchtune's Llama3ScaledRoPE defaults for the other three.
        rope_scaling=RopeScaling(float(scale), 1.0, 4.0, 8192) if scale else None,
    )


# The builders Sesame's models.py names (FLAVORS), with the arguments it passes.
_FLAVORS: dict[str, dict[str, Any]] = {
    "llama-1B": dict(num_layers=16, num_heads=32, num_kv_heads=8, embed_dim=2048, max_seq_len=2048,
                     intermediate_dim=8192, norm_eps=1e-5, rope_base=500_000, scale_factor=32),
    "llama-100M": dict(num_layers=4, num_heads=8, num_kv_heads=2, embed_dim=1024, max_seq_len=2048,
                       intermediate_dim=8192, norm_eps=1e-5, rope_base=500_000, scale_factor=32),
}


def _hf_transformer(cfg: dict[str, Any]) -> TransformerConfig:
    scaling = cfg.get("rope_scaling")
    rope = None
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind not in ("llama3", "default"):
            raise CheckpointError(f"Unsupported rope_scaling type {kind!r} in config.json.")
        if kind == "llama3":
            rope = RopeScaling(
                float(scaling["factor"]),
                float(scaling["low_freq_factor"]),
                float(scaling["high_freq_factor"]),
                int(scaling["original_max_position_embeddings"]),
            )
    return TransformerConfig(
        num_layers=int(cfg["num_hidden_layers"]),
        num_heads=int(cfg["num_attention_heads"]),
        num_kv_heads=int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]),
        embed_dim=int(cfg["hidden_size"]),
        intermediate_dim=int(cfg["intermediate_size"]),
        max_seq_len=int(cfg["max_position_embeddings"]),
        norm_eps=float(cfg.get("rms_norm_eps", 1e-5)),
        rope_base=float(cfg.get("rope_theta", 500_000)),
        rope_scaling=rope,
        head_dim=cfg.get("head_dim"),
    )


def parse_config(data: dict[str, Any]) -> CsmModelConfig:
    """Build a :class:`CsmModelConfig` from a ``config.json`` dict of either layout."""
    try:
        if data.get("model_type") == "csm":
            dd = dict(data.get("depth_decoder_config") or {})
            return CsmModelConfig(
                backbone=_hf_transformer(data),
                decoder=_hf_transformer(dd),
                text_vocab_size=int(data["text_vocab_size"]),
                audio_vocab_size=int(data["vocab_size"]),
                audio_num_codebooks=int(data["num_codebooks"]),
                layout="transformers",
                test_model=bool(data.get(TEST_MODEL_MARKER)),
            )
        if "backbone_flavor" in data or "backbone_config" in data:
            parts = {}
            for part in ("backbone", "decoder"):
                explicit = data.get(f"{part}_config")
                flavor = data.get(f"{part}_flavor")
                if explicit is None and flavor not in _FLAVORS:
                    raise CheckpointError(
                        f"config.json names an unknown {part} flavor {flavor!r}; "
                        f"known: {', '.join(_FLAVORS)}."
                    )
                parts[part] = _torchtune_llama(explicit if explicit is not None else _FLAVORS[flavor])
            return CsmModelConfig(
                backbone=parts["backbone"],
                decoder=parts["decoder"],
                text_vocab_size=int(data["text_vocab_size"]),
                audio_vocab_size=int(data["audio_vocab_size"]),
                audio_num_codebooks=int(data["audio_num_codebooks"]),
                layout="original",
                test_model=bool(data.get(TEST_MODEL_MARKER)),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"config.json is missing or has a malformed field: {exc}") from exc
    raise CheckpointError(
        "config.json is neither a CSM config (model_type 'csm') nor Sesame's original "
        "ModelArgs (backbone_flavor, decoder_flavor, ...). Is this a CSM-1B model folder?"
    )


def read_config(folder: Path) -> CsmModelConfig:
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no config.json. Choose the folder that holds the CSM model files.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} could not be read as JSON ({exc}). Download the model again.") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a JSON object. Download the model again.")
    return parse_config(data)
