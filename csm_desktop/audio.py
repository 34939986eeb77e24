"""Reading and writing audio files (soundfile: WAV, FLAC, OGG/Vorbis/Opus, MP3)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from csm_desktop.errors import AudioFileError
from csm_desktop.fileio import atomic_write


def read_audio(path: str | os.PathLike, sample_rate: int) -> torch.Tensor:
    """Any readable file as mono float32 ``[samples]`` at ``sample_rate``."""
    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"{p} does not exist.")
    if p.is_dir():
        raise AudioFileError(f"{p} is a folder, not an audio file.")
    return decode_audio(str(p), sample_rate, p.name)


def decode_audio(source: str | BinaryIO, sample_rate: int, name: str) -> torch.Tensor:
    """Audio from a file name or a file-like object (``name`` labels it in errors) as mono
    float32 ``[samples]`` at ``sample_rate``."""
    try:
        data, rate = sf.read(source, dtype="float32", always_2d=True)  # [T, C]
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise AudioFileError(
            f"{name} could not be read as audio ({exc}). Use a WAV, FLAC, OGG or MP3 file."
        ) from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{name} contains no audio.")
    mono = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if not torch.isfinite(mono).all():
        raise AudioFileError(f"{name} contains invalid samples (NaN or infinity).")
    if rate != sample_rate:
        mono = AF.resample(mono, rate, sample_rate)
    return mono.contiguous()


def write_audio(
    path: str | os.PathLike,
    audio: torch.Tensor | np.ndarray,
    sample_rate: int,
    *,
    subtype: str = "PCM_16",
    format: str | None = None,
    comment: str | None = None,
) -> Path:
    """Write mono audio atomically (temporary file, fsync, rename). Returns the path."""
    p = Path(path)
    data = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    data = np.clip(data.astype(np.float32), -1.0, 1.0) if subtype.startswith("PCM") else data.astype(np.float32)
    fmt = format or (p.suffix.lstrip(".").upper() or "WAV")

    def write(fh):
        with sf.SoundFile(fh, "w", samplerate=sample_rate, channels=1, format=fmt, subtype=subtype) as out:
            if comment:
                out.comment = comment
            out.write(data)

    try:
        atomic_write(p, write)
    except (sf.LibsndfileError, OSError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioFileError(f"Could not write {p}: {exc}") from None
    return p
