"""Dated notes a team adds to its trend charts ("new refund process from 3 March").

Kept in the store's ``annotations`` table. Values reach DuckDB only as parameters; the text is
shown as plain text wherever it appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from kpi.errors import InvalidChoice
from kpi.store.connection import Store

MAX_TEXT = 200


@dataclass(frozen=True)
class Annotation:
    annotation_id: int
    on_date: date
    text: str


def add(store: Store, on_date: date, text: str) -> Annotation:
    """Store a note for a day; the text is trimmed and must not be empty."""
    text = " ".join(text.split())
    if not text:
        raise InvalidChoice("an annotation needs some text")
    if len(text) > MAX_TEXT:
        raise InvalidChoice(f"keep an annotation under {MAX_TEXT} characters")
    with store.transaction() as cur:
        next_id = cur.execute(
            "SELECT coalesce(max(annotation_id), 0) + 1 FROM annotations"
        ).fetchall()[0][0]
        created = datetime.now(UTC).replace(tzinfo=None)
        cur.execute(
            "INSERT INTO annotations VALUES (?, ?, ?, ?)", [next_id, on_date, text, created]
        )
    return Annotation(int(next_id), on_date, text)


def all_annotations(store: Store) -> list[Annotation]:
    rows = (
        store.cursor()
        .execute(
            "SELECT annotation_id, on_date, text FROM annotations ORDER BY on_date, annotation_id"
        )
        .fetchall()
    )
    return [Annotation(int(i), d, t) for i, d, t in rows]


def between(store: Store, start: date | None, end: date | None) -> list[Annotation]:
    """The notes dated inside [start, end] (either end open when None)."""
    return [
        a
        for a in all_annotations(store)
        if (start is None or a.on_date >= start) and (end is None or a.on_date <= end)
    ]


def delete(store: Store, annotation_id: int) -> None:
    with store.transaction() as cur:
        cur.execute("DELETE FROM annotations WHERE annotation_id = ?", [annotation_id])
