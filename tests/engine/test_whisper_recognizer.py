"""The real faster-whisper code path on a tiny random Whisper (built by transformers, converted by
CTranslate2), and the ``check`` command with it."""

from __future__ import annotations

import json

import pytest
import torch

from csm_desktop.cli import main
from csm_desktop.dialogue.checks import check_take
from csm_desktop.dialogue.words import Recognizer
from csm_desktop.services.recognizers import RecognizerError, WhisperRecognizer, make_recognizer


def test_the_tiny_whisper_transcribes_through_faster_whisper(tiny_whisper, speech):
    recognizer = WhisperRecognizer(tiny_whisper)
    assert isinstance(recognizer, Recognizer) and recognizer.name == "whisper:faster-whisper-tiny-test"
    first = recognizer.transcribe(torch.from_numpy(speech["line"]), 24_000)
    assert isinstance(first, str)
    assert recognizer.transcribe(speech["line"], 24_000) == first  # greedy: repeatable
    assert recognizer.transcribe(torch.zeros(0), 24_000) == ""


def test_check_take_records_the_recognizers_words(tiny_whisper, speech):
    recognizer = WhisperRecognizer(tiny_whisper)
    check = check_take(torch.from_numpy(speech["line"]), 24_000, speech["text"], recognizer=recognizer)
    assert check.recognizer == recognizer.name and isinstance(check.transcript, str)
    assert check.word_error_rate is not None and check.word_error_rate >= 0
    assert set(check.problems) <= {"clipped_end", "missing_words", "extra_words"}  # random weights: any words


def test_a_model_that_is_no_folder_and_no_repository_is_refused(tmp_path):
    with pytest.raises(RecognizerError, match="neither a model folder nor"):
        WhisperRecognizer(str(tmp_path / "no such folder")).transcribe(torch.zeros(16_000), 16_000)


def test_a_broken_model_folder_says_what_to_do(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a model")
    with pytest.raises(RecognizerError, match="could not be loaded"):
        WhisperRecognizer(tmp_path).transcribe(torch.zeros(16_000), 16_000)


def test_make_recognizer_knows_three_kinds():
    assert make_recognizer("none") is None
    assert make_recognizer("whisper").name == "whisper:Systran/faster-whisper-base.en"  # nothing loaded yet
    with pytest.raises(RecognizerError, match="choose one of none, whisper, gemini"):
        make_recognizer("ears")


def test_check_command_with_whisper_prints_words(tiny_whisper, speech, tmp_path, capsys):
    from csm_desktop.audio import write_audio

    path = write_audio(tmp_path / "take.wav", speech["line"], 24_000)
    code = main(["check", str(path), "--text", speech["text"], "--json", "--recognizer", "whisper",
                 "--whisper-model", str(tiny_whisper)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recognizer"] == "whisper:faster-whisper-tiny-test"
    assert isinstance(out["transcript"], str) and out["word_error_rate"] >= 0
