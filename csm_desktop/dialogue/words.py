"""Were the line's words said? A recognizer's transcript compared with the line's text.

A :class:`Recognizer` is anything with ``transcribe(audio, sample_rate) -> str`` and a ``name``
(faster-whisper and Gemini live in :mod:`csm_desktop.services.recognizers`; tests pass fakes).
Both texts are normalised (case, punctuation, apostrophes and hyphens) and aligned word by word
with jiwer: the word error rate, the words missing after the last one heard (a clipped ending),
the words missing elsewhere, and the words that are not in the line.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch

# A take has missing or extra words when at least this share of the line's words (and at least
# one word) is missing or extra: one recognizer slip in a long line is not a fault of the take.
MISSING_SHARE = 0.10
EXTRA_SHARE = 0.15
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


@runtime_checkable
class Recognizer(Protocol):
    """Speech to text for the take checks."""

    name: str  # what a check records: "whisper:<model>", "gemini:<model>"

    def transcribe(self, audio: torch.Tensor | np.ndarray, sample_rate: int) -> str: ...


@dataclass(frozen=True)
class WordComparison:
    """How a transcript differs from the line it should say."""

    transcript: str
    word_error_rate: float  # (substitutions + deletions + insertions) / words of the line
    missing_end: list[str] = field(default_factory=list)  # the line's last words, not heard
    missing: list[str] = field(default_factory=list)  # the line's words not heard elsewhere
    extra: list[str] = field(default_factory=list)  # heard, not in the line
    reference_words: int = 0

    @property
    def clipped_end(self) -> bool:
        return bool(self.missing_end)

    @property
    def missing_words(self) -> bool:
        return len(self.missing) >= max(1, math.ceil(MISSING_SHARE * self.reference_words))

    @property
    def extra_words(self) -> bool:
        return len(self.extra) >= max(1, math.ceil(EXTRA_SHARE * self.reference_words))


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphenated words split ("well-known" is two words,
    as recognizers write it either way); curly apostrophes straightened."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return [w.replace("’", "'") for w in _WORD.findall(text.replace("-", " "))]


def compare_words(line: str, transcript: str) -> WordComparison:
    """Align ``transcript`` with ``line`` (see :class:`WordComparison`)."""
    import jiwer

    ref, hyp = normalize_words(line), normalize_words(transcript)
    if not ref:
        return WordComparison(transcript, 0.0 if not hyp else float(len(hyp)), extra=hyp, reference_words=0)
    if not hyp:
        return WordComparison(transcript, 1.0, missing_end=ref, reference_words=len(ref))
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    chunks = out.alignments[0]
    heard_until = max((c.ref_end_idx for c in chunks if c.type in ("equal", "substitute")), default=0)
    missing: list[str] = []
    extra: list[str] = []
    for c in chunks:
        if c.type == "delete" and c.ref_start_idx < heard_until:
            missing += ref[c.ref_start_idx:c.ref_end_idx]
        elif c.type == "insert":
            extra += hyp[c.hyp_start_idx:c.hyp_end_idx]
    return WordComparison(transcript, float(out.wer), missing_end=ref[heard_until:], missing=missing, extra=extra,
                          reference_words=len(ref))


def words_problems(comparison: WordComparison) -> list[str]:
    """The problem names (from checks.PROBLEMS) a comparison shows."""
    found: Sequence[tuple[bool, str]] = ((comparison.clipped_end, "clipped_end"),
                                        (comparison.missing_words, "missing_words"),
                                        (comparison.extra_words, "extra_words"))
    return [name for flag, name in found if flag]
