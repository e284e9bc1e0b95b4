"""Batches: a row only replaces a stored row when it is newer, a column an export lacks keeps its
stored values, and undo restores exactly. Rows go in through ``upsert`` itself, as the importer's
SELECT would give them, on a real store."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.store.batches import UndoRefused, UpsertCounts, next_batch_id, undo, upsert
from kpi.store.connection import SCHEMA_VERSION, Store, open_store
from kpi.store.schema import STATUSES, stored_columns
from tests.kpi.stores import rows

COLUMNS = stored_columns("contacts")
MONDAY = datetime(2025, 3, 3, 9)


def at(hours: float) -> datetime:
    return MONDAY + timedelta(hours=hours)


def load(
    store: Store,
    tickets: list[dict],
    supplied: Collection[str] | None = None,
    source: str = "desk",
) -> UpsertCounts:
    """``tickets`` (stored column -> value) upserted as the next batch of ``source``, and the
    batch recorded as the importer records it (the counts undo looks at)."""
    with store.transaction() as cur:
        batch = next_batch_id(cur)
        body = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
        cur.execute(f"CREATE TEMP TABLE incoming ({body})")
        values = [
            [{**t, "source": source, "batch_id": batch}.get(c) for c in COLUMNS] for t in tickets
        ]
        if values:
            marks = ", ".join("?" for _ in COLUMNS)
            cur.executemany(f"INSERT INTO incoming VALUES ({marks})", values)
        select = f"SELECT {', '.join(COLUMNS)} FROM incoming"
        counts = upsert(cur, "contacts", select, {}, batch, supplied)
        cur.execute(
            """INSERT INTO imports (batch_id, source, kind, rows_inserted, rows_updated,
                   rows_unchanged, rows_older)
               VALUES (?, ?, 'contacts', ?, ?, ?, ?)""",
            [batch, source, counts.inserted, counts.updated, counts.unchanged, counts.older],
        )
        cur.execute("DROP TABLE incoming")
    return counts


def stored(store: Store, source: str = "desk") -> list[tuple]:
    """Every stored contact of ``source`` but its batch: what a re-import may change."""
    names = ", ".join(c for c in COLUMNS if c not in ("batch_id", "source"))
    return rows(
        store, f"SELECT {names} FROM contacts WHERE source = ? ORDER BY contact_id", [source]
    )


def everything(store: Store) -> list[list[tuple]]:
    return [
        rows(store, f"SELECT * FROM {table} ORDER BY ALL")
        for table in ("contacts", "contacts_history")
    ]


def ticket(contact_id: str, **values) -> dict:
    return {"contact_id": contact_id, "opened_at": at(0), **values}


@pytest.fixture
def store():
    opened = open_store(":memory:")
    yield opened
    opened.close()


# --- newer, older, equal ---------------------------------------------------------------------


def test_an_older_snapshot_after_a_newer_one_is_kept_out_and_counted(store):
    newer = [
        ticket("T1", resolved_at=at(5), status="resolved", team="Billing"),
        ticket("T2", resolved_at=at(7), closed_at=at(30), status="closed", team="Care"),
    ]
    older = [
        ticket("T1", status="open", team="Billing"),
        ticket("T2", resolved_at=at(7), status="resolved", team="Care"),
    ]
    load(store, newer)
    before = everything(store)
    counts = load(store, older)
    assert counts == UpsertCounts(inserted=0, updated=0, unchanged=0, older=2)
    assert everything(store) == before  # no row replaced, no history written
    assert rows(store, "SELECT contact_id, status, batch_id FROM contacts ORDER BY 1") == [
        ("T1", "resolved", 1),
        ("T2", "closed", 1),
    ]


def test_the_sources_last_change_time_decides_where_both_rows_have_it(store):
    # Reopened: the newer version has no resolution, so its own timestamps look older; the
    # source's updated_at says which is newer.
    load(store, [ticket("T1", resolved_at=at(5), status="resolved", updated_at=at(5))])
    counts = load(store, [ticket("T1", status="open", updated_at=at(9))])
    assert (counts.updated, counts.older) == (1, 0)
    assert rows(store, "SELECT status, resolved_at FROM contacts") == [("open", None)]
    # And an export whose updated_at is earlier is older, whatever its timestamps say.
    counts = load(store, [ticket("T1", closed_at=at(50), status="closed", updated_at=at(8))])
    assert counts.older == 1
    assert rows(store, "SELECT status FROM contacts") == [("open",)]


def test_without_updated_at_on_both_rows_the_latest_timestamp_decides(store):
    load(store, [ticket("T1", resolved_at=at(5), status="resolved", updated_at=at(5))])
    counts = load(store, [ticket("T1", status="open")])  # no updated_at: opened_at < resolved_at
    assert counts.older == 1
    counts = load(store, [ticket("T1", closed_at=at(6), status="closed")])
    assert counts.updated == 1
    assert rows(store, "SELECT status, closed_at, updated_at FROM contacts") == [
        ("closed", at(6), None)
    ]


def test_the_same_snapshot_corrected_still_updates_and_the_same_values_are_unchanged(store):
    load(store, [ticket("T1", resolved_at=at(5), team="Billing")])
    assert load(store, [ticket("T1", resolved_at=at(5), team="Billing")]).unchanged == 1
    counts = load(store, [ticket("T1", resolved_at=at(5), team="Care")])  # equal recency
    assert counts == UpsertCounts(updated=1)
    assert rows(store, "SELECT team FROM contacts") == [("Care",)]


def test_recency_is_judged_on_the_timestamps_the_export_has(store):
    load(store, [ticket("T1", resolved_at=at(5), closed_at=at(40), status="closed")])
    # An export without a closed_at column, same resolution: not older, so it updates what it
    # has and keeps the stored closed_at.
    supplied = set(COLUMNS) - {"closed_at"}
    counts = load(store, [ticket("T1", resolved_at=at(5), status="resolved")], supplied)
    assert counts.updated == 1
    assert rows(store, "SELECT status, closed_at FROM contacts") == [("resolved", at(40))]


# --- a column the export does not have ---------------------------------------------------------


def test_a_column_the_export_lacks_keeps_its_stored_values(store):
    load(store, [ticket("T1", team="Billing", agent="Asha"), ticket("T2", team="Care")])
    supplied = set(COLUMNS) - {"team"}
    counts = load(store, [ticket("T1", agent="Ben"), ticket("T2"), ticket("T3")], supplied)
    assert counts == UpsertCounts(inserted=1, updated=1, unchanged=1)
    assert rows(store, "SELECT contact_id, team, agent FROM contacts ORDER BY 1") == [
        ("T1", "Billing", "Ben"),
        ("T2", "Care", None),
        ("T3", None, None),
    ]


def test_an_export_with_the_column_but_an_empty_cell_does_empty_it(store):
    load(store, [ticket("T1", team="Billing")])
    assert load(store, [ticket("T1", team=None)]).updated == 1
    assert rows(store, "SELECT team FROM contacts") == [(None,)]


# --- undo ------------------------------------------------------------------------------------------


def test_undoing_each_batch_in_turn_restores_each_earlier_state_exactly(store):
    states = [everything(store)]
    load(store, [ticket("T1", team="Billing"), ticket("T2", resolved_at=at(3), team="Care")])
    states.append(everything(store))
    load(store, [ticket("T1", team="Billing", resolved_at=at(2)), ticket("T2")])  # T2 older
    states.append(everything(store))
    load(store, [ticket("T1", resolved_at=at(2)), ticket("T3")], set(COLUMNS) - {"team"})
    states.append(everything(store))
    for batch in (3, 2, 1):
        undo(store, batch)
        states.pop()
        assert everything(store) == states[-1]
    assert store.count("contacts") == 0


def test_a_batch_whose_rows_a_later_batch_found_older_is_undone_after_that_batch(store):
    load(store, [ticket("T1", resolved_at=at(5))])
    load(store, [ticket("T1")])  # older: kept out
    with pytest.raises(UndoRefused, match="kept some of its rows out as older.*undo batch 2 first"):
        undo(store, 1)
    undo(store, 2)
    undo(store, 1)
    assert store.count("contacts") == 0


# --- order does not matter -----------------------------------------------------------------------

TEAMS = st.sampled_from(["Billing", "Care", None])
HOURS = st.integers(0, 400)


@st.composite
def versions(draw: st.DrawFn, contact_id: str) -> tuple[dict, dict]:
    """An older and a newer version of one ticket (or the same version twice) that the rule
    can tell apart: by updated_at on both, or by the newer one's latest timestamp."""
    opened = at(draw(st.integers(0, 100)))

    def version() -> dict:
        resolved = draw(st.none() | HOURS.map(lambda h: opened + timedelta(hours=h)))
        return {
            "contact_id": contact_id,
            "opened_at": opened,
            "resolved_at": resolved,
            "status": draw(st.sampled_from(STATUSES)),
            "team": draw(TEAMS),
        }

    old, new = version(), version()
    mode = draw(st.sampled_from(["same", "updated_at", "timestamps"]))
    if mode == "same":
        return old, dict(old)
    if mode == "updated_at":
        old["updated_at"] = at(draw(HOURS))
        new["updated_at"] = old["updated_at"] + timedelta(hours=draw(st.integers(1, 50)))
        return old, new
    latest = max(t for t in (old["opened_at"], old["resolved_at"]) if t is not None)
    new["closed_at"] = latest + timedelta(hours=draw(st.integers(1, 50)))
    one = draw(st.sampled_from(["neither", "old", "new"]))
    if one != "neither":  # updated_at on one side only: the timestamps still decide
        (old if one == "old" else new)["updated_at"] = at(draw(HOURS))
    return old, new


@st.composite
def two_snapshots(draw: st.DrawFn) -> tuple[list[dict], list[dict], list[dict]]:
    """Two exports of the same tickets taken at different times, in no particular order, and
    the newest version of every ticket."""
    first, second, newest = [], [], []
    for i in range(draw(st.integers(1, 6))):
        old, new = draw(versions(f"T{i}"))
        where = draw(st.sampled_from(["old first", "new first", "first only", "second only"]))
        if where == "old first":
            first.append(old)
            second.append(new)
        elif where == "new first":
            first.append(new)
            second.append(old)
        else:
            (first if where == "first only" else second).append(new)
        newest.append(new)
    return first, second, newest


def as_stored(tickets: list[dict]) -> list[tuple]:
    names = [c for c in COLUMNS if c not in ("batch_id", "source")]
    return sorted(tuple(t.get(c) for c in names) for t in tickets)


@pytest.fixture(scope="module")
def shared_store():
    """One store for every example; each example uses sources of its own."""
    opened = open_store(":memory:")
    yield opened
    opened.close()


EXAMPLES = count()


@settings(max_examples=50, deadline=None)
@given(snapshots=two_snapshots())
def test_importing_two_snapshots_in_either_order_ends_with_the_same_newest_rows(
    shared_store, snapshots
):
    first, second, newest = snapshots
    n = next(EXAMPLES)
    # Two sources: one imports the first snapshot then the second, the other the reverse.
    for one, two, source in ((first, second, f"ab{n}"), (second, first, f"ba{n}")):
        load(shared_store, one, source=source)
        load(shared_store, two, source=source)
    assert stored(shared_store, f"ab{n}") == stored(shared_store, f"ba{n}") == as_stored(newest)


# --- the migration ------------------------------------------------------------------------------


def test_a_store_from_before_updated_at_gains_the_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    store = open_store(path)
    # Make it a schema-2 store: no updated_at, no rows_older.
    for table in ("contacts", "contacts_history"):
        store.con.execute(f"ALTER TABLE {table} DROP COLUMN updated_at")
    store.con.execute("ALTER TABLE imports DROP COLUMN rows_older")
    store.con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    store.con.execute(
        "INSERT INTO contacts (source, contact_id, opened_at, team, batch_id) "
        "VALUES ('desk', 'T1', ?, 'Billing', 1)",
        [at(0)],
    )
    store.con.execute(
        "INSERT INTO imports (batch_id, source, rows_unchanged) VALUES (1, 'desk', 0)"
    )
    store.close()
    store = open_store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        assert rows(store, "SELECT contact_id, team, updated_at FROM contacts") == [
            ("T1", "Billing", None)
        ]
        assert rows(store, "SELECT rows_older FROM imports") == [(0,)]
        # Rows are written by name, so the column's new position does not matter.
        counts = load(store, [ticket("T1", team="Care", updated_at=at(1))])
        assert counts.updated == 1
        assert rows(store, "SELECT team, updated_at FROM contacts") == [("Care", at(1))]
        undo(store, 2)
        assert rows(store, "SELECT team, updated_at FROM contacts") == [("Billing", None)]
    finally:
        store.close()
