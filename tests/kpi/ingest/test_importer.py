"""A good import: real exports and the sample data load with counts that add up, privately,
idempotently, and as batches that a later export updates and that can be undone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pytest

from kpi.errors import ImportProblem
from kpi.ingest.importer import import_file
from kpi.store.batches import UndoRefused, undo
from kpi.store.connection import SCHEMA_VERSION, Store, StoreError, open_store
from tests.kpi.stores import rows
from tests.paths import SAMPLE_DATA

SAMPLE = SAMPLE_DATA
# Real exports, by name in the real-samples folder (the ``real_samples`` fixture).
FRESHDESK = "freshdesk_ticket_export_trial.csv"
CFPB = "cfpb_complaints_2016_official_header.csv"
UCI = "uci_incident_event_log_head.csv"


def store_text(store: Store) -> str:
    """Every value of every table, as text: what a person opening the file could read."""
    tables = rows(
        store,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        # The audit log last, with the batches' bookkeeping (after "# imports"): it records an
        # import and its undo, so it is the one table an undo does not put back.
        "AND table_type = 'BASE TABLE' ORDER BY table_name = 'audit_log', 1",
    )
    out = io.StringIO()
    for (table,) in tables:
        out.write(f"# {table}\n")
        for row in rows(store, f'SELECT * FROM "{table}" ORDER BY ALL'):
            out.write(" | ".join("" if v is None else str(v) for v in row) + "\n")
    return out.getvalue()


def source_column(path: Path, header: str) -> set[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row[header] for row in csv.DictReader(handle) if row[header]}


# --- real exports ------------------------------------------------------------------------------


@pytest.mark.real_samples
@pytest.mark.parametrize(
    ("path", "layout", "read", "stored", "rolled_up"),
    [
        (FRESHDESK, "freshdesk", 45, 45, 0),
        (CFPB, "cfpb_complaints", 349, 349, 0),
        (UCI, "servicenow_incidents", 5_998, 890, 5_108),
    ],
)
def test_every_real_export_imports_with_its_layout_detected_and_counts_that_add_up(
    real_samples, store, path, layout, read, stored, rolled_up
):
    result = import_file(store, real_samples / path)
    assert result.layout == layout
    assert result.rows_read == read
    assert result.rows_imported + result.rows_quarantined == result.rows_read
    assert result.rows_quarantined == 0
    assert result.rolled_up == rolled_up
    assert result.inserted == store.count("contacts") == stored
    assert result.rows_imported == result.inserted + result.rolled_up


@pytest.mark.real_samples
def test_every_file_in_the_real_samples_folder_imports_with_counts_that_add_up(real_samples, store):
    files = sorted(p for p in real_samples.iterdir() if p.suffix.lower() in (".csv", ".xlsx"))
    assert len(files) >= 3
    for path in files:
        result = import_file(store, path)
        assert result.rows_read > 0, path.name
        assert result.rows_read == result.rows_imported + result.rows_quarantined, path.name


@pytest.mark.real_samples
def test_freshdesk_keeps_its_unknown_status_as_an_emptied_value_with_a_warning(real_samples, store):
    result = import_file(store, (real_samples / FRESHDESK))
    assert result.warnings == 1
    assert rows(store, "SELECT value, issue FROM import_warnings") == [
        ("OpenPending", "'OpenPending' is not a known status (use [values.status] in a mapping)")
    ]
    with open((real_samples / FRESHDESK), encoding="utf-8", newline="") as handle:
        words = [row["Status"] for row in csv.DictReader(handle)]
    canonical = {"Open": "open", "Pending": "pending", "Waiting on Third Party": "pending"}
    expected: dict[str | None, int] = {}
    for word in words:
        expected[canonical.get(word)] = expected.get(canonical.get(word), 0) + 1
    assert expected[None] == 1
    statuses = dict(rows(store, "SELECT status, count(*) FROM contacts GROUP BY ALL"))
    assert statuses == expected


@pytest.mark.real_samples
def test_the_uci_event_log_keeps_each_incidents_last_state(real_samples, store):
    import_file(store, (real_samples / UCI))
    with open((real_samples / UCI), encoding="utf-8", newline="") as handle:
        last = {row["number"]: row for row in csv.DictReader(handle)}
    assert len(last) == 890
    found = dict(rows(store, "SELECT contact_id, reassignments FROM contacts"))
    assert found == {number: int(row["reassignment_count"]) for number, row in last.items()}
    # DD-MM-YYYY HH:MM in London time, stored as UTC; 29 February 2016 exists.
    first = rows(store, "SELECT opened_at FROM contacts WHERE contact_id = 'INC0000045'")
    assert str(first[0][0]) == "2016-02-29 01:16:00"


@pytest.mark.real_samples
@pytest.mark.parametrize(
    ("path", "id_header"), [(FRESHDESK, "Contact ID"), (UCI, "caller_id")]
)  # fmt: skip
def test_customer_ids_are_pseudonymised_and_never_stored_raw(real_samples, store, path, id_header):
    import_file(store, real_samples / path)
    dump = store_text(store)
    raw_ids = source_column(real_samples / path, id_header) - {"?"}
    assert raw_ids
    leaked = [value for value in raw_ids if value in dump]
    assert leaked == []
    keys = {k for (k,) in rows(store, "SELECT DISTINCT customer_key FROM contacts")} - {None}
    assert 0 < len(keys) <= len(raw_ids)
    assert all(len(k) == 16 for k in keys)


@pytest.mark.real_samples
def test_freshdesk_contact_emails_and_names_are_dropped(real_samples, store):
    import_file(store, (real_samples / FRESHDESK))
    dump = store_text(store)
    assert "@" not in dump.replace("[email removed]", "")
    for name in source_column((real_samples / FRESHDESK), "Full name"):
        if " " in name:  # full names; one-word names like 'uma' are ordinary words elsewhere
            assert name not in dump, name


def test_the_same_customer_gets_the_same_key_in_one_store_and_another_in_another(tmp_path):
    export = tmp_path / "contacts.csv"
    export.write_text(
        "contact_id,opened_at,customer_id\nA,2025-01-02 09:00,cust-1\nB,2025-01-03 09:00,cust-1\n"
        "C,2025-01-04 09:00,cust-2\n",
        encoding="utf-8",
    )
    keys = []
    for name in ("one", "two"):
        with_store = open_store(tmp_path / f"{name}.duckdb")
        import_file(with_store, export)
        keys.append(dict(rows(with_store, "SELECT contact_id, customer_key FROM contacts")))
        with_store.close()
    first, second = keys
    assert first["A"] == first["B"] != first["C"]
    assert first["A"] != second["A"]  # the key is generated per store


# --- sample data -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not any(SAMPLE.glob("*.csv")), reason="sample_data/ not generated")
def test_every_sample_data_file_imports_with_counts_that_add_up(store):
    files = sorted([*SAMPLE.glob("*.csv"), *SAMPLE.glob("*.xlsx")])
    assert files
    for path in files:
        result = import_file(store, path)
        assert result.rows_read > 0
        assert result.rows_read == result.rows_imported + result.rows_quarantined, path.name
        assert result.layout != ""
    assert store.count("quarantine") == sum(
        n for (n,) in rows(store, "SELECT rows_quarantined FROM imports")
    )


# --- idempotence, updates, undo ------------------------------------------------------------------


@pytest.mark.real_samples
def test_reimporting_the_same_file_changes_nothing(real_samples, store):
    first = import_file(store, (real_samples / FRESHDESK))
    before = store_text(store)
    again = import_file(store, (real_samples / FRESHDESK))
    assert again.already_imported
    assert again.batch_id == first.batch_id
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, first.rows_imported)
    assert store_text(store) == before


def later_export(freshdesk: Path, tmp_path: Path) -> Path:
    """The Freshdesk export a week later: ticket 2 is now resolved and ticket 9046 is new."""
    with open(freshdesk, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, tickets = reader.fieldnames, list(reader)
    assert header is not None
    changed = next(t for t in tickets if t["Ticket ID"] == "2")
    changed["Status"] = "Resolved"
    changed["Resolved time"] = "2025-12-04 10:00:00"
    tickets.append({**tickets[0], "Ticket ID": "9046", "Subject": "A new ticket"})
    out = tmp_path / "freshdesk_later.csv"
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(tickets)
    return out


def ticket(store: Store, contact_id: str) -> tuple | None:
    found = rows(
        store,
        "SELECT status, resolved_at, subject, batch_id FROM contacts WHERE contact_id = ?",
        [contact_id],
    )
    return found[0] if found else None


@pytest.mark.real_samples
def test_a_later_export_updates_the_changed_ticket_and_inserts_the_new_one(
    real_samples, store, tmp_path
):
    first = import_file(store, (real_samples / FRESHDESK))
    result = import_file(store, later_export(real_samples / FRESHDESK, tmp_path))
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 44)
    assert result.rows_read == 46 == result.rows_imported
    assert store.count("contacts") == 46
    status, resolved_at, _, batch = ticket(store, "2")
    assert (status, str(resolved_at), batch) == ("resolved", "2025-12-04 10:00:00", result.batch_id)
    assert ticket(store, "9046")[2] == "A new ticket"
    assert ticket(store, "1")[3] == first.batch_id  # unchanged rows keep their batch


@pytest.mark.real_samples
def test_undo_restores_the_versions_a_batch_replaced(real_samples, store, tmp_path):
    import_file(store, (real_samples / FRESHDESK))
    original = store_text(store).split("# imports")[0]  # the data tables, before the update
    before_two = ticket(store, "2")
    later = import_file(store, later_export(real_samples / FRESHDESK, tmp_path))
    undo(store, later.batch_id)
    assert ticket(store, "2") == before_two
    assert ticket(store, "9046") is None
    assert store.count("contacts") == 45
    assert store_text(store).split("# imports")[0] == original
    assert rows(
        store, "SELECT undone_at IS NOT NULL FROM imports WHERE batch_id = ?", [later.batch_id]
    ) == [(True,)]


@pytest.mark.real_samples
def test_undo_refuses_a_batch_whose_rows_a_later_batch_updated(real_samples, store, tmp_path):
    first = import_file(store, (real_samples / FRESHDESK))
    later = import_file(store, later_export(real_samples / FRESHDESK, tmp_path))
    before = store_text(store)
    with pytest.raises(UndoRefused, match=f"undo batch {later.batch_id} first"):
        undo(store, first.batch_id)
    assert store_text(store) == before
    undo(store, later.batch_id)
    undo(store, first.batch_id)
    assert store.count("contacts") == 0
    with pytest.raises(UndoRefused, match="already undone"):
        undo(store, first.batch_id)


@pytest.mark.real_samples
def test_an_undone_file_can_be_imported_again(real_samples, store):
    first = import_file(store, (real_samples / CFPB))
    undo(store, first.batch_id)
    again = import_file(store, (real_samples / CFPB))
    assert not again.already_imported
    assert again.inserted == 349 == store.count("contacts")


# --- the store -------------------------------------------------------------------------------------


def test_a_new_store_is_at_the_current_schema_version_and_reopening_keeps_it(tmp_path):
    path = tmp_path / "store.duckdb"
    first = open_store(path)
    assert first.schema_version == SCHEMA_VERSION
    key = first.pseudonym_key
    meta = rows(first, "SELECT * FROM meta ORDER BY key")
    first.close()
    again = open_store(path)  # re-running a migration would fail (tables exist) or change meta
    assert again.schema_version == SCHEMA_VERSION
    assert again.pseudonym_key == key
    assert rows(again, "SELECT * FROM meta ORDER BY key") == meta
    again.close()


def test_a_store_from_a_newer_program_is_refused_not_damaged(tmp_path):
    path = tmp_path / "store.duckdb"
    store = open_store(path)
    store.cursor().execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    store.close()
    with pytest.raises(StoreError, match="newer version"):
        open_store(path)


@pytest.mark.real_samples
def test_imported_data_survives_closing_and_reopening_the_store(real_samples, tmp_path):
    path = tmp_path / "store.duckdb"
    store = open_store(path)
    import_file(store, shutil.copy((real_samples / CFPB), tmp_path / "cfpb.csv"))
    store.close()
    store = open_store(path)
    assert store.count("contacts") == 349
    assert import_file(store, tmp_path / "cfpb.csv").already_imported
    store.close()


# --- date detection does not depend on the file's size ------------------------------------------


def iso_export_with_a_tail(path: Path, rows: int, tail: list[str]) -> Path:
    """``rows`` ISO dates (detection samples some of them), then the ``tail`` values."""
    start = dt.datetime(2024, 1, 1)
    with open(path, "w", encoding="utf-8") as out:
        out.write("contact_id,opened_at\n")
        for i in range(rows):
            out.write(f"C{i},{start + dt.timedelta(minutes=i):%Y-%m-%d %H:%M}\n")
        for i, value in enumerate(tail):
            out.write(f"LATE{i},{value}\n")
    return path


@pytest.mark.parametrize("n", [3, 60_000], ids=["small", "large"])
def test_iso_dates_followed_by_uk_dates_read_day_first_whatever_the_size(store, tmp_path, n):
    export = iso_export_with_a_tail(tmp_path / "tail.csv", n, ["25/04/2025 10:00", "03/04/2025"])
    result = import_file(store, export)
    assert result.date_formats == {"opened_at": "day-first"}
    assert result.rows_imported == n + 2
    late = dict(
        rows(store, "SELECT contact_id, opened_at FROM contacts WHERE contact_id LIKE 'LATE%'")
    )
    assert late == {
        "LATE0": dt.datetime(2025, 4, 25, 9, 0),
        "LATE1": dt.datetime(2025, 4, 2, 23, 0),
    }


@pytest.mark.parametrize("n", [3, 60_000], ids=["small", "large"])
def test_iso_dates_followed_by_ambiguous_dates_stop_whatever_the_size(store, tmp_path, n):
    export = iso_export_with_a_tail(tmp_path / "tail.csv", n, ["03/04/2025", "05/06/2025"])
    with pytest.raises(ImportProblem, match="read both day-first and month-first"):
        import_file(store, export)
    assert store.count("imports") == 0


def test_a_folder_or_a_missing_path_is_refused_by_name(store, tmp_path):
    (tmp_path / "exports").mkdir()
    with pytest.raises(ImportProblem, match="^exports: is a folder"):
        import_file(store, tmp_path / "exports")
    with pytest.raises(ImportProblem, match="^gone.csv: no such file"):
        import_file(store, tmp_path / "gone.csv")
    assert store.count("imports") == 0


def test_undoing_an_earlier_batch_keeps_the_rows_a_later_batch_also_holds(store, tmp_path):
    data = "contact_id,opened_at,team\nT1,2025-03-03 09:15,Billing\nT2,2025-03-03 10:40,Care\n"
    (tmp_path / "monday.csv").write_text(data, encoding="utf-8")
    (tmp_path / "tuesday.csv").write_text(data.replace("\n", "\r\n"), encoding="utf-8")
    monday = import_file(store, tmp_path / "monday.csv")
    tuesday = import_file(store, tmp_path / "tuesday.csv")
    assert tuesday.unchanged == 2 and not tuesday.already_imported
    # Undoing Monday alone would remove T1 and T2, which Tuesday's batch (kept) holds.
    with pytest.raises(UndoRefused, match=f"undo batch {tuesday.batch_id} first"):
        undo(store, monday.batch_id)
    assert store.count("contacts") == 2
    undo(store, tuesday.batch_id)
    undo(store, monday.batch_id)
    assert store.count("contacts") == 0


def test_batches_of_other_sources_or_without_shared_rows_do_not_block_an_undo(store, tmp_path):
    (tmp_path / "week1.csv").write_text("contact_id,opened_at\nA,2025-03-03\n", encoding="utf-8")
    (tmp_path / "week2.csv").write_text("contact_id,opened_at\nB,2025-03-10\n", encoding="utf-8")
    week1 = import_file(store, tmp_path / "week1.csv")
    import_file(store, tmp_path / "week2.csv")
    import_file(store, SAMPLE_DATA / "call_log.xlsx")  # another source's later batch
    undo(store, week1.batch_id)
    assert [
        r
        for (r,) in rows(store, "SELECT contact_id FROM contacts WHERE source = 'generic_contacts'")
    ] == ["B"]
