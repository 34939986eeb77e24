"""The one way from a Hugging Face repository id to a model folder: which files to fetch (ONE
copy of the weights, chosen by :func:`model_files`), the cache-first fetch that works offline
(:func:`resolve_model_folder`, :func:`mimi_release_file`), and the app's resumable download with
byte progress and cancel (:func:`plan_model`, :func:`download`). The engine loads local folders.

Files land where ``huggingface_hub`` keeps them (``blobs/<etag>`` with a snapshot link and a
ref), so every path here and any other Hugging Face tool find them. A partial file of
:func:`download` stays as ``blobs/<etag>.incomplete`` and the next download resumes it.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from csm_desktop.engine import weights
from csm_desktop.errors import (
    Cancelled,
    CheckpointError,
    CsmError,
    ModelAccessError,
    ModelNotFoundError,
    NetworkError,
)
from csm_desktop.redaction import redact
from csm_desktop.settings import DEFAULT_MODEL

TIMEOUT_S = 30.0
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# moshi's Mimi release, for checkpoints without a codec: moshi.models.loaders.DEFAULT_REPO and
# MIMI_NAME (not imported: moshi pulls in torch; tests/integration/test_sesame_repo.py checks them).
MIMI_REPO = "kyutai/moshiko-pytorch-bf16"
MIMI_RELEASE_FILE = "tokenizer-e351c8d8-checkpoint125.safetensors"
CHUNK = 1 << 20
_report_interval_s = 0.1


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
    """The error for an HTTP status from the hub."""
    if status in (401, 403):
        # The hub answers 401 for private or gated repositories without a valid token.
        return ModelAccessError(gated_message(repo_id))
    if status == 404:
        return ModelNotFoundError(f"{repo_id} or one of its files does not exist on the hub. Check the name.")
    return NetworkError(f"Downloading {repo_id} failed: the hub answered HTTP {status}. Try again later.")


def hub_error(repo_id: str, exc: BaseException) -> CsmError:
    """Translate huggingface_hub's and requests' errors (an HTTP error may hide behind a cache
    miss), with any secret in the message redacted."""
    error = _hub_error(repo_id, exc)
    return type(error)(redact(str(error)))


def _hub_error(repo_id: str, exc: BaseException) -> CsmError:
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
    """A local folder as it is, or a hub repository id downloaded (or found in the cache).

    Raises:
        ModelNotFoundError: ``model`` is neither a folder nor a repository id, or not on the hub.
        ModelAccessError, NetworkError: the hub refused or could not be reached (and the cache
            holds no complete copy).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    name = str(model)
    if path.exists() or not is_repo_id(name):
        raise ModelNotFoundError(
            f"{name} is neither a model folder nor a Hugging Face repository id (like {DEFAULT_MODEL})."
        )
    return download_model(name, token=token)


def download_model(repo_id: str, token: str | None = None) -> Path:
    """Download (or reuse from the cache) a repository's model files as :func:`model_files`
    chooses them; returns its snapshot folder. Offline, the cached snapshot as it is."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub import errors as hf_errors

    if (cached := _complete_in_cache(repo_id)) is not None:
        return cached  # no network on every start, and it works offline
    try:
        allow_patterns = None
        if not constants.HF_HUB_OFFLINE:
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


def mimi_release_file(token: str | None = None) -> Path:
    """moshi's Mimi weights file, from the cache (no network, works offline) or downloaded."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub import errors as hf_errors

    cached = try_to_load_from_cache(MIMI_REPO, MIMI_RELEASE_FILE, cache_dir=hub_cache_dir())
    if isinstance(cached, str):
        return Path(cached)
    try:
        return Path(hf_hub_download(MIMI_REPO, MIMI_RELEASE_FILE, token=token or None, endpoint=hub_endpoint(),
                                    cache_dir=hub_cache_dir(), etag_timeout=TIMEOUT_S))
    except (hf_errors.HfHubHTTPError, hf_errors.LocalEntryNotFoundError, OSError) as exc:
        raise hub_error(MIMI_REPO, exc) from None


def local_model_folder(model: str | os.PathLike) -> Path | None:
    """The folder ``model`` loads from without a download: a local folder, or the cached snapshot
    of a repository id, that holds a complete model (weights, tokenizer); else None."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path if _is_complete(path) else None
    return _complete_in_cache(str(model)) if is_repo_id(str(model)) else None


def _complete_in_cache(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hf_errors

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=hub_cache_dir()))
    except (hf_errors.LocalEntryNotFoundError, OSError, ValueError):
        return None
    return folder if _is_complete(folder) else None


def _is_complete(folder: Path) -> bool:
    try:
        weights.folder_weights(folder)
    except (OSError, ValueError, CheckpointError):
        return False
    return (folder / "tokenizer.json").is_file()


class DownloadCancelled(Cancelled):
    """The user stopped the download; what arrived is kept for the next try."""


@dataclass(frozen=True)
class RemoteFile:
    repo_id: str
    name: str
    commit: str
    size: int
    etag: str
    url: str


@dataclass(frozen=True)
class Progress:
    file: str
    file_done: int
    file_size: int
    done: int  # bytes of all files
    total: int


def _cache_root() -> Path:
    from huggingface_hub import constants

    return Path(hub_cache_dir() or constants.HF_HUB_CACHE)


def _repo_dir(repo_id: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return _cache_root() / repo_folder_name(repo_id=repo_id, repo_type="model")


def _describe(repo_id: str, names, revision: str, token: str | None) -> list[RemoteFile]:
    """Sizes and addresses of ``names`` (HEAD requests, no download)."""
    import requests
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub import errors as hf_errors

    endpoint = hub_endpoint()
    files = []
    try:
        for name in names:
            url = hf_hub_url(repo_id, name, revision=revision, endpoint=endpoint)
            meta = get_hf_file_metadata(url, token=token or None, timeout=TIMEOUT_S, endpoint=endpoint)
            files.append(RemoteFile(repo_id, name, meta.commit_hash or revision, meta.size or 0,
                                    meta.etag or "", meta.location or url))
    except (hf_errors.HfHubHTTPError, requests.RequestException, OSError) as exc:
        raise hub_error(repo_id, exc) from None
    return files


def plan(repo_id: str, token: str | None, patterns: list[str]) -> list[RemoteFile]:
    """The repository's files that match ``patterns``, with sizes."""
    import requests
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf_errors

    try:
        info = HfApi(endpoint=hub_endpoint()).model_info(repo_id, token=token or None, timeout=TIMEOUT_S)
    except (hf_errors.HfHubHTTPError, requests.RequestException, OSError) as exc:
        raise hub_error(repo_id, exc) from None
    names = [s.rfilename for s in info.siblings or [] if any(fnmatch.fnmatch(s.rfilename, p) for p in patterns)]
    return _describe(repo_id, names, info.sha or "main", token)


def plan_model(repo_id: str = DEFAULT_MODEL, token: str | None = None) -> list[RemoteFile]:
    """The model's files, with ONE copy of the weights (as loading will read them), plus moshi's
    Mimi release file when neither the weights nor the repository carry the codec."""
    chosen = model_files(repo_id, token)
    files = _describe(repo_id, chosen.names, chosen.revision, token)
    if chosen.needs_mimi_release:
        files += plan(MIMI_REPO, token, [MIMI_RELEASE_FILE])
    return files


def total_bytes(files: list[RemoteFile]) -> int:
    return sum(f.size for f in files)


def bytes_already_here(files: list[RemoteFile]) -> int:
    """What a download of ``files`` need not fetch again: finished files and partial data."""
    return sum(f.size if _is_cached(f) else (_partial(f).stat().st_size if _partial(f).is_file() else 0)
               for f in files)


def _blob(f: RemoteFile) -> Path:
    return _repo_dir(f.repo_id) / "blobs" / f.etag


def _partial(f: RemoteFile) -> Path:
    return _blob(f).with_name(f"{f.etag}.incomplete")


def _is_cached(f: RemoteFile) -> bool:
    blob = _blob(f)
    return blob.is_file() and (f.size == 0 or blob.stat().st_size == f.size)


def _link(f: RemoteFile) -> None:
    """Record a finished blob in the snapshot and the ``main`` ref, as huggingface_hub does."""
    repo = _repo_dir(f.repo_id)
    target = repo / "snapshots" / f.commit / f.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    try:
        target.symlink_to(os.path.relpath(_blob(f), target.parent))
    except OSError:  # no symlinks (some Windows setups): copy
        shutil.copyfile(_blob(f), target)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(f.commit)


def download(
    files: list[RemoteFile],
    token: str | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Path]:
    """Fetch ``files`` into the cache (resuming partial ones) and return each repo's snapshot folder.

    Raises:
        DownloadCancelled: ``should_stop()`` turned true; partial data is kept for resuming.
        CsmError: not enough disk space, access refused, network failure.
    """
    from huggingface_hub.utils import get_session

    stop = should_stop or (lambda: False)
    total = sum(f.size for f in files)
    done = sum(f.size for f in files if _is_cached(f))
    needed = total - bytes_already_here(files)
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if needed > free:
        raise CsmError(f"The download needs {needed / 1e9:.1f} GB but only {free / 1e9:.1f} GB are free in {root}. "
                       "Free some space, or set HF_HUB_CACHE to a larger disk.")
    session = get_session()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    report = on_progress or (lambda _p: None)
    for f in files:
        if _is_cached(f):
            report(Progress(f.name, f.size, f.size, done, total))
            _link(f)
            continue
        blob, partial = _blob(f), _partial(f)
        partial.parent.mkdir(parents=True, exist_ok=True)
        have = partial.stat().st_size if partial.is_file() else 0
        done += have
        request_headers = dict(headers, **({"Range": f"bytes={have}-"} if have else {}))
        try:
            with session.get(f.url, headers=request_headers, stream=True, timeout=TIMEOUT_S) as response:
                if response.status_code == 416 and have == f.size:
                    pass  # already complete
                elif response.status_code >= 400:
                    raise hub_status_error(f.repo_id, response.status_code)
                else:
                    if have and response.status_code != 206:  # the server ignored Range: start over
                        done -= have
                        have = 0
                        partial.unlink(missing_ok=True)
                    last = 0.0
                    with partial.open("ab") as out:
                        for chunk in response.iter_content(CHUNK):
                            if stop():
                                raise DownloadCancelled(
                                    "The download was stopped. What arrived is kept: downloading again resumes it.")
                            out.write(chunk)
                            have += len(chunk)
                            done += len(chunk)
                            now = time.monotonic()
                            if now - last >= _report_interval_s:
                                report(Progress(f.name, have, f.size, done, total))
                                last = now
        except CsmError:
            raise
        except Exception as exc:  # requests' errors, OSError (disk full) ...
            if isinstance(exc, OSError) and not hasattr(exc, "response"):
                raise CsmError(f"Writing {f.name} failed: {exc}. Check free disk space.") from None
            raise hub_error(f.repo_id, exc) from None
        if f.size and partial.stat().st_size != f.size:
            raise NetworkError(f"{f.name} arrived incomplete ({partial.stat().st_size} of {f.size} bytes). "
                               "Download again to resume it.")
        os.replace(partial, blob)
        _link(f)
        report(Progress(f.name, f.size, f.size, done, total))
    return {f.repo_id: _repo_dir(f.repo_id) / "snapshots" / f.commit for f in files}
