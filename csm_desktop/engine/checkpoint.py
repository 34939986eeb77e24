"""Finding a model folder (local, or downloaded from the hub) and loading its weights.

Both layouts map onto :class:`~csm_desktop.engine.model.CsmModel`'s names. The model is built
on the meta device and the memory-mapped tensors are assigned, so loading needs no second copy.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors import safe_open

from csm_desktop.engine.config import CsmModelConfig, TransformerConfig, read_config
from csm_desktop.engine.model import CsmModel
from csm_desktop.errors import CheckpointError, CsmError, ModelAccessError, ModelNotFoundError, NetworkError

DEFAULT_MODEL = "sesame/csm-1b"
MODEL_FILES = [
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "mimi.safetensors",
    "mimi_config.json",
]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` read at call time (huggingface_hub reads it only at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def hub_cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None


def gated_message(repo_id: str) -> str:
    return (
        f"Access to {repo_id} was refused. It is a gated model: open https://huggingface.co/{repo_id}, "
        "sign in and accept its licence, then add a Hugging Face access token (Settings > Credentials, "
        "or the HF_TOKEN environment variable) and try again."
    )


def resolve_model_folder(model: str | os.PathLike, token: str | None = None) -> Path:
    """A local folder as it is, or a hub repository id downloaded (or found in the cache)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    name = str(model)
    if path.exists() or not _REPO_ID.match(name):
        raise ModelNotFoundError(
            f"{name} is neither a model folder nor a Hugging Face repository id (like {DEFAULT_MODEL})."
        )
    return download_model(name, token=token)


def download_model(repo_id: str, token: str | None = None, *, allow_patterns=None) -> Path:
    """Download (or reuse from the cache) the files of a model repository; returns its folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hf_errors

    try:
        folder = snapshot_download(
            repo_id,
            token=token or None,
            allow_patterns=allow_patterns or MODEL_FILES,
            endpoint=hub_endpoint(),
            cache_dir=hub_cache_dir(),
        )
    except (hf_errors.HfHubHTTPError, hf_errors.LocalEntryNotFoundError, OSError) as exc:
        raise _hub_error(repo_id, exc) from None
    return Path(folder)


def hub_status_error(repo_id: str, status: int | None) -> CsmError:
    """The error for an HTTP status from the hub (shared with services/hub.py)."""
    if status in (401, 403):
        # The hub answers 401 for private or gated repositories without a valid token.
        return ModelAccessError(gated_message(repo_id))
    if status == 404:
        return ModelNotFoundError(f"{repo_id} or one of its files does not exist on the hub. Check the name.")
    return NetworkError(f"Downloading {repo_id} failed: the hub answered HTTP {status}. Try again later.")


def _hub_error(repo_id: str, exc: BaseException) -> Exception:
    """Translate huggingface_hub's errors (an HTTP error may hide behind a cache miss)."""
    from huggingface_hub import errors as hf_errors

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, (hf_errors.GatedRepoError, hf_errors.RepositoryNotFoundError)):
            return hub_status_error(repo_id, 401)
        # (LocalEntryNotFoundError is an HfHubHTTPError too, without a response.)
        if isinstance(cause, hf_errors.HfHubHTTPError) and cause.response is not None:
            return hub_status_error(repo_id, cause.response.status_code)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, hf_errors.LocalEntryNotFoundError):
        return NetworkError(
            f"{repo_id} is not in the local cache and the Hugging Face hub cannot be reached. "
            "Connect to the internet, or choose a local model folder."
        )
    return NetworkError(f"Downloading {repo_id} failed: {exc}. Check the connection and free disk space.")


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


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{index} is malformed ({exc}). Download the model again.") from exc
        return [folder / s for s in shards]
    single = folder / "model.safetensors"
    if not single.is_file():
        raise CheckpointError(
            f"{folder} has no model.safetensors. Choose the folder that holds the CSM model files "
            "(config.json, model.safetensors, tokenizer.json)."
        )
    return [single]


def read_tensors(folder: Path, wanted: set[str], device: torch.device) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for path in _weight_files(folder):
        if not path.is_file():
            raise CheckpointError(f"Weight file {path.name} is missing from {folder}. Download the model again.")
        try:
            with safe_open(str(path), framework="pt", device=str(device)) as f:
                for key in f.keys():
                    if key in wanted:
                        tensors[key] = f.get_tensor(key)
        except Exception as exc:  # safetensors raises its own SafetensorError for bad headers
            raise CheckpointError(f"{path} is not a readable safetensors file ({exc}). Download the model again.") from exc
    missing = sorted(wanted - tensors.keys())
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise CheckpointError(f"The model files lack {len(missing)} weights ({shown}). Download the model again.")
    return tensors


def load_model(folder: Path, device: torch.device, dtype: torch.dtype) -> CsmModel:
    """Build :class:`CsmModel` from a folder of either layout, on ``device`` in ``dtype``."""
    cfg = read_config(folder)
    names = checkpoint_name_map(cfg)
    raw = read_tensors(folder, set(names.values()), device)
    ours = {name: raw[src] for name, src in names.items()}

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
