"""Checks of one take: voice activity, words, voice; a list of problems and one score.

:func:`check_take` is the entry point (no Qt, no network of its own; a recognizer may use one).
It takes a few hundred milliseconds for a 10 s take on one CPU core without a recognizer
(bench/RESULTS.md), so it can run on a side pool while the next line renders. Its result, a
:class:`TakeCheck`, is stored beside the take (:meth:`TakeStore.save_check`) and read back through
:meth:`TakeCheck.from_json`, which validates every field.

Problems come from a fixed vocabulary, :data:`PROBLEMS`:

``empty``          no speech at all (less than 0.1 s of it)
``runaway_tail``   more than 1 s after the line's speech of non-speech (noise, or silence the model
                   never ended) or of murmur (trailing "speech" 8 dB quieter than the line), or
                   speech spanning longer than the text takes at half the normal rate plus 1 s
``long_silence``   a silence of more than 1.5 s between two stretches of speech
``clipped_end``    speech still going when the audio stops, or the line's last words not heard
``missing_words``  words missing before the last word heard (>= 10 % of the line, at least one)
``extra_words``    words heard that the line does not have (>= 15 % of the line, at least one)
``voice_mismatch`` the voice's similarity to the speaker's clips below the measured threshold

The score (0 to 1, higher is better) ranks takes of one line: 0 for an empty take, otherwise
``1 - sum(PENALTIES[p] for each problem) - 0.25 * min(1, word_error_rate) - 0.1 * (1 - similarity)``
clipped to [0, 1], where the word and voice terms count only when measured. Every problem costs at
least 0.2, so a take with a problem ranks below a clean take of comparable words and voice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from csm_desktop.dialogue import pacing, vad
from csm_desktop.dialogue.voice import SIMILARITY_THRESHOLD, VoiceProfile
from csm_desktop.dialogue.words import Recognizer, compare_words, words_problems
from csm_desktop.errors import CsmError

CHECK_VERSION = 1
PROBLEMS = ("empty", "runaway_tail", "long_silence", "clipped_end", "missing_words", "extra_words", "voice_mismatch")
PENALTIES = {"empty": 1.0, "runaway_tail": 0.4, "clipped_end": 0.4, "voice_mismatch": 0.4, "missing_words": 0.3,
             "extra_words": 0.2, "long_silence": 0.2}
EMPTY_SPEECH_S = 0.1
RUNAWAY_TAIL_S = 1.0  # none of the bench's 180 clean espeak-ng takes trails this much (bench/RESULTS.md)
LONG_SILENCE_S = 1.5  # espeak-ng's longest pause between sentences is 0.5 s even at 120 words/min
CLIPPED_TRAIL_S = 0.05  # less non-speech than this after the last speech: the audio stopped mid-word
MAX_DURATION_S = 3_600.0
MAX_TRANSCRIPT_CHARS = 20_000
MAX_LISTED_WORDS = 1_000
MAX_WORD_CHARS = 200
MAX_WER = 1_000.0  # a word error rate counts insertions, so it can pass 1 (bounded by what is stored)


class CheckError(CsmError):
    """A stored take check that is malformed, or audio that cannot be checked."""


@dataclass
class TakeCheck:
    """What :func:`check_take` found in one take (times in seconds from the take's start)."""

    duration_s: float
    speech_start_s: float | None  # None: no speech
    speech_end_s: float | None
    trailing_nonspeech_s: float
    longest_silence_s: float
    expected_s: float  # what the text takes at a calm pace (pacing.expected_speech_s)
    trim_start_s: float  # the part to use (vad.trim_points); the untrimmed take stays on disk
    trim_end_s: float
    problems: list[str] = field(default_factory=list)
    score: float = 0.0
    recognizer: str | None = None  # the recognizer's name, None when words were not checked
    transcript: str | None = None
    word_error_rate: float | None = None
    missing_end_words: list[str] = field(default_factory=list)
    extra_words: list[str] = field(default_factory=list)
    voice_similarity: float | None = None  # None when no voice clips were given
    version: int = CHECK_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> "TakeCheck":
        """A check read from JSON, every field checked for type and range.

        Raises:
            CheckError: the first problem, naming the field.
        """
        if not isinstance(data, dict):
            raise CheckError("A take check must be a JSON object.")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise CheckError(f"A take check has unknown fields: {', '.join(sorted(map(str, unknown)))[:200]}.")
        version = _integer(data, "version", 1, CHECK_VERSION, CHECK_VERSION)
        duration = _number(data, "duration_s", 0.0, MAX_DURATION_S)
        start = _number(data, "speech_start_s", 0.0, duration, optional=True)
        end = _number(data, "speech_end_s", start or 0.0, duration, optional=True)
        if (start is None) != (end is None):
            raise CheckError("A take check has speech_start_s and speech_end_s both or neither.")
        trim_start = _number(data, "trim_start_s", 0.0, duration)
        check = cls(
            duration_s=duration, speech_start_s=start, speech_end_s=end,
            trailing_nonspeech_s=_number(data, "trailing_nonspeech_s", 0.0, duration),
            longest_silence_s=_number(data, "longest_silence_s", 0.0, duration),
            expected_s=_number(data, "expected_s", 0.0, MAX_DURATION_S * 10),
            trim_start_s=trim_start, trim_end_s=_number(data, "trim_end_s", trim_start, duration),
            problems=_words(data, "problems", allowed=PROBLEMS),
            score=_number(data, "score", 0.0, 1.0),
            recognizer=_text(data, "recognizer", 200),
            transcript=_text(data, "transcript", MAX_TRANSCRIPT_CHARS),
            word_error_rate=_number(data, "word_error_rate", 0.0, MAX_WER, optional=True),
            missing_end_words=_words(data, "missing_end_words"),
            extra_words=_words(data, "extra_words"),
            voice_similarity=_number(data, "voice_similarity", -1.0, 1.0, optional=True),
            version=version,
        )
        if len(set(check.problems)) != len(check.problems):
            raise CheckError("A take check lists a problem twice.")
        return check


_SLACK = 1e-6  # JSON floats of a valid check: a bound computed from other rounded values


def _number(data: dict, name: str, lo: float, hi: float, *, optional: bool = False) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and lo - _SLACK <= value <= hi + _SLACK:
        return float(min(max(value, lo), hi))
    raise CheckError(f"A take check's {name} must be a number from {lo:g} to {hi:g}"
                     f"{' or null' if optional else ''}, not {str(value)[:40]!r}.")


def _integer(data: dict, name: str, lo: int, hi: int, default: int) -> int:
    value = data.get(name, default)
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
        return value
    raise CheckError(f"A take check's {name} must be a whole number from {lo} to {hi}, not {str(value)[:40]!r}.")


def _text(data: dict, name: str, max_chars: int) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str) and len(value) <= max_chars:
        return value
    raise CheckError(f"A take check's {name} must be text of at most {max_chars} characters or null.")


def _words(data: dict, name: str, allowed: Sequence[str] | None = None) -> list[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or len(value) > MAX_LISTED_WORDS:
        raise CheckError(f"A take check's {name} must be a list of at most {MAX_LISTED_WORDS} words.")
    for item in value:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_WORD_CHARS or allowed and item not in allowed:
            what = f"one of {', '.join(allowed)}" if allowed else f"words of 1 to {MAX_WORD_CHARS} characters"
            raise CheckError(f"A take check's {name} must hold {what}, not {str(item)[:40]!r}.")
    return list(value)


def score_of(problems: Sequence[str], word_error_rate: float | None, voice_similarity: float | None) -> float:
    """The take's score (see the module's docstring)."""
    if "empty" in problems:
        return 0.0
    score = 1.0 - sum(PENALTIES[p] for p in set(problems))
    if word_error_rate is not None:
        score -= 0.25 * min(1.0, word_error_rate)
    if voice_similarity is not None:
        score -= 0.1 * (1.0 - max(0.0, voice_similarity))
    return min(1.0, max(0.0, score))


def check_take(
    audio: torch.Tensor | np.ndarray,
    sample_rate: int,
    text: str,
    *,
    recognizer: Recognizer | None = None,
    voice_refs: VoiceProfile | Sequence[tuple[torch.Tensor | np.ndarray, int]] | None = None,
    activity: vad.SpeechActivity | None = None,
) -> TakeCheck:
    """Check one take of the line ``text``.

    Args:
        audio: the untrimmed take, ``[T]`` or ``[C, T]`` at ``sample_rate`` (any rate).
        recognizer: transcribes the take for the words checks; None skips them.
        voice_refs: the speaker's voice, as a :class:`VoiceProfile` (build it once per speaker)
            or ``(audio, sample_rate)`` clips; None skips the voice check.
        activity: what :func:`vad.detect_speech` found in this very audio, when the caller ran it
            already (a render does, to trim the take before the next line uses it).

    Raises:
        CsmError: the recognizer failed (a network error, a missing key), or a model is broken.
    """
    mono = vad.mono_float(audio)
    if sample_rate <= 0:
        raise CheckError(f"The sample rate must be positive, not {sample_rate}.")
    if mono.numel() / sample_rate > MAX_DURATION_S:
        raise CheckError(f"The audio is {mono.numel() / sample_rate / 60:.0f} minutes long; checks take at most "
                         f"{MAX_DURATION_S / 60:.0f} minutes. Check one line's take at a time.")
    activity = activity or vad.detect_speech(mono, sample_rate)
    points = vad.trim_points(activity)
    check = TakeCheck(
        duration_s=activity.duration_s, speech_start_s=activity.speech_start_s, speech_end_s=activity.speech_end_s,
        trailing_nonspeech_s=activity.trailing_nonspeech_s, longest_silence_s=activity.longest_silence_s,
        expected_s=pacing.expected_speech_s(text), trim_start_s=points.start_s, trim_end_s=points.end_s)
    if activity.speech_s < EMPTY_SPEECH_S:
        check.problems = ["empty"]
        return check
    found = set(_activity_problems(activity, text))
    if recognizer is not None:
        words = compare_words(text, recognizer.transcribe(mono, sample_rate))
        check.recognizer, check.transcript, check.word_error_rate = recognizer.name, words.transcript, \
            min(MAX_WER, words.word_error_rate)
        check.missing_end_words = words.missing_end[:MAX_LISTED_WORDS]
        check.extra_words = words.extra[:MAX_LISTED_WORDS]
        found.update(words_problems(words))
    if voice_refs is not None:
        profile = voice_refs if isinstance(voice_refs, VoiceProfile) else VoiceProfile.from_clips(voice_refs)
        similarity = profile.similarity(mono, sample_rate) if profile is not None else None
        check.voice_similarity = similarity
        if similarity is not None and similarity < SIMILARITY_THRESHOLD:
            found.add("voice_mismatch")
    check.problems = [p for p in PROBLEMS if p in found]
    check.score = score_of(check.problems, check.word_error_rate, check.voice_similarity)
    return check


def _activity_problems(activity: vad.SpeechActivity, text: str) -> list[str]:
    span = activity.speech_end_s - activity.speech_start_s
    murmur_start = activity.quiet_tail_start_s
    after_line = activity.duration_s - murmur_start if murmur_start is not None else activity.trailing_nonspeech_s
    found = []
    if after_line > RUNAWAY_TAIL_S or span > pacing.runaway_span_s(text):
        found.append("runaway_tail")
    if activity.longest_silence_s > LONG_SILENCE_S:
        found.append("long_silence")
    if activity.trailing_nonspeech_s < CLIPPED_TRAIL_S:
        found.append("clipped_end")
    return found


def describe_check(check: TakeCheck) -> str:
    """The check as a few lines a person reads (the command line's ``check`` prints it)."""
    lines = [f"Duration {check.duration_s:.2f} s"]
    if check.speech_start_s is None:
        lines.append("No speech found.")
    else:
        lines.append(f"Speech {check.speech_start_s:.2f} to {check.speech_end_s:.2f} s; "
                     f"{check.trailing_nonspeech_s:.2f} s after it; longest silence inside {check.longest_silence_s:.2f} s "
                     f"(the text takes about {check.expected_s:.1f} s)")
        lines.append(f"Use {check.trim_start_s:.2f} to {check.trim_end_s:.2f} s (trimmed)")
    if check.recognizer:
        lines.append(f"Heard ({check.recognizer}): {check.transcript!r}; word error rate {check.word_error_rate:.2f}")
        if check.missing_end_words:
            lines.append(f"Not heard at the end: {' '.join(check.missing_end_words)}")
        if check.extra_words:
            lines.append(f"Not in the line: {' '.join(check.extra_words)}")
    if check.voice_similarity is not None:
        lines.append(f"Voice similarity {check.voice_similarity:.2f} (below {SIMILARITY_THRESHOLD:.2f} is another voice)")
    lines.append(f"Problems: {', '.join(check.problems) or 'none'}")
    lines.append(f"Score {check.score:.2f}")
    return "\n".join(lines)
