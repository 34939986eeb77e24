"""Trimming a voice clip: the cut is a new clip (its own audio hash, so caches and takes keyed by
the original stay right); the original is kept as it is."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from csm_desktop.audio import SAMPLE_RATE
from csm_desktop.dialogue.voices import Clip, VoiceLibrary
from csm_desktop.errors import AudioFileError

MIN_TRIM_S = 0.3
QUIET_DB = -40.0  # below the clip's peak: what counts as silence at its ends


def trim_clip(library: VoiceLibrary, clip_id: str, start_s: float, end_s: float) -> Clip:
    """A new clip of ``clip_id``'s audio from ``start_s`` to ``end_s``, with its transcript
    (which the user should check) and the name "<name> (trimmed)".

    Raises:
        AudioFileError: the cut is shorter than MIN_TRIM_S.
        DuplicateClipError: the library already holds exactly this cut.
        ClipError, LibraryError: the original is gone, or the library cannot be written.
    """
    clip = library.get(clip_id)
    audio = clip.load()
    a = max(0, int(round(start_s * SAMPLE_RATE)))
    b = min(audio.numel(), int(round(end_s * SAMPLE_RATE)))
    if (b - a) / SAMPLE_RATE < MIN_TRIM_S:
        raise AudioFileError(f"The trimmed clip would be {(max(0, b - a)) / SAMPLE_RATE:.2f} s long; keep at least "
                             f"{MIN_TRIM_S:g} s (6-12 s of speech works best).")
    cut = library.add_audio(audio[a:b].clone(), f"{clip.name} (trimmed)", source=f"trim of {clip.id}",
                            transcript=clip.transcript, label=f"This cut of {clip.name}")
    if clip.consent_at:  # the same voice: the permission given for it holds, with its date
        cut = library.record_consent(cut.id, own_voice=clip.own_voice, when=datetime.fromisoformat(clip.consent_at))
    return cut


def speech_bounds(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, pad_s: float = 0.1) -> tuple[float, float]:
    """Where the speech in ``audio`` starts and ends (seconds), leaving ``pad_s`` of quiet: what
    "trim silence" proposes. The whole clip when it is quiet throughout."""
    n = audio.size
    if n == 0:
        return 0.0, 0.0
    peak = float(np.abs(audio).max())
    if peak <= 0:
        return 0.0, n / sample_rate
    hop = max(1, sample_rate // 100)  # 10 ms windows
    frames = np.abs(audio[: n - n % hop].reshape(-1, hop)).max(axis=1) if n >= hop else np.abs(audio)[None]
    loud = np.nonzero(frames >= peak * 10 ** (QUIET_DB / 20))[0]
    start = max(0.0, loud[0] * hop / sample_rate - pad_s)
    end = min(n / sample_rate, (loud[-1] + 1) * hop / sample_rate + pad_s)
    return start, end
