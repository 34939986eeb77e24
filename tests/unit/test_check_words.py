"""The words checks and the score, on fixed transcripts (no recognizer, no audio)."""

from __future__ import annotations

import pytest

from csm_desktop.dialogue.checks import PENALTIES, PROBLEMS, score_of
from csm_desktop.dialogue.words import compare_words, normalize_words, words_problems

LINE = "I'm great, so happy to be speaking to you."


def test_normalisation_ignores_case_punctuation_and_curly_apostrophes():
    assert normalize_words("I’M Great -- so well-known!") == ["i'm", "great", "so", "well", "known"]
    assert compare_words(LINE, "i'm great so happy to be speaking to you").word_error_rate == 0.0


def test_a_clean_transcript_has_no_problems():
    words = compare_words(LINE, "I'm great, so happy to be speaking to you.")
    assert (words.word_error_rate, words.missing_end, words.missing, words.extra) == (0.0, [], [], [])
    assert words_problems(words) == []


def test_words_missing_at_the_end_are_a_clipped_ending():
    words = compare_words(LINE, "I'm great, so happy to be speak")
    assert words.missing_end == ["to", "you"]
    assert words.missing == []
    assert words_problems(words) == ["clipped_end"]
    assert words.word_error_rate == pytest.approx(3 / 9)  # one substitution, two deletions


def test_words_missing_inside_are_missing_words():
    words = compare_words(LINE, "I'm great, to be speaking to you.")
    assert words.missing == ["so", "happy"] and words.missing_end == []
    assert words_problems(words) == ["missing_words"]


def test_invented_words_are_extra_words_and_a_repeat_counts():
    words = compare_words(LINE, "I'm great, so so happy to be speaking to you. Thank you for watching.")
    assert words.extra == ["so", "thank", "you", "for", "watching"]
    assert words_problems(words) == ["extra_words"]


def test_one_slip_in_a_long_line_is_not_a_problem():
    long_line = "We should leave before the rain starts, or we will be soaked by the time we get home."
    words = compare_words(long_line, "We should leave before the rain starts or we will be soaked by time we get home")
    assert words.missing == ["the"]
    assert words_problems(words) == []  # 1 of 18 words: under the 10 % share


def test_nothing_heard_is_everything_missing_at_the_end():
    words = compare_words("Yes.", "")
    assert words.missing_end == ["yes"] and words.word_error_rate == 1.0
    assert words_problems(words) == ["clipped_end"]


def test_a_line_without_words_counts_what_was_heard_as_extra():
    assert compare_words("...", "").word_error_rate == 0.0
    assert compare_words("...", "hello there").extra == ["hello", "there"]


def test_score_ranks_problems_below_clean_takes():
    assert score_of([], None, None) == 1.0
    assert score_of(["empty"], None, None) == 0.0
    clean = score_of([], 0.3, 0.85)
    for problem in PROBLEMS[1:]:
        assert score_of([problem], 0.0, 1.0) == pytest.approx(1 - PENALTIES[problem])
        assert score_of([problem], 0.0, 1.0) < clean + 0.1
    assert score_of(list(PROBLEMS[1:]), 5.0, -0.5) == 0.0  # clipped at zero
    assert score_of([], 0.1, None) > score_of([], 0.2, None)  # fewer word errors rank higher
