"""The AI watermark on real speech (espeak-ng), read by PerTh's own detector after what happens to
audio on its way out: the export's loudness normalisation, 16-bit WAV, FLAC, MP3, Opus, gain
changes, trimming. Figures for the record: bench/watermark.py and bench/RESULTS.md."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from csm_desktop.audio import SAMPLE_RATE
from fakes.speech import espeak

SPEECH = ("The ferry leaves at half past seven, so pack the night before. Bring the blue map and something "
          "warm to wear on deck.")


@pytest.fixture(scope="module")
def speech():
    return espeak(SPEECH).numpy()  # about 7 s


@pytest.fixture(scope="module")
def marked(perth, speech):
    return perth.watermark(speech, SAMPLE_RATE)


def _through(audio: np.ndarray, fmt: str, subtype: str) -> tuple[np.ndarray, int]:
    buf = io.BytesIO()
    sf.write(buf, audio, SAMPLE_RATE, format=fmt, subtype=subtype)
    buf.seek(0)
    back, rate = sf.read(buf, dtype="float32")
    return back, rate


def test_the_watermark_is_found_in_marked_speech_and_not_in_the_original(perth, speech, marked):
    assert marked.shape == speech.shape and marked.dtype == np.float32
    assert not np.array_equal(marked, speech)
    found, clean = perth.detect(marked, SAMPLE_RATE), perth.detect(speech, SAMPLE_RATE)
    assert found.present and found.confidence > 0.9
    assert not clean.present and clean.confidence < 0.2
    noise = marked - speech
    assert 10 * np.log10(np.sum(speech ** 2) / np.sum(noise ** 2)) > 10  # well below the speech (bench: ~16 dB)


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("MP3", "MPEG_LAYER_III"),
                                          ("OGG", "OPUS")])
def test_survives_encoding(perth, marked, speech, fmt, subtype):
    back, rate = _through(marked, fmt, subtype)
    assert perth.detect(back, rate).present
    clean, rate = _through(speech, fmt, subtype)
    assert not perth.detect(clean, rate).present  # the codec does not make it up


@pytest.mark.parametrize("gain", [0.5, 2.0])
def test_survives_a_gain_change(perth, marked, gain):
    assert perth.detect(np.clip(marked * gain, -1, 1), SAMPLE_RATE).present


def test_survives_trimming_to_three_seconds(perth, marked):
    start = 2 * SAMPLE_RATE
    assert perth.detect(marked[start:start + 3 * SAMPLE_RATE], SAMPLE_RATE).present


def test_survives_the_exports_loudness_normalisation(perth, marked, tmp_path):
    """Through export_dialogue itself: two takes, -16 LUFS, 16-bit WAV."""
    from csm_desktop.dialogue.export import ExportOptions, export_dialogue
    from csm_desktop.dialogue.project import Project
    from csm_desktop.dialogue.takes import TakeInfo, TakeStore

    project = Project.new("Alice: One.\nBob: Two.")
    project.save(tmp_path / "p")
    store = TakeStore(project.takes_dir, SAMPLE_RATE)
    half = marked.size // 2
    for n, (key, piece) in enumerate((("a" * 24, marked[:half]), ("b" * 24, marked[half:]))):
        store.save(TakeInfo(key, "x", "Alice", 0, 0, 0, piece.size / SAMPLE_RATE, 1), torch.from_numpy(piece.copy()))
        project.line(n).chosen_take = key
    out = tmp_path / "out.wav"
    export_dialogue(project, store, out, ExportOptions(bit_depth="16", normalize_lufs=-16.0))
    audio, rate = sf.read(out, dtype="float32")
    assert sf.info(out).subtype == "PCM_16"
    assert abs(float(np.abs(audio).max()) - float(np.abs(marked).max())) > 0.01  # the gain did change it
    assert perth.detect(audio, rate).present


def test_a_tensor_stays_a_tensor_and_keeps_its_length_at_any_rate(perth, speech):
    for rate in (24_000, 44_100):
        audio = torch.from_numpy(speech[: int(1.3 * rate)].copy())
        out = perth.watermark(audio, rate)
        assert isinstance(out, torch.Tensor) and out.shape == audio.shape and out.dtype == audio.dtype


def test_silence_and_empty_audio_stay_as_they_are(perth):
    silence = torch.zeros(SAMPLE_RATE)
    assert torch.equal(perth.watermark(silence, SAMPLE_RATE), silence)
    assert perth.watermark(torch.zeros(0), SAMPLE_RATE).numel() == 0
    assert perth.detect(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE).present is False


def test_a_very_short_take_is_marked_whole(perth, speech):
    """Shorter than PerTh's window: padded while it is marked, never cut."""
    short = speech[SAMPLE_RATE: SAMPLE_RATE + 400]
    assert perth.watermark(short, SAMPLE_RATE).shape == short.shape


def test_bad_audio_is_refused_with_a_message(perth):
    with pytest.raises(perth.WatermarkError, match="NaN"):
        perth.watermark(np.array([0.1, np.nan, 0.2], np.float32), SAMPLE_RATE)
    with pytest.raises(perth.WatermarkError, match="mono"):
        perth.watermark(np.zeros((2, 100), np.float32), SAMPLE_RATE)


def test_long_files_are_read_in_pieces(perth, marked, speech, tmp_path):
    """A long file is read 30 s at a time: a dialogue with an unmarked stretch says so per piece."""
    long = np.concatenate([np.tile(marked, 7), np.tile(speech, 5)])  # ~49 s marked, ~35 s not
    path = tmp_path / "long.flac"
    sf.write(path, long, SAMPLE_RATE)
    result = perth.check_file(path)
    assert result.error is None and result.detection.pieces == 3
    assert result.detection.marked_pieces in (1, 2) and "parts of 30 s" in result.line()


def test_check_file_reports_files_it_cannot_read(perth, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("not audio")
    for name, why in (("empty.wav", "empty"), ("notes.wav", "not an audio file"), ("missing.wav", "does not exist")):
        result = perth.check_file(tmp_path / name)
        assert result.detection is None and why in result.error and "not checked" in result.line()


def test_the_check_watermark_command_says_it_per_file(perth, marked, speech, tmp_path, capsys):
    from csm_desktop.cli import main

    sf.write(tmp_path / "marked.mp3", marked, SAMPLE_RATE, format="MP3", subtype="MPEG_LAYER_III")
    sf.write(tmp_path / "plain.flac", speech, SAMPLE_RATE)
    assert main(["check-watermark", str(tmp_path / "marked.mp3"), str(tmp_path / "plain.flac")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{tmp_path / 'marked.mp3'}: AI watermark present (confidence 1.00)"
    assert out[1].startswith(f"{tmp_path / 'plain.flac'}: no AI watermark found (confidence 0.0")
    assert main(["check-watermark", str(tmp_path / "gone.wav"), str(tmp_path / "plain.flac")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "gone.wav: not checked" in out[0] and "no AI watermark found" in out[1]  # the others still checked
