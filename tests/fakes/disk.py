"""Full disks for tests: a real one (a small tmpfs, where mounting is permitted) and an
injected one (ENOSPC from the atomic writer's file once a number of bytes is in)."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest


def no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


class _FillingFile:
    """The temporary file as a disk with ``limit`` bytes left sees it: writes past that fail."""

    def __init__(self, raw, limit: int) -> None:
        self.raw, self.limit = raw, limit

    def write(self, data) -> int:
        if self.raw.tell() + len(data) > self.limit:
            no_space()
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.raw.close()


def disk_with(monkeypatch, limit: int) -> None:
    """Every atomic write from now on fails with ENOSPC once its file holds ``limit`` bytes."""
    real = os.fdopen
    monkeypatch.setattr("csm_desktop.fileio.os.fdopen", lambda fd, mode: _FillingFile(real(fd, mode), limit))


@pytest.fixture
def full_disk(tmp_path):
    """A real 1 MiB tmpfs (needs root and mount; skipped, with the reason, elsewhere)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs mount, which needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"mounting a 1 MiB tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
