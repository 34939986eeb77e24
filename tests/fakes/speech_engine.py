"""A fake SpeechEngine that speaks: espeak-ng's speech of each line, with silence before it and a
tail after it (silence, or CSM's runaway noise), streamed in 80 ms chunks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from csm_desktop.dialogue import testing as T


class SpeechFakeEngine:
    sample_rate = T.RATE
    frame_ms = 80.0
    max_seq_len = 2048
    model_id = "fake-speech"

    def __init__(self, lead_s: float = 0.8, tail_s: float = 0.3,
                 runaway: Callable[[str, int], bool] = lambda text, seed: False, runaway_s: float = 3.0) -> None:
        """``runaway(text, seed)``: whether that take gets ``runaway_s`` of noise after its words."""
        self.lead_s, self.tail_s, self.runaway, self.runaway_s = lead_s, tail_s, runaway, runaway_s
        self.calls: list[dict] = []
        self._speech: dict[str, np.ndarray] = {}

    def text_positions(self, text: str, speaker: int) -> int:
        return len(text) // 4 + 3

    def take(self, text: str, seed: int) -> np.ndarray:
        """The whole take this engine makes for ``text`` and ``seed``."""
        if text not in self._speech:
            self._speech[text] = T.espeak(text)
        parts = [np.zeros(int(self.lead_s * T.RATE), np.float32), self._speech[text],
                 np.zeros(int(self.tail_s * T.RATE), np.float32)]
        if self.runaway(text, seed):
            parts.append(T.noise(self.runaway_s, -30.0, seed=seed % 1000))
        return np.concatenate(parts)

    def stream(self, text, speaker, context=(), max_audio_length_ms=90_000, temperature=0.9, topk=50, seed=None,
               should_stop=None):
        audio = self.take(text, seed or 0)[: int(max_audio_length_ms / 1000 * T.RATE)]
        self.calls.append({"text": text, "speaker": speaker, "context": list(context), "seed": seed,
                           "samples": len(audio)})
        size = int(T.RATE * self.frame_ms / 1000)
        for start in range(0, len(audio), size):
            if should_stop is not None and should_stop():
                return
            yield torch.from_numpy(audio[start:start + size].copy())
