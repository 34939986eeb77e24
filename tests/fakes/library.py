"""A voice library holding one tone clip for Alice, for tests that need a speaker with a voice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from csm_desktop.dialogue.voices import Clip, VoiceLibrary


def library_with_alice(folder: Path, seconds: float = 2.0) -> tuple[VoiceLibrary, Clip]:
    t = np.arange(int(24_000 * seconds)) / 24_000
    sf.write(folder / "alice.wav", 0.4 * np.sin(2 * np.pi * 180 * t), 24_000)
    library = VoiceLibrary(folder / "lib")
    return library, library.import_clip(folder / "alice.wav", speaker="Alice", transcript="This is Alice.")
