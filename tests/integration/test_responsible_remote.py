"""Responsible voice over a real server on 127.0.0.1: takes a remote engine makes are watermarked
where they are stored (the client), and ``csm-desktop render --remote`` asks for consent for the
project's voice clips, then exports a file with the watermark in its audio and a C2PA manifest
that says consent was confirmed."""

from __future__ import annotations

import json

import c2pa
import pytest
import soundfile as sf

from csm_desktop.audio import SAMPLE_RATE, write_audio
from csm_desktop.cli import main
from csm_desktop.dialogue.parallel import render_parallel
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.services.engine_server import EngineServer
from csm_desktop.services.remote import RemoteEngine
from fakes.speech import SpeakingEngine, espeak

TOKEN = "responsible-voice-token"
SCRIPT = ("[scene Station]\nAlice: Did you get the tickets for the morning train?\n"
          "[scene Platform]\nBob: I did, and we leave from platform four at seven.\n")


@pytest.fixture
def server():
    srv = EngineServer(SpeakingEngine(), TOKEN, port=0).start()
    yield srv
    srv.stop()


def test_takes_made_by_remote_engines_carry_the_watermark(server, perth, tmp_path):
    project = Project.new(SCRIPT)
    project.save(tmp_path / "p")
    engine = RemoteEngine(server.url, TOKEN)
    report = render_parallel(project, [engine, engine.clone()])  # two workers, a scene each
    assert report.generated == [0, 1]
    for n in range(2):
        key = project.line(n).chosen_take
        audio, rate = sf.read(project.takes_dir / f"{key}.wav", dtype="float32")
        assert perth.detect(audio, rate).present
        info = json.loads((project.takes_dir / f"{key}.json").read_text(encoding="utf-8"))
        assert info["watermark"] == "PerTh"


def _project_with_a_clip(tmp_path) -> tuple[Project, str]:
    library = VoiceLibrary()  # the user's library (CSM_DESKTOP_DATA_DIR: this test's folder)
    write_audio(tmp_path / "alice.wav", espeak("Hello, this is Alice, recorded for the library."), SAMPLE_RATE)
    clip = library.import_clip(tmp_path / "alice.wav", name="alice", transcript="Hello, this is Alice.")
    project = Project.new(SCRIPT)
    project.speaker("Alice").clip_ids.append(clip.id)
    project.save(tmp_path / "Trip")
    return project, clip.id


def test_render_remote_asks_for_consent_then_exports_watermark_and_credentials(server, perth, tmp_path,
                                                                               monkeypatch, capsys):
    monkeypatch.setenv("CEREBRIUM_API_KEY", TOKEN)
    project, clip_id = _project_with_a_clip(tmp_path)
    out = tmp_path / "trip.wav"
    args = ["render", str(project.folder), "-o", str(out), "--remote", server.url]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "No consent is on record for the voice clip alice" in err and "--i-have-consent" in err
    assert not out.exists() and not any(project.takes_dir.glob("*.wav"))  # nothing rendered without it

    assert main([*args, "--i-have-consent"]) == 0
    err = capsys.readouterr().err
    assert "Consent recorded for alice." in err and "content credentials signed with this installation's" in err
    assert VoiceLibrary().get(clip_id).consent_at is not None
    audio, rate = sf.read(out, dtype="float32")
    assert perth.detect(audio, rate).present
    with open(out, "rb") as fh, c2pa.Reader("audio/wav", fh) as reader:
        store = json.loads(reader.json())
    active = store["manifests"][store["active_manifest"]]
    ours = next(a["data"] for a in active["assertions"] if a["label"] == "org.csm-desktop.responsible-voice")
    assert ours["voice_consent"]["all_confirmed"] is True
    assert ours["voice_consent"]["clips"][0]["speaker"] == "Alice"
    assert ours["voice_consent"]["clips"][0]["confirmed_at"] == VoiceLibrary().get(clip_id).consent_at

    assert main(args) == 0  # consent is on record now: the flag is not needed again
