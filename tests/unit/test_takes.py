"""The take store: keys have one form, files stay inside takes/, a full disk is a clear error
that leaves no half take behind, and a malformed take record counts as no take."""

from __future__ import annotations

import json

import pytest
import torch

from csm_desktop import fileio
from csm_desktop.dialogue.takes import TakeError, TakeInfo, TakeStore, is_take_key, take_key
from csm_desktop.errors import CsmError
from csm_desktop.fileio import DiskFullError
from fakes.disk import disk_with, full_disk  # noqa: F401  (full_disk: a fixture)

SR = 24_000


def _info(key: str, **changes) -> TakeInfo:
    return TakeInfo(**{"key": key, "line_text": "Hi.", "speaker": "Alice", "csm_id": 0, "variant": 0, "seed": 1,
                       "duration": 0.5, "frames": 7, "context": [], "created": 1.0, **changes})


@pytest.fixture
def store(tmp_path):
    return TakeStore(tmp_path / "p.csmproj" / "takes", SR)


def _files(folder):
    return sorted(f.name for f in folder.iterdir()) if folder.exists() else []


def test_keys_are_what_take_key_makes():
    key = take_key({"text": "Hi."})
    assert is_take_key(key)
    assert not any(is_take_key(k) for k in [key.upper(), key[:-1], key + "0", f"../{key}", None, 5, key + "\n"])


@pytest.mark.parametrize("key", ["../../x", "/etc/passwd", "..", "", "a" * 23 + "/", "0123456789abcdef0123456\x00"])
def test_malformed_keys_are_refused_everywhere(store, key):
    with pytest.raises(TakeError, match="is not a take name .* Choose the line's take again"):
        store.audio_path(key)
    with pytest.raises(TakeError):
        store.load(key)
    with pytest.raises(TakeError):
        store.save(_info(key), torch.zeros(10))
    assert not store.has(key) and store.info(key) is None


def test_a_take_linked_to_outside_the_folder_is_not_used(store, tmp_path):
    key = take_key({"text": "Hi."})
    outside = tmp_path / "secret.wav"
    store.save(_info(key), torch.zeros(SR // 2))
    store.audio_path(key).replace(outside)
    store.audio_path(key).symlink_to(outside)
    assert not store.has(key)
    with pytest.raises(TakeError, match="points outside the project's takes folder"):
        store.load(key)


@pytest.mark.parametrize("change", [
    {"frames": "7"}, {"csm_id": True}, {"duration": None}, {"context": ["../x"]}, {"context": "abc"},
    {"key": "0123456789abcdef01234567"}, {"extra": 1},
])
def test_a_malformed_take_record_is_no_take(store, change):
    key = take_key({"text": "Hi."})
    store.save(_info(key), torch.zeros(100))
    meta = store.folder / f"{key}.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), **change}))
    assert store.info(key) is None and store.takes_for("Hi.", "Alice") == []


def test_no_room_for_a_take_is_said_before_writing(store, monkeypatch):
    store.folder.mkdir(parents=True)
    monkeypatch.setattr(fileio, "free_bytes", lambda _folder: 100_000)
    with pytest.raises(DiskFullError, match=r"takes/[0-9a-f]{24}\.wav: it needs 4.0 MB and 100.0 kB are free"):
        store.save(_info(take_key({})), torch.zeros(1_000_000))
    assert _files(store.folder) == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # cffi reports the swallowed error
def test_enospc_while_writing_a_take_leaves_no_half_take(store, monkeypatch):
    key = take_key({"text": "Hi."})
    disk_with(monkeypatch, 1000)
    # audio.write_audio (not this module's) wraps the DiskFullError in an AudioFileError.
    with pytest.raises(CsmError, match="Not enough free space"):
        store.save(_info(key), torch.zeros(SR))
    assert _files(store.folder) == [] and not store.has(key)


def test_a_take_whose_record_cannot_be_written_is_removed_whole(store, monkeypatch):
    key = take_key({"text": "Hi."})
    real = fileio.atomic_write_text

    def record_fails(path, text):
        if str(path).endswith(".json"):
            raise DiskFullError("no room for the record", needed=None, free=0)
        return real(path, text)

    monkeypatch.setattr("csm_desktop.dialogue.takes.atomic_write_text", record_fails)
    with pytest.raises(DiskFullError):
        store.save(_info(key), torch.zeros(100))
    assert _files(store.folder) == []


def test_a_take_on_a_real_full_disk(full_disk):
    store = TakeStore(full_disk / "takes", SR)
    small, big = take_key({"n": 1}), take_key({"n": 2})
    store.save(_info(small), torch.zeros(SR // 10))
    with pytest.raises(DiskFullError, match=r"it needs 1.9 MB and .* are free"):
        store.save(_info(big), torch.zeros(SR * 20))
    assert store.has(small) and not store.has(big)
    assert _files(store.folder) == [f"{small}.json", f"{small}.wav"]


def test_a_take_that_is_a_symlink_loop_is_no_take(tmp_path):
    import os

    store = TakeStore(tmp_path / "proj", 24_000)
    store.folder.mkdir(parents=True, exist_ok=True)
    key = "a" * 24
    os.symlink(f"{key}.wav", store.folder / f"{key}.wav")  # points at itself
    assert not store.has(key)
    with pytest.raises(TakeError):
        store.load(key)


def test_concurrent_saves_of_different_takes_all_land_whole(store):
    """Parallel rendering saves takes from several threads at once: each write goes through its
    own uniquely named temporary file, so none is lost, mixed up or left half-written."""
    import threading

    keys = [take_key({"n": n}) for n in range(32)]
    audio = {k: torch.full((SR // 10,), n / 64) for n, k in enumerate(keys)}
    start = threading.Barrier(8)

    def save(part):
        start.wait()
        for k in part:
            store.save(_info(k), audio[k])

    threads = [threading.Thread(target=save, args=(keys[n::8],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(store.has(k) and torch.equal(store.load(k), audio[k]) and store.info(k).key == k for k in keys)
    assert not [f for f in _files(store.folder) if f.endswith(".part")]


def test_takes_for_reads_each_record_once_and_follows_changes(store, monkeypatch):
    """The takes panel asks at every cursor move: records are parsed once while their files are
    unchanged (a long session's thousands of takes made every move slower), never served stale."""
    from csm_desktop.dialogue.vad import TrimPoints

    keys = [take_key({"text": "Hi.", "n": n}) for n in range(3)]
    for n, key in enumerate(keys):
        store.save(_info(key, created=float(n)), torch.zeros(SR // 2))
    store.save(_info(take_key({"text": "Other."}), line_text="Other."), torch.zeros(SR // 2))
    assert [t.key for t in store.takes_for("Hi.", "Alice")] == keys
    reads = []
    info = TakeStore.info
    monkeypatch.setattr(TakeStore, "info", lambda self, key: reads.append(key) or info(self, key))
    assert [t.key for t in TakeStore(store.folder, SR).takes_for("Hi.", "Alice")] == keys and reads == []
    store.set_trim(keys[1], TrimPoints(0.1, 0.3))  # its record is written again
    store.delete(keys[2])
    reads.clear()
    found = store.takes_for("Hi.", "Alice")
    assert [t.key for t in found] == keys[:2] and found[1].trim_start_s == 0.1 and reads == [keys[1]]
