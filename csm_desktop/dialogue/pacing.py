"""How long a line of text should take to say: the expected duration, the length cap a line
renders with, and when speech has run on too long to be the line.

The rule is measured on espeak-ng speech (bench/RESULTS.md, "Length cap from the text"): counted in
characters (spaces and punctuation included, runs of white space as one), English speech runs at
about 13 characters a second at 120 words a minute, 19 at espeak-ng's default 175. A line is
expected to take ``chars / NORMAL_CHARS_PER_S`` seconds (a calm conversational pace); its cap is
twice that plus two seconds, so slow speech, pauses and a breath all fit while a line that never
ends stops in seconds instead of running to the model's 2048-position budget.
"""

from __future__ import annotations

import math

NORMAL_CHARS_PER_S = 14.0  # a calm speaking rate (espeak-ng at about 130 words a minute)
CAP_MULTIPLE = 2.0  # the cap allows speech at half the normal rate ...
CAP_MARGIN_MS = 2_000  # ... plus a margin for a breath, a pause or a laugh
FRAME_MS = 80  # CSM's frame: a cap is a whole number of frames
# Speech that spans longer than this (VAD start to end) is not the line alone: murmur ran on.
RUNAWAY_MULTIPLE = 2.0
RUNAWAY_MARGIN_S = 1.0
MIN_CAP_MS, MAX_CAP_MS = 80, 2048 * 80  # settings.LINE_MS: one frame to the model's budget


def spoken_chars(text: str) -> int:
    """Characters that take time to say: the text with runs of white space counted once."""
    return len(" ".join(text.split()))


def expected_speech_s(text: str) -> float:
    """Seconds a calm speaker takes for ``text``."""
    return spoken_chars(text) / NORMAL_CHARS_PER_S


def text_cap_ms(text: str) -> int:
    """The longest audio a line with this text may render to (ms, whole frames)."""
    ms = CAP_MULTIPLE * expected_speech_s(text) * 1000 + CAP_MARGIN_MS
    frames = math.ceil(ms / FRAME_MS)
    return min(MAX_CAP_MS, max(MIN_CAP_MS, frames * FRAME_MS))


def line_cap_ms(text: str, max_line_ms: int, from_text: bool) -> int:
    """The cap a line renders with: from its text (at most ``max_line_ms``) when ``from_text``,
    else the user's ``max_line_ms`` as it is."""
    return min(text_cap_ms(text), max_line_ms) if from_text else max_line_ms


def runaway_span_s(text: str) -> float:
    """The speech span (first to last speech) beyond which a take of ``text`` has run on."""
    return RUNAWAY_MULTIPLE * expected_speech_s(text) + RUNAWAY_MARGIN_S
