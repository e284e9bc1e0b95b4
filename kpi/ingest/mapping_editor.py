"""What the Data page's mapping editor asks in words, read into a mapping's values.

A person types a score's scale as "1-5" or as its answer words lowest first ("Bad, OK, Good"),
labels as "Good = 2, Offered =" and the cells that mean missing as "NA, -"; each is read here,
and a mistake is one line (``ImportProblem``) saying what to type instead.
"""

from __future__ import annotations

import math
import re

from kpi.errors import ImportProblem

#: How the editor explains each box (the page shows these words).
SCALE_HELP = 'Numbers "low-high" such as 1-5, or the answer words lowest first: Bad, OK, Good'
LABELS_HELP = 'Words to scores, such as "Good = 2, Bad = 1"; leave the score empty for a word '
LABELS_HELP += 'that is not an answer ("Offered =")'
NULLS_HELP = "Cells that mean missing, separated by commas, such as NA, -, n/a"
#: Said before what the mapping still lacks, in place of the import button.
NOT_READY = "Not ready to import with yet:"

_RANGE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(?:-|to|–)\s*(-?\d+(?:\.\d+)?)\s*")


def words(text: str) -> tuple[str, ...]:
    """Comma-separated words, trimmed, empty ones dropped."""
    return tuple(w.strip() for w in text.split(",") if w.strip())


def scale_from_text(score: str, text: str) -> tuple[float, float] | tuple[str, ...] | None:
    """A score's scale as typed: None when empty (the default), (low, high) for "1-5", or the
    answer words lowest first."""
    if not text.strip():
        return None
    found = _RANGE.fullmatch(text)
    if found:
        low, high = float(found[1]), float(found[2])
        if low < high:
            return low, high
        raise ImportProblem(
            f"{score} scale {text.strip()!r}: the low end must come first, e.g. 1-5."
        )
    answer_words = words(text)
    if len(answer_words) < 2:
        raise ImportProblem(
            f"{score} scale {text.strip()!r}: give numbers such as 1-5, or two or more answer "
            "words lowest first, such as Bad, OK, Good."
        )
    return answer_words


def labels_from_text(score: str, text: str) -> dict[str, float | None]:
    """ "Good = 2, Offered =" as {"Good": 2.0, "Offered": None}."""
    labels: dict[str, float | None] = {}
    for part in words(text):
        word, equals, value = part.partition("=")
        if not equals or not word.strip():
            raise ImportProblem(
                f"{score} labels {part!r}: write word = score, e.g. Good = 2 (or Offered = for a "
                "word that is not an answer)."
            )
        try:
            number = float(value) if value.strip() else None
        except ValueError:
            raise ImportProblem(
                f"{score} labels {part!r}: {value.strip()!r} is not a number."
            ) from None
        if number is not None and not math.isfinite(number):
            raise ImportProblem(f"{score} labels {part!r}: the score must be a finite number.")
        labels[word.strip()] = number
    return labels
