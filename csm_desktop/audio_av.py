"""M4A/AAC (and other MP4-family audio) through FFmpeg's decoders, by PyAV, where it is installed.

libsndfile (soundfile) reads WAV, FLAC, OGG and MP3 but no MP4 container, which is what phones
and Apple's apps record into. PyAV is optional: without it the user is told how to convert.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from csm_desktop.errors import AudioFileError

SUFFIXES = frozenset({".m4a", ".m4b", ".aac", ".mp4"})  # AAC or ALAC in an MP4 container, or raw ADTS AAC


def available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def convert_hint(name: str) -> str:
    return (f"{name} is an M4A/AAC file, which this installation cannot decode. Convert it to WAV or FLAC "
            f"(for example `ffmpeg -i \"{name}\" voice.wav`, or export it from Audacity or your recorder's app), "
            "or install PyAV (`pip install av`) to import M4A/AAC directly.")


def _open(fh: BinaryIO, name: str):
    if not available():
        raise AudioFileError(convert_hint(name))
    import av

    try:
        container = av.open(fh, mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise AudioFileError(f"{name} could not be read as audio ({exc}). Export or download it again, "
                             "or convert it to WAV.") from None
    if not container.streams.audio:
        container.close()
        raise AudioFileError(f"{name} holds no audio track. Choose a file with recorded speech.")
    return container


def probe(fh: BinaryIO, name: str) -> tuple[int, int, int, str]:
    """(frames, sample rate, channels, codec name) from the container's header; nothing decoded.
    Frames are estimated from the stream's (or the container's) duration."""
    container = _open(fh, name)
    try:
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        channels = int(stream.codec_context.channels or 1)
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / 1_000_000  # av.time_base
        else:
            seconds = 0.0
        return int(round(seconds * rate)), rate, channels, stream.codec_context.name.upper()
    finally:
        container.close()


def decode(fh: BinaryIO, name: str, max_frames: int | None) -> tuple[np.ndarray, int]:
    """The first audio track as mono float32 at its own rate. Stops (and says so) once more than
    ``max_frames`` frames were decoded, whatever the header claimed."""
    import av

    container = _open(fh, name)
    try:
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate)
        to_mono = av.AudioResampler(format="flt", layout="mono", rate=rate)
        blocks, read = [], 0
        try:
            for frame in container.decode(stream):
                for out in to_mono.resample(frame):
                    block = out.to_ndarray().reshape(-1)
                    blocks.append(block)
                    read += len(block)
                if max_frames is not None and read > max_frames:
                    return np.concatenate(blocks), rate  # the caller says it is too long
        except av.FFmpegError as exc:
            if not blocks:
                raise AudioFileError(f"{name} is truncated or corrupt: its audio could not be decoded ({exc}). "
                                     "Export or download it again, or convert it to WAV.") from None
        for out in to_mono.resample(None):  # what the resampler still holds
            blocks.append(out.to_ndarray().reshape(-1))
        if not blocks:
            raise AudioFileError(f"{name} contains no audio.")
        return np.concatenate(blocks).astype(np.float32, copy=False), rate
    finally:
        container.close()
