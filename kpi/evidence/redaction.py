"""What an evidence pack says about people: colleagues redacted so that it reads naturally, the
filters that name a colleague, and the preview of every piece of text that will leave.

Every text a pack carries passes ``redact_people``: the importer's own scrub
(``kpi.ingest.privacy.scrub``) removes record numbers, contact details and names in the text
itself, then other agents' names are found by the importer's own name rule
(``privacy.replace_names``: whole in any case, or a first name or surname of three letters or
more as written) and become "a colleague", side by side "two colleagues", so one rule holds at
import and at export. The learner's own name stays, in text and in filters ("Amelia Booth and one
colleague", the same words as the pack's chart titles: ``kpi.store.colleagues``). ``preview`` lists the text exactly as the pack holds it, for the learner to read and
confirm before anything is downloaded.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from kpi.engine.filters import Filters
from kpi.ingest.privacy import replace_names, scrub
from kpi.store.colleagues import (
    ONE_COLLEAGUE,
    agents_phrase,
    colleagues_phrase,
    in_a_sentence,
)
from kpi.store.connection import Store

if TYPE_CHECKING:  # packs imports this module: the type only, to avoid a cycle
    from kpi.evidence.packs import Pack

__all__ = ["ONE_COLLEAGUE", "agents_phrase", "colleagues_phrase"]  # the words, kept in one place
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
#: A double-barrelled name found by its two parts ("Anita-Mistry") is one colleague.
_ONE_NAME = re.compile(f"{_MARK}(?:-{_MARK})+")
#: "Marcus' queue": the apostrophe alone after a name ending in s reads "a colleague's".
_POSSESSIVE = re.compile(f"{_MARK}['’](?=\\s|$)")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")
#: "my colleague Daniel Haigh helped" already says who in words: "my colleague helped", not
#: "my colleague a colleague helped".
_NAMED_AFTER = re.compile(
    rf"\b(colleagues?|teammates?|co-?workers?)\s+{_TOGETHER.pattern}(?!['’])", re.IGNORECASE
)


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


def _counted(text: str) -> str:
    """Each run of colleagues side by side as one phrase, capitalised where a sentence starts."""
    out: list[str] = []
    last = 0
    for match in _TOGETHER.finditer(text):
        phrase = in_a_sentence(match.group().count(_MARK))
        before = text[last : match.start()]
        if _SENTENCE_START.search("".join(out) + before):
            phrase = phrase[0].upper() + phrase[1:]
        out += [before, phrase]
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def redact_people(text: str, agents: list[str], me: str) -> str:
    """The text scrubbed as at import, then with other agents' names (whole in any case, or a
    first name or surname of three letters or more) replaced by "a colleague" ("two colleagues"
    side by side, "a colleague's" for "Marcus' queue")."""
    text = scrub(text.replace(_MARK, ""))  # first, so "Regards, Priya Patel" is one [name]
    others = [a for a in agents if a and a.strip() and a != me]
    marked = replace_names(text, others, _MARK, keep=[me])
    if marked == text:
        return text
    marked = _NAMED_AFTER.sub(r"\1", _ONE_NAME.sub(_MARK, marked))
    return _counted(_POSSESSIVE.sub(f"{_MARK}'s", marked))


def redact_filters(filters: Filters, me: str) -> str:
    """``filters.describe()`` with the agents as the pack's charts name them: the learner by
    name, the others counted ("Amelia Booth and one colleague"), never named."""
    if not filters.agent:
        return filters.describe()
    return replace(filters, agent=(agents_phrase(filters.agent, me),)).describe()


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
