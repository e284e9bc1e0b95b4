"""Reading back what an import set aside: quarantined rows and data-quality warnings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from kpi.store.connection import Store


def quarantined_rows(store: Store, batch_id: int | None = None) -> pd.DataFrame:
    """Quarantined rows (newest batch first) with file name, row, reason and the raw row."""
    where, params = ("WHERE q.batch_id = ?", [batch_id]) if batch_id is not None else ("", [])
    return (
        store.cursor()
        .execute(
            f"""SELECT q.batch_id, i.file_name, q.row_number AS row, q.reason,
                   q.column_name AS field, q.value, q.raw
            FROM quarantine q JOIN imports i USING (batch_id) {where}
            ORDER BY q.batch_id DESC, q.row_number""",
            params,
        )
        .df()
    )


def warnings(store: Store, batch_id: int | None = None) -> pd.DataFrame:
    """Values that were emptied at import, with the reason."""
    where, params = ("WHERE w.batch_id = ?", [batch_id]) if batch_id is not None else ("", [])
    return (
        store.cursor()
        .execute(
            f"""SELECT w.batch_id, i.file_name, w.row_number AS row, w.column_name AS field,
                   w.value, w.issue
            FROM import_warnings w JOIN imports i USING (batch_id) {where}
            ORDER BY w.batch_id DESC, w.row_number""",
            params,
        )
        .df()
    )


def imports_table(store: Store) -> pd.DataFrame:
    """Every import batch, newest first: which file, when and by whom
    (``batches.importer_name``) first, where a wide table is read without scrolling, then its
    layout and counts, and when it was undone."""
    return (
        store.cursor()
        .execute(
            """SELECT batch_id, file_name, imported_at,
                  -- the header people read (kpi.engine.tables.header keeps a word as it
                  -- is); imports made before migration 4 have no name
                  coalesce(imported_by, 'not recorded') AS "By",
                  layout, kind, rows_read, rows_imported,
                  rows_quarantined, rows_inserted, rows_updated, rows_unchanged,
                  coalesce(rows_older, 0) AS rows_older, rows_rolled_up, responses_linked,
                  warnings, undone_at
           FROM imports ORDER BY batch_id DESC"""
        )
        .df()
    )


@dataclass(frozen=True)
class BatchChoice:
    """One import batch as an undo picker names it."""

    batch_id: int
    label: str
    undone: bool


def batch_choices(store: Store) -> list[BatchChoice]:
    """Every batch, newest first, named by its file, layout, rows and time, so that a person
    picks the batch they mean rather than a bare number. Undone batches are marked."""
    found = (
        store.cursor()
        .execute(
            """SELECT batch_id, file_name, layout, rows_read, rows_imported, imported_at,
                  imported_by, undone_at
           FROM imports ORDER BY batch_id DESC"""
        )
        .fetchall()
    )
    return [
        BatchChoice(int(batch), _label(batch, *rest), undone is not None)
        for batch, *rest, undone in found
    ]


def _label(
    batch: int,
    file_name: str | None,
    layout: str | None,
    rows_read: int | None,
    rows_imported: int | None,
    imported_at: datetime | None,
    imported_by: str | None,
) -> str:
    """ "Batch 3: tickets.csv (layout zendesk), 120 of 125 rows imported, 12 Nov 2026 10:04 UTC
    by alice" (no "by" for imports made before the store kept who made them)."""
    when = f"{imported_at.day} {imported_at:%b %Y %H:%M} UTC" if imported_at else "time unknown"
    rows = f"{rows_imported or 0:,} of {rows_read or 0:,} rows imported"
    by = f" by {imported_by}" if imported_by else ""
    return (
        # A layout's name in words, as the imports table shows it ("generic contacts").
        f"Batch {batch}: {file_name or 'unnamed file'} "
        f"(layout {(layout or 'unknown').replace('_', ' ')}), "
        f"{rows}, {when}{by}"
    )
