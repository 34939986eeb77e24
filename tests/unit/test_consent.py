"""Consent per voice clip in the library (schema 2), and the command line's --i-have-consent."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timezone

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.cli import main
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.voices import ClipError, VoiceLibrary
from csm_desktop.settings import Settings

V1_SCHEMA = """CREATE TABLE clips (id TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL,
    duration REAL NOT NULL, transcript TEXT NOT NULL DEFAULT '', speaker TEXT, audio_hash TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '', created REAL NOT NULL)"""


def _tone(path, seconds=3.0, freq=180):
    t = np.arange(int(24_000 * seconds)) / 24_000
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), 24_000)
    return path


def test_a_library_made_before_consent_opens_with_no_consent_on_record(tmp_path):
    """A schema-1 library, as the previous version wrote it: its clips keep everything and are
    asked about (consent NULL), and the file moves to schema 2."""
    root = tmp_path / "lib"
    (root / "clips").mkdir(parents=True)
    wav = _tone(root / "clips" / "c1.wav")
    con = sqlite3.connect(root / "library.sqlite3")
    con.execute(V1_SCHEMA)
    con.execute("INSERT INTO clips VALUES ('c1', 'old clip', 'c1.wav', 3.0, 'Hello.', 'Alice', ?, 'x.wav', 1.0)",
                (hashlib.sha256(wav.read_bytes()).hexdigest(),))
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    library = VoiceLibrary(root)
    clip = library.get("c1")
    assert (clip.name, clip.transcript, clip.speaker) == ("old clip", "Hello.", "Alice")
    assert clip.consent_at is None and clip.own_voice is False
    assert sqlite3.connect(root / "library.sqlite3").execute("PRAGMA user_version").fetchone()[0] == 2


def test_consent_is_recorded_with_its_date_once(tmp_path):
    library = VoiceLibrary(tmp_path / "lib")
    clip = library.import_clip(_tone(tmp_path / "me.wav"), name="me")
    assert clip.consent_at is None
    first = library.record_consent(clip.id, own_voice=True, when=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))
    assert first.consent_at == "2026-03-01T09:30:00+00:00" and first.own_voice
    again = library.record_consent(clip.id, own_voice=False)
    assert again.consent_at == first.consent_at and not again.own_voice  # the first date stays
    assert VoiceLibrary(tmp_path / "lib").get(clip.id).consent_at == first.consent_at  # on disk
    with pytest.raises(ClipError, match="not in the library"):
        library.record_consent("no-such-clip")


def test_a_damaged_consent_date_counts_as_none(tmp_path):
    library = VoiceLibrary(tmp_path / "lib")
    clip = library.record_consent(library.import_clip(_tone(tmp_path / "a.wav")).id, own_voice=True)
    con = sqlite3.connect(tmp_path / "lib" / "library.sqlite3")
    con.execute("UPDATE clips SET consent_at = 'yesterday-ish' WHERE id = ?", (clip.id,))
    con.commit()
    con.close()
    damaged = library.get(clip.id)
    assert damaged.consent_at is None and damaged.own_voice is False  # asked again, not trusted


def test_the_watermark_setting_is_on_unless_saved_off():
    assert Settings().watermark_own_voice is True
    Settings(watermark_own_voice=False).save()
    assert Settings.load().watermark_own_voice is False
    Settings.path().write_text('{"watermark_own_voice": 0, "topk": true}', encoding="utf-8")
    loaded = Settings.load()
    assert loaded.watermark_own_voice is True and loaded.topk == 50  # 0 is no "no", true no number


def test_say_with_a_voice_clip_needs_consent_and_marks_its_output(perth, tmp_path, monkeypatch, capsys):
    from csm_desktop import cli
    from fakes.speech import SpeakingEngine

    monkeypatch.setattr(cli, "_load_engine", lambda args: SpeakingEngine())
    clip = _tone(tmp_path / "friend.wav")
    out = tmp_path / "line.wav"
    args = ["say", "Meet me at the harbour at seven.", "-o", str(out), "--context", str(clip), "Hi.", "0"]
    assert main(args) == 1
    assert "Add --i-have-consent" in capsys.readouterr().err and not out.exists()
    assert main([*args, "--i-have-consent"]) == 0
    audio, rate = sf.read(out, dtype="float32")
    assert perth.detect(audio, rate).present
    assert main(["say", "No clip, no question.", "-o", str(tmp_path / "plain.wav")]) == 0  # no clip: no flag


def test_render_asks_only_for_clips_without_consent(tmp_path, monkeypatch, capsys):
    from csm_desktop import cli
    from fakes.engine import FakeEngine

    monkeypatch.setattr(cli, "_load_engine", lambda args: FakeEngine())
    library = VoiceLibrary()
    asked = library.record_consent(library.import_clip(_tone(tmp_path / "a.wav"), name="asked").id)
    project = Project.new("Alice: Hi.\nBob: Hello.\n")
    project.speaker("Alice").clip_ids.append(asked.id)
    project.save(tmp_path / "P")
    out = tmp_path / "out.wav"
    assert main(["render", str(project.folder), "-o", str(out)]) == 0  # consent on record: no flag needed
    unasked = library.import_clip(_tone(tmp_path / "b.wav", freq=240), name="unasked")
    project.speaker("Bob").clip_ids.append(unasked.id)
    project.save()
    assert main(["render", str(project.folder), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "voice clip unasked." in err and "asked," not in err
