"""What an evidence pack says about people: colleagues redacted so that it reads naturally, the
filters that name a colleague, and the preview of every piece of text that will leave.

Every text a pack carries passes ``redact_people``: other agents' names (whole, or a first name or
surname of three letters or more) become "a colleague", side by side "two colleagues", and then
the importer's own scrub (``kpi.ingest.privacy.scrub``) removes record numbers, contact details
and names in the text itself, so one rule holds at import and at export. The learner's own name
stays. ``preview`` lists the text exactly as the pack holds it, for the learner to read and
confirm before anything is downloaded.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from kpi.engine.filters import Filters
from kpi.ingest.privacy import NAME_WORD, NOT_NAMES, scrub
from kpi.store.connection import Store

if TYPE_CHECKING:  # packs imports this module: the type only, to avoid a cycle
    from kpi.evidence.packs import Pack

#: How a pack names colleagues in place of their names.
ONE_COLLEAGUE = "a colleague"
COUNTS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
#: How the learner is named where a filter names them.
THE_LEARNER = "the learner"
#: Asked of the learner before any export is offered.
CONFIRM = "I have read this and it contains nothing personal"
PREVIEW_NOTE = (
    "This is every piece of text the evidence pack and its files will contain, exactly as "
    "written into them. Names, contact details and account, order and ticket numbers have been "
    'replaced with words in [brackets]; colleagues are shown as "a colleague". Read it and '
    "tick the box to download. If something personal is still here, change the reflection and "
    "build the pack again."
)
_MARK = "\x00"  # stands for one colleague until the ones side by side are counted
_TOGETHER = re.compile(f"{_MARK}(?:(?:,? and |, | & |/){_MARK})*")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")


def agents(store: Store) -> list[str]:
    """Every agent name in the store, sorted."""
    rows = (
        store.cursor()
        .execute(
            "SELECT DISTINCT agent FROM contacts WHERE agent IS NOT NULL "
            "UNION SELECT DISTINCT agent FROM responses WHERE agent IS NOT NULL"
        )
        .fetchall()
    )
    return sorted({r[0] for r in rows if r[0]})


def colleagues_phrase(count: int) -> str:
    """ "a colleague", "two colleagues", ..., "12 colleagues"."""
    if count == 1:
        return ONE_COLLEAGUE
    return f"{COUNTS[count - 1] if count <= len(COUNTS) else count} colleagues"


def _names_pattern(agents: list[str], me: str) -> re.Pattern[str] | None:
    """Other agents' whole names, or a first name or surname of theirs (three letters or more,
    not the learner's) with the capitalised word after it, which is likely the rest of a name
    ("Priya Patel" when only Priya Shah is an agent)."""
    mine = set(me.split()) | {me}
    wholes: set[str] = set()
    parts: set[str] = set()
    for name in agents:
        if name == me or not name.strip():
            continue
        wholes.add(name.strip())
        parts.update(part for part in name.split() if len(part) >= 3 and part not in mine)
    if not wholes:
        return None
    whole = "|".join(re.escape(w) for w in sorted(wholes, key=len, reverse=True))
    part = "|".join(re.escape(w) for w in sorted(parts, key=len, reverse=True)) or "(?!)"
    rest = rf"(?: (?!(?:{NOT_NAMES})\b){NAME_WORD})?"
    return re.compile(rf"\b(?:{whole})\b|\b(?:{part})\b{rest}")


def _counted(text: str) -> str:
    """Each run of colleagues side by side as one phrase, capitalised where a sentence starts."""
    out: list[str] = []
    last = 0
    for match in _TOGETHER.finditer(text):
        phrase = colleagues_phrase(match.group().count(_MARK))
        before = text[last : match.start()]
        if _SENTENCE_START.search("".join(out) + before):
            phrase = phrase[0].upper() + phrase[1:]
        out += [before, phrase]
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def redact_people(text: str, agents: list[str], me: str) -> str:
    """The text scrubbed as at import, then with other agents' names (whole, or a first name or
    surname) replaced by "a colleague" ("two colleagues" side by side)."""
    text = scrub(text.replace(_MARK, ""))  # first, so "Regards, Priya Patel" is one [name]
    pattern = _names_pattern(agents, me)
    return text if pattern is None else _counted(pattern.sub(_MARK, text))


def redact_filters(filters: Filters, me: str) -> str:
    """``filters.describe()`` with the agents named as "the learner" and "one colleague" (or
    "two colleagues"), never by name."""
    if not filters.agent:
        return filters.describe()
    others = sum(1 for a in filters.agent if a != me)
    words = [THE_LEARNER] if me in filters.agent else []
    if others:
        words.append("one colleague" if others == 1 else colleagues_phrase(others))
    return replace(filters, agent=(" and ".join(words),)).describe()


def preview(pack: Pack) -> list[tuple[str, str]]:
    """(what, text) for every piece of free text the pack writes, exactly as it writes it: the
    learner reads and confirms these before downloading (the page shows this, the writers read
    the same fields of the pack)."""
    parts = [("Title", pack.title), ("Period and filters", pack.period)]
    parts += list(getattr(pack, "statement", []))
    parts += [(f"Reflection: {label}", text) for label, text in pack.sections]
    parts += [
        ("SMART action", pack.action),
        ("Before and after the change", "\n".join(pack.action_check)),
        ("Customer comment", pack.customer_comment),
        ("Supervisor's comment", pack.supervisor_comment),
    ]
    parts += [(f"Chart {i}", chart.title) for i, chart in enumerate(pack.charts, 1)]
    return [(what, text) for what, text in parts if text and text.strip()]
