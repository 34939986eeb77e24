"""Counts in words for messages: "1 line", "3 lines", in the number each count takes."""

from __future__ import annotations


def count_of(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it takes: ``count_of(1, "line") == "1 line"``.

    Args:
        n: how many.
        noun: the singular ("line", "voice clip", "take").
        plural: the plural where adding "s" is wrong ("worker" needs none; "speech" would).
    """
    return f"{n} {noun_for(n, noun, plural)}"


def noun_for(n: int, noun: str, plural: str | None = None) -> str:
    """The noun alone in the number ``n`` takes: "the voice clip Ann", "the voice clips Ann, Bo"."""
    return noun if n == 1 else (plural or noun + "s")
