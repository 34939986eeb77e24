"""A fake SpeechEngine: deterministic tones, instant, recording what it was asked."""

from __future__ import annotations

import math

import torch


class FakeEngine:
    sample_rate = 24_000
    frame_ms = 80.0
    max_seq_len = 2048
    model_id = "fake-engine"

    def __init__(self, frames_per_char: float = 0.5, fail_on: str | None = None) -> None:
        self.calls: list[dict] = []
        self.frames_per_char = frames_per_char
        self.fail_on = fail_on

    def text_positions(self, text: str, speaker: int) -> int:
        return len(text) // 4 + 3

    def generate(self, text, speaker, context=(), **kwargs) -> torch.Tensor:
        return torch.cat(list(self.stream(text, speaker, context, **kwargs)))

    def stream(self, text, speaker, context=(), max_audio_length_ms=90_000, temperature=0.9, topk=50, seed=None,
               should_stop=None):
        from csm_desktop.errors import CsmError

        self.calls.append({"text": text, "speaker": speaker, "context": list(context), "seed": seed,
                           "max_ms": max_audio_length_ms})
        if self.fail_on and self.fail_on in text:
            raise CsmError(f"fake failure for {text!r}")
        frames = min(max(1, int(len(text) * self.frames_per_char)), int(max_audio_length_ms / self.frame_ms))
        size = int(self.sample_rate * self.frame_ms / 1000)
        freq = 200 + 20 * speaker + (seed or 0) % 50
        for f in range(frames):
            if should_stop is not None and should_stop():
                return
            t = torch.arange(f * size, (f + 1) * size) / self.sample_rate
            yield 0.3 * torch.sin(2 * math.pi * freq * t)
