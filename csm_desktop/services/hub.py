"""Downloading the model into the shared Hugging Face cache, with byte progress, cancel and resume.

Files land where ``huggingface_hub`` keeps them (``blobs/<etag>`` with a snapshot link and a
ref), so :func:`csm_desktop.engine.load_csm_1b` and any other Hugging Face tool find them. A
partial file stays as ``blobs/<etag>.incomplete`` and the next download resumes it.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from csm_desktop.engine.repository import (
    DEFAULT_MODEL,
    TIMEOUT_S,
    hub_cache_dir,
    hub_endpoint,
    hub_error,
    hub_status_error,
    model_files,
)
from csm_desktop.errors import Cancelled, CsmError, NetworkError
from csm_desktop.services.credentials import redact

MIMI_REPO = "kyutai/moshiko-pytorch-bf16"
MIMI_RELEASE_FILE = "tokenizer-e351c8d8-checkpoint125.safetensors"  # moshi.models.loaders.MIMI_NAME
CHUNK = 1 << 20
_report_interval_s = 0.1


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


def _translate(repo_id: str, exc: Exception) -> CsmError:
    error = hub_error(repo_id, exc)
    return type(error)(redact(str(error)))


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
        raise _translate(repo_id, exc) from None
    return files


def plan(repo_id: str, token: str | None, patterns: list[str]) -> list[RemoteFile]:
    """The repository's files that match ``patterns``, with sizes."""
    import requests
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf_errors

    try:
        info = HfApi(endpoint=hub_endpoint()).model_info(repo_id, token=token or None, timeout=TIMEOUT_S)
    except (hf_errors.HfHubHTTPError, requests.RequestException, OSError) as exc:
        raise _translate(repo_id, exc) from None
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
            raise _translate(f.repo_id, exc) from None
        if f.size and partial.stat().st_size != f.size:
            raise NetworkError(f"{f.name} arrived incomplete ({partial.stat().st_size} of {f.size} bytes). "
                               "Download again to resume it.")
        os.replace(partial, blob)
        _link(f)
        report(Progress(f.name, f.size, f.size, done, total))
    return {f.repo_id: _repo_dir(f.repo_id) / "snapshots" / f.commit for f in files}
