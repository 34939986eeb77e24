"""Recognizers for the take checks' words (:class:`csm_desktop.dialogue.words.Recognizer`).

* :class:`WhisperRecognizer`: faster-whisper (CTranslate2) on the CPU or a GPU. Its model is a
  Hugging Face repository fetched on first use by our hub downloader (byte progress, resumable,
  cancellable) and cached as huggingface_hub caches it; a local model folder works too.
* :class:`GeminiRecognizer`: Gemini's transcription (the cloud; needs the Google API key).
* ``none``: no recognizer; :func:`make_recognizer` returns None and the words are not checked.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from csm_desktop.dialogue.vad import VAD_RATE, to_vad_rate
from csm_desktop.errors import CsmError
from csm_desktop.services import hub
from csm_desktop.services.download import Progress, fetch_repo
from csm_desktop.settings import DEFAULT_WHISPER, RECOGNIZERS

# DEFAULT_WHISPER is the English-only base model: CSM speaks English; base.en (145 MB) hears clipped
# endings and invented words far better than tiny.en at a fraction of small.en's time on a CPU.
# Every faster-whisper repository has these; "*.json" adds preprocessor_config.json where one
# exists (large-v3's 128 mel bins). The exact names make a half-downloaded copy count as missing.
WHISPER_FILES = ["config.json", "model.bin", "tokenizer.json", "vocabulary.*", "*.json"]


class RecognizerError(CsmError):
    """A recognizer could not be loaded or could not transcribe."""


def whisper_model_folder(repo_id: str, token: str | None = None, *,
                         on_progress: Callable[[Progress], None] | None = None,
                         should_stop: Callable[[], bool] | None = None) -> Path:
    """The faster-whisper model ``repo_id`` as a local folder: the cached copy when it is whole
    (no network), else downloaded now through the one downloader (progress, cancel, resume)."""
    return fetch_repo(repo_id, WHISPER_FILES, token, on_progress=on_progress, should_stop=should_stop)


class WhisperRecognizer:
    """faster-whisper, loaded on the first :meth:`transcribe` (the model downloads then, if needed).

    Args:
        model: a repository id (``Systran/faster-whisper-base.en``) or a local model folder.
        device: ``cpu``, ``cuda`` or ``auto``; ``compute_type`` as CTranslate2 names it.
    """

    def __init__(self, model: str | os.PathLike = DEFAULT_WHISPER, *, device: str = "cpu",
                 compute_type: str = "int8", token: str | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, cpu_threads: int = 1) -> None:
        self.model_ref = str(model)
        self.name = f"whisper:{Path(self.model_ref).name if Path(self.model_ref).is_dir() else self.model_ref}"
        self._options = {"device": device, "compute_type": compute_type, "cpu_threads": cpu_threads}
        self._token, self._on_progress, self._should_stop = token, on_progress, should_stop
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        from faster_whisper import WhisperModel

        folder = Path(self.model_ref)
        if not folder.is_dir():
            if not hub.is_repo_id(self.model_ref):
                raise RecognizerError(f"{self.model_ref} is neither a model folder nor a Hugging Face repository id "
                                      "(owner/name).")
            folder = whisper_model_folder(self.model_ref, self._token, on_progress=self._on_progress,
                                          should_stop=self._should_stop)
        try:
            return WhisperModel(str(folder), **self._options)
        except (RuntimeError, ValueError, OSError) as exc:
            raise RecognizerError(f"The Whisper model in {folder} could not be loaded ({exc}). Delete the folder "
                                  "to download it again, or choose another model.") from None

    def transcribe(self, audio: torch.Tensor | np.ndarray, sample_rate: int) -> str:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            wav = to_vad_rate(audio, sample_rate).numpy()
            if wav.size == 0:
                return ""
            # Greedy, one window of text at a time, no fallback temperatures: a check must be
            # quick and repeatable; the line's own text is not given as a prompt (it would be heard).
            segments, _info = self._model.transcribe(
                wav, language="en", beam_size=1, temperature=0.0, without_timestamps=True,
                condition_on_previous_text=False, vad_filter=False)
            return " ".join(s.text.strip() for s in segments).strip()


class GeminiRecognizer:
    """Gemini's transcription of a take (written to a temporary WAV and sent)."""

    def __init__(self, client) -> None:
        self.client = client
        self.name = f"gemini:{client.model}"

    def transcribe(self, audio: torch.Tensor | np.ndarray, sample_rate: int) -> str:
        from csm_desktop.audio import write_audio

        with tempfile.TemporaryDirectory(prefix="csm-check-") as tmp:
            path = write_audio(Path(tmp) / "take.wav", to_vad_rate(audio, sample_rate), VAD_RATE)
            return self.client.transcribe(path)


def make_recognizer(kind: str, *, whisper_model: str = DEFAULT_WHISPER, gemini_model: str | None = None,
                    on_progress: Callable[[Progress], None] | None = None,
                    should_stop: Callable[[], bool] | None = None):
    """The recognizer called ``kind`` (one of :data:`RECOGNIZERS`); None for ``none``.
    ``should_stop`` stops the Whisper model's first download."""
    if kind == "none":
        return None
    if kind == "whisper":
        from csm_desktop.services.credentials import get_secret

        return WhisperRecognizer(whisper_model, token=get_secret("huggingface"), on_progress=on_progress,
                                 should_stop=should_stop)
    if kind == "gemini":
        from csm_desktop.services.gemini import GeminiClient

        return GeminiRecognizer(GeminiClient(model=gemini_model) if gemini_model else GeminiClient())
    raise RecognizerError(f"There is no recognizer {kind!r}; choose one of {', '.join(RECOGNIZERS)}.")
