"""Voice library faults: a damaged database is set aside (never deleted) and an empty library
starts; a lock waits, then says so; no stored row can make the library open or delete a file
outside its clips folder."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csm_desktop.dialogue.voices import ClipError, LibraryBusyError, VoiceLibrary
from csm_desktop.errors import CsmError

SQLITE_MAGIC = b"SQLite format 3\x00"


def _tone_file(path, seconds=3.0, rate=24_000, freq=200):
    """A tone; clips of the same audio are refused as duplicates, so tests vary ``freq``."""
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.4 * np.sin(2 * np.pi * freq * t), rate)
    return path


def _set_aside_files(root):
    return sorted(p.name for p in root.glob("library.damaged-*"))


def _library_with_clip(tmp_path):
    lib = VoiceLibrary(tmp_path / "lib")
    clip = lib.import_clip(_tone_file(tmp_path / "voice.wav"))
    return lib, clip


def _write_row(lib, clip_id, **values):
    con = sqlite3.connect(lib.root / "library.sqlite3")
    with con:
        for column, value in values.items():
            con.execute(f"UPDATE clips SET {column} = ? WHERE id = ?", (value, clip_id))
    con.close()


def _db_with(root, *statements):
    root.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(root / "library.sqlite3")
    for s in statements:
        con.execute(s)
    con.commit()
    con.close()


@pytest.mark.parametrize("make", [
    pytest.param(lambda root: (root / "library.sqlite3").write_bytes(np.random.default_rng(0).bytes(8192)),
                 id="random-bytes"),
    pytest.param(lambda root: (root / "library.sqlite3").write_bytes(SQLITE_MAGIC + bytes(range(256)) * 16),
                 id="sqlite-magic-then-garbage"),
    pytest.param(lambda root: _db_with(root, "CREATE TABLE clips (id TEXT, colour TEXT)"),
                 id="clips-table-of-another-shape"),
    pytest.param(lambda root: _db_with(root, "CREATE TABLE clips (id TEXT, colour TEXT)", "PRAGMA user_version=1"),
                 id="current-version-wrong-columns"),
    pytest.param(lambda root: _db_with(root, "PRAGMA user_version=1"), id="current-version-no-table"),
    pytest.param(lambda root: _db_with(root, "CREATE TABLE notes (body TEXT)"), id="another-programs-database"),
])
def test_damaged_database_is_set_aside_and_an_empty_library_starts(tmp_path, make):
    root = tmp_path / "lib"
    root.mkdir()
    make(root)
    original = (root / "library.sqlite3").read_bytes()
    lib = VoiceLibrary(root)
    assert lib.clips() == []
    aside = _set_aside_files(root)
    assert len(aside) == 1 and (root / aside[0]).read_bytes() == original  # renamed, byte for byte
    notice = lib.take_notice()
    assert "set aside" in notice and aside[0] in notice and lib.take_notice() is None  # said once
    clip = lib.import_clip(_tone_file(tmp_path / "a.wav"))  # the fresh library works
    assert [c.id for c in VoiceLibrary(root).clips()] == [clip.id]
    assert VoiceLibrary(root).notice is None and len(_set_aside_files(root)) == 1


def test_truncated_real_library_is_set_aside_with_its_wal(tmp_path):
    lib, _ = _library_with_clip(tmp_path)
    for i in range(40):  # enough rows for several pages
        lib.import_clip(_tone_file(tmp_path / "b.wav", 2.5, freq=300 + i), name=f"clip {i} " + "x" * 200)
    con = sqlite3.connect(lib.root / "library.sqlite3")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    db = lib.root / "library.sqlite3"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    (lib.root / "library.sqlite3-wal").write_bytes(b"stale wal of the damaged file")
    fresh = VoiceLibrary(lib.root)
    assert fresh.clips() == [] and "set aside" in fresh.take_notice()
    aside = _set_aside_files(lib.root)
    assert any(n.endswith(".sqlite3-wal") for n in aside)  # the WAL travels with its database
    assert len(list(lib.clips_dir.iterdir())) == 41  # the clips' audio is kept


def test_a_second_damage_gets_its_own_name(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    for _ in range(2):
        (root / "library.sqlite3").write_bytes(b"not a database" * 100)
        VoiceLibrary(root)
    assert len(_set_aside_files(root)) == 2


def test_newer_library_is_refused_not_set_aside(tmp_path):
    _db_with(tmp_path / "lib", "PRAGMA user_version=99")
    with pytest.raises(ClipError, match="newer CSM Desktop"):
        VoiceLibrary(tmp_path / "lib")
    assert _set_aside_files(tmp_path / "lib") == []


@pytest.fixture
def locked(tmp_path):
    """The library's write lock held by another connection, as another program would."""
    held = []

    def hold(root):
        con = sqlite3.connect(root / "library.sqlite3", isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held.append(con)

    yield hold
    for con in held:
        con.execute("ROLLBACK")
        con.close()


def test_locked_library_waits_then_says_so_and_loses_nothing(tmp_path, locked):
    lib, clip = _library_with_clip(tmp_path)
    locked(lib.root)
    busy = VoiceLibrary(lib.root, busy_timeout_s=0.3)  # reading needs no lock: the app starts
    assert [c.id for c in busy.clips()] == [clip.id]
    start = time.monotonic()
    with pytest.raises(LibraryBusyError, match="locked by another program") as info:
        busy.import_clip(_tone_file(tmp_path / "b.wav", freq=310))
    assert time.monotonic() - start >= 0.25 and "b.wav was not imported" in str(info.value)
    assert len(list(lib.clips_dir.iterdir())) == 1  # the half-imported clip's file is gone
    for change in (lambda: busy.update(clip.id, transcript="x"), lambda: busy.remove(clip.id)):
        with pytest.raises(LibraryBusyError):
            change()
    assert clip.path.is_file() and _set_aside_files(lib.root) == []


def test_locked_new_library_says_so_and_is_not_set_aside(tmp_path, locked):
    root = tmp_path / "lib"
    root.mkdir()
    sqlite3.connect(root / "library.sqlite3").close()
    locked(root)
    with pytest.raises(LibraryBusyError, match="waited 0.2 s"):
        VoiceLibrary(root, busy_timeout_s=0.2)
    assert _set_aside_files(root) == [] and (root / "library.sqlite3").exists()


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "outside" / "precious.wav"
    path.parent.mkdir()
    _tone_file(path)
    return path


def _outside_names(tmp_path, victim):
    (tmp_path / "lib" / "clips").mkdir(parents=True, exist_ok=True)
    (tmp_path / "lib" / "clips" / "link.wav").symlink_to(victim)
    return ["../../outside/precious.wav", str(victim), "link.wav", "", ".", "..", "sub/../../../outside/precious.wav"]


@pytest.mark.parametrize("index", range(7))
def test_a_row_pointing_outside_the_clips_folder_is_refused_everywhere(tmp_path, victim, index):
    lib, clip = _library_with_clip(tmp_path)
    bad = _outside_names(tmp_path, victim)[index]
    _write_row(lib, clip.id, file=bad)
    before = victim.read_bytes()
    for action in (lambda: lib.remove(clip.id), lambda: lib.get(clip.id).load(), lambda: lib.get(clip.id)):
        with pytest.raises(ClipError, match="not a file inside"):
            action()
    assert lib.clips() == []  # hidden from the list, not dropped from the database
    reopened = VoiceLibrary(lib.root)
    assert "hidden" in reopened.take_notice()
    assert victim.read_bytes() == before and clip.path.exists()


def test_a_damaged_hash_cannot_name_a_cache_file_elsewhere(tmp_path, victim):
    lib, clip = _library_with_clip(tmp_path)
    _write_row(lib, clip.id, audio_hash="../../../outside/precious")
    with pytest.raises(ClipError, match="audio hash"):
        lib.get(clip.id)
    clip.audio_hash = "../../../outside/precious.wav"  # a Clip made by hand is checked too
    with pytest.raises(ClipError):
        lib.codes(clip, lambda audio: torch.zeros(32, 1), "codec")
    good = lib.get(lib.import_clip(_tone_file(tmp_path / "c.wav", freq=320)).id)
    with pytest.raises(ClipError):
        lib.codes(good, lambda audio: torch.zeros(32, 1), "../../../outside/x")
    assert victim.exists()


def test_damaged_values_hide_the_row_instead_of_breaking_the_list(tmp_path):
    lib, clip = _library_with_clip(tmp_path)
    other = lib.import_clip(_tone_file(tmp_path / "b.wav", freq=310))
    _write_row(lib, clip.id, duration="long")
    assert [c.id for c in lib.clips()] == [other.id]
    with pytest.raises(ClipError, match="duration"):
        lib.get(clip.id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet=st.sampled_from("./\\ab~$\x00 -"), max_size=24) | st.text(max_size=24))
def test_any_stored_file_name_is_inside_the_clips_folder_or_refused(tmp_path, name):
    lib = VoiceLibrary(tmp_path / "fuzz")
    try:
        path = lib._inside(lib.clips_dir, name)
    except ClipError:
        return
    assert path.resolve().parent == lib.clips_dir.resolve()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096), magic=st.booleans())
def test_any_bytes_as_a_database_open_or_are_set_aside(tmp_path_factory, data, magic):
    root = tmp_path_factory.mktemp("db")
    (root / "library.sqlite3").write_bytes((SQLITE_MAGIC if magic else b"") + data)
    try:
        lib = VoiceLibrary(root, busy_timeout_s=0.1)
        lib.clips()
    except CsmError:  # never a raw sqlite3 error
        pass
