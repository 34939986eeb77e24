"""The one downloader: a repository's files fetched into the Hugging Face cache (laid out as
:mod:`csm_desktop.services.hub_cache` says) with byte progress, cancel between chunks, and resume:
a partial file stays ``blobs/<etag>.incomplete`` and the next download continues it with a
Range request.

- :func:`fetch_repo`: the files of a repository that match patterns, cache first (no network
  when the cached snapshot has them, and ``HF_HUB_OFFLINE`` is honoured); returns the snapshot.
- :func:`plan` (or :func:`describe`) then :func:`download`: the same in two steps, for a caller
  that says the size before it downloads (the set-up dialog).

huggingface_hub serves the metadata (the listing, sizes and etags, its HTTP session); writing
files is this module's alone.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from csm_desktop.errors import Cancelled, CsmError, ModelNotFoundError, NetworkError
from csm_desktop.services import hub_cache
from csm_desktop.services.hub import TIMEOUT_S, hub_endpoint, hub_error, hub_status_error, is_offline, not_cached_error

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

    @property
    def blob(self) -> Path:
        return hub_cache.blob_path(self.repo_id, self.etag)

    @property
    def partial(self) -> Path:
        return hub_cache.partial_path(self.repo_id, self.etag)

    def is_cached(self) -> bool:
        blob = self.blob
        return blob.is_file() and (self.size == 0 or blob.stat().st_size == self.size)

    def bytes_here(self) -> int:
        """What a download need not fetch again: all of it when finished, else its partial data."""
        if self.is_cached():
            return self.size
        return self.partial.stat().st_size if self.partial.is_file() else 0


@dataclass(frozen=True)
class Progress:
    file: str
    file_done: int
    file_size: int
    done: int  # bytes of all files
    total: int


ProgressCallback = Callable[[Progress], None]


def describe(repo_id: str, names: Iterable[str], revision: str, token: str | None) -> list[RemoteFile]:
    """Sizes, etags and addresses of ``names`` at ``revision`` (HEAD requests, no download)."""
    import requests
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub import errors as hf_errors

    endpoint = hub_endpoint()
    files = []
    try:
        for name in names:
            url = hf_hub_url(repo_id, name, revision=revision, endpoint=endpoint)
            meta = get_hf_file_metadata(url, token=token or None, timeout=TIMEOUT_S, endpoint=endpoint)
            if not meta.etag:
                raise NetworkError(f"The hub named no version (ETag) for {name} of {repo_id}. Try again later.")
            files.append(RemoteFile(repo_id, name, meta.commit_hash or revision, meta.size or 0, meta.etag,
                                    meta.location or url))
    except (hf_errors.HfHubHTTPError, requests.RequestException, OSError) as exc:
        raise hub_error(repo_id, exc) from None
    return files


def plan(repo_id: str, token: str | None, patterns: Iterable[str]) -> list[RemoteFile]:
    """The files of the repository's ``main`` that match ``patterns`` (fnmatch; a plain name
    matches itself), with sizes.

    Raises:
        ModelNotFoundError: a pattern matches no file of the repository.
        ModelAccessError, NetworkError: the hub refused or could not be reached.
    """
    import requests
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf_errors

    patterns = list(patterns)
    try:
        info = HfApi(endpoint=hub_endpoint()).model_info(repo_id, token=token or None, timeout=TIMEOUT_S)
    except (hf_errors.HfHubHTTPError, requests.RequestException, OSError) as exc:
        raise hub_error(repo_id, exc) from None
    listed = [s.rfilename for s in info.siblings or []]
    if missing := [p for p in patterns if not fnmatch.filter(listed, p)]:
        raise ModelNotFoundError(f"{repo_id} has no file named like {', '.join(missing)} on the hub. Check the name.")
    names = [n for n in listed if any(fnmatch.fnmatch(n, p) for p in patterns)]
    return describe(repo_id, names, info.sha or "main", token)


def total_bytes(files: list[RemoteFile]) -> int:
    return sum(f.size for f in files)


def bytes_already_here(files: list[RemoteFile]) -> int:
    """What a download of ``files`` need not fetch again: finished files and partial data."""
    return sum(f.bytes_here() for f in files)


def fetch_repo(
    repo_id: str,
    patterns: Iterable[str],
    token: str | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """A repository's files that match ``patterns`` (fnmatch; a plain name matches itself), from
    the cache when its snapshot has a file for every pattern (no network, so offline too), else
    downloaded as :func:`download` does. Returns the snapshot folder.

    Raises:
        DownloadCancelled: ``should_stop()`` turned true; partial data is kept for resuming.
        ModelNotFoundError: the repository, or a file for a pattern, is not on the hub.
        ModelAccessError, NetworkError: the hub refused or could not be reached, or
            ``HF_HUB_OFFLINE`` is set and the cache lacks a file.
        CsmError: not enough disk space.
    """
    patterns = list(patterns)
    if (cached := hub_cache.cached_matches(repo_id, patterns)) is not None:
        return cached
    if is_offline():
        raise not_cached_error(repo_id)
    files = plan(repo_id, token, patterns)
    return download(files, token, on_progress=on_progress, should_stop=should_stop)[repo_id]


def download(
    files: list[RemoteFile],
    token: str | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Path]:
    """Fetch ``files`` into the cache (resuming partial ones) and return each repo's snapshot folder.

    Raises:
        DownloadCancelled: ``should_stop()`` turned true; partial data is kept for resuming.
        CsmError: not enough disk space, access refused, network failure.
    """
    from huggingface_hub.utils import get_session

    total = total_bytes(files)
    needed = total - bytes_already_here(files)
    root = hub_cache.cache_root()
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if needed > free:
        raise CsmError(f"The download needs {needed / 1e9:.1f} GB but only {free / 1e9:.1f} GB are free in {root}. "
                       "Free some space, or set HF_HUB_CACHE to a larger disk.")
    tally = _Tally(total, sum(f.size for f in files if f.is_cached()), on_progress or (lambda _p: None))
    session = get_session()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for f in files:
        if not f.is_cached():
            _fetch(session, f, headers, tally, should_stop or (lambda: False))
        hub_cache.link(f.repo_id, f.name, f.commit, f.etag)
        tally.report(f, f.size, force=True)
    commits = {f.repo_id: f.commit for f in files}
    for repo_id, commit in commits.items():
        hub_cache.set_main(repo_id, commit)
    return {repo_id: hub_cache.repo_dir(repo_id) / "snapshots" / commit for repo_id, commit in commits.items()}


class _Tally:
    """Bytes done across all files, reported at most every ``_report_interval_s``."""

    def __init__(self, total: int, done: int, on_progress: ProgressCallback) -> None:
        self.total, self.done, self.on_progress = total, done, on_progress
        self._last = 0.0

    def report(self, f: RemoteFile, file_done: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= _report_interval_s:
            self.on_progress(Progress(f.name, file_done, f.size, self.done, self.total))
            self._last = now


def _fetch(session, f: RemoteFile, headers: dict[str, str], tally: _Tally, should_stop: Callable[[], bool]) -> None:
    """Fetch one file into its blob, continuing its partial data with a Range request."""
    partial = f.partial
    partial.parent.mkdir(parents=True, exist_ok=True)
    have = partial.stat().st_size if partial.is_file() else 0
    tally.done += have
    request_headers = dict(headers, **({"Range": f"bytes={have}-"} if have else {}))
    try:
        with session.get(f.url, headers=request_headers, stream=True, timeout=TIMEOUT_S) as response:
            if response.status_code == 416 and have == f.size:
                pass  # already complete
            elif response.status_code >= 400:
                raise hub_status_error(f.repo_id, response.status_code)
            else:
                if have and response.status_code != 206:  # the server ignored Range: start over
                    tally.done -= have
                    have = 0
                    partial.unlink(missing_ok=True)
                with partial.open("ab") as out:
                    for chunk in response.iter_content(CHUNK):
                        if should_stop():
                            raise DownloadCancelled(
                                "The download was stopped. What arrived is kept: downloading again resumes it.")
                        out.write(chunk)
                        have += len(chunk)
                        tally.done += len(chunk)
                        tally.report(f, have)
    except CsmError:
        raise
    except Exception as exc:  # requests' errors, OSError (disk full) ...
        if isinstance(exc, OSError) and not isinstance(exc, ConnectionError) and not hasattr(exc, "response"):
            raise CsmError(f"Writing {f.name} failed: {exc}. Check free disk space.") from None
        raise hub_error(f.repo_id, exc) from None
    if f.size and partial.stat().st_size != f.size:
        raise NetworkError(f"{f.name} arrived incomplete ({partial.stat().st_size} of {f.size} bytes). "
                           "Download again to resume it.")
    os.replace(partial, f.blob)
