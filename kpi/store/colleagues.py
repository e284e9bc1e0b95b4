"""How the product names colleagues other than the learner wherever something leaves it: "a
colleague" in a sentence, "one colleague", "two colleagues" in a list of agents, the learner by
their own name. One place, so a pack's filters, chart titles and redacted text read the same.

Kept beside ``viewer`` ("this is me"): the evidence packs, the insights' segments and the charts
all sit above the store, so all of them can use these words.
"""

from __future__ import annotations

from collections.abc import Iterable

#: A colleague named in a sentence ("A colleague helped me").
ONE_COLLEAGUE = "a colleague"
COUNTS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def colleagues_phrase(count: int) -> str:
    """ "one colleague", "two colleagues", ..., "12 colleagues": colleagues counted in a list."""
    word = COUNTS[count - 1] if 0 < count <= len(COUNTS) else str(count)
    return f"{word} colleague{'' if count == 1 else 's'}"


def in_a_sentence(count: int) -> str:
    """ "a colleague" for one, else ``colleagues_phrase``: how text reads with names taken out."""
    return ONE_COLLEAGUE if count == 1 else colleagues_phrase(count)


def agents_phrase(agents: Iterable[str], me: str | None) -> str:
    """A list of agents as a pack shows it: the learner by name, the others counted, never
    named: "Amelia Booth and one colleague", "two colleagues"."""
    chosen = list(dict.fromkeys(a for a in agents if a))
    others = sum(1 for a in chosen if a != me)
    words = [me] if me is not None and me in chosen else []
    if others:
        words.append(colleagues_phrase(others))
    return " and ".join(words)
