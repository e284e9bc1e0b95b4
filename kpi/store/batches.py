"""Import batches in the store: loading one atomically, and undoing one.

A batch upserts rows by (source, id). Rows it replaces are kept in ``<kind>_history`` so that
undoing the batch restores them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kpi.errors import UndoRefused
from kpi.store.connection import Store
from kpi.store.schema import key_field, stored_columns


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def next_batch_id(cur: duckdb.DuckDBPyConnection) -> int:
    return cur.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM imports").fetchall()[0][0]


def upsert(
    cur: duckdb.DuckDBPyConnection, kind: str, select: str, params: dict, batch_id: int
) -> UpsertCounts:
    """Insert new rows, replace changed ones (keeping the old version), leave the rest.

    ``select`` yields rows with the kind's stored columns; its values come in ``params``.
    """
    source_known = cur.execute(
        f"SELECT count(*) FROM (SELECT source FROM {kind} LIMIT 1)"
    ).fetchall()[0][0]
    if not source_known:
        # An empty table (the first import) needs no comparison: a plain insert is much faster.
        inserted = cur.execute(f"INSERT INTO {kind} {select}", params).fetchall()[0][0]
        return UpsertCounts(inserted=inserted)
    staged = f"staged_{kind}_{int(batch_id)}"
    cur.execute(f"CREATE TEMP TABLE {staged} AS {select}", params)
    try:
        return _merge(cur, kind, staged, batch_id)
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {staged}")


def _merge(cur: duckdb.DuckDBPyConnection, kind: str, staged: str, batch_id: int) -> UpsertCounts:
    key = key_field(kind)
    columns = [c for c in stored_columns(kind) if c != "batch_id"]
    differs = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in columns)
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE upsert_plan AS
        SELECT s.source, s.{key}, t.{key} IS NULL AS is_new,
               t.{key} IS NOT NULL AND ({differs}) AS is_changed
        FROM {staged} s LEFT JOIN {kind} t ON t.source = s.source AND t.{key} = s.{key}"""
    )
    all_columns = ", ".join(f"t.{c}" for c in stored_columns(kind))
    cur.execute(
        f"""INSERT INTO {kind}_history SELECT {all_columns}, {int(batch_id)}
        FROM {kind} t JOIN upsert_plan u ON t.source = u.source AND t.{key} = u.{key}
        WHERE u.is_changed"""
    )
    staged_columns = ", ".join(f"s.{c}" for c in stored_columns(kind))
    cur.execute(
        f"""INSERT OR REPLACE INTO {kind} SELECT {staged_columns}
        FROM {staged} s JOIN upsert_plan u ON s.source = u.source AND s.{key} = u.{key}
        WHERE u.is_new OR u.is_changed"""
    )
    new, changed, total = cur.execute(
        "SELECT count(*) FILTER (is_new), count(*) FILTER (is_changed), count(*) FROM upsert_plan"
    ).fetchall()[0]
    cur.execute("DROP TABLE upsert_plan")
    return UpsertCounts(new, changed, total - new - changed)


def undo(store: Store, batch_id: int) -> None:
    """Remove a batch's rows and restore the versions it replaced, in one transaction."""
    with store.transaction() as cur:
        _check_undoable(cur, batch_id)
        for kind in ("contacts", "responses"):
            columns = ", ".join(stored_columns(kind))
            cur.execute(f"DELETE FROM {kind} WHERE batch_id = ?", [batch_id])
            cur.execute(
                f"INSERT INTO {kind} SELECT {columns} FROM {kind}_history WHERE replaced_by = ?",
                [batch_id],
            )
            cur.execute(f"DELETE FROM {kind}_history WHERE replaced_by = ?", [batch_id])
        cur.execute("DELETE FROM quarantine WHERE batch_id = ?", [batch_id])
        cur.execute("DELETE FROM import_warnings WHERE batch_id = ?", [batch_id])
        cur.execute(
            "UPDATE imports SET undone_at = current_timestamp::TIMESTAMP WHERE batch_id = ?",
            [batch_id],
        )


def _check_undoable(cur: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    """Raise ``UndoRefused`` unless the batch exists, is not undone, and no later batch that is
    still imported depends on its rows."""
    found = cur.execute("SELECT undone_at FROM imports WHERE batch_id = ?", [batch_id]).fetchall()
    if not found:
        raise UndoRefused(f"there is no import batch {batch_id}.")
    if found[0][0] is not None:
        raise UndoRefused(f"batch {batch_id} was already undone.")
    for kind in ("contacts", "responses"):
        later = cur.execute(
            f"SELECT min(replaced_by) FROM {kind}_history WHERE batch_id = ?", [batch_id]
        ).fetchall()[0][0]
        if later is not None:
            raise UndoRefused(
                f"batch {later} updated rows that batch {batch_id} imported; "
                f"undo batch {later} first."
            )
    # Rows a later batch found unchanged still carry this batch's id, so undoing this one
    # would remove rows that the later batch (still imported) holds: undo in order.
    later = cur.execute(
        """SELECT min(l.batch_id) FROM imports l JOIN imports b ON l.source = b.source
           WHERE b.batch_id = ? AND l.batch_id > b.batch_id AND l.undone_at IS NULL
             AND l.rows_unchanged > 0""",
        [batch_id],
    ).fetchall()[0][0]
    if later is not None:
        raise UndoRefused(
            f"batch {later} was imported later from the same source and holds rows "
            f"unchanged since batch {batch_id}; undo batch {later} first."
        )
