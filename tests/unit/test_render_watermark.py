"""Every take a render stores carries the watermark; the one exception (a speaker whose voice clips
are all the user's own, with the setting turned off) is keyed apart and says why."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from csm_desktop.audio import SAMPLE_RATE, write_audio
from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.dialogue.voices import VoiceLibrary
from csm_desktop.settings import Settings
from fakes.speech import SpeakingEngine, espeak

SCRIPT = "Alice: I packed the blue map and the spare batteries.\nBob: Then we are ready for the ferry.\n"


def _take(project: Project, line: int) -> tuple[np.ndarray, dict]:
    key = project.line(line).chosen_take
    audio, _ = sf.read(project.takes_dir / f"{key}.wav", dtype="float32")
    return audio, json.loads((project.takes_dir / f"{key}.json").read_text(encoding="utf-8"))


@pytest.fixture
def library(tmp_path):
    lib = VoiceLibrary(tmp_path / "lib")
    write_audio(tmp_path / "me.wav", espeak("This is my own voice, recorded at home."), SAMPLE_RATE)
    write_audio(tmp_path / "friend.wav", espeak("And this is a friend of mine.", "en-gb+f3"), SAMPLE_RATE)
    return lib


def _project(tmp_path, name: str, library: VoiceLibrary, clips: list[str]) -> Project:
    project = Project.new(SCRIPT)
    project.speaker("Alice").clip_ids.extend(clips)
    project.save(tmp_path / name)
    return project


def test_rendered_takes_carry_the_watermark(perth, tmp_path):
    project = Project.new(SCRIPT)
    project.save(tmp_path / "p")
    assert Renderer(project, SpeakingEngine()).render().generated == [0, 1]
    for line in (0, 1):
        audio, info = _take(project, line)
        assert perth.detect(audio, SAMPLE_RATE).present and info["watermark"] == "PerTh"


def test_own_voice_goes_unmarked_only_when_the_setting_says_so(perth, tmp_path, library):
    me = library.import_clip(tmp_path / "me.wav", name="me")
    library.record_consent(me.id, own_voice=True)

    marked = _project(tmp_path, "default", library, [me.id])
    Renderer(marked, SpeakingEngine(), library).render()  # the default: watermarked like any take
    audio, info = _take(marked, 0)
    assert perth.detect(audio, SAMPLE_RATE).present and info["watermark"] == "PerTh"

    Settings(watermark_own_voice=False).save()
    plain = _project(tmp_path, "own", library, [me.id])
    renderer = Renderer(plain, SpeakingEngine(), library)
    renderer.render()
    audio, info = _take(plain, 0)
    assert not perth.detect(audio, SAMPLE_RATE).present
    assert "not watermarked" in info["watermark"] and "(me)" in info["watermark"] and "own voice" in info["watermark"]
    assert plain.line(0).chosen_take != marked.line(0).chosen_take  # keyed apart: never reused for the other
    bob_audio, bob_info = _take(plain, 1)  # Bob has no clip of the user's: marked
    assert perth.detect(bob_audio, SAMPLE_RATE).present and bob_info["watermark"] == "PerTh"

    Settings(watermark_own_voice=True).save()  # back on: the line needs a new, marked take
    assert Renderer(plain, SpeakingEngine(), library).statuses()[0] == "stale"


def test_a_voice_that_is_not_all_the_users_own_is_always_marked(perth, tmp_path, library):
    me = library.record_consent(library.import_clip(tmp_path / "me.wav", name="me").id, own_voice=True)
    friend = library.record_consent(library.import_clip(tmp_path / "friend.wav", name="friend").id)
    Settings(watermark_own_voice=False).save()
    project = _project(tmp_path, "mixed", library, [me.id, friend.id])
    Renderer(project, SpeakingEngine(), library).render(lines=[0])
    audio, info = _take(project, 0)
    assert perth.detect(audio, SAMPLE_RATE).present and info["watermark"] == "PerTh"
