"""``csm-desktop say`` end to end with a tiny checkpoint."""

from __future__ import annotations

import soundfile as sf
import torch

from csm_desktop.audio import write_audio
from csm_desktop.cli import main


def test_say_writes_a_24khz_wav_with_context(tiny_folder, tmp_path, capsys):
    clip = write_audio(tmp_path / "clip.wav", torch.randn(44_100) * 0.1, 44_100)  # resampled on read
    out = tmp_path / "out.wav"
    code = main(["say", "Hello there.", "--speaker", "1", "--context", str(clip), "Earlier words.", "0",
                 "--model", str(tiny_folder), "--seed", "4", "--max-ms", "800", "--device", "cpu", "-o", str(out),
                 "--i-have-consent"])  # a voice clip: its speaker's permission is confirmed
    assert code == 0
    info = sf.info(out)
    assert info.samplerate == 24_000 and info.channels == 1 and info.frames == 10 * 1920
    assert "noise" in capsys.readouterr().err


def test_say_reports_errors_plainly(tmp_path, capsys):
    code = main(["say", "Hi", "--model", str(tmp_path / "missing"), "-o", str(tmp_path / "o.wav")])
    assert code == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("Error: ") and "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()
