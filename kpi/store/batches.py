"""Import batches in the store: loading one atomically, and undoing one.

A batch upserts rows by (source, id). A row only replaces the stored one when it is not older
(``recency_older``), and a column the export does not have keeps its stored value. Rows a batch
replaces are kept in ``<kind>_history`` so that undoing the batch restores them exactly; rows it
found older were never applied and need no history.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import duckdb

from kpi.errors import UndoRefused
from kpi.store.connection import Store
from kpi.store.schema import RECENCY_FIELDS, VERSION_FIELD, key_field, stored_columns


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Rows older than the stored ones, which were kept as stored.
    older: int = 0


def next_batch_id(cur: duckdb.DuckDBPyConnection) -> int:
    return cur.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM imports").fetchall()[0][0]


def upsert(
    cur: duckdb.DuckDBPyConnection,
    kind: str,
    select: str,
    params: dict,
    batch_id: int,
    supplied: Collection[str] | None = None,
) -> UpsertCounts:
    """Insert new rows, replace stored rows with newer versions (keeping the old version), and
    leave the rest.

    ``select`` yields rows with the kind's stored columns, in ``stored_columns`` order; its
    values come in ``params``. ``supplied`` names the stored columns the export has (default:
    all); a stored row keeps its value in every other column.
    """
    columns = list(stored_columns(kind))
    source_known = cur.execute(
        f"SELECT count(*) FROM (SELECT source FROM {kind} LIMIT 1)"
    ).fetchall()[0][0]
    if not source_known:
        # An empty table (the first import) needs no comparison: a plain insert is much faster.
        inserted = cur.execute(
            f"INSERT INTO {kind} ({', '.join(columns)}) {select}", params
        ).fetchall()[0][0]
        return UpsertCounts(inserted=inserted)
    staged = f"staged_{kind}_{int(batch_id)}"
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS {select}", params)
    given = set(columns if supplied is None else supplied) | {"source", key_field(kind)}
    counts = _merge(cur, kind, staged, batch_id, given)
    # Dropped only on success: on an error the caller rolls the transaction back, which removes
    # them too, and a DROP in an aborted transaction would hide the error that aborted it.
    cur.execute(f"DROP TABLE {staged}")
    cur.execute("DROP TABLE upsert_plan")
    return counts


def recency_older(kind: str, supplied: Collection[str]) -> str:
    """A condition over an incoming row ``s`` and its stored version ``t``: the incoming row is
    older, so it must not replace the stored one.

    The source's last-change time decides where both rows have it; otherwise each row's latest
    timestamp among those the export has (so both are judged on the same columns). Equal
    recency is not older: the same snapshot, corrected, still updates. Unknown recency (no
    timestamps) is not older either.
    """
    times = [f for f in RECENCY_FIELDS[kind] if f in supplied]
    if not times:
        by_times = "false"
    elif len(times) == 1:
        by_times = f"coalesce(s.{times[0]} < t.{times[0]}, false)"
    else:
        latest_s = ", ".join(f"s.{f}" for f in times)
        latest_t = ", ".join(f"t.{f}" for f in times)
        by_times = f"coalesce(greatest({latest_s}) < greatest({latest_t}), false)"
    version = VERSION_FIELD.get(kind)
    if version is None or version not in supplied:
        return by_times
    s_v, t_v = f"s.{version}", f"t.{version}"
    return (
        f"CASE WHEN {s_v} IS NOT NULL AND {t_v} IS NOT NULL THEN {s_v} < {t_v} ELSE {by_times} END"
    )


def _merge(
    cur: duckdb.DuckDBPyConnection, kind: str, staged: str, batch_id: int, supplied: set[str]
) -> UpsertCounts:
    key = key_field(kind)
    columns = list(stored_columns(kind))
    # The row as it would be stored: the export's value where it has the column, the stored
    # value elsewhere (a new row has none), and this batch's id.
    merged = ", ".join(
        f"{int(batch_id)} AS batch_id"
        if c == "batch_id"
        else (f"s.{c} AS {c}" if c in supplied else f"t.{c} AS {c}")
        for c in columns
    )
    compared = [c for c in columns if c in supplied and c != "batch_id"]
    differs = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in compared)
    older = recency_older(kind, supplied)
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE upsert_plan AS
        SELECT {merged}, t.{key} IS NULL AS is_new,
               t.{key} IS NOT NULL AND ({older}) AS is_older,
               t.{key} IS NOT NULL AND NOT ({older}) AND ({differs}) AS is_changed
        FROM {staged} s LEFT JOIN {kind} t ON t.source = s.source AND t.{key} = s.{key}"""
    )
    names = ", ".join(columns)
    stored = ", ".join(f"t.{c}" for c in columns)
    cur.execute(
        f"""INSERT INTO {kind}_history ({names}, replaced_by)
        SELECT {stored}, {int(batch_id)}
        FROM {kind} t JOIN upsert_plan u ON t.source = u.source AND t.{key} = u.{key}
        WHERE u.is_changed"""
    )
    cur.execute(
        f"""INSERT OR REPLACE INTO {kind} ({names})
        SELECT {names} FROM upsert_plan WHERE is_new OR is_changed"""
    )
    new, changed, old, total = cur.execute(
        """SELECT count(*) FILTER (is_new), count(*) FILTER (is_changed),
                  count(*) FILTER (is_older), count(*) FROM upsert_plan"""
    ).fetchall()[0]
    return UpsertCounts(new, changed, total - new - changed - old, old)


def undo(store: Store, batch_id: int) -> None:
    """Remove a batch's rows and restore the versions it replaced, in one transaction."""
    with store.transaction() as cur:
        _check_undoable(cur, batch_id)
        for kind in ("contacts", "responses"):
            columns = ", ".join(stored_columns(kind))
            cur.execute(f"DELETE FROM {kind} WHERE batch_id = ?", [batch_id])
            cur.execute(
                f"""INSERT INTO {kind} ({columns})
                SELECT {columns} FROM {kind}_history WHERE replaced_by = ?""",
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
    # would remove rows that the later batch (still imported) holds; and rows a later batch
    # kept out as older were judged against rows this one may have stored, so undoing this
    # one alone would not give the store the later batch would have made: undo in order.
    later = cur.execute(
        """SELECT min(l.batch_id) FILTER (l.rows_unchanged > 0),
                  min(l.batch_id) FILTER (coalesce(l.rows_older, 0) > 0)
           FROM imports l JOIN imports b ON l.source = b.source
           WHERE b.batch_id = ? AND l.batch_id > b.batch_id AND l.undone_at IS NULL""",
        [batch_id],
    ).fetchall()[0]
    unchanged, older = later
    if unchanged is not None and (older is None or unchanged <= older):
        raise UndoRefused(
            f"batch {unchanged} was imported later from the same source and holds rows "
            f"unchanged since batch {batch_id}; undo batch {unchanged} first."
        )
    if older is not None:
        raise UndoRefused(
            f"batch {older} was imported later from the same source and kept some of its rows "
            f"out as older than the stored ones; undo batch {older} first."
        )
