"""Reading audio users hand us: checked before decoding (file type, header rate and length),
resampled with bounded memory at any rate, truncation and damage named plainly. Fixtures are
made by sox, the format owners' tool, not by our own writer."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csm_desktop import audio
from csm_desktop.audio import RATIO_TERM_LIMIT, load_audio, probe_audio, read_audio, resample
from csm_desktop.dialogue.voices import ClipError, VoiceLibrary
from csm_desktop.errors import AudioFileError

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed (apt-get install sox)")


def sox(path, rate, seconds, freq=440, channels=1, *extra):
    subprocess.run(["sox", "-V1", "-n", "-r", str(rate), "-c", str(channels), *extra, str(path),
                    "synth", str(seconds), "sine", str(freq), "vol", "0.5"], check=True)
    return path


def dominant_hz(x: torch.Tensor, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.numpy() * np.hanning(x.numel())))
    return float(np.argmax(spectrum) * rate / x.numel())


@needs_sox
@pytest.mark.parametrize("rate", [48_001, 24_001, 44_100, 22_050, 11_025, 8_000, 96_000, 383_999, 1_001])
def test_any_rate_resamples_quickly_and_keeps_the_pitch(tmp_path, rate):
    src = sox(tmp_path / f"tone-{rate}.wav", rate, 2.0, freq=300)
    start = time.perf_counter()
    out = read_audio(src, 24_000)
    assert time.perf_counter() - start < 5  # 48,001 Hz took 99 s and 18 GB before
    assert abs(out.numel() - 48_000) <= 48_000 * 1e-3 + 1
    assert abs(dominant_hz(out, 24_000) - 300) < 300 * 2e-3 + 0.5  # 0.5 Hz: one FFT bin


@settings(max_examples=200, deadline=None)
@given(orig=st.integers(audio.MIN_RATE, audio.MAX_RATE), new=st.sampled_from([24_000, 44_100, 48_000, 16_000]))
def test_the_kernel_never_depends_on_the_common_divisor(orig, new):
    seen = []
    with pytest.MonkeyPatch.context() as m:
        m.setattr(audio.AF, "resample", lambda x, a, b: seen.append((a, b)) or x)
        resample(torch.zeros(10), orig, new)
    if orig == new:
        assert seen == []
        return
    (a, b), = seen
    assert max(a, b) <= RATIO_TERM_LIMIT  # kernel is at most [b, a + 2 * width] floats
    assert abs((b / a) / (new / orig) - 1) < 1e-3  # pitch and length change by < 0.1 %


@pytest.mark.parametrize("rate", [44_100, 22_050, 16_000, 48_000, 8_000])
def test_common_rates_are_resampled_exactly_as_torchaudio_does(rate):
    x = torch.randn(rate // 10)
    assert torch.equal(resample(x, rate, 24_000), AF.resample(x, rate, 24_000))


@needs_sox
@pytest.mark.parametrize("rate", [500, 400_000])
def test_absurd_rates_are_refused_from_the_header(tmp_path, rate, monkeypatch):
    src = sox(tmp_path / "odd.wav", rate, 0.5)
    monkeypatch.setattr(audio.AF, "resample", lambda *a: pytest.fail("resampled an absurd rate"))
    with pytest.raises(AudioFileError, match=f"{rate:,} Hz.*1,000 to 384,000 Hz"):
        load_audio(src, 24_000)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "voice.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioFileError, match="named pipe"):
        read_audio(fifo, 24_000)


@pytest.mark.parametrize("path, kind", [("/dev/zero", "character device"), ("/", "folder")])
def test_devices_and_folders_are_refused(path, kind):
    with pytest.raises(AudioFileError, match=kind):
        probe_audio(path)


def test_symlinks_that_loop_or_dangle_say_so(tmp_path):
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    (tmp_path / "gone.wav").symlink_to(tmp_path / "deleted.wav")
    with pytest.raises(AudioFileError, match="symlink loop"):
        read_audio(tmp_path / "a.wav", 24_000)
    with pytest.raises(AudioFileError, match="symlink to .*deleted.wav, which does not exist"):
        read_audio(tmp_path / "gone.wav", 24_000)


def _hour_long_wav(path):
    """A real WAV header (soundfile) claiming one hour of 48 kHz stereo, on a sparse file."""
    sf.write(path, np.zeros((10, 2)), 48_000, subtype="PCM_16")
    data_bytes = 3600 * 48_000 * 4
    with open(path, "r+b") as fh:
        fh.seek(4)
        fh.write(struct.pack("<I", 36 + data_bytes))
        fh.seek(40)
        fh.write(struct.pack("<I", data_bytes))
    os.truncate(path, 44 + data_bytes)
    return path


def test_a_one_hour_file_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    src = _hour_long_wav(tmp_path / "hour.wav")
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: pytest.fail("decoded before checking the length"))
    start = time.perf_counter()
    with pytest.raises(ClipError, match="3600 s long; clips may be at most 120 s"):
        VoiceLibrary(tmp_path / "lib").import_clip(src)
    with pytest.raises(AudioFileError, match="at most 120 s"):
        load_audio(src, 24_000, max_seconds=120)
    assert time.perf_counter() - start < 5  # decoding an hour took 28 s and 9 GB


def test_a_header_that_understates_the_length_cannot_make_decoding_run_on(tmp_path):
    src = tmp_path / "long.wav"
    sf.write(src, np.full(24_000 * 5, 0.1), 24_000)
    original = audio._info
    audio_info = lambda sound, name: original(sound, name).__class__(name, 10, 24_000, 1, "WAV")  # noqa: E731
    with pytest.MonkeyPatch.context() as m:
        m.setattr(audio, "_info", audio_info)
        with pytest.raises(AudioFileError, match="at most 2 s"):
            load_audio(src, 24_000, max_seconds=2)


@needs_sox
def test_a_truncated_wav_is_kept_with_a_warning(tmp_path):
    full = sox(tmp_path / "full.wav", 48_000, 10, channels=2)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:100_000])
    decoded = load_audio(cut, 24_000)
    assert decoded.warnings and re.search(r"header says 480,000 frames but only [\d,]+ could be read",
                                          decoded.warnings[0])
    clip = VoiceLibrary(tmp_path / "lib").import_clip(cut)
    assert any("truncated" in w for w in clip.warnings)
    assert load_audio(full, 24_000).warnings == []


@needs_sox
def test_a_streamed_wav_without_a_length_gives_no_false_warning(tmp_path):
    src = tmp_path / "speech.wav"
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-w", str(src), "Hello there."], check=True)
    else:
        sox(src, 22_050, 1)
    assert load_audio(src, 24_000).warnings == []


@needs_sox
def test_a_truncated_mp3_says_what_is_wrong(tmp_path):
    mp3 = sox(tmp_path / "voice.mp3", 44_100, 3)
    if sf.info(mp3).format != "MP3":
        pytest.skip("sox made no MP3 here (libsox-fmt-mp3 missing)")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(mp3.read_bytes()[:200])
    with pytest.raises(AudioFileError) as info:
        read_audio(cut, 24_000)
    message = str(info.value)
    assert "truncated or corrupt" in message and "again" in message and "pipe" not in message
    assert load_audio(mp3, 24_000).warnings == []  # an MP3's estimated length is not a truncation


@needs_sox
def test_a_truncated_flac_keeps_what_decodes_or_says_it_is_corrupt(tmp_path):
    flac = sox(tmp_path / "voice.flac", 48_000, 5)
    for size in (200, 1000, flac.stat().st_size // 2):
        cut = tmp_path / f"cut{size}.flac"
        cut.write_bytes(flac.read_bytes()[:size])
        try:
            decoded = load_audio(cut, 24_000)
        except AudioFileError as exc:
            assert "truncated or corrupt" in str(exc)
        else:
            assert "truncated" in decoded.warnings[0]


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    root = tmp_path_factory.mktemp("real")
    return {ext: sox(root / f"v.{ext}", 16_000, 0.3).read_bytes() for ext in ("wav", "flac", "ogg", "mp3")}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_real_files_give_audio_or_a_clear_error(tmp_path, real_files, data):
    ext = data.draw(st.sampled_from(sorted(real_files)))
    raw = bytearray(real_files[ext])
    cut = data.draw(st.integers(1, len(raw)))
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(0, min(cut, 80) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / f"fuzz.{ext}"
    path.write_bytes(bytes(raw[:cut]))
    try:
        decoded = load_audio(path, 24_000, max_seconds=5)
    except AudioFileError as exc:
        assert "fuzz" in str(exc)
    else:
        assert decoded.samples.dtype == torch.float32 and decoded.samples.ndim == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(min_size=1, max_size=512))
def test_any_bytes_give_audio_or_a_clear_error(tmp_path, blob):
    path = tmp_path / "blob.wav"
    path.write_bytes(blob)
    try:
        load_audio(path, 24_000, max_seconds=5)
    except AudioFileError:
        pass
