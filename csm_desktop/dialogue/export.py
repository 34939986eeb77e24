"""Exporting a rendered dialogue: mixdown (WAV, FLAC, and MP3 and Opus where the installed
libsndfile writes them), at the takes' sample rate or another, per-line and per-speaker stems,
SRT/WebVTT.

Everything streams to disk take by take, so memory does not grow with the dialogue's length;
every file is written atomically and carries the AI-generated-speech marker.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from csm_desktop.dialogue.project import LineState, Project
from csm_desktop.dialogue.script import Pause, Utterance
from csm_desktop.dialogue.takes import TakeStore
from csm_desktop.errors import CsmError
from csm_desktop.fileio import atomic_write, atomic_write_text
from csm_desktop.marker import AI_MARKER

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
# format: (libsndfile's container, its subtype for compressed audio or None: SUBTYPES, file suffix)
FORMATS = {"wav": ("WAV", None, "wav"), "flac": ("FLAC", None, "flac"), "mp3": ("MP3", "MPEG_LAYER_III", "mp3"),
           "opus": ("OGG", "OPUS", "opus")}
SAMPLE_RATES = (8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
_RATES_OF = {"opus": (8_000, 12_000, 16_000, 24_000, 48_000),  # what each codec itself allows
             "mp3": (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)}
_SAMPLE_BYTES = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}
_HEADER_BYTES = 4096  # a WAV header with its marker and title chunks, with room to spare
_BLOCK = 1 << 16  # samples of silence written at a time


class ExportError(CsmError):
    """The dialogue cannot be exported as asked."""


@dataclass
class Placement:
    line: int  # index among utterances
    speaker: str
    text: str
    key: str
    start: int  # samples
    length: int
    script_line: int = 0  # the editor's line number (1-based): what the user calls the line


@dataclass
class Gap:
    """Silence between lines: a ``[pause]`` the script asks for, or the line's gap setting."""

    start: int  # samples
    length: int
    kind: str  # "pause" (``[pause]`` directives) or "gap" (a line's gap, or the project's default)


@dataclass
class Unrendered:
    """A line with no take yet (only in a partial timeline): where it would start."""

    line: int  # index among utterances
    speaker: str
    text: str
    at: int  # samples
    script_line: int = 0


@dataclass
class Timeline:
    sample_rate: int
    placements: list[Placement]
    total: int  # samples
    gaps: list[Gap] = field(default_factory=list)
    unrendered: list[Unrendered] = field(default_factory=list)

    def placement_at(self, sample: int) -> Placement | None:
        """The line playing at ``sample``: the last one started by then (in a gap, the line
        before it), None before the first."""
        current = None
        for p in self.placements:
            if p.start > sample:
                break
            current = p
        return current


@dataclass
class ExportOptions:
    format: str = "wav"  # wav, flac, mp3 or opus (see format_problem)
    bit_depth: str = "16"  # 16, 24 or float (FLAC: 16 or 24; MP3 and Opus: not used)
    sample_rate: int | None = None  # None: the takes' own (24 kHz)
    normalize_lufs: float | None = None  # e.g. -16.0
    line_stems_dir: Path | None = None
    speaker_stems_dir: Path | None = None
    subtitles: list[Path] = field(default_factory=list)  # .srt and/or .vtt


def format_problem(fmt: str) -> str | None:
    """Why ``fmt`` cannot be written here (None: it can): MP3 needs libsndfile 1.1 or later,
    Opus a libsndfile built with it."""
    entry = FORMATS.get(fmt.lower())
    if entry is None:
        return f"Export format {fmt!r} is not supported: choose WAV, FLAC, MP3 or Opus."
    container, subtype, _suffix = entry
    if container not in sf.available_formats() or (subtype and subtype not in sf.available_subtypes(container)):
        return (f"This system's audio library (libsndfile {sf.__libsndfile_version__}) cannot write {fmt.upper()}. "
                "Export WAV or FLAC, or update libsndfile (1.1 or later writes MP3 and Opus).")
    return None


def rates_for(fmt: str) -> tuple[int, ...]:
    """The sample rates a format can be exported at."""
    allowed = _RATES_OF.get(fmt.lower())
    return SAMPLE_RATES if allowed is None else tuple(r for r in SAMPLE_RATES if r in allowed)


def resampled(timeline: Timeline, rate: int) -> Timeline:
    """The same timeline at another sample rate (each take is resampled as it is written)."""
    if rate == timeline.sample_rate:
        return timeline
    def at(samples: int) -> int:
        return round(samples * rate / timeline.sample_rate)
    placements = [Placement(p.line, p.speaker, p.text, p.key, at(p.start), at(p.start + p.length) - at(p.start),
                            p.script_line)
                  for p in timeline.placements]
    return Timeline(rate, placements, at(timeline.total))


def build_timeline(project: Project, store: TakeStore, partial: bool = False) -> Timeline:
    """Where each chosen take sits in the mixdown (each take trimmed, as :meth:`TakeStore.load`
    gives it). The gap after a line is its own setting if set, else the ``[pause]`` directives that
    follow it, else the project's default gap. A line's own gap with a ``[pause]`` after it is
    listed as the pause (as much of it as the gap holds) and, where the gap is longer, a plain gap.

    ``partial``: lines with no take are left out (listed in ``unrendered``, where they would
    start) instead of refused: the dialogue as far as it is rendered, to listen to while working.
    The project is only read (a line with no state is not given one).
    """
    items = project.script().items
    utterances = [i for i in items if isinstance(i, Utterance)]

    def state(n: int) -> LineState:
        return project.lines.get(n) or LineState()

    def has_take(n: int) -> bool:
        key = state(n).chosen_take
        return bool(key) and store.has(key)

    missing = [u.line for n, u in enumerate(utterances) if not has_take(n)]
    if missing and not partial:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ExportError(f"Script lines {shown} have no take yet. Render them first, then export.")
    sr = store.sample_rate
    timeline = Timeline(sr, [], 0)
    cursor, n, pending_pause, previous = 0, -1, 0, None  # previous: the last line placed

    def samples(ms: int) -> int:
        return round(ms * sr / 1000)

    def silence(length: int, kind: str) -> None:
        nonlocal cursor
        if length > 0:
            timeline.gaps.append(Gap(cursor, length, kind))
            cursor += length

    for item in items:
        if isinstance(item, Pause):
            pending_pause += item.ms
            continue
        if not isinstance(item, Utterance):
            continue
        n += 1
        if not has_take(n):
            timeline.unrendered.append(Unrendered(n, item.speaker, item.text, cursor, item.line))
            continue  # its pauses still count, before the next line placed
        if previous is not None:
            gap = state(previous).gap_after_ms
            if gap is not None:
                paused = min(samples(gap), samples(pending_pause))
                silence(paused, "pause")
                silence(samples(gap) - paused, "gap")
            elif pending_pause:
                silence(samples(pending_pause), "pause")
            else:
                silence(samples(project.settings.default_gap_ms), "gap")
        elif pending_pause:
            silence(samples(pending_pause), "pause")
        pending_pause = 0
        key = state(n).chosen_take or ""
        length = store.used_length(key)  # the take as it is used: trimmed
        timeline.placements.append(Placement(n, item.speaker, item.text, key, cursor, length, item.line))
        cursor += length
        previous = n
    if pending_pause:
        silence(samples(pending_pause), "pause")
    timeline.total = cursor
    return timeline


def dialogue_gain(timeline: Timeline, store: TakeStore, target_lufs: float) -> float:
    """Gain that brings the speech to ``target_lufs`` (ITU-R BS.1770 loudness, combined over
    takes by energy), limited so that no sample clips."""
    energy, seconds, peak = 0.0, 0.0, 0.0
    for p in timeline.placements:
        audio = store.load(p.key)
        peak = max(peak, float(audio.abs().max()) if audio.numel() else 0.0)
        if audio.numel() < timeline.sample_rate // 2:
            continue
        lufs = float(AF.loudness(audio[None], timeline.sample_rate))
        if math.isfinite(lufs):
            duration = audio.numel() / timeline.sample_rate
            energy += duration * 10 ** (lufs / 10)
            seconds += duration
    if seconds == 0 or energy == 0:
        return 1.0
    current = 10 * math.log10(energy / seconds)
    gain = 10 ** ((target_lufs - current) / 20)
    return min(gain, 0.99 / peak) if peak > 0 else gain


def _write_track(path: Path, timeline: Timeline, placements: Iterable[Placement], store: TakeStore,
                 fmt: str, subtype: str, gain: float) -> Path:
    """One time-aligned track of ``timeline.total`` samples holding ``placements``, each take
    resampled to the timeline's rate. A WAV's size is known before it is written, so a disk
    without room for it is reported at once."""
    container = FORMATS[fmt][0]

    def write(fh):
        with sf.SoundFile(fh, "w", samplerate=timeline.sample_rate, channels=1, format=container,
                          subtype=subtype) as out:
            out.comment = AI_MARKER
            out.title = path.stem
            cursor = 0
            for p in placements:
                _silence(out, p.start - cursor)
                take = store.load(p.key)
                if timeline.sample_rate != store.sample_rate:
                    take = AF.resample(take, store.sample_rate, timeline.sample_rate)
                audio = torch.nn.functional.pad(take, (0, max(0, p.length - take.numel())))[: p.length].numpy() * gain
                if subtype.startswith("PCM"):
                    audio = np.clip(audio, -1.0, 1.0)
                out.write(audio.astype(np.float32))
                cursor = p.start + p.length
            _silence(out, timeline.total - cursor)

    size = timeline.total * _SAMPLE_BYTES[subtype] + _HEADER_BYTES if fmt == "wav" else None  # FLAC: unknown
    return atomic_write(path, write, size_hint=size)


def _silence(out: sf.SoundFile, samples: int) -> None:
    block = np.zeros(_BLOCK, dtype=np.float32)
    while samples > 0:
        n = min(samples, _BLOCK)
        out.write(block[:n])
        samples -= n


def _timestamp(samples: int, sr: int, sep: str) -> str:
    ms = round(samples * 1000 / sr)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def subtitles_text(timeline: Timeline, kind: str) -> str:
    """SRT or WebVTT cues, one per line, with the speaker's name."""
    sr = timeline.sample_rate
    if kind == "vtt":
        out = ["WEBVTT", "", f"NOTE {AI_MARKER}", ""]
        for p in timeline.placements:
            out += [f"{_timestamp(p.start, sr, '.')} --> {_timestamp(p.start + p.length, sr, '.')}",
                    f"<v {p.speaker}>{p.text}", ""]
        return "\n".join(out)
    out = []
    for n, p in enumerate(timeline.placements, start=1):
        out += [str(n), f"{_timestamp(p.start, sr, ',')} --> {_timestamp(p.start + p.length, sr, ',')}",
                f"{p.speaker}: {p.text}", ""]
    return "\n".join(out)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_") or "speaker"


def export_dialogue(project: Project, store: TakeStore, output: str | Path, options: ExportOptions | None = None,
                    on_progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the mixdown (and the stems and subtitles asked for). Returns the files written."""
    opts = options or ExportOptions()
    fmt = opts.format.lower()
    problem = format_problem(fmt)
    if problem:
        raise ExportError(problem)
    subtype = FORMATS[fmt][1] or SUBTYPES.get(str(opts.bit_depth))
    if subtype is None or (fmt == "flac" and subtype == "FLOAT"):
        raise ExportError(f"Bit depth {opts.bit_depth!r} is not available for {fmt.upper()}: choose 16 or 24"
                          + (" or float." if fmt == "wav" else "."))
    rate = opts.sample_rate or store.sample_rate
    if rate != store.sample_rate and rate not in rates_for(fmt):
        raise ExportError(f"{fmt.upper()} cannot be exported at {rate} Hz: choose one of "
                          f"{', '.join(f'{r:,}' for r in rates_for(fmt))} Hz.")
    timeline = build_timeline(project, store)
    gain = dialogue_gain(timeline, store, opts.normalize_lufs) if opts.normalize_lufs is not None else 1.0
    timeline = resampled(timeline, rate)
    report = on_progress or (lambda _msg: None)
    written: list[Path] = []
    output = Path(output)
    report(f"Writing {output.name}")
    written.append(_write_track(output, timeline, timeline.placements, store, fmt, subtype, gain))
    if opts.line_stems_dir is not None:
        # Named by the editor's line numbers (what the user sees beside each line), sorted by them.
        width = len(str(max((p.script_line for p in timeline.placements), default=1)))
        for p in timeline.placements:
            name = f"{p.script_line:0{width}d}_{_safe(p.speaker)}.{FORMATS[fmt][2]}"
            report(f"Writing line stem {name}")
            written.append(_write_track(Path(opts.line_stems_dir) / name, timeline, [p], store, fmt, subtype, gain))
    if opts.speaker_stems_dir is not None:
        for speaker in dict.fromkeys(p.speaker for p in timeline.placements):
            name = f"{_safe(speaker)}.{FORMATS[fmt][2]}"
            report(f"Writing speaker stem {name}")
            mine = [p for p in timeline.placements if p.speaker == speaker]
            written.append(_write_track(Path(opts.speaker_stems_dir) / name, timeline, mine, store, fmt, subtype, gain))
    for sub in opts.subtitles:
        sub = Path(sub)
        kind = sub.suffix.lower().lstrip(".")
        if kind not in ("srt", "vtt"):
            raise ExportError(f"Subtitles must be .srt or .vtt, not {sub.name}.")
        report(f"Writing {sub.name}")
        written.append(atomic_write_text(sub, subtitles_text(timeline, kind)))
    return written
