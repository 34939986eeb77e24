"""Does a take sound like its speaker? Cosine similarity of speaker embeddings.

The embeddings come from Resemblyzer's ``VoiceEncoder`` (a 3-layer LSTM, d-vectors of 256 values,
trained for speaker verification): its weights (``pretrained.pt``, 17 MB) ship inside the
``resemblyzer`` wheel, so nothing is downloaded, and it embeds a 10 s take in about a quarter of a
second on one CPU core. A speaker's profile is the normalised mean of its clips' embeddings, as
Resemblyzer's authors build one; a take is a voice mismatch below :data:`SIMILARITY_THRESHOLD`,
measured on espeak-ng voices (bench/RESULTS.md, "Voice similarity").
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from csm_desktop.dialogue.vad import VAD_RATE, to_vad_rate
from csm_desktop.errors import CsmError

SIMILARITY_THRESHOLD = 0.80
MIN_VOICED_S = 0.5  # less voiced audio than this gives no meaningful embedding

_encoder = None
_encoder_lock = threading.Lock()


class VoiceError(CsmError):
    """The speaker-embedding model could not be loaded or run."""


def _voice_encoder():
    global _encoder
    if _encoder is None:
        try:
            _encoder = _resemblyzer().VoiceEncoder("cpu", verbose=False)
        except Exception as exc:  # a broken install: its own error says what is missing
            raise VoiceError(f"The voice comparison model (resemblyzer) could not be loaded ({exc}). Reinstall "
                             "CSM Desktop's packages (./run-app does it).") from None
    return _encoder


def _resemblyzer():
    with warnings.catch_warnings():  # the package imports a deprecated scipy namespace, webrtcvad pkg_resources
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        import resemblyzer
    return resemblyzer


def embed_voice(audio: torch.Tensor | np.ndarray, sample_rate: int) -> np.ndarray | None:
    """The speaker embedding (``[256]``, unit length) of ``audio``; None when it holds less than
    :data:`MIN_VOICED_S` of voiced sound."""
    preprocess_wav = _resemblyzer().preprocess_wav

    wav = to_vad_rate(audio, sample_rate).numpy()
    if wav.size < MIN_VOICED_S * VAD_RATE or not np.any(wav):
        return None
    wav = preprocess_wav(wav, source_sr=VAD_RATE)  # volume normalised, long silences cut (webrtcvad)
    if wav.size < MIN_VOICED_S * VAD_RATE:
        return None
    encoder = _voice_encoder()
    with _encoder_lock, torch.inference_mode():
        return np.asarray(encoder.embed_utterance(wav), dtype=np.float32)


@dataclass(frozen=True)
class VoiceProfile:
    """A speaker's voice: the normalised mean embedding of its clips. Build it once per speaker
    (:meth:`from_clips`) and pass it to every check of that speaker's takes."""

    embedding: np.ndarray  # [256], unit length
    clips: int

    @classmethod
    def from_clips(cls, clips: Iterable[tuple[torch.Tensor | np.ndarray, int]]) -> "VoiceProfile | None":
        """The profile of ``(audio, sample_rate)`` clips; None when none of them holds a voice."""
        found = [e for e in (embed_voice(audio, rate) for audio, rate in clips) if e is not None]
        if not found:
            return None
        mean = np.mean(found, axis=0)
        return cls(mean / np.linalg.norm(mean), len(found))

    def similarity(self, audio: torch.Tensor | np.ndarray, sample_rate: int) -> float | None:
        """Cosine similarity (-1 to 1) of ``audio``'s voice to this profile; None when the take
        holds too little voice to tell."""
        emb = embed_voice(audio, sample_rate)
        return None if emb is None else float(np.clip(np.dot(emb, self.embedding), -1.0, 1.0))
