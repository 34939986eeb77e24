"""Atomic writes: a full disk or a failing file system is a clear CsmError, the old file stays,
no temporary file stays behind, new files honour the umask, and killed saves are cleaned up."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from csm_desktop import fileio
from csm_desktop.errors import CsmError
from csm_desktop.fileio import DiskFullError, WriteError, atomic_write, atomic_write_text, remove_stale_parts
from fakes.disk import disk_with, full_disk, no_space  # noqa: F401  (full_disk: a fixture)


def _parts(folder: Path) -> list[str]:
    return sorted(f.name for f in folder.iterdir() if f.name.endswith(".part"))


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def test_text_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two" and _parts(target.parent) == []


def test_enospc_while_writing_is_disk_full_with_sizes_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "before")
    disk_with(monkeypatch, 10)
    with pytest.raises(DiskFullError) as caught:
        atomic_write_text(target, "x" * 5000)
    msg = str(caught.value)
    assert f"Not enough free space to write {target}: it needs 5.0 kB and " in msg and "are free" in msg
    assert "choose another folder" in msg and caught.value.needed == 5000
    assert isinstance(caught.value, CsmError) and caught.value.errno == errno.ENOSPC
    assert target.read_text() == "before" and _parts(tmp_path) == []


@pytest.mark.parametrize("step", ["os.fsync", "os.replace", "os.open"])
def test_enospc_in_each_step_is_disk_full(tmp_path, monkeypatch, step):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "before")
    monkeypatch.setattr(f"csm_desktop.fileio.{step}", no_space)
    with pytest.raises(DiskFullError, match="Not enough free space"):
        atomic_write_text(target, "after")
    assert target.read_text() == "before" and _parts(tmp_path) == []


def test_other_os_errors_are_write_errors_that_say_what_to_do(tmp_path, monkeypatch):
    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("csm_desktop.fileio.os.open", denied)
    with pytest.raises(WriteError, match=r"Could not write .*a.txt \(Permission denied\)\. Check that the folder"):
        atomic_write_text(tmp_path / "a.txt", "x")


def test_no_room_for_a_known_size_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "free_bytes", lambda _folder: 1_500_000)
    with pytest.raises(DiskFullError, match=r"it needs 3.0 MB and 1.5 MB are free") as caught:
        atomic_write(tmp_path / "big.bin", lambda fh: pytest.fail("nothing may be written"), size_hint=3_000_000)
    assert (caught.value.needed, caught.value.free) == (3_000_000, 1_500_000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # cffi reports the swallowed error
def test_soundfile_assertion_on_a_full_disk_becomes_disk_full(tmp_path, monkeypatch):
    """soundfile writes through a C callback that swallows the OSError and then fails an
    ``assert``: the recorded ENOSPC must win over that AssertionError."""
    disk_with(monkeypatch, 20_000)

    def write(fh):
        with sf.SoundFile(fh, "w", samplerate=24_000, channels=1, format="WAV", subtype="PCM_16") as out:
            for _ in range(10):
                out.write(np.zeros(24_000, dtype=np.float32))

    with pytest.raises(DiskFullError):
        atomic_write(tmp_path / "a.wav", write)
    assert list(tmp_path.iterdir()) == []


def test_the_writers_own_errors_pass_unchanged(tmp_path):
    def write(_fh):
        raise FileNotFoundError(errno.ENOENT, "a take is missing")

    with pytest.raises(FileNotFoundError, match="a take is missing"):
        atomic_write(tmp_path / "a.bin", write)
    with pytest.raises(KeyError):
        atomic_write(tmp_path / "a.bin", lambda _fh: {}["x"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_honour_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    path = atomic_write_text(tmp_path / "a.txt", "x")
    assert path.stat().st_mode & 0o777 == mode


def test_an_existing_file_keeps_its_own_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "project.json"
    path.write_text("{}")
    path.chmod(0o600)
    atomic_write_text(path, '{"a": 1}')
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == '{"a": 1}'


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_stale_parts_of_killed_saves_are_removed_and_nothing_else(tmp_path):
    old_ours = [tmp_path / ".project.json.k3j_a9zq.part", tmp_path / ".project.json.0a1b2c3d.part"]
    fresh = tmp_path / ".project.json.deadbeef.part"
    other_target = tmp_path / ".notes.txt.0a1b2c3d.part"
    not_ours = [tmp_path / "project.json.0a1b2c3d.part", tmp_path / ".project.json.part", tmp_path / "x.part"]
    for f in [*old_ours, fresh, other_target, *not_ours]:
        f.write_text("half")
        _age(f, 3600)
    _age(fresh, 1)
    atomic_write_text(tmp_path / "project.json", "{}")
    assert not any(f.exists() for f in old_ours)
    assert fresh.exists() and other_target.exists() and all(f.exists() for f in not_ours)
    assert remove_stale_parts(tmp_path) == [other_target]


def test_a_part_being_written_is_never_removed(tmp_path):
    seen = []

    def write(fh):
        (part,) = [f for f in tmp_path.iterdir() if f.name.endswith(".part")]
        _age(part, 3600)
        seen.append(remove_stale_parts(tmp_path))
        fh.write(b"done")

    atomic_write(tmp_path / "a.bin", write)
    assert seen == [[]] and (tmp_path / "a.bin").read_bytes() == b"done"


# ----- a real full file system ----------------------------------------------------------------
def test_a_real_full_disk(full_disk):
    keep = atomic_write_text(full_disk / "project.json", "keep me")
    with pytest.raises(DiskFullError, match=r"it needs 2.0 MB and .* are free"):
        atomic_write_text(full_disk / "big.txt", "x" * 2_000_000)  # refused before writing

    def unknown_size(fh):
        for _ in range(40):
            fh.write(b"\0" * 65536)

    with pytest.raises(DiskFullError, match=r"Not enough free space to write .*project.json \(only .* are free\)"):
        atomic_write(full_disk / "project.json", unknown_size)
    assert keep.read_text() == "keep me" and _parts(full_disk) == []
