"""Atomic file writes: a crash or a full disk never leaves a half-written file in place.

A write goes to ``.NAME.<8 characters>.part`` beside the target, is fsynced, then renamed over
it. New files get the permissions any other program would give them (0666 less the umask);
a file that exists keeps its own.
Temporary files that a killed process left behind are removed by the next write of the same
file, or by :func:`remove_stale_parts`, once nothing has touched them for ``STALE_AFTER_S``.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from csm_desktop.errors import CsmError

STALE_AFTER_S = 60.0
# Ours by name: the 8 characters are ours (hex) or tempfile.mkstemp's, which older versions used.
_PART = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.part$")
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}

_writing: set[Path] = set()  # temporary files this process is writing now
_writing_lock = threading.Lock()


class WriteError(CsmError, OSError):
    """A file could not be written: no permission, a read-only or missing folder, a full disk.

    Also an ``OSError``, so callers that treated a failed write as one still do."""


class DiskFullError(WriteError):
    """Not enough free space for a file. ``needed`` and ``free`` are in bytes (None: not known)."""

    def __init__(self, message: str, *, needed: int | None, free: int | None) -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC
        self.needed = needed
        self.free = free


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None], *,
                 size_hint: int | None = None) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync it, then rename it over
    ``path``. On any error the temporary file is removed and ``path`` is untouched.

    ``size_hint`` (bytes, when known) is checked against the free space before anything is
    written, and named in the error when the disk fills up anyway.

    Raises:
        DiskFullError: no space left (before or during the write).
        WriteError: any other failure of the file system.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(p.parent, target=p.name)
        ensure_free_space(p, size_hint)
        tmp, fd = _create_part(p)
    except WriteError:
        raise
    except OSError as exc:
        raise write_error(p, exc, size_hint) from exc
    writer_error: Exception | None = None
    try:
        with os.fdopen(fd, "wb") as raw:
            fh = _RecordingFile(raw)
            try:
                write(fh)  # type: ignore[arg-type]
            except Exception as exc:
                if fh.error is None:
                    writer_error = exc
                    raise
            if fh.error is not None:
                # soundfile writes through a C callback that swallows the OSError and then
                # fails with a bare AssertionError: the recorded error is the real cause.
                raise fh.error
            raw.flush()
            os.fsync(raw.fileno())
        _keep_mode(p, tmp)
        os.replace(tmp, p)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if exc is writer_error or not isinstance(exc, OSError) or isinstance(exc, WriteError):
            raise
        raise write_error(p, exc, size_hint) from exc
    finally:
        with _writing_lock:
            _writing.discard(tmp)
    return p


def resolved(path: Path) -> Path | None:
    """``path`` with links followed, or None when it cannot be (a symlink loop, a NUL byte):
    for checks that a path named by stored data stays inside its folder."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop on Python 3.11
        return None


def _keep_mode(target: Path, tmp: Path) -> None:
    """A file the user already has keeps its permissions (a 0600 project stays 0600)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    data = text.encode("utf-8")
    return atomic_write(path, lambda fh: fh.write(data), size_hint=len(data))


def free_bytes(folder: str | os.PathLike) -> int | None:
    """Bytes an ordinary user may still write in ``folder``'s file system (None: not known)."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        return None
    return st.f_bavail * st.f_frsize


def ensure_free_space(path: Path, needed: int | None) -> None:
    """Raise DiskFullError, before anything is written, if ``path`` cannot take ``needed`` bytes."""
    free = free_bytes(path.parent) if needed is not None else None
    if needed is not None and free is not None and needed > free:
        raise _disk_full(path, needed, free)


def remove_stale_parts(folder: str | os.PathLike, *, target: str | None = None,
                       older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove our temporary files in ``folder`` (only those for ``target``, if given) that no
    write of this process owns and that have not changed for ``older_than_s`` seconds: what a
    killed save left behind. Returns what was removed; failures are skipped."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _PART.match(entry.name)
        if not m or (target is not None and m["target"] != target):
            continue
        path = Path(entry.path)
        with _writing_lock:
            if path in _writing:
                continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than_s:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


def _create_part(p: Path) -> tuple[Path, int]:
    """A new temporary file beside ``p``, registered as being written, and its descriptor.
    Mode 0666 goes through the umask, as for any new file (mkstemp's 0600 would stick)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        with _writing_lock:
            _writing.add(tmp)
        return tmp, fd


class _RecordingFile:
    """The writer's view of the temporary file: it remembers the first OSError it raised."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.error: OSError | None = None

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._raw, name)(*args)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def write(self, data: Any) -> int:
        return self._call("write", data)

    def seek(self, *args: Any) -> int:
        return self._call("seek", *args)

    def flush(self) -> None:
        self._call("flush")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def write_error(path: Path, exc: OSError, needed: int | None = None) -> WriteError:
    """The WriteError (DiskFullError when out of space) for ``exc``, raised writing ``path``."""
    if exc.errno in _NO_SPACE:
        return _disk_full(path, needed, free_bytes(path.parent) if path.parent.exists() else None)
    reason = exc.strerror or str(exc)
    error = WriteError(f"Could not write {path} ({reason}). Check that the folder exists and that you may "
                       "write to it, or choose another folder.")
    error.errno = exc.errno
    return error


def _disk_full(path: Path, needed: int | None, free: int | None) -> DiskFullError:
    if needed is not None and free is not None:
        size = f": it needs {format_size(needed)} and {format_size(free)} are free"
    elif needed is not None:
        size = f": it needs {format_size(needed)}"
    elif free is not None:
        size = f" (only {format_size(free)} are free)"
    else:
        size = ""
    return DiskFullError(f"Not enough free space to write {path}{size}. Free some space on that disk, or choose "
                         "another folder, then try again.", needed=needed, free=free)


def format_size(n: int) -> str:
    """``n`` bytes for people: ``512 bytes``, ``1.5 MB``, ``2.1 GB`` (powers of 1000)."""
    if n < 1000:
        return f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"
