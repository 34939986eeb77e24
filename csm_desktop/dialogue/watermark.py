"""The inaudible AI watermark every generated take carries: Resemble's PerTh implicit watermark
(``resemble-perth``; its network ships inside the wheel, so nothing is downloaded).

PerTh works at 32 kHz; audio at another rate is resampled there and back (its own resampler).
Its detector answers with one confidence in [0, 1] for a whole piece of audio; 0.5 and above
means the watermark is there. The watermark says "made by an AI generator that uses PerTh", not
"made by CSM Desktop": other tools (Resemble's own, Chatterbox) use the same network.

Where it is applied: :meth:`csm_desktop.dialogue.render.Renderer.render`, just before a take is
stored (app, ``csm-desktop render``, remote engines' takes alike), and ``csm-desktop say``.
Measured robustness and cost: ``bench/watermark.py``, ``bench/RESULTS.md``.
"""

from __future__ import annotations

import contextlib
import io
import math
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import soundfile as sf
import torch

from csm_desktop.errors import CsmError

THRESHOLD = 0.5  # PerTh's own: its detector is trained towards 1 (marked) and 0 (unmarked)
NAME = "PerTh"
PERTH_RATE = 32_000
_N_FFT = 2048  # PerTh's STFT window at 32 kHz
_MIN_SECONDS = 0.25  # shorter audio is padded with silence while it is marked or read
_DETECT_PIECE_S = 30.0  # long files are read in pieces: memory stays bounded

OWN_VOICE = "off: own voice"  # a take's key part when it is left without the watermark

Audio = TypeVar("Audio", torch.Tensor, np.ndarray)

_lock = threading.RLock()
_model = None


class WatermarkError(CsmError):
    """The watermarker cannot read the audio."""


class WatermarkUnavailable(WatermarkError):
    """PerTh cannot be loaded: no take can be stored until it can."""


@dataclass(frozen=True)
class Detection:
    """What the detector found in one piece of audio (or a file, piece by piece)."""

    present: bool
    confidence: float  # 0..1; THRESHOLD and above: present
    pieces: int = 1  # pieces of up to 30 s that were read
    marked_pieces: int = 0  # of them, those in which the watermark was found


def _watermarker():
    """PerTh's network, loaded once per process (about 0.3 s; the import about 3 s)."""
    global _model
    with _lock:
        if _model is None:
            try:
                # PerTh prints a line when it loads and imports pkg_resources, which newer
                # setuptools deprecates: neither is news for our users.
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*pkg_resources.*")
                    from perth.perth_net.perth_net_implicit.perth_watermarker import PerthImplicitWatermarker

                    _model = PerthImplicitWatermarker(device="cpu")
                    _model.perth_net.eval()
            except ImportError as exc:
                raise WatermarkUnavailable(
                    f"The AI watermarker could not be loaded ({exc}). Install CSM Desktop's dependencies again "
                    "(./run-app does), or: pip install resemble-perth==1.0.1 librosa==0.11.0") from None
    return _model


def unmarked_reason(clips) -> str:
    """What a take left without the watermark says about why (the setting allows it only for
    voices that are all the user's own)."""
    names = ", ".join(c.name for c in clips)
    return (f"not watermarked: its voice clips ({names}) are marked as your own voice, and Settings > Responsible "
            "voice lets takes in your own voice go without the watermark")


def _as_numpy(audio: torch.Tensor | np.ndarray) -> np.ndarray:
    data = audio.detach().to("cpu", torch.float32).numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 1:
        raise WatermarkError(f"The watermark works on mono audio; this audio has the shape {data.shape}.")
    if not np.isfinite(data).all():
        raise WatermarkError("The audio holds invalid samples (NaN or infinity); it cannot be watermarked.")
    return data


def _padded(data: np.ndarray, sample_rate: int) -> np.ndarray:
    """Silence after the audio: PerTh's STFT drops up to a window's worth of the end, and needs
    at least half a window to read anything."""
    pad = math.ceil(_N_FFT * sample_rate / PERTH_RATE) + 1
    pad = max(pad, math.ceil(_MIN_SECONDS * sample_rate) - data.size)
    return np.concatenate([data, np.zeros(pad, dtype=np.float32)])


def watermark(audio: Audio, sample_rate: int) -> Audio:
    """``audio`` (mono, ``[T]``) with the watermark in it: same length, rate and type (a tensor
    stays a tensor on its device). Silence stays silence.

    Raises:
        WatermarkError: PerTh is missing, or the audio is not mono or holds NaN/inf samples.
    """
    data = _as_numpy(audio)
    if data.size == 0 or not np.any(data):
        return audio
    model = _watermarker()
    with _lock, torch.inference_mode():  # one at a time: renders and checks share the network
        marked = model.apply_watermark(_padded(data, sample_rate), sample_rate=sample_rate)
    marked = np.asarray(marked, dtype=np.float32)[: data.size]
    if marked.size < data.size:  # never shorter than the take it marks
        marked = np.concatenate([marked, data[marked.size:]])
    if not np.isfinite(marked).all():
        raise WatermarkError("The watermarker returned invalid samples; the take was not stored. Render it again.")
    if isinstance(audio, torch.Tensor):
        return torch.from_numpy(marked).to(audio.device, audio.dtype)
    return marked


def _confidence(data: np.ndarray, sample_rate: int) -> float:
    model = _watermarker()
    with _lock, torch.inference_mode():
        value = model.get_watermark(_padded(data, sample_rate), sample_rate=sample_rate, round=False)
    return float(np.clip(np.asarray(value, dtype=np.float64).mean(), 0.0, 1.0))


def _pieces(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """``blocks`` regrouped into pieces of ``size`` samples; a short tail joins the piece before."""
    pending = np.zeros(0, dtype=np.float32)
    held: np.ndarray | None = None
    for block in blocks:
        pending = np.concatenate([pending, block])
        while pending.size >= size:
            if held is not None:
                yield held
            held, pending = pending[:size], pending[size:]
    if held is not None and 0 < pending.size < size // 3:
        held, pending = np.concatenate([held, pending]), pending[:0]
    for piece in (held, pending):
        if piece is not None and piece.size:
            yield piece


def _detect_blocks(blocks: Iterable[np.ndarray], sample_rate: int) -> Detection:
    count, scored = 0, []
    for piece in _pieces(blocks, int(_DETECT_PIECE_S * sample_rate)):
        count += 1
        if np.any(piece):  # silence carries nothing either way
            scored.append((piece.size, _confidence(piece, sample_rate)))
    if not scored:
        return Detection(False, 0.0, count, 0)
    confidence = sum(n * c for n, c in scored) / sum(n for n, _ in scored)
    return Detection(confidence >= THRESHOLD, confidence, len(scored), sum(1 for _, c in scored if c >= THRESHOLD))


def detect(audio: torch.Tensor | np.ndarray, sample_rate: int) -> Detection:
    """Whether ``audio`` (mono) carries the watermark, and how sure the detector is. Long audio is
    read in pieces of 30 s; the confidence is their mean, weighted by length (silent pieces,
    which carry nothing, are left out).

    Raises:
        WatermarkError: PerTh is missing, or the audio is not mono or holds NaN/inf samples.
    """
    return _detect_blocks([_as_numpy(audio)], sample_rate)


@dataclass(frozen=True)
class FileCheck:
    """What ``check-watermark`` (and the app's menu item) says of one file."""

    path: Path
    detection: Detection | None
    error: str | None = None

    def line(self) -> str:
        if self.error is not None:
            return f"{self.path}: not checked: {self.error}"
        found = self.detection
        assert found is not None
        verdict = "AI watermark present" if found.present else "no AI watermark found"
        parts = f", in {found.marked_pieces} of {found.pieces} parts of 30 s" if found.pieces > 1 else ""
        return f"{self.path}: {verdict} (confidence {found.confidence:.2f}{parts})"


def check_file(path: str | Path) -> FileCheck:
    """Read an audio file piece by piece (memory stays bounded however long it is) and look for
    the watermark. A file that cannot be read is a :class:`FileCheck` with its ``error``, not an
    exception: one bad file among many is reported and the others are checked."""
    from csm_desktop.audio import open_audio_file

    path = Path(path)
    try:
        with open_audio_file(path) as fh, sf.SoundFile(fh) as sound:
            rate = sound.samplerate
            if not 1_000 <= rate <= 384_000:
                return FileCheck(path, None, f"its header says {rate:,} Hz, which is not an audio rate")
            blocks = (np.asarray(b, dtype=np.float32).mean(axis=1)
                      for b in sound.blocks(blocksize=int(_DETECT_PIECE_S * rate), always_2d=True, dtype="float32"))
            return FileCheck(path, _detect_blocks(blocks, rate))
    except WatermarkUnavailable:
        raise
    except CsmError as exc:
        return FileCheck(path, None, str(exc))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        why = getattr(exc, "error_string", None) or str(exc)
        return FileCheck(path, None, f"it is not an audio file this app can read ({why.rstrip('.')}); use WAV, "
                                     "FLAC, MP3 or Ogg (Vorbis/Opus)")
