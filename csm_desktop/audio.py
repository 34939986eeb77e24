"""Reading and writing audio files (soundfile: WAV, FLAC, OGG/Vorbis/Opus, MP3; M4A/AAC through
PyAV where it is installed, see ``audio_av``).

Audio that enters the app is checked before it is decoded: the path must be a regular file (a FIFO
would block forever, a device would never end), and the header's sample rate and length must be
sensible, so a bad file is refused in milliseconds instead of after gigabytes of decoding.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from csm_desktop import audio_av
from csm_desktop.errors import AudioFileError, CsmError
from csm_desktop.fileio import atomic_write

# CSM-1B's audio rate (Mimi's): voice clips are stored at it and takes are made at it. A loaded
# engine reports its own ``sample_rate``; this is the one place the number is written.
SAMPLE_RATE = 24_000

MIN_RATE, MAX_RATE = 1_000, 384_000
# torchaudio's resampling kernel is [new, old + 2 * width] after dividing both rates by their
# greatest common divisor: 48,001 -> 24,000 Hz would need 4.6 GB. Both terms of the ratio are
# kept at or below this limit (at most ~5 MB of kernel); the pitch error this may add is < 0.1 %.
RATIO_TERM_LIMIT = 1_000
_BLOCK_FRAMES = 1 << 16
_MP3_SLACK_FRAMES = 2 * 1152  # an MP3 header's length is an estimate, good to about two frames


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, before any sample is decoded."""

    name: str
    frames: int
    sample_rate: int
    channels: int
    format: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


@dataclass
class DecodedAudio:
    samples: torch.Tensor  # [T] mono float32
    info: AudioInfo
    warnings: list[str] = field(default_factory=list)


def open_audio_file(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for reading if, and only if, it is a non-empty regular file.

    The type is checked on the opened descriptor (no window for a swap), and the open never
    blocks: a FIFO is opened non-blocking and then refused.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _open_error(p, exc) from None
    try:
        st = os.fstat(fd)
        kind = _not_regular(st.st_mode)
        if kind:
            raise AudioFileError(f"{p} is {kind}, not an audio file. Choose a saved WAV, FLAC, OGG or MP3 file.")
        if st.st_size == 0:
            raise AudioFileError(f"{p.name} is empty (0 bytes).")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_error(p: Path, exc: OSError) -> AudioFileError:
    if exc.errno == errno.ELOOP:
        return AudioFileError(f"{p} is a symlink loop: following its links leads back to itself. "
                              "Point the link at the real audio file, or choose the file itself.")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if p.is_symlink():
            return AudioFileError(f"{p} is a symlink to {os.readlink(p)}, which does not exist.")
        return AudioFileError(f"{p} does not exist.")
    return AudioFileError(f"{p} cannot be opened ({exc.strerror}). Check that you may read it.")


def _not_regular(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "" if stat.S_ISREG(mode) else "not a regular file"


def _sound_file(source: str | BinaryIO, name: str) -> sf.SoundFile:
    try:
        return sf.SoundFile(source)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise _decode_error(name, exc) from None


def _decode_error(name: str, exc: Exception) -> AudioFileError:
    detail = getattr(exc, "error_string", None) or str(exc)
    if "not recognised" in detail or "unimplemented format" in detail:
        return AudioFileError(f"{name} could not be read as audio ({detail.rstrip('.')}). "
                              "Use a WAV, FLAC, OGG or MP3 file.")
    # libsndfile says "possibly a pipe?" for a regular file too short to hold one MP3 frame.
    reason = "" if "pipe" in detail else f" ({detail.rstrip('.')})"
    return AudioFileError(f"{name} is truncated or corrupt: its audio could not be decoded{reason}. "
                          "Export or download it again, then import the new copy.")


def _info(sound: sf.SoundFile, name: str) -> AudioInfo:
    return _checked_rate(AudioInfo(name=name, frames=sound.frames, sample_rate=sound.samplerate,
                                   channels=sound.channels, format=sound.format))


def _checked_rate(info: AudioInfo) -> AudioInfo:
    name = info.name
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise AudioFileError(f"{name} says its sample rate is {info.sample_rate:,} Hz; audio from "
                             f"{MIN_RATE:,} to {MAX_RATE:,} Hz can be used. Export it at 24,000 or 48,000 Hz.")
    return info


def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """The header of a regular audio file (rate, channels, length); no samples are decoded."""
    p = Path(path)
    if p.suffix.lower() in audio_av.SUFFIXES:
        with open_audio_file(p) as fh:
            frames, rate, channels, codec = audio_av.probe(fh, p.name)
        return _checked_rate(AudioInfo(name=p.name, frames=frames, sample_rate=rate, channels=channels, format=codec))
    with open_audio_file(p) as fh, _sound_file(fh, p.name) as sound:
        return _info(sound, p.name)


def load_audio(path: str | os.PathLike, sample_rate: int, *, max_seconds: float | None = None) -> DecodedAudio:
    """Any readable file as mono float32 at ``sample_rate``, with what its header said and
    warnings (a truncated file is kept at its readable length, with a warning).

    Raises:
        AudioFileError: not a regular file, unreadable, an absurd sample rate, or (by its header
            or while decoding) longer than ``max_seconds``.
    """
    p = Path(path)
    if p.suffix.lower() in audio_av.SUFFIXES:
        return _load_with_av(p, sample_rate, max_seconds)
    with open_audio_file(p) as fh:
        declared = _wav_declared_frames(fh)
        fh.seek(0)
        with _sound_file(fh, p.name) as sound:
            return _decode(sound, p.name, sample_rate, max_seconds, declared)


def _load_with_av(p: Path, sample_rate: int, max_seconds: float | None) -> DecodedAudio:
    info = probe_audio(p)
    limit = None if max_seconds is None else int(max_seconds * info.sample_rate)
    if limit is not None and info.frames > limit:
        raise _too_long(p.name, info.duration, max_seconds)
    with open_audio_file(p) as fh:
        samples, rate = audio_av.decode(fh, p.name, limit)
    if limit is not None and len(samples) > limit:
        raise _too_long(p.name, len(samples) / rate, max_seconds)
    mono = torch.from_numpy(samples)
    if not torch.isfinite(mono).all():
        raise AudioFileError(f"{p.name} contains invalid samples (NaN or infinity).")
    return DecodedAudio(resample(mono, rate, sample_rate).contiguous(), info)


def read_audio(path: str | os.PathLike, sample_rate: int) -> torch.Tensor:
    """Any readable file as mono float32 ``[samples]`` at ``sample_rate``."""
    return load_audio(path, sample_rate).samples


def decode_audio(source: str | BinaryIO, sample_rate: int, name: str) -> torch.Tensor:
    """Audio from a file name or a file-like object (``name`` labels it in errors) as mono
    float32 ``[samples]`` at ``sample_rate``."""
    if isinstance(source, (str, os.PathLike)):
        return read_audio(source, sample_rate)
    with _sound_file(source, name) as sound:
        return _decode(sound, name, sample_rate, None, None).samples


def _decode(sound: sf.SoundFile, name: str, sample_rate: int, max_seconds: float | None,
            declared_frames: int | None) -> DecodedAudio:
    info = _info(sound, name)
    limit = None if max_seconds is None else int(max_seconds * info.sample_rate)
    if limit is not None and info.frames > limit:
        raise _too_long(name, info.duration, max_seconds)
    blocks, read, failure = [], 0, None
    while True:  # in blocks: a header that understates the length cannot make us read forever
        try:
            block = sound.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)  # [t, C]
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
            failure = exc
            break
        if len(block) == 0:
            break
        blocks.append(block.mean(axis=1))
        read += len(block)
        if limit is not None and read > limit:
            raise _too_long(name, read / info.sample_rate, max_seconds)
    if read == 0:
        if failure is not None:
            raise _decode_error(name, failure)
        raise AudioFileError(f"{name} contains no audio.")
    expected = max(info.frames, declared_frames or 0)
    slack = _MP3_SLACK_FRAMES if info.format == "MP3" else 0
    warnings = []
    if failure is not None or read < expected - slack:
        warnings.append(f"{name} is truncated: its header says {expected:,} frames but only {read:,} could be "
                        f"read ({read / info.sample_rate:.1f} s kept). Export it again if audio is missing.")
    mono = torch.from_numpy(np.concatenate(blocks))
    if not torch.isfinite(mono).all():
        raise AudioFileError(f"{name} contains invalid samples (NaN or infinity).")
    return DecodedAudio(resample(mono, info.sample_rate, sample_rate).contiguous(), info, warnings)


def _too_long(name: str, seconds: float, max_seconds: float | None) -> AudioFileError:
    return AudioFileError(f"{name} is {seconds:.0f} s long; at most {max_seconds:.0f} s can be used. "
                          "Trim it and try again.")


def _wav_declared_frames(fh: BinaryIO) -> int | None:
    """Frames a RIFF/WAVE header's data chunk declares (libsndfile quietly shortens a truncated
    file to what is there, so truncation is only visible here); None if not a WAV or unknown."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    block_align = 0
    for _ in range(64):  # a WAV has a handful of chunks before its data
        chunk = fh.read(8)
        if len(chunk) < 8:
            return None
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"data":
            unknown = size in (0, 0xFFFFFFFF)  # streaming writers leave the length open
            return None if unknown or block_align == 0 else size // block_align
        body = fh.read(min(size, 64)) if cid == b"fmt " else b""
        if cid == b"fmt " and len(body) >= 14:
            block_align = struct.unpack("<H", body[12:14])[0]
        fh.seek(size + (size & 1) - len(body), os.SEEK_CUR)
    return None


def resample(audio: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """``audio`` ``[..., T]`` from ``orig_rate`` to ``new_rate`` with memory independent of the
    rates' common divisor: the ratio is replaced by its closest fraction whose terms are at most
    ``RATIO_TERM_LIMIT`` (exact for every common rate)."""
    if orig_rate == new_rate:
        return audio
    if orig_rate < new_rate:
        approx = Fraction(orig_rate, new_rate).limit_denominator(RATIO_TERM_LIMIT)
        src, dst = approx.numerator, approx.denominator
    else:
        approx = Fraction(new_rate, orig_rate).limit_denominator(RATIO_TERM_LIMIT)
        src, dst = approx.denominator, approx.numerator
    if src == 0 or dst == 0:
        raise AudioFileError(f"Cannot resample {orig_rate:,} Hz audio to {new_rate:,} Hz: the rates are too far apart.")
    return AF.resample(audio, src, dst)


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
    except CsmError:
        raise  # a full disk (DiskFullError, with sizes) or another write error says it all
    except (sf.LibsndfileError, OSError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioFileError(f"Could not write {p}: {exc}") from None
    return p
