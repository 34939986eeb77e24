"""Which weight files of a model folder (or hub repository) to use, and in which layout.

A CSM repository may hold the same model more than once: ``sesame/csm-1b`` has Sesame's
original layout (``model.safetensors``, and ``ckpt.pt``) beside a transformers layout that
its ``config.json`` names in ``transformers_weights`` (two shards and an index, with the Mimi
codec as ``codec_model.*``). The layout is read from the tensor names themselves, never from
``config.json``. The same choice serves a local folder and a hub listing, so a download
fetches exactly the files that loading will read.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csm_desktop.errors import CheckpointError

ORIGINAL_PROBE = "backbone.layers.0.attn.q_proj.weight"
TRANSFORMERS_PROBE = "backbone_model.layers.0.self_attn.q_proj.weight"
CODEC_PREFIX = "codec_model."
SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
MIMI_FILE = "mimi.safetensors"
MIMI_CONFIG_FILE = "mimi_config.json"
# Files besides the weights that loading reads (tokenizer) or that describe the model.
SUPPORT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "generation_config.json")
_MAX_JSON_BYTES = 16 << 20  # config and index files are kilobytes; a huge one is not ours


@dataclass(frozen=True)
class WeightSet:
    """The weight files to read, relative to the model folder."""

    files: tuple[str, ...]  # safetensors files holding the tensors
    index: str | None  # the index that lists them, if sharded
    layout: str  # "original" or "transformers"
    has_codec: bool  # the Mimi codec is inside (codec_model.*)
    weight_map: dict[str, str] | None = None  # tensor name -> file, from the index

    @property
    def download(self) -> tuple[str, ...]:
        return ((self.index,) if self.index else ()) + self.files


def layout_of(keys: Iterable[str]) -> str | None:
    """``"original"`` or ``"transformers"`` from tensor names, or None if neither."""
    keys = set(keys)
    if TRANSFORMERS_PROBE in keys:
        return "transformers"
    if ORIGINAL_PROBE in keys:
        return "original"
    return None


def _safe_relative(name: Any) -> str | None:
    """A file name from a config or index, if it stays inside the folder."""
    if not isinstance(name, str) or not name or name.startswith(("/", "\\")) or "\\" in name:
        return None
    norm = posixpath.normpath(name)
    if norm.startswith("..") or not norm.endswith((".safetensors", ".safetensors.index.json")):
        return None
    return norm


def candidates(config: dict[str, Any] | None) -> list[str]:
    """Weight entry points in order of preference: what ``transformers_weights`` names, then the
    standard index, then the standard single file."""
    found = []
    explicit = _safe_relative((config or {}).get("transformers_weights"))
    if explicit:
        found.append(explicit)
    for name in (INDEX_FILE, SINGLE_FILE):
        if name not in found:
            found.append(name)
    return found


def _weight_map(index_name: str, index: Any) -> dict[str, str]:
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index_name} has no weight_map. Download the model again.")
    base = posixpath.dirname(index_name)
    out = {}
    for key, shard in weight_map.items():
        safe = _safe_relative(posixpath.join(base, shard) if isinstance(shard, str) else shard)
        if not isinstance(key, str) or safe is None or not safe.endswith(".safetensors"):
            raise CheckpointError(f"{index_name} names an invalid weight file {shard!r}. Download the model again.")
        out[key] = safe
    return out


def choose(
    present: Callable[[str], bool],
    read_json: Callable[[str], Any],
    read_keys: Callable[[str], Iterable[str]],
) -> WeightSet:
    """The weight set to load: the first complete candidate that carries the codec, else the first
    complete one.

    Args:
        present: whether a file exists (in the folder, or in the repository listing).
        read_json: parsed contents of a small JSON file (``config.json``, an index).
        read_keys: tensor names of a safetensors file (its header only).

    Raises:
        CheckpointError: no complete set of CSM weights.
    """
    config = read_json("config.json") if present("config.json") else None
    complete: list[WeightSet] = []
    problems: list[str] = []
    for name in candidates(config if isinstance(config, dict) else None):
        if not present(name):
            continue
        if name.endswith(".index.json"):
            weight_map = _weight_map(name, read_json(name))
            files = tuple(sorted(set(weight_map.values())))
            lacking = [f for f in files if not present(f)]
            if lacking:
                problems.append(f"{name} lists {', '.join(lacking[:3])}, which is missing")
                continue
            keys, index = weight_map.keys(), name
        else:
            files, keys, index, weight_map = (name,), set(read_keys(name)), None, None
        layout = layout_of(keys)
        if layout is None:
            problems.append(f"{name} holds no CSM weights")
            continue
        found = WeightSet(files, index, layout, any(k.startswith(CODEC_PREFIX) for k in keys), weight_map)
        if found.has_codec:
            return found
        complete.append(found)
    if complete:
        return complete[0]
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise CheckpointError(
        f"No CSM-1B weights were found{detail}. Choose the folder that holds config.json, the weights "
        "(model.safetensors, or the transformers shards and their index) and tokenizer.json, "
        "or download the model again.")


def read_small_json(path: Path) -> Any:
    """A config or index file's JSON, with a size limit."""
    try:
        size = path.stat().st_size
        if size > _MAX_JSON_BYTES:
            raise CheckpointError(f"{path.name} is {size} bytes, too large for a model description. "
                                  "Download the model again.")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} could not be read as JSON ({exc}). Download the model again.") from exc


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(f"{path} is not a readable safetensors file ({exc}). Download the model again.")


def _safetensors_keys(path: Path) -> list[str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return list(f.keys())
    except Exception as exc:  # safetensors raises its own SafetensorError for bad headers
        raise _unreadable(path, exc) from exc


def read_weights(folder: Path, chosen: WeightSet, keep: Callable[[str], bool], device: str = "cpu") -> dict:
    """The tensors of the chosen files whose names ``keep`` accepts, memory-mapped on ``device``;
    with an index, only the shards that hold such tensors are opened."""
    from safetensors import safe_open

    found = {}
    for name in chosen.files:
        if chosen.weight_map is not None and not any(f == name and keep(k) for k, f in chosen.weight_map.items()):
            continue
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"Weight file {name} is missing from {folder}. Download the model again.")
        try:
            with safe_open(str(path), framework="pt", device=device) as f:
                for key in f.keys():
                    if keep(key):
                        found[key] = f.get_tensor(key)
        except Exception as exc:  # safetensors raises its own SafetensorError for bad headers
            raise _unreadable(path, exc) from exc
    return found


def tensor_names(folder: Path, chosen: WeightSet) -> set[str]:
    """The names of the tensors the chosen files hold (from the index, or the files' headers)."""
    if chosen.weight_map is not None:
        return set(chosen.weight_map)
    return {key for name in chosen.files for key in _safetensors_keys(folder / name)}


def folder_weights(folder: Path) -> WeightSet:
    """The weight files of a model folder to load, and their layout (from their tensor names)."""
    return choose(lambda name: (folder / name).is_file(),
                  lambda name: read_small_json(folder / name),
                  lambda name: _safetensors_keys(folder / name))
