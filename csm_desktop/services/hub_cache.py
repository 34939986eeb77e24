"""Where downloaded files lie: huggingface_hub's cache layout, so that every Hugging Face tool
finds what the app downloaded, and the app finds what they did.

A repository's folder (``models--owner--name`` under ``HF_HUB_CACHE``) holds ``blobs/<etag>``
(the file, named by its etag; ``blobs/<etag>.incomplete`` while it arrives, as huggingface_hub
names a partial file too), ``snapshots/<commit>/<name>`` (a link to the blob) and ``refs/main``
(the commit ``main`` was at). Reading the cache never touches the network.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from csm_desktop.services.hub import hub_cache_dir


def cache_root() -> Path:
    from huggingface_hub import constants

    return Path(hub_cache_dir() or constants.HF_HUB_CACHE)


def repo_dir(repo_id: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return cache_root() / repo_folder_name(repo_id=repo_id, repo_type="model")


def blob_path(repo_id: str, etag: str) -> Path:
    return repo_dir(repo_id) / "blobs" / etag


def partial_path(repo_id: str, etag: str) -> Path:
    return repo_dir(repo_id) / "blobs" / f"{etag}.incomplete"


def link(repo_id: str, name: str, commit: str, etag: str) -> Path:
    """Record a finished blob in the commit's snapshot, as huggingface_hub does; returns the
    snapshot's path of the file."""
    target = repo_dir(repo_id) / "snapshots" / commit / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    blob = blob_path(repo_id, etag)
    try:
        target.symlink_to(os.path.relpath(blob, target.parent))
    except OSError:  # no symlinks (some Windows setups): copy
        shutil.copyfile(blob, target)
    return target


def set_main(repo_id: str, commit: str) -> None:
    """Record that ``main`` is at ``commit`` (done once a download's files are all linked, so that
    a stopped download leaves ``main`` at the last complete snapshot)."""
    refs = repo_dir(repo_id) / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(commit)


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of the commit ``main`` was at when last fetched, if the cache has it."""
    try:
        commit = (repo_dir(repo_id) / "refs" / "main").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    folder = repo_dir(repo_id) / "snapshots" / commit
    return folder if commit and folder.is_dir() else None


def snapshot_names(folder: Path) -> list[str]:
    """The files a snapshot holds (links whose blob is gone do not count), as repository paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def cached_matches(repo_id: str, patterns: Iterable[str]) -> Path | None:
    """The cached snapshot when every pattern matches at least one of its files, else None."""
    folder = cached_snapshot(repo_id)
    if folder is None:
        return None
    names = snapshot_names(folder)
    return folder if all(fnmatch.filter(names, p) for p in patterns) else None


def cached_file(repo_id: str, name: str) -> Path | None:
    """A file of the cached snapshot, if there."""
    folder = cached_snapshot(repo_id)
    return folder / name if folder is not None and (folder / name).is_file() else None
