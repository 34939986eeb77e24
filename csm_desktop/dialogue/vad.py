"""Voice activity of a take: where speech starts and ends, its longest inner silence, what trails it,
and where to trim it.

The detector is Silero VAD (the ``silero-vad`` package ships its model: nothing is downloaded). It
runs at 16 kHz on 32 ms windows; any input rate is resampled first. One model serves the whole
process behind a lock (the model keeps state between windows, so two threads must not share a pass).

Trimming keeps :data:`LEAD_PAD_S` before the first speech and :data:`NATURAL_TAIL_S` after the last
(bench/RESULTS.md, "Voice activity" has the measurements behind both); the caller decides whether
the trimmed audio replaces anything: the untrimmed take stays where it is.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from csm_desktop.audio import resample
from csm_desktop.errors import CsmError

VAD_RATE = 16_000
WINDOW = 512  # samples at 16 kHz: what the model takes per step (32 ms)
THRESHOLD = 0.5  # speech probability that opens a segment (Silero's default)
MIN_SPEECH_MS = 90  # shorter bursts are clicks or breaths, not words
MIN_SILENCE_MS = 100  # shorter gaps are inside a word or between close words
# Kept after the last speech. On espeak-ng speech the VAD's end lies from 26 ms before to 220 ms
# after the true end (median 58 ms after; bench/RESULTS.md), so 150 ms after it keeps at least
# ~125 ms of the natural release and breath (a line cut right at its last phoneme sounds clipped)
# while anything longer is dead air between lines.
NATURAL_TAIL_S = 0.15
# Kept before the first speech: the VAD opens a segment 0-140 ms after the true onset (p95 87 ms).
LEAD_PAD_S = 0.1
FADE_S = 0.01  # a cut inside sound is faded, so it does not click
# A stretch of "speech" this much quieter than the line's loudest one, at the end of a take, is a
# murmur the model ran on with, not the line (a whole phrase of a line is rarely 8 dB quieter).
MURMUR_DROP_DB = 8.0

_model = None
_model_lock = threading.Lock()


class VadError(CsmError):
    """The voice activity detector could not be loaded or run."""


@dataclass(frozen=True)
class SpeechActivity:
    """Speech segments of one take, in seconds from its start (sorted, not overlapping)."""

    duration_s: float
    segments: tuple[tuple[float, float], ...]
    levels_db: tuple[float, ...] = ()  # RMS level of each segment, dBFS

    @property
    def quiet_tail_start_s(self) -> float | None:
        """Where the trailing segments that are all :data:`MURMUR_DROP_DB` quieter than the
        loudest segment begin (a murmur after the line); None when the last segment is not quiet."""
        if len(self.levels_db) != len(self.segments) or len(self.segments) < 2:
            return None
        loud = max(self.levels_db)
        n = len(self.segments)
        while n > 1 and self.levels_db[n - 1] <= loud - MURMUR_DROP_DB:
            n -= 1
        return self.segments[n][0] if n < len(self.segments) else None

    @property
    def has_speech(self) -> bool:
        return bool(self.segments)

    @property
    def speech_start_s(self) -> float | None:
        return self.segments[0][0] if self.segments else None

    @property
    def speech_end_s(self) -> float | None:
        return self.segments[-1][1] if self.segments else None

    @property
    def speech_s(self) -> float:
        """Seconds of speech in all (silences between segments not counted)."""
        return sum(end - start for start, end in self.segments)

    @property
    def longest_silence_s(self) -> float:
        """The longest gap between two speech segments (leading and trailing silence excluded)."""
        gaps = [b[0] - a[1] for a, b in zip(self.segments, self.segments[1:])]
        return max(gaps, default=0.0)

    @property
    def trailing_nonspeech_s(self) -> float:
        """Seconds after the last speech (the whole take when there is none)."""
        return self.duration_s - self.segments[-1][1] if self.segments else self.duration_s


@dataclass(frozen=True)
class TrimPoints:
    """The part of a take to use, in seconds: ``[start_s, end_s)``."""

    start_s: float
    end_s: float

    def samples(self, sample_rate: int) -> tuple[int, int]:
        return round(self.start_s * sample_rate), round(self.end_s * sample_rate)


def _silero():
    global _model
    if _model is None:
        try:
            from silero_vad import load_silero_vad

            with warnings.catch_warnings():  # the package's own use of a deprecated importlib API
                warnings.simplefilter("ignore", DeprecationWarning)
                _model = load_silero_vad(onnx=False)
        except Exception as exc:  # a broken install: the package's own error says what is missing
            raise VadError(f"The voice activity detector (silero-vad) could not be loaded ({exc}). Reinstall "
                           "CSM Desktop's packages (./run-app does it).") from None
    return _model


def mono_float(audio: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``audio`` as a 1-D float32 CPU tensor: ``[T]``, or ``[C, T]`` averaged over channels."""
    t = torch.as_tensor(np.asarray(audio) if not isinstance(audio, torch.Tensor) else audio)
    t = t.detach().to("cpu", torch.float32)
    if t.ndim == 2:
        t = t.mean(dim=0)
    if t.ndim != 1:
        raise VadError(f"Audio must be [samples] or [channels, samples], not of shape {tuple(t.shape)}.")
    return torch.nan_to_num(t)


def to_vad_rate(audio: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
    """Mono float32 ``[T]`` at 16 kHz, the rate the VAD, Whisper and the voice encoder read."""
    if sample_rate <= 0:
        raise VadError(f"The sample rate must be positive, not {sample_rate}.")
    mono = mono_float(audio)
    return resample(mono, sample_rate, VAD_RATE) if mono.numel() else mono


def detect_speech(audio: torch.Tensor | np.ndarray, sample_rate: int) -> SpeechActivity:
    """The speech segments of ``audio`` (``[T]`` or ``[C, T]`` at ``sample_rate``)."""
    from silero_vad import get_speech_timestamps

    mono = mono_float(audio)
    duration = mono.numel() / sample_rate if sample_rate > 0 else 0.0
    x = to_vad_rate(mono, sample_rate)
    if x.numel() < WINDOW:
        return SpeechActivity(duration, ())
    model = _silero()
    with _model_lock, torch.inference_mode():
        stamps = get_speech_timestamps(
            x, model, threshold=THRESHOLD, sampling_rate=VAD_RATE, min_speech_duration_ms=MIN_SPEECH_MS,
            min_silence_duration_ms=MIN_SILENCE_MS, speech_pad_ms=0, window_size_samples=WINDOW)
    segments = tuple((min(s["start"] / VAD_RATE, duration), min(s["end"] / VAD_RATE, duration)) for s in stamps)
    return SpeechActivity(duration, segments, tuple(level_db(mono, sample_rate, [seg]) for seg in segments))


def trim_points(activity: SpeechActivity, *, tail_s: float = NATURAL_TAIL_S,
                lead_s: float = LEAD_PAD_S) -> TrimPoints:
    """Where to cut: ``lead_s`` before the first speech to ``tail_s`` after the last. A take with
    no speech keeps nothing (``start_s == end_s == 0``)."""
    if not activity.has_speech:
        return TrimPoints(0.0, 0.0)
    start = max(0.0, activity.speech_start_s - lead_s)
    end = min(activity.duration_s, activity.speech_end_s + tail_s)
    return TrimPoints(start, end)


def trim(audio: torch.Tensor | np.ndarray, sample_rate: int, activity: SpeechActivity | None = None,
         *, tail_s: float = NATURAL_TAIL_S, lead_s: float = LEAD_PAD_S) -> tuple[torch.Tensor, TrimPoints]:
    """The take without its leading silence and without non-speech past a natural tail.

    Args:
        audio: ``[T]`` or ``[C, T]``; the result is mono ``[T']``.
        activity: what :func:`detect_speech` found for this audio (computed when not given).

    Returns:
        The trimmed audio (a cut inside sound is faded over :data:`FADE_S`) and the trim points.
    """
    mono = mono_float(audio)
    activity = activity or detect_speech(mono, sample_rate)
    points = trim_points(activity, tail_s=tail_s, lead_s=lead_s)
    return cut(mono, sample_rate, points), points


def cut(audio: torch.Tensor | np.ndarray, sample_rate: int, points: TrimPoints) -> torch.Tensor:
    """``audio`` (``[T]`` or ``[C, T]``) from ``points.start_s`` to ``points.end_s``, mono; a cut
    inside the audio is faded over :data:`FADE_S`, so it does not click."""
    mono = mono_float(audio)
    start, end = points.samples(sample_rate)
    start, end = min(max(0, start), mono.numel()), min(max(0, end), mono.numel())
    out = mono[start:max(start, end)].clone()
    fade = min(int(FADE_S * sample_rate), out.numel() // 2)
    if fade > 0:
        ramp = torch.linspace(0.0, 1.0, fade)
        if start > 0:
            out[:fade] *= ramp
        if end < mono.numel():
            out[-fade:] *= ramp.flip(0)
    return out


def level_db(audio: torch.Tensor, sample_rate: int, spans: Sequence[tuple[float, float]]) -> float:
    """RMS level in dBFS of ``audio`` (mono ``[T]``) over the given spans in seconds (-120 for none)."""
    parts = [audio[round(a * sample_rate):round(b * sample_rate)] for a, b in spans]
    x = torch.cat(parts) if parts else torch.zeros(0)
    if x.numel() == 0:
        return -120.0
    rms = float(torch.sqrt(torch.mean(x.double() ** 2)))
    return max(-120.0, 20.0 * float(np.log10(max(rms, 1e-12))))
