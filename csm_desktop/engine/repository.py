"""A model id as a folder: a local folder as it is, or a hub repository downloaded into (or
found in) the Hugging Face cache. Which files to fetch is :func:`model_files`' choice alone,
shared with the app's downloader (``services/hub.py``), so both fetch one copy of the weights.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from csm_desktop.engine import weights
from csm_desktop.errors import CheckpointError, CsmError, ModelAccessError, ModelNotFoundError, NetworkError
from csm_desktop.settings import DEFAULT_MODEL

TIMEOUT_S = 30.0
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` read at call time (huggingface_hub reads it only at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def hub_cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None


def gated_message(repo_id: str) -> str:
    return (
        f"Access to {repo_id} was refused. It is a gated model: open https://huggingface.co/{repo_id}, "
        "sign in and accept its licence, then use an access token of that account (create one at "
        "https://huggingface.co/settings/tokens; paste it in Model setup or Settings > Credentials, or set "
        "HF_TOKEN) and try again. If you just entered a token, check that it is complete and still valid."
    )


def hub_status_error(repo_id: str, status: int | None) -> CsmError:
    """The error for an HTTP status from the hub (shared with services/hub.py)."""
    if status in (401, 403):
        # The hub answers 401 for private or gated repositories without a valid token.
        return ModelAccessError(gated_message(repo_id))
    if status == 404:
        return ModelNotFoundError(f"{repo_id} or one of its files does not exist on the hub. Check the name.")
    return NetworkError(f"Downloading {repo_id} failed: the hub answered HTTP {status}. Try again later.")


def hub_error(repo_id: str, exc: BaseException) -> CsmError:
    """Translate huggingface_hub's and requests' errors (an HTTP error may hide behind a cache miss)."""
    import requests
    from huggingface_hub import errors as hf_errors

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, (hf_errors.GatedRepoError, hf_errors.RepositoryNotFoundError)):
            return hub_status_error(repo_id, 401)
        # (LocalEntryNotFoundError is an HfHubHTTPError too, without a response.)
        response = getattr(cause, "response", None)
        if isinstance(cause, (hf_errors.HfHubHTTPError, requests.HTTPError)) and response is not None:
            return hub_status_error(repo_id, response.status_code)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, hf_errors.LocalEntryNotFoundError):
        return NetworkError(
            f"{repo_id} is not in the local cache and the Hugging Face hub cannot be reached. "
            "Connect to the internet, or choose a local model folder."
        )
    if isinstance(exc, (requests.Timeout, TimeoutError)):
        return NetworkError("The Hugging Face hub did not answer in time. Check your connection and try again.")
    if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
        return CsmError(f"Saving {repo_id} failed: {exc}. Check free disk space.")
    return NetworkError(f"The Hugging Face hub could not be reached ({type(exc).__name__}). "
                        "Check your connection, or choose a local model folder.")


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


def is_repo_id(name: str) -> bool:
    """Whether ``name`` has the form of a hub repository id (``owner/name``)."""
    return bool(_REPO_ID.match(name))


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
    """Download (or reuse from the cache) a repository's model files, or those matching
    ``allow_patterns``; returns its snapshot folder. Offline, the cached snapshot as it is."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub import errors as hf_errors

    if allow_patterns is None and (cached := _complete_in_cache(repo_id)) is not None:
        return cached  # no network on every start, and it works offline
    try:
        if allow_patterns is None and not constants.HF_HUB_OFFLINE:
            allow_patterns = [glob.escape(n) for n in model_files(repo_id, token).names]
        folder = snapshot_download(
            repo_id,
            token=token or None,
            allow_patterns=allow_patterns,
            endpoint=hub_endpoint(),
            cache_dir=hub_cache_dir(),
            etag_timeout=TIMEOUT_S,
        )
    except CsmError:
        raise
    except (hf_errors.HfHubHTTPError, hf_errors.LocalEntryNotFoundError, OSError) as exc:
        raise hub_error(repo_id, exc) from None
    return Path(folder)


def _complete_in_cache(repo_id: str) -> Path | None:
    """The cached snapshot of ``repo_id`` if it holds a complete model (weights, tokenizer)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hf_errors

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=hub_cache_dir()))
        weights.folder_weights(folder)
    except (hf_errors.LocalEntryNotFoundError, OSError, ValueError, CheckpointError):
        return None
    return folder if (folder / "tokenizer.json").is_file() else None
