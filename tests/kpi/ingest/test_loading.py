"""Loading a batch: re-imports never undo newer data, what the quarantine and warnings keep is
never personal, and a failure says its real cause. Real files, a real store."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from kpi.cli.main import main
from kpi.errors import ImportProblem
from kpi.ingest.importer import import_file
from kpi.ingest.outcome import describe_import
from kpi.store.batches import undo
from kpi.store.connection import Store, open_store
from kpi.store.quarantine import imports_table
from tests.kpi.ingest.test_importer import store_text
from tests.kpi.stores import rows
from tests.paths import BAD_INPUTS, SAMPLE_DATA

NEWER = BAD_INPUTS / "reimport_newer_snapshot.csv"
OLDER = BAD_INPUTS / "reimport_older_snapshot.csv"
WITHOUT_TEAM = BAD_INPUTS / "reimport_without_team_column.csv"
OLDER_UNDATED = BAD_INPUTS / "reimport_older_without_updated_at.csv"
REOPENED_UNDATED = BAD_INPUTS / "reimport_reopened_without_updated_at.csv"
WRONG_COLUMNS = BAD_INPUTS / "personal_data_in_wrong_columns.csv"


def tickets(store: Store) -> list[tuple]:
    return rows(
        store,
        "SELECT contact_id, status, team, agent, resolved_at IS NOT NULL, batch_id "
        "FROM contacts ORDER BY contact_id",
    )


# --- re-imports -----------------------------------------------------------------------------------


def test_an_older_export_after_a_newer_one_keeps_the_newer_rows_and_counts_them(store):
    newer = import_file(store, NEWER)
    kept = tickets(store)
    older = import_file(store, OLDER)
    assert tickets(store) == kept  # T1 stays resolved, T2 closed, T3 in Care
    assert (older.inserted, older.updated, older.unchanged, older.older) == (0, 0, 0, 3)
    assert older.rows_read == older.rows_imported == 3  # counted as imported, kept as stored
    said = "  contacts: 0 new, 0 updated, 0 unchanged; 3 older than the stored rows, kept as stored"
    assert said in describe_import(older)
    assert rows(store, "SELECT count(*) FROM contacts_history") == [(0,)]
    recorded = imports_table(store).set_index("batch_id")["rows_older"].to_dict()
    assert recorded == {newer.batch_id: 0, older.batch_id: 3}


def test_the_two_snapshots_in_either_order_end_with_the_same_stored_rows(store):
    import_file(store, OLDER)
    newer = import_file(store, NEWER)
    assert (newer.updated, newer.older) == (3, 0)
    assert [(t[0], t[1], t[2]) for t in tickets(store)] == [
        ("T1", "resolved", "Billing"),
        ("T2", "closed", "Care"),
        ("T3", "open", "Care"),  # reassigned: only updated_at says it is newer
    ]
    other = open_store(":memory:")
    try:
        import_file(other, NEWER)
        import_file(other, OLDER)
        every = "SELECT * EXCLUDE (batch_id) FROM contacts ORDER BY contact_id"
        assert rows(other, every) == rows(store, every)
    finally:
        other.close()


def test_an_export_without_the_team_column_leaves_team_as_stored(store):
    import_file(store, NEWER)
    later = import_file(store, WITHOUT_TEAM)
    assert (later.inserted, later.updated, later.unchanged, later.older) == (0, 2, 1, 0)
    assert [(t[0], t[1], t[2]) for t in tickets(store)] == [
        ("T1", "closed", "Billing"),
        ("T2", "closed", "Care"),
        ("T3", "resolved", "Care"),
    ]


def test_an_older_export_without_updated_at_after_a_newer_one_with_it_changes_nothing(store):
    # T3's reassignment back to Billing has no timestamp of its own: row by row, nothing says
    # it is older. The export is as of Tuesday 14:05, the stored rows' export of Thursday.
    import_file(store, NEWER)
    before = store_text(store).split("# imports")[0]
    older = import_file(store, OLDER_UNDATED)
    said = "  contacts: 0 new, 0 updated, 0 unchanged; 3 older than the stored rows, kept as stored"
    assert said in describe_import(older)
    assert store_text(store).split("# imports")[0] == before  # not one column changed
    assert rows(store, "SELECT contact_id, status, team, updated_at FROM contacts ORDER BY 1") == [
        ("T1", "resolved", "Billing", datetime(2025, 3, 3, 15)),
        ("T2", "closed", "Care", datetime(2025, 3, 6, 9)),
        ("T3", "open", "Care", datetime(2025, 3, 5, 11)),
    ]


def test_a_later_export_without_updated_at_reopens_a_ticket_it_shows_reopened(store):
    # T1's own timestamps (opened, no resolution) look older than the stored resolution; the
    # export is as of Friday 12:00 (T3 resolved), later than the stored one (Thursday 09:00).
    import_file(store, NEWER)
    later = import_file(store, REOPENED_UNDATED)
    assert "  contacts: 0 new, 2 updated, 1 unchanged" in describe_import(later)
    assert rows(
        store,
        "SELECT contact_id, status, resolved_at, team, agent, updated_at FROM contacts ORDER BY 1",
    ) == [
        # The stored updated_at dated the version T1 replaced, so it goes with it.
        ("T1", "open", None, "Billing", "Asha", None),
        ("T2", "closed", datetime(2025, 3, 4, 9), "Care", "Ben", datetime(2025, 3, 6, 9)),
        ("T3", "resolved", datetime(2025, 3, 7, 12), "Care", "Cara", None),
    ]
    # And the Tuesday snapshot (with updated_at) is older than the reopened T1 all the same.
    older = import_file(store, OLDER)
    assert (older.updated, older.unchanged, older.older) == (0, 0, 3)
    assert rows(store, "SELECT status FROM contacts WHERE contact_id = 'T1'") == [("open",)]


def test_each_import_records_the_instant_its_export_is_as_of(store):
    for export in (NEWER, OLDER_UNDATED, REOPENED_UNDATED):
        import_file(store, export)
    assert rows(store, "SELECT file_name, as_of FROM imports ORDER BY batch_id") == [
        ("reimport_newer_snapshot.csv", datetime(2025, 3, 6, 9)),
        ("reimport_older_without_updated_at.csv", datetime(2025, 3, 4, 14, 5)),
        ("reimport_reopened_without_updated_at.csv", datetime(2025, 3, 7, 12)),
    ]


def test_undoing_each_reimport_in_turn_restores_the_store_exactly(store):
    def data() -> str:
        return store_text(store).split("# imports")[0]  # every data table, before the batches

    states = [data()]
    batches = []
    for export in (NEWER, OLDER, WITHOUT_TEAM, OLDER_UNDATED, REOPENED_UNDATED):
        batches.append(import_file(store, export).batch_id)
        states.append(data())
    for batch in reversed(batches):
        undo(store, batch)
        states.pop()
        assert data() == states[-1]
    assert store.count("contacts") == 0


def test_the_same_older_export_again_is_already_imported_with_its_older_count(store):
    import_file(store, NEWER)
    first = import_file(store, OLDER)
    again = import_file(store, OLDER)
    assert again.already_imported and again.batch_id == first.batch_id
    assert (again.unchanged, again.older) == (0, 3)


def test_a_zendesk_export_stores_when_zendesk_last_changed_each_ticket(store):
    import_file(store, SAMPLE_DATA / "zendesk_tickets.csv")
    with open(SAMPLE_DATA / "zendesk_tickets.csv", encoding="utf-8", newline="") as handle:
        dated = {row["Id"] for row in csv.DictReader(handle) if row["Updated at"]}
    stored = dict(rows(store, "SELECT contact_id, updated_at FROM contacts"))
    assert dated and dated <= set(stored)
    assert {i for i, updated in stored.items() if updated is not None} == dated
    assert rows(store, "SELECT count(*) FROM contacts WHERE updated_at < opened_at") == [(0,)]


# --- what the quarantine and the warnings keep -----------------------------------------------------

PERSONAL = ("jane.doe@example.com", "bob.smith@example.org", "07700 900456", "4111 1111 1111 1111")
RAW_IDS = ("C-1001", "C-1002", "C-1003", "C-1004")


def test_personal_data_in_the_wrong_columns_is_kept_nowhere_not_even_in_the_export(tmp_path):
    db = tmp_path / "store.duckdb"
    store = open_store(db)
    try:
        result = import_file(store, WRONG_COLUMNS, mapping=WRONG_COLUMNS.with_suffix(".toml"))
        assert (result.rows_read, result.rows_quarantined, result.warnings) == (4, 1, 3)
        shown = "\n".join(describe_import(result))
        kept = store_text(store)
        warnings = rows(store, "SELECT column_name, value, issue FROM import_warnings ORDER BY 1")
    finally:
        store.close()
    out = tmp_path / "quarantine.csv"
    assert main(["quarantine", "--db", str(db), "--out", str(out)]) == 0
    exported = out.read_text(encoding="utf-8")
    for text in (kept, exported, shown):
        for value in (*PERSONAL, *RAW_IDS):
            assert value not in text
    # What was wrong is still said, with the value's kind in place of the value.
    assert warnings == [
        ("csat", "[number removed]", "cannot read '[number removed]' as a csat score"),
        ("resolved_at", "[email removed]", "cannot read '[email removed]' as a date (%Y-%m-%d %H:%M)"),
        ("wait_seconds", "[phone removed]", "cannot read '[phone removed]' as a duration"),
    ]  # fmt: skip
    (quarantined,) = list(csv.DictReader(io.StringIO(exported)))
    assert quarantined["reason"] == "cannot read '[email removed]' as a date (%Y-%m-%d %H:%M)"
    assert quarantined["value"] == "[email removed]"
    assert '"opened_at":"[email removed]"' in quarantined["raw"]
    assert '"resolved_at":"2025-03-03 12:00"' in quarantined["raw"]  # a date is no phone number


# --- a failure says its real cause -----------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_at_commit_is_said_as_such_not_hidden_by_the_rollback(tmp_path):
    db = tmp_path / "store.duckdb"
    store = open_store(db)
    import_file(store, OLDER)
    store.close()  # checkpointed: no write-ahead log until the next commit
    store = open_store(db)
    before = store_text(store)
    # The write-ahead log is where a commit writes first; on /dev/full every write fails with
    # ENOSPC, as on a full disk. DuckDB's failed COMMIT ends the transaction, so the ROLLBACK
    # that follows fails too ("no transaction is active") and used to hide the real cause.
    wal = tmp_path / "store.duckdb.wal"
    assert not wal.exists()
    wal.symlink_to("/dev/full")
    try:
        with pytest.raises(ImportProblem) as caught:
            import_file(store, NEWER)
        assert str(caught.value) == (
            f"reimport_newer_snapshot.csv: the disk is full (writing {wal}): free space and "
            "import again; the store is unchanged."
        )
        assert store_text(store) == before
    finally:
        store.close()
        wal.unlink()
    store = open_store(db)
    try:
        assert store_text(store) == before
        assert import_file(store, NEWER).updated == 3  # and once there is space, it imports
    finally:
        store.close()
