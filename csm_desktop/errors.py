"""Errors a user can meet. Each message says what happened and what to do about it."""

from __future__ import annotations


class CsmError(Exception):
    """Base of every error the app shows to a person (never a bare torch or OS error)."""


class ModelNotFoundError(CsmError):
    """No usable model folder or repository."""


class ModelAccessError(CsmError):
    """The hub refused the download: the model is gated or the token is wrong."""


class CheckpointError(CsmError):
    """A model folder exists but its files are missing, malformed or inconsistent."""


class NetworkError(CsmError):
    """A server could not be reached, timed out or answered with an error."""


class PromptTooLongError(CsmError):
    """Context plus requested audio does not fit the model's position budget."""

    def __init__(self, message: str, *, excess: int) -> None:
        super().__init__(message)
        self.excess = excess


class EmptyAudioError(CsmError):
    """The model ended the utterance before producing any audio, even after a retry."""


class DeviceError(CsmError):
    """The requested device is missing, or ran out of memory."""


class AudioFileError(CsmError):
    """An audio file could not be read or written."""


class Cancelled(CsmError):
    """The user stopped a job (a generation, a download). Never shown as an error."""


class GenerationCancelled(Cancelled):
    """The user stopped a generation."""
