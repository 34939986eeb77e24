"""Unsaved work kept beside the running app, so that a crash or a kill loses none of it.

Each running app writes ``recovery/session-<id>.json`` in the user data folder (atomically)
shortly after an edit, and holds the lock file ``session-<id>.lock`` for as long as it runs. The
operating system drops a lock when its process ends in any way (a crash, SIGKILL, a power cut),
so at the next start a session file whose lock can be taken belongs to an app that did not close
cleanly: its work is offered back. A clean close, or a save, removes the file.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from csm_desktop.dialogue.project import Project
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write_text
from csm_desktop.paths import recovery_dir
from csm_desktop.wording import count_of

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovered:
    """Unsaved work an app left behind."""

    path: Path
    project: Project  # as it was; its folder is where it was last saved (None: never saved)
    saved_at: float  # when it was written (seconds since the epoch)

    def describe(self) -> str:
        """One line for the question: which project, how many lines, when."""
        lines = sum(1 for line in self.project.script_text.splitlines() if line.strip())
        where = f"{self.project.name} ({self.project.folder})" if self.project.folder else "An untitled project"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        return f"{where}: {count_of(lines, 'script line')}, last changed {when}"


class RecoveryStore:
    """This app's recovery file, and those that apps which ended without closing left behind."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else recovery_dir()
        self.path = self.root / f"session-{os.getpid()}-{secrets.token_hex(4)}.json"
        self._lock: FileLock | None = None

    @staticmethod
    def _lock_path(session: Path) -> Path:
        return session.with_suffix(".lock")

    def start(self) -> None:
        """Hold this session's lock (for as long as the process lives)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(self._lock_path(self.path))
        self._lock.acquire(timeout=0)  # a fresh name: nobody else holds it

    def write(self, project: Project) -> Path:
        """Keep ``project`` as this session's unsaved work.

        Raises: WriteError: the file could not be written (a full disk, no permission).
        """
        if self._lock is None:
            self.start()
        data = {"schema_version": SCHEMA_VERSION, "saved_at": time.time(),
                "folder": str(project.folder) if project.folder else None, "project": project.to_json()}
        return atomic_write_text(self.path, json.dumps(data, ensure_ascii=False) + "\n")

    def clear(self) -> None:
        """Nothing unsaved (a save, a clean close, a project opened)."""
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """The app closes cleanly: no file, no lock left behind."""
        self.clear()
        if self._lock is not None:
            self._lock.release()
            self._lock_path(self.path).unlink(missing_ok=True)
            self._lock = None

    def orphans(self) -> list[Recovered]:
        """Unsaved work of apps that ended without closing, newest first. A file that cannot be
        read is set aside (renamed ``.bad``) rather than offered or lost."""
        found = []
        for path in sorted(self.root.glob("session-*.json")):
            if path == self.path or not _ended(self._lock_path(path)):
                continue
            try:
                found.append(_read(path))
            except (OSError, ValueError, TypeError, CsmError) as exc:
                log.warning("unreadable recovery file %s set aside: %s", path, exc)
                path.replace(path.with_suffix(".bad"))
        return sorted(found, key=lambda r: r.saved_at, reverse=True)

    def discard(self, recovered: Recovered) -> None:
        """Forget ``recovered`` (restored into this session, or declined)."""
        recovered.path.unlink(missing_ok=True)
        self._lock_path(recovered.path).unlink(missing_ok=True)


def _ended(lock_path: Path) -> bool:
    """Whether the app that held ``lock_path`` has ended (its lock can be taken)."""
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True


def _read(path: Path) -> Recovered:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError("not a recovery file of this version")
    folder = Path(data["folder"]) if data.get("folder") else None
    return Recovered(path, Project.from_json(data["project"], folder=folder), float(data["saved_at"]))
