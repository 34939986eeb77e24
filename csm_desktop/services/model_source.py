"""From a model name to the folder the engine loads: a local folder as it is, or the model files
of a hub repository (its support files and ONE copy of the weights, chosen by
:func:`model_files`; moshi's Mimi release file too when the weights carry no codec), taken from the
cache when complete (no network, so offline too) or fetched by the one downloader,
:mod:`csm_desktop.services.download`, with progress and cancel.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from csm_desktop.engine import weights
from csm_desktop.errors import CheckpointError, CsmError, ModelNotFoundError
from csm_desktop.services import download, hub_cache
from csm_desktop.services.download import ProgressCallback, RemoteFile
from csm_desktop.services.hub import (
    MIMI_RELEASE_FILE,
    MIMI_REPO,
    TIMEOUT_S,
    hub_cache_dir,
    hub_endpoint,
    hub_error,
    is_offline,
    is_repo_id,
    not_cached_error,
)
from csm_desktop.settings import DEFAULT_MODEL


@dataclass(frozen=True)
class ModelFiles:
    """What to fetch of a repository: ``names`` at ``revision``; the weights as chosen."""

    repo_id: str
    revision: str
    names: tuple[str, ...]
    weights: weights.WeightSet

    @property
    def needs_mimi_release(self) -> bool:
        """Neither the weights nor the repository carry the codec: moshi's release file is needed."""
        return not self.weights.has_codec and weights.MIMI_FILE not in self.names


def model_files(repo_id: str, token: str | None) -> ModelFiles:
    """Choose the files of a model repository to download: its support files and ONE copy of
    the weights (never ``ckpt.pt``), decided from the tensor names (read from the index, or from
    a safetensors header by a range request).

    Raises:
        ModelAccessError, ModelNotFoundError, NetworkError: the hub refused or failed.
        CheckpointError: the repository holds no usable CSM weights.
    """
    import requests
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub import errors as hf_errors

    if not is_repo_id(repo_id):
        raise ModelNotFoundError(f"{repo_id} is not a Hugging Face repository id (like {DEFAULT_MODEL}).")
    api = HfApi(endpoint=hub_endpoint())
    try:
        info = api.model_info(repo_id, token=token or None, timeout=TIMEOUT_S)
        revision = info.sha or "main"
        listed = {s.rfilename for s in info.siblings or []}

        def read_json(name: str):
            # Metadata, read before anything is downloaded (at a commit, so no ref moves).
            path = Path(hf_hub_download(repo_id, name, revision=revision, token=token or None,
                                        endpoint=hub_endpoint(), cache_dir=hub_cache_dir(), etag_timeout=TIMEOUT_S))
            return weights.read_small_json(path)

        def read_keys(name: str):
            return api.parse_safetensors_file_metadata(repo_id, name, revision=revision, token=token or None).tensors

        chosen = weights.choose(listed.__contains__, read_json, read_keys)
    except CsmError:
        raise
    except (hf_errors.HfHubHTTPError, hf_errors.SafetensorsParsingError, requests.RequestException, OSError) as exc:
        raise hub_error(repo_id, exc) from None
    names = [n for n in weights.SUPPORT_FILES if n in listed] + list(chosen.download)
    if not chosen.has_codec:
        names += [n for n in (weights.MIMI_FILE, weights.MIMI_CONFIG_FILE) if n in listed]
    return ModelFiles(repo_id, revision, tuple(names), chosen)


def plan_model(model: str = DEFAULT_MODEL, token: str | None = None) -> list[RemoteFile]:
    """What loading ``model`` needs from the hub, with sizes. For a repository id: its model
    files, with ONE copy of the weights (as loading will read them), plus moshi's Mimi release
    file when neither the weights nor the repository carry the codec. For a local model folder:
    the Mimi release file when its weights carry no codec, else nothing."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        return _plan_mimi_release(token) if needs_mimi_release(folder) else []
    return _plan_repo(model, token)


def _plan_repo(repo_id: str, token: str | None) -> list[RemoteFile]:
    chosen = model_files(repo_id, token)
    files = download.describe(repo_id, chosen.names, chosen.revision, token)
    if chosen.needs_mimi_release:
        files += _plan_mimi_release(token)
    return files


def _plan_mimi_release(token: str | None) -> list[RemoteFile]:
    return download.plan(MIMI_REPO, token, [MIMI_RELEASE_FILE])


def resolve_model_folder(
    model: str | os.PathLike,
    token: str | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """A local folder as it is, or a hub repository id from the cache or downloaded (with
    moshi's Mimi release file when the weights carry no codec) as :func:`download_model` does.

    Raises:
        ModelNotFoundError: ``model`` is neither a folder nor a repository id, or not on the hub.
        ModelAccessError, NetworkError: the hub refused or could not be reached (and the cache
            holds no complete copy).
        DownloadCancelled: ``should_stop()`` turned true; what arrived is kept for resuming.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    name = str(model)
    if path.exists() or not is_repo_id(name):
        raise ModelNotFoundError(
            f"{name} is neither a model folder nor a Hugging Face repository id (like {DEFAULT_MODEL})."
        )
    return download_model(name, token, on_progress=on_progress, should_stop=should_stop)


def download_model(
    repo_id: str,
    token: str | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """A repository's snapshot folder: the cached one when it holds a complete model (no
    network: fast starts, and offline too), else its model files as :func:`plan_model` chooses
    them, downloaded with progress and cancel (a partial file resumes)."""
    if (cached := _complete_in_cache(repo_id)) is not None:
        return cached
    if is_offline():
        raise not_cached_error(repo_id)
    files = _plan_repo(repo_id, token)
    return download.download(files, token, on_progress=on_progress, should_stop=should_stop)[repo_id]


def needs_mimi_release(folder: Path) -> bool:
    """Whether a model folder carries no codec (no ``mimi.safetensors``, no ``codec_model.*`` in
    its weights), so that moshi's release file must come with it. False for a folder whose
    weights cannot be read: loading it says what is wrong."""
    if (folder / weights.MIMI_FILE).is_file():
        return False
    try:
        return not weights.folder_weights(folder).has_codec
    except (CheckpointError, OSError, ValueError):
        return False


def mimi_release_file(
    token: str | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """moshi's Mimi weights file, from the cache (no network, works offline) or downloaded."""
    folder = download.fetch_repo(MIMI_REPO, [MIMI_RELEASE_FILE], token, on_progress=on_progress,
                                 should_stop=should_stop)
    return folder / MIMI_RELEASE_FILE


def local_model_folder(model: str | os.PathLike) -> Path | None:
    """The folder ``model`` loads from without a download, else None: a local folder, or the
    cached snapshot of a repository id, that holds a complete model (weights, tokenizer) and,
    when its weights carry no codec, with moshi's Mimi release file in the cache. Never touches
    the network."""
    path = Path(model).expanduser()
    if path.is_dir():
        folder = path if _is_complete(path) else None
    else:
        folder = _complete_in_cache(str(model)) if is_repo_id(str(model)) else None
    if folder is not None and needs_mimi_release(folder) and cached_mimi_release_file() is None:
        return None  # loading would download the codec
    return folder


def cached_mimi_release_file() -> Path | None:
    """moshi's Mimi weights file if the cache has it (no network)."""
    return hub_cache.cached_file(MIMI_REPO, MIMI_RELEASE_FILE)


def _complete_in_cache(repo_id: str) -> Path | None:
    folder = hub_cache.cached_snapshot(repo_id)
    return folder if folder is not None and _is_complete(folder) else None


def _is_complete(folder: Path) -> bool:
    try:
        weights.folder_weights(folder)
    except (OSError, ValueError, CheckpointError):
        return False
    return (folder / "tokenizer.json").is_file()
