"""``csm-desktop check AUDIO --text TEXT``: the checks of any audio file, exit 0 whatever the verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from csm_desktop.audio import write_audio
from csm_desktop.cli import main
from csm_desktop.dialogue import testing as T
from csm_desktop.dialogue.checks import TakeCheck

REQUIRED = {"duration_s", "speech_start_s", "speech_end_s", "trailing_nonspeech_s", "longest_silence_s", "problems",
            "score"}


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["check", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_of_a_runaway_take(speech, tmp_path, capsys):
    path = write_audio(tmp_path / "take.flac", T.with_tail(speech["line"], T.noise(4.0)), 24_000)
    code, out, _ = _run(capsys, path, "--text", speech["text"], "--json")
    assert code == 0  # it could check the file: the verdict is in the output
    data = json.loads(out)
    assert REQUIRED <= set(data) and data["problems"] == ["runaway_tail"]
    assert data["trailing_nonspeech_s"] > 3.5 and 0 < data["score"] < 1
    assert data["transcript"] is None and data["word_error_rate"] is None  # no recognizer
    assert TakeCheck.from_json(data).problems == ["runaway_tail"]


def test_plain_output_with_a_voice(speech, tmp_path, capsys):
    take = write_audio(tmp_path / "take.wav", speech["other"], 24_000)
    clips = [write_audio(tmp_path / f"clip{i}.wav", c, 24_000) for i, c in enumerate(speech["clips"])]
    code, out, _ = _run(capsys, take, "--text", speech["text"], "--voice", clips[0], "--voice", clips[1])
    assert code == 0
    assert "Voice similarity" in out and "Problems: voice_mismatch" in out and "Score " in out


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.write_bytes(b"RIFF not really audio"), p)[1], "could not be read as audio"),
    (lambda p: (p.mkdir(), p)[1], "a folder"),
])
def test_unreadable_audio_is_a_plain_error(tmp_path, capsys, make, message):
    code, out, err = _run(capsys, make(tmp_path / "take.wav"), "--text", "Hello.")
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and message in err and "Traceback" not in err


def test_empty_text_and_silent_voice_clips_are_refused(tmp_path, capsys):
    take = write_audio(tmp_path / "take.wav", np.zeros(24_000, np.float32), 24_000)
    code, _, err = _run(capsys, take, "--text", "  ")
    assert code == 1 and "--text is empty" in err
    code, _, err = _run(capsys, take, "--text", "Hello.", "--voice", take)
    assert code == 1 and "None of the --voice clips" in err


def test_silence_checks_as_empty(tmp_path, capsys):
    take = write_audio(tmp_path / "take.wav", np.zeros(24_000, np.float32), 24_000)
    code, out, _ = _run(capsys, take, "--text", "Hello.", "--json")
    assert code == 0 and json.loads(out)["problems"] == ["empty"]
