"""Small real stores for the KPI tests: rows inserted as given, no importer in between."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from kpi.store.connection import Store, open_store

_ids = count(1)


def make_store(contacts=(), responses=()) -> Store:
    """A real in-memory store holding the given rows (dicts of column -> value)."""
    store = open_store(":memory:")
    for table, rows, key in (
        ("contacts", contacts, "contact_id"),
        ("responses", responses, "response_id"),
    ):
        for row in rows:
            row = {"source": "test", key: f"{key[0]}{next(_ids)}", **row}
            if table == "contacts":
                row.setdefault("opened_at", datetime(2025, 3, 3, 9))
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            store.con.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())
            )
    return store


def rows(store: Store, sql: str, params=()) -> list[tuple]:
    return store.cursor().execute(sql, list(params)).fetchall()
