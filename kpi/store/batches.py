"""Import batches in the store: loading one atomically, and undoing one (after a preview of
what the undo would change).

A batch upserts rows by (source, id). A row only replaces the stored one when it is not older
(``recency_older``: by ``updated_at`` where both rows have one, else by the as-of instant of the
exports they came from, ``batch_as_of``), and a column the export does not have keeps its stored
value. Rows a batch replaces are kept in ``<kind>_history`` so that undoing the batch restores
them exactly; rows it found older were never applied and need no history.
"""

from __future__ import annotations

import getpass
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import duckdb

from kpi.errors import UndoRefused, printable
from kpi.store import audit
from kpi.store.connection import Store
from kpi.store.schema import KINDS, VERSION_FIELD, fields_of, key_field, stored_columns

#: Who an import is recorded as made by when the operating system cannot say.
LOCAL_USER = "local user"


def importer_name(signed_in: str | None = None) -> str:
    """Who is making an import, as ``imports.imported_by`` records it: the one place that decides.

    Local mode has no sign-in, so it is the operating-system account running the program (not
    verified: anyone at this computer is "this person"). Team mode (issue 10) passes the
    signed-in user's name as ``signed_in``, which then wins.
    """
    if signed_in and signed_in.strip():
        return printable(signed_in.strip())
    try:
        name = getpass.getuser().strip()
    except (OSError, KeyError, ImportError):  # no login name, no passwd entry (containers)
        name = ""
    # Shown in listings and messages: a terminal escape in an account name stays inert.
    return printable(name) if name else LOCAL_USER


def record_importer(cur: duckdb.DuckDBPyConnection, batch_id: int, imported_by: str) -> None:
    """Record who made batch ``batch_id`` (``importer_name``)."""
    cur.execute("UPDATE imports SET imported_by = ? WHERE batch_id = ?", [imported_by, batch_id])


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Rows older than the stored ones, which were kept as stored.
    older: int = 0


def next_batch_id(cur: duckdb.DuckDBPyConnection) -> int:
    return cur.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM imports").fetchall()[0][0]


def batch_as_of(
    cur: duckdb.DuckDBPyConnection, kind: str, select: str, params: dict
) -> datetime | None:
    """The instant an export is as of: its latest timestamp, over every row ``select`` yields
    and every timestamp field (``updated_at`` too), or None when it has none.

    An export cannot show a time after it was taken, so this is the best evidence of when it
    was; ``upsert`` compares it with the as-of of the batch that wrote each stored row, and the
    importer records it with the batch (``imports.as_of``).
    """
    times = [f.name for f in fields_of(kind) if f.type == "timestamp"]
    latest = ", ".join(f"max({t})" for t in times)
    found = cur.execute(f"SELECT greatest({latest}) FROM ({select})", params).fetchall()
    return found[0][0]


def upsert(
    cur: duckdb.DuckDBPyConnection,
    kind: str,
    select: str,
    params: dict,
    batch_id: int,
    supplied: Collection[str] | None = None,
    *,
    as_of: datetime | None,
) -> UpsertCounts:
    """Insert new rows, replace stored rows with newer versions (keeping the old version), and
    leave the rest.

    ``select`` yields rows with the kind's stored columns, in ``stored_columns`` order; its
    values come in ``params``. ``supplied`` names the stored columns the export has (default:
    all); a stored row keeps its value in every other column. ``as_of`` is the export's as-of
    instant (``batch_as_of``), which the caller records as ``imports.as_of`` of ``batch_id``.
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
    counts = _merge(cur, kind, staged, batch_id, given, as_of)
    # Dropped only on success: on an error the caller rolls the transaction back, which removes
    # them too, and a DROP in an aborted transaction would hide the error that aborted it.
    cur.execute(f"DROP TABLE {staged}")
    cur.execute("DROP TABLE upsert_plan")
    return counts


def recency_older(kind: str, supplied: Collection[str]) -> str:
    """A condition over an incoming row ``s``, its stored version ``t`` and the imports record
    ``b`` of the batch that wrote ``t``, with the incoming export's as-of as ``$as_of``: the
    incoming row is older, so it must not replace the stored one (nor change any of its columns).

    Where both rows have the source's last-change time (``updated_at``), it decides. Otherwise
    the exports' as-of instants do (``batch_as_of``: each export's latest timestamp over all its
    rows and timestamp fields): a row's own timestamps cannot tell a reopened ticket from an
    older snapshot of it, nor a reassignment from its undoing, but an export is never taken
    before its latest timestamp. Equal recency is not older (the same snapshot, corrected, still
    updates), and neither is unknown recency: a missing time never counts as older.
    """
    by_as_of = "coalesce($as_of < b.as_of, false)"
    version = VERSION_FIELD.get(kind)
    if version is None or version not in supplied:
        return by_as_of
    s_v, t_v = f"s.{version}", f"t.{version}"
    return (
        f"CASE WHEN {s_v} IS NOT NULL AND {t_v} IS NOT NULL THEN {s_v} < {t_v} ELSE {by_as_of} END"
    )


def _merged_value(kind: str, column: str, batch_id: int, supplied: set[str]) -> str:
    """A stored column of the row as it would be stored: the export's value where it has the
    column, the stored value elsewhere (a new row has none), and this batch's id."""
    if column == "batch_id":
        return f"{int(batch_id)} AS batch_id"
    if column in supplied:
        return f"s.{column} AS {column}"
    if column == VERSION_FIELD.get(kind):
        # The last-change time dates the values it came with: a newer version from an export
        # without it has none, or a later older export would be judged against a stale time.
        return f"CAST(NULL AS TIMESTAMP) AS {column}"
    return f"t.{column} AS {column}"


def _merge(
    cur: duckdb.DuckDBPyConnection,
    kind: str,
    staged: str,
    batch_id: int,
    supplied: set[str],
    as_of: datetime | None,
) -> UpsertCounts:
    key = key_field(kind)
    columns = list(stored_columns(kind))
    merged = ", ".join(_merged_value(kind, c, batch_id, supplied) for c in columns)
    compared = [c for c in columns if c in supplied and c != "batch_id"]
    differs = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in compared)
    older = recency_older(kind, supplied)
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE upsert_plan AS
        SELECT {merged}, t.{key} IS NULL AS is_new,
               t.{key} IS NOT NULL AND ({older}) AS is_older,
               t.{key} IS NOT NULL AND NOT ({older}) AND ({differs}) AS is_changed
        FROM {staged} s LEFT JOIN {kind} t ON t.source = s.source AND t.{key} = s.{key}
        LEFT JOIN imports b ON b.batch_id = t.batch_id""",
        {"as_of": as_of},
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


@dataclass(frozen=True)
class KindUndo:
    """What undoing a batch does to one table: the rows the batch stored that go, and the
    earlier versions (kept in ``<kind>_history``) that come back in their place."""

    removed: int
    restored: int

    @property
    def net(self) -> int:
        """How many rows the table loses (removed rows that had an earlier version are replaced)."""
        return self.removed - self.restored


@dataclass(frozen=True)
class UndoPreview:
    """What ``undo`` would change, read before anything is done; ``refused`` is the one-line
    reason it would be refused (what to undo first), else None."""

    batch_id: int
    kinds: dict[str, KindUndo]
    quarantined: int
    warnings: int
    refused: str | None = None
    #: Who made the batch (``imports.imported_by``); None for imports made before it was kept.
    imported_by: str | None = None

    def heading(self) -> str:
        """ "Undoing batch 3 (imported by alice) changes the store as follows:"."""
        by = f" (imported by {self.imported_by})" if self.imported_by else ""
        return f"Undoing batch {self.batch_id}{by} changes the store as follows:"

    def lines(self) -> list[str]:
        """What will change, one line per table it touches, e.g. "contacts: 120 rows this batch
        stored are removed and 30 earlier versions they replaced are restored (90 fewer rows)"."""
        out = []
        for kind, change in self.kinds.items():
            if change.removed or change.restored:
                out.append(
                    f"{kind}: {_rows(change.removed)} this batch stored removed, "
                    f"{_rows(change.restored, 'earlier version')} they replaced restored "
                    f"({_rows(change.net)} fewer in the store)"
                )
        if self.quarantined or self.warnings:
            out.append(
                f"its import record: {_rows(self.quarantined, 'quarantined row')} and "
                f"{_rows(self.warnings, 'warning')} cleared"
            )
        return out or ["nothing: the batch stored no rows"]


def _rows(count: int, noun: str = "row") -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def undo_preview(store: Store, batch_id: int) -> UndoPreview:
    """The rows ``undo(store, batch_id)`` would remove and restore per table, counted with the
    same conditions ``undo`` deletes and inserts by, so the preview is what undo then does."""
    cur = store.cursor()
    refused = None
    try:
        _check_undoable(cur, batch_id)
    except UndoRefused as reason:
        refused = str(reason)
    kinds = {
        kind: KindUndo(
            removed=_count(cur, f"SELECT count(*) FROM {kind} WHERE batch_id = ?", batch_id),
            restored=_count(
                cur, f"SELECT count(*) FROM {kind}_history WHERE replaced_by = ?", batch_id
            ),
        )
        for kind in KINDS
    }
    return UndoPreview(
        batch_id=batch_id,
        kinds=kinds,
        quarantined=_count(cur, "SELECT count(*) FROM quarantine WHERE batch_id = ?", batch_id),
        warnings=_count(cur, "SELECT count(*) FROM import_warnings WHERE batch_id = ?", batch_id),
        refused=refused,
        imported_by=_imported_by(cur, batch_id),
    )


def _imported_by(cur: duckdb.DuckDBPyConnection, batch_id: int) -> str | None:
    found = cur.execute("SELECT imported_by FROM imports WHERE batch_id = ?", [batch_id]).fetchall()
    return found[0][0] if found else None


def _count(cur: duckdb.DuckDBPyConnection, sql: str, batch_id: int) -> int:
    return int(cur.execute(sql, [batch_id]).fetchall()[0][0])


def undo(
    store: Store, batch_id: int, by: str | None = None, *, identity: str | None = None
) -> None:
    """Remove a batch's rows and restore the versions it replaced, in one transaction, with
    an entry in the audit log for ``importer_name(by)`` (and ``identity``, the signed-in
    person's ``issuer|subject``, in team mode)."""
    with store.transaction() as cur:
        _check_undoable(cur, batch_id)
        (file_name,) = cur.execute(
            "SELECT file_name FROM imports WHERE batch_id = ?", [batch_id]
        ).fetchall()[0]
        detail = f"batch {batch_id} ({file_name})"
        audit.record(cur, importer_name(by), "undo", detail, identity=identity)
        for kind in KINDS:
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
        forget_kept_rows(cur)


def forget_kept_rows(cur: duckdb.DuckDBPyConnection, *, prune: bool = True) -> None:
    """In the transaction that changes the contacts, mark the engine's kept copy of them with
    their business-hours readings (``business_times``, ``kpi.store.schema.DERIVED_TABLES``)
    stale, so the next report that needs it builds it anew; with ``prune``, also remove its
    rows that are no longer a current contact as stored (an undone batch's, or one a working
    copy's catch-up took away).

    The copy holds each contact's whole row, subject and description included, and a row
    undone must not outlive the undo there, as it would in a store that no business-hours
    report reads again. Pruned, not emptied: a report already running in this process (another
    session's page) reads the table as it is after this commits, and all its current rows are
    still there. An import needs no pruning: the rows it replaces stay in ``*_history``."""
    cur.execute("DELETE FROM derived_tables WHERE name = 'business_times'")
    if not prune:
        return
    if not _holds_rows(cur):  # as migration 5 made it: never built here, holds nothing
        cur.execute("DELETE FROM business_times")
        return
    cur.execute(
        """DELETE FROM business_times AS k WHERE NOT EXISTS (SELECT 1 FROM contacts AS c
        WHERE c.source = k.source AND c.contact_id = k.contact_id
            AND c.batch_id IS NOT DISTINCT FROM k.batch_id)"""
    )


def _holds_rows(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``business_times`` was built with whole rows (it has the contacts' batch_id)."""
    found = cur.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'business_times' AND column_name = 'batch_id'"
    ).fetchall()
    return bool(found[0][0])


def _check_undoable(cur: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    """Raise ``UndoRefused`` unless the batch exists, is not undone, and no later batch that is
    still imported depends on its rows."""
    found = cur.execute("SELECT undone_at FROM imports WHERE batch_id = ?", [batch_id]).fetchall()
    if not found:
        raise UndoRefused(f"there is no import batch {batch_id}.")
    if found[0][0] is not None:
        raise UndoRefused(f"batch {batch_id} was already undone.")
    for kind in KINDS:
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
