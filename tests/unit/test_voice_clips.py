"""Voice clips beyond importing: duplicates refused, M4A/AAC through PyAV (or a message saying how
to convert), trimmed copies that keep the original, and projects that carry their clips."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from csm_desktop import audio_av
from csm_desktop.dialogue.clip_trim import trim_clip
from csm_desktop.dialogue.project import Project, Speaker
from csm_desktop.dialogue.project_voices import VOICES_DIR, restore_project_voices, write_project_voices
from csm_desktop.dialogue.voices import DuplicateClipError, VoiceLibrary
from csm_desktop.errors import AudioFileError


def _speech(path, words="Hello there, this is a voice clip."):
    """A real voice (espeak-ng) when it is installed, else a tone with a pause in it."""
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-w", str(path), words], check=True, capture_output=True)
    else:
        t = np.arange(24_000 * 3) / 24_000
        sf.write(path, 0.3 * np.sin(2 * np.pi * (150 + len(words)) * t), 24_000)
    return path


def test_the_same_audio_twice_is_refused_and_named(tmp_path):
    lib = VoiceLibrary(tmp_path / "lib")
    first = lib.import_clip(_speech(tmp_path / "ben.wav"))
    copy = tmp_path / "ben copy.wav"
    shutil.copy(first.path, copy)  # the stored 24 kHz copy decodes to the same audio
    with pytest.raises(DuplicateClipError) as info:
        lib.import_clip(tmp_path / "ben.wav")
    assert info.value.existing.id == first.id
    assert "ben.wav is already in the library as \u201cben\u201d" in str(info.value)
    with pytest.raises(DuplicateClipError, match="ben copy.wav is already in the library"):
        lib.import_clip(copy)
    assert [c.id for c in lib.clips()] == [first.id]
    assert len(list(lib.clips_dir.iterdir())) == 1  # nothing left behind
    other = lib.import_clip(_speech(tmp_path / "ann.wav", "Another voice entirely."))
    assert {c.id for c in lib.clips()} == {first.id, other.id}


def _write_m4a(path, audio, rate):
    av = pytest.importorskip("av")
    with av.open(str(path), "w", format="ipod") as out:  # FFmpeg's own muxer and AAC encoder
        stream = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(0, len(audio), 1024):
            frame = av.AudioFrame.from_ndarray(audio[None, i:i + 1024].astype(np.float32), format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_m4a_imports_through_pyav(tmp_path):
    rate = 44_100
    t = np.arange(rate * 3) / rate
    src = tmp_path / "phone memo.m4a"
    _write_m4a(src, 0.3 * np.sin(2 * np.pi * 220 * t), rate)
    lib = VoiceLibrary(tmp_path / "lib")
    clip = lib.import_clip(src)
    assert clip.name == "phone memo" and abs(clip.duration - 3.0) < 0.1
    data, sr = sf.read(clip.path)
    assert sr == 24_000 and 0.25 < np.abs(data).max() < 0.4
    spectrum = np.abs(np.fft.rfft(data[2400:-2400]))
    assert abs(np.argmax(spectrum) * sr / (len(data) - 4800) - 220) < 3  # the tone survived, at its pitch


def test_without_pyav_an_m4a_is_refused_with_how_to_convert(tmp_path, monkeypatch):
    src = tmp_path / "memo.m4a"
    src.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
    monkeypatch.setattr(audio_av, "available", lambda: False)
    with pytest.raises(AudioFileError, match="cannot decode.*ffmpeg -i .*pip install av"):
        VoiceLibrary(tmp_path / "lib").import_clip(src)


def test_a_broken_m4a_is_refused_clearly(tmp_path):
    pytest.importorskip("av")
    src = tmp_path / "broken.m4a"
    src.write_bytes(b"this is not an mp4 container" * 40)
    with pytest.raises(AudioFileError, match="broken.m4a could not be read as audio"):
        VoiceLibrary(tmp_path / "lib").import_clip(src)


def test_trimming_makes_a_new_clip_and_keeps_the_original(tmp_path):
    lib = VoiceLibrary(tmp_path / "lib")
    original = lib.import_clip(_speech(tmp_path / "ben.wav"), transcript="Hello there.")
    before = original.path.read_bytes()
    trimmed = trim_clip(lib, original.id, 0.2, 1.2)
    assert trimmed.id != original.id and trimmed.audio_hash != original.audio_hash
    assert abs(trimmed.duration - 1.0) < 0.01 and trimmed.name == "ben (trimmed)"
    assert trimmed.transcript == "Hello there."
    assert original.path.read_bytes() == before and lib.get(original.id).audio_hash == original.audio_hash
    np.testing.assert_allclose(sf.read(trimmed.path)[0], sf.read(original.path)[0][4800:28800], atol=1e-4)
    with pytest.raises(DuplicateClipError):  # the same cut twice is the same clip
        trim_clip(lib, original.id, 0.2, 1.2)
    with pytest.raises(AudioFileError, match="at least"):
        trim_clip(lib, original.id, 1.0, 1.05)


def _project_with_clip(tmp_path, lib):
    clip = lib.import_clip(_speech(tmp_path / "ben.wav"), transcript="Hello there.")
    project = Project(script_text="Ben: Hi.\n", speakers=[Speaker("Ben", 0, [clip.id])])
    project.save(tmp_path / "Show")
    return project, clip


def test_a_project_carries_its_clips_to_another_library(tmp_path):
    here = VoiceLibrary(tmp_path / "here")
    project, clip = _project_with_clip(tmp_path, here)
    assert write_project_voices(project, here) == []
    copy = project.folder / VOICES_DIR / f"{clip.id}.wav"
    assert copy.read_bytes() == clip.path.read_bytes()
    there = VoiceLibrary(tmp_path / "there")  # another machine's empty library
    opened = Project.open(project.folder)
    report = restore_project_voices(opened, there)
    assert report.restored == ["ben"] and report.missing == []
    adopted = there.get(clip.id)
    assert (adopted.audio_hash, adopted.transcript, adopted.name) == (clip.audio_hash, "Hello there.", "ben")
    assert opened.speakers[0].clip_ids == [clip.id]
    assert restore_project_voices(Project.open(project.folder), there).restored == []  # once is enough


def test_a_clip_the_library_has_under_another_id_is_used_by_that_id(tmp_path):
    here = VoiceLibrary(tmp_path / "here")
    project, clip = _project_with_clip(tmp_path, here)
    write_project_voices(project, here)
    there = VoiceLibrary(tmp_path / "there")
    same = there.adopt_file(project.folder / VOICES_DIR / f"{clip.id}.wav", "f" * 32, "ben here")
    opened = Project.open(project.folder)
    report = restore_project_voices(opened, there)
    assert opened.speakers[0].clip_ids == [same.id] and report.restored == [] and len(there.clips()) == 1


def test_clips_no_longer_used_leave_the_folder_and_lost_ones_are_named(tmp_path):
    here = VoiceLibrary(tmp_path / "here")
    project, clip = _project_with_clip(tmp_path, here)
    write_project_voices(project, here)
    project.speakers[0].clip_ids = []
    write_project_voices(project, here)
    assert list((project.folder / VOICES_DIR).glob("*.wav")) == []
    project.speakers[0].clip_ids = ["a" * 32]
    assert "not in the library" in write_project_voices(project, here)[0]
    report = restore_project_voices(project, VoiceLibrary(tmp_path / "there"))
    assert report.missing == ["Ben: " + "a" * 32] and "Import the recordings again" in report.message()


def test_a_damaged_voices_index_is_never_trusted(tmp_path):
    here = VoiceLibrary(tmp_path / "here")
    project, clip = _project_with_clip(tmp_path, here)
    write_project_voices(project, here)
    index = project.folder / VOICES_DIR / "voices.json"
    for damaged in ("{not json", json.dumps({"clips": [{"id": "../../etc/passwd", "name": "x"}]}),
                    json.dumps({"clips": "many"}), json.dumps([1, 2])):
        index.write_text(damaged)
        report = restore_project_voices(Project.open(project.folder), VoiceLibrary(tmp_path / "there"))
        assert report.restored == [] and len(report.missing) == 1
