"""The audit log: who did what to the store, and when, appended and never edited.

Imports, undos, settings changes, role changes, sign-offs and exports each add one entry, in
the same transaction as the change where there is one (so a change and its entry stand or fall
together). The product only ever appends to it: there is no function to change or delete an
entry. Admins read it on the Settings page and with ``kpi audit``.

Each entry names its actor twice: ``who``, the display name a reader recognises, and, in team
mode, ``identity``, the identity provider's ``issuer|subject`` that signed them in (names can
change or repeat; the identity cannot). Local mode has no verified identity: it stays empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from kpi.errors import printable
from kpi.store.connection import Store

ACTIONS = ("import", "undo", "settings", "role", "sign-off", "export", "annotation")
MAX_DETAIL = 500
MAX_IDENTITY = 500


@dataclass(frozen=True)
class Entry:
    entry_id: int
    at: datetime
    who: str
    action: str
    detail: str
    #: ``issuer|subject`` of the signed-in actor; empty when nobody was signed in.
    identity: str = ""


def record(
    cur: duckdb.DuckDBPyConnection,
    who: str,
    action: str,
    detail: str,
    *,
    identity: str | None = None,
) -> None:
    """Append one entry on ``cur`` (inside the caller's transaction, if it has one);
    ``identity`` is the signed-in actor's ``issuer|subject`` (None in local mode)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    # Lock-free numbering is safe: a store has one writer at a time (DuckDB), and the
    # primary key refuses a duplicate rather than overwrite.
    (next_id,) = cur.execute("SELECT coalesce(max(entry_id), 0) + 1 FROM audit_log").fetchall()[0]
    cur.execute(
        "INSERT INTO audit_log (entry_id, logged_at, who, action, detail, identity) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            next_id,
            datetime.now(UTC).replace(tzinfo=None),
            printable(who.strip() or "unknown")[:120],
            action,
            printable(" ".join(detail.split()))[:MAX_DETAIL],
            printable(identity.strip())[:MAX_IDENTITY] if identity and identity.strip() else None,
        ],
    )


def add(store: Store, who: str, action: str, detail: str, *, identity: str | None = None) -> None:
    """Append one entry in a transaction of its own (for changes made outside one)."""
    with store.transaction() as cur:
        record(cur, who, action, detail, identity=identity)


def entries(store: Store, limit: int | None = None) -> list[Entry]:
    """The log, newest first."""
    sql = (
        "SELECT entry_id, logged_at, who, action, detail, coalesce(identity, '') "
        "FROM audit_log ORDER BY entry_id DESC"
    )
    params: list[int] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    rows = store.cursor().execute(sql, params).fetchall()
    return [Entry(int(row[0]), *row[1:]) for row in rows]


def as_table(store: Store) -> pd.DataFrame:
    """The log as a table for a page or a download, newest first."""
    rows = [(e.entry_id, e.at, e.who, e.identity, e.action, e.detail) for e in entries(store)]
    columns = ["#", "When (UTC)", "Who", "Signed in as", "What", "Detail"]
    return pd.DataFrame(rows, columns=columns)
