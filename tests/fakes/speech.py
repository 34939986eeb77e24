"""Real speech for tests that need it (the watermark is made for speech, not tones): espeak-ng
clips, and a fake engine that speaks each line with espeak-ng instead of CSM."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import torch

from csm_desktop.audio import SAMPLE_RATE, read_audio
from fakes.engine import FakeEngine


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (./run-tests installs it): no real speech to test with")


@functools.lru_cache(maxsize=64)
def _spoken(text: str, voice: str) -> torch.Tensor:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
        return read_audio(path, SAMPLE_RATE)


def espeak(text: str, voice: str = "en-us") -> torch.Tensor:
    """``text`` spoken by espeak-ng, mono float32 at 24 kHz."""
    need_espeak()
    return _spoken(text, voice).clone()


class SpeakingEngine(FakeEngine):
    """A FakeEngine whose lines are espeak-ng speech (voice by CSM speaker id), streamed in
    80 ms frames like the real engine."""

    VOICES = ("en-us", "en-gb+f3", "en-029")

    def stream(self, text, speaker, context=(), max_audio_length_ms=90_000, temperature=0.9, topk=50, seed=None,
               should_stop=None):
        self.calls.append({"text": text, "speaker": speaker, "context": list(context), "seed": seed,
                           "max_ms": max_audio_length_ms})
        audio = espeak(text, self.VOICES[speaker % len(self.VOICES)])[: int(max_audio_length_ms * SAMPLE_RATE / 1000)]
        size = int(self.sample_rate * self.frame_ms / 1000)
        for start in range(0, audio.numel(), size):
            if should_stop is not None and should_stop():
                return
            yield audio[start:start + size]
