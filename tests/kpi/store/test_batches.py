"""Batches: a row only replaces a stored row when it is newer, a column an export lacks keeps its
stored values, and undo restores exactly. Rows go in through ``upsert`` itself, as the importer's
SELECT would give them, on a real store."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.store.batches import (
    KindUndo,
    UndoRefused,
    UpsertCounts,
    batch_as_of,
    next_batch_id,
    undo,
    undo_preview,
    upsert,
)
from kpi.store.connection import MIGRATIONS, SCHEMA_VERSION, Store, open_store
from kpi.store.schema import STATUSES, stored_columns
from tests.kpi.stores import rows

COLUMNS = stored_columns("contacts")
#: The stored columns of an export without an updated_at column.
UNDATED = set(COLUMNS) - {"updated_at"}
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
    batch recorded as the importer records it (the counts undo looks at, and its as-of). A
    column not in ``supplied`` is empty in the export, as the importer's SELECT gives it."""
    with store.transaction() as cur:
        batch = next_batch_id(cur)
        body = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
        cur.execute(f"CREATE TEMP TABLE incoming ({body})")
        given = set(COLUMNS if supplied is None else supplied) | {"source", "batch_id"}
        values = [
            [
                {**t, "source": source, "batch_id": batch}.get(c) if c in given else None
                for c in COLUMNS
            ]
            for t in tickets
        ]
        if values:
            marks = ", ".join("?" for _ in COLUMNS)
            cur.executemany(f"INSERT INTO incoming VALUES ({marks})", values)
        select = f"SELECT {', '.join(COLUMNS)} FROM incoming"
        as_of = batch_as_of(cur, "contacts", select, {})
        counts = upsert(cur, "contacts", select, {}, batch, supplied, as_of=as_of)
        cur.execute(
            """INSERT INTO imports (batch_id, source, kind, rows_inserted, rows_updated,
                   rows_unchanged, rows_older, as_of)
               VALUES (?, ?, 'contacts', ?, ?, ?, ?, ?)""",
            [batch, source, counts.inserted, counts.updated, counts.unchanged, counts.older, as_of],
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


def test_without_updated_at_on_both_rows_the_exports_latest_timestamps_decide(store):
    load(store, [ticket("T1", resolved_at=at(5), status="resolved", updated_at=at(5))])
    counts = load(store, [ticket("T1", status="open")])  # no updated_at; as of hour 0 < hour 5
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


def test_an_export_without_a_timestamp_column_is_as_of_the_timestamps_it_has(store):
    load(store, [ticket("T1", resolved_at=at(5), closed_at=at(40), status="closed")])
    supplied = set(COLUMNS) - {"closed_at"}
    # No closed_at column and nothing after hour 5: it may be from before the closing.
    counts = load(store, [ticket("T1", resolved_at=at(5), status="resolved")], supplied)
    assert counts == UpsertCounts(older=1)
    assert rows(store, "SELECT status, closed_at FROM contacts") == [("closed", at(40))]
    # The same export with a ticket opened after the closing is later: it updates what it has
    # and keeps the stored closed_at.
    later = [ticket("T1", resolved_at=at(5), status="resolved"), ticket("T2", opened_at=at(48))]
    assert load(store, later, supplied) == UpsertCounts(inserted=1, updated=1)
    assert rows(store, "SELECT contact_id, status, closed_at FROM contacts ORDER BY 1") == [
        ("T1", "resolved", at(40)),
        ("T2", None, None),
    ]


def test_an_export_without_updated_at_older_than_the_stored_one_changes_no_column(store):
    # The reviewer's case: T2's reassignment (Care -> Sales) and its status have no timestamp
    # of their own, so row by row nothing says this export is older; it is as of hour 0, the
    # stored rows' export as of hour 50.
    newer = [
        ticket("T1", resolved_at=at(50), status="resolved", team="Care", updated_at=at(50)),
        ticket("T2", status="pending", team="Care", updated_at=at(48)),
    ]
    load(store, newer)
    before = everything(store)
    older = [ticket("T1", status="open", team="Care"), ticket("T2", status="open", team="Sales")]
    assert load(store, older, UNDATED) == UpsertCounts(older=2)
    assert everything(store) == before  # updated_at and every other column as stored
    assert rows(store, "SELECT status, team, updated_at FROM contacts WHERE contact_id = 'T2'") == [
        ("pending", "Care", at(48))
    ]


def test_a_later_export_without_updated_at_applies_a_reopening(store):
    load(store, [ticket("T1", resolved_at=at(5), status="resolved", updated_at=at(5))])
    reopened = ticket("T1", status="open")
    # With nothing after hour 5 in it, a reopening cannot be told from a snapshot taken before
    # the resolution: kept as stored.
    assert load(store, [reopened], UNDATED) == UpsertCounts(older=1)
    # A later export (a ticket opened at hour 20) shows T1 reopened: it applies, and the stored
    # updated_at goes with the version it dated.
    assert load(store, [reopened, ticket("T2", opened_at=at(20))], UNDATED) == UpsertCounts(
        inserted=1, updated=1
    )
    assert rows(store, "SELECT status, resolved_at, updated_at FROM contacts ORDER BY 1") == [
        ("open", None, None),
        (None, None, None),
    ]
    # So an export as of hour 6 is older, though its updated_at is later than the one the
    # reopened row replaced.
    resolved = ticket("T1", resolved_at=at(5), status="resolved", updated_at=at(6))
    assert load(store, [resolved]) == UpsertCounts(older=1)
    assert rows(store, "SELECT status FROM contacts WHERE contact_id = 'T1'") == [("open",)]


def test_a_stored_row_whose_export_has_no_known_instant_is_never_older(store):
    load(store, [ticket("T1", resolved_at=at(5), status="resolved")])
    store.con.execute("UPDATE imports SET as_of = NULL")  # e.g. a batch with no timestamps
    assert load(store, [ticket("T1", status="open")]) == UpsertCounts(updated=1)
    assert rows(store, "SELECT status, resolved_at FROM contacts") == [("open", None)]


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
    first = [
        ticket("T1", team="Billing"),
        ticket("T2", resolved_at=at(3), team="Care", updated_at=at(3)),
    ]
    load(store, first)
    states.append(everything(store))
    # T1 updated (a later export), T2 older (by its updated_at).
    second = [ticket("T1", team="Billing", resolved_at=at(4)), ticket("T2", updated_at=at(1))]
    assert load(store, second) == UpsertCounts(updated=1, older=1)
    states.append(everything(store))
    assert load(
        store, [ticket("T1", resolved_at=at(4)), ticket("T3")], set(COLUMNS) - {"team"}
    ) == UpsertCounts(inserted=1, unchanged=1)
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


# --- the preview before an undo -------------------------------------------------------------------


def _history(store: Store) -> int:
    return rows(store, "SELECT count(*) FROM contacts_history")[0][0]


def test_the_undo_preview_counts_exactly_what_undo_then_removes_and_restores(store):
    load(store, [ticket("T1", team="Billing"), ticket("T2", team="Care")])
    # Batch 2 updates T1 (its earlier version goes to history), adds T3 and T4, leaves T2.
    load(store, [ticket("T1", team="Sales"), ticket("T2", team="Care"), ticket("T3"), ticket("T4")])
    preview = undo_preview(store, 2)
    assert preview.refused is None
    assert preview.kinds["contacts"] == KindUndo(removed=3, restored=1)
    assert preview.kinds["responses"] == KindUndo(removed=0, restored=0)
    before, history_before = store.count("contacts"), _history(store)
    undo(store, 2)
    # Removed: the batch's 3 rows left the table; restored: the 1 history row came back.
    assert before - store.count("contacts") == preview.kinds["contacts"].net == 2
    assert history_before - _history(store) == preview.kinds["contacts"].restored
    assert rows(store, "SELECT contact_id, team, batch_id FROM contacts ORDER BY 1") == [
        ("T1", "Billing", 1),
        ("T2", "Care", 1),
    ]


def test_the_preview_of_a_refused_undo_says_what_to_undo_first_and_changes_nothing(store):
    load(store, [ticket("T1", team="Billing")])
    load(store, [ticket("T1", team="Care")])
    before = everything(store)
    preview = undo_preview(store, 1)
    assert preview.refused == "batch 2 updated rows that batch 1 imported; undo batch 2 first."
    assert everything(store) == before
    assert undo_preview(store, 2).refused is None


def test_the_preview_of_an_undone_batch_says_it_was_already_undone(store):
    load(store, [ticket("T1")])
    undo(store, 1)
    preview = undo_preview(store, 1)
    assert preview.refused == "batch 1 was already undone."
    assert preview.kinds["contacts"] == KindUndo(removed=0, restored=0)


# --- order does not matter -----------------------------------------------------------------------

TEAMS = st.sampled_from(["Billing", "Care", None])
HOURS = st.integers(0, 400)


@st.composite
def versions(draw: st.DrawFn, contact_id: str) -> tuple[dict, dict]:
    """An older and a newer version of one ticket, or the same version twice. Either may have
    an updated_at; where both do, the newer one's is later (else the two are not ordered)."""
    opened = at(draw(st.integers(0, 100)))

    def version() -> dict:
        resolved = draw(st.none() | HOURS.map(lambda h: opened + timedelta(hours=h)))
        return {
            "contact_id": contact_id,
            "opened_at": opened,
            "resolved_at": resolved,
            "status": draw(st.sampled_from(STATUSES)),
            "team": draw(TEAMS),
            "updated_at": draw(st.none() | HOURS.map(at)),
        }

    old = version()
    if draw(st.booleans()):  # unchanged between the two snapshots
        return old, dict(old)
    new = version()
    if old["updated_at"] is not None and new["updated_at"] is not None:
        new["updated_at"] = max(new["updated_at"], old["updated_at"] + timedelta(hours=1))
    return old, new


@dataclass(frozen=True)
class Snapshots:
    """Two exports of the same tickets, the newer one as of a later instant, each with or
    without an updated_at column; ``pairs`` holds each ticket's version in the older export
    (or None) and in the newer one (or None)."""

    older: list[dict]
    newer: list[dict]
    older_dated: bool
    newer_dated: bool
    pairs: list[tuple[dict | None, dict | None]]

    def newest(self, newer_first: bool) -> list[dict]:
        """What the store should hold after importing both, in either order: each ticket's
        newer version, updated_at and all (empty where its export has no such column). The
        one difference between the orders: a newer export without updated_at that finds a
        row unchanged keeps the older export's updated_at (it still dates those values)."""
        out = []
        for old, new in self.pairs:
            if new is None:
                out.append(dated(old, self.older_dated))
                continue
            row = dated(new, self.newer_dated)
            if old is not None and not self.newer_dated and not newer_first:
                earlier = dated(old, self.older_dated)
                if {**earlier, "updated_at": None} == row:
                    row = earlier
            out.append(row)
        return out


def dated(ticket: dict, has_column: bool) -> dict:
    return ticket if has_column else {**ticket, "updated_at": None}


def latest_time(tickets: list[dict], has_updated_at: bool) -> datetime:
    names = (
        ("opened_at", "resolved_at", "updated_at")
        if has_updated_at
        else ("opened_at", "resolved_at")
    )
    return max(t[n] for t in tickets for n in names if t.get(n) is not None)


@st.composite
def two_snapshots(draw: st.DrawFn) -> Snapshots:
    older_dated, newer_dated = draw(st.booleans()), draw(st.booleans())
    older: list[dict] = []
    newer: list[dict] = []
    pairs: list[tuple[dict | None, dict | None]] = []
    for i in range(draw(st.integers(1, 6))):
        old, new = draw(versions(f"T{i}"))
        where = draw(st.sampled_from(["both", "older only", "newer only"]))
        if where == "older only":
            older.append(old)
            pairs.append((old, None))
            continue
        if where == "both":
            older.append(old)
        newer.append(new)
        pairs.append((old if where == "both" else None, new))
    if older and newer and latest_time(newer, newer_dated) <= latest_time(older, older_dated):
        # A ticket opened after everything in the older export, as a later export has.
        later = {
            "contact_id": "TN",
            "opened_at": latest_time(older, older_dated) + timedelta(hours=1),
        }
        newer.append(later)
        pairs.append((None, later))
    return Snapshots(older, newer, older_dated, newer_dated, pairs)


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
    n = next(EXAMPLES)
    s = snapshots
    older = (s.older, None if s.older_dated else UNDATED)
    newer = (s.newer, None if s.newer_dated else UNDATED)
    # Two sources: one imports the older snapshot then the newer, the other the reverse.
    for (one, two), source in (((older, newer), f"on{n}"), ((newer, older), f"no{n}")):
        load(shared_store, one[0], one[1], source=source)
        load(shared_store, two[0], two[1], source=source)
    assert stored(shared_store, f"on{n}") == as_stored(s.newest(newer_first=False))
    assert stored(shared_store, f"no{n}") == as_stored(s.newest(newer_first=True))


# --- the migration ------------------------------------------------------------------------------


def test_a_store_from_before_updated_at_gains_the_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    # A schema-2 store, made by the first two migrations (so that later ones all run on it):
    # migration 1 builds the canonical tables from schema.py as it is now, so updated_at goes.
    con = duckdb.connect(str(path))
    for migration in MIGRATIONS[:2]:
        migration(con)
    for table in ("contacts", "contacts_history"):
        con.execute(f"ALTER TABLE {table} DROP COLUMN updated_at")
    con.execute("INSERT INTO meta VALUES ('pseudonym_key', 'k'), ('schema_version', '2')")
    con.execute(
        "INSERT INTO contacts (source, contact_id, opened_at, team, batch_id) "
        "VALUES ('desk', 'T1', ?, 'Billing', 1)",
        [at(0)],
    )
    con.execute("INSERT INTO imports (batch_id, source, rows_unchanged) VALUES (1, 'desk', 0)")
    con.close()
    store = open_store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        assert rows(store, "SELECT contact_id, team, updated_at FROM contacts") == [
            ("T1", "Billing", None)
        ]
        # A batch from before as_of is as of the latest time of the rows it stored.
        assert rows(store, "SELECT rows_older, as_of FROM imports") == [(0, at(0))]
        # Rows are written by name, so the column's new position does not matter.
        counts = load(store, [ticket("T1", team="Care", updated_at=at(1))])
        assert counts.updated == 1
        assert rows(store, "SELECT team, updated_at FROM contacts") == [("Care", at(1))]
        undo(store, 2)
        assert rows(store, "SELECT team, updated_at FROM contacts") == [("Billing", None)]
    finally:
        store.close()
