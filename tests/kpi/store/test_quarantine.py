"""Reading back imports: the undo picker's batch names and the imports table say who made each
import (``imports.imported_by``), and imports from before that was kept say nothing false."""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from kpi.ingest.importer import import_file
from kpi.store.batches import LOCAL_USER, importer_name, undo_preview
from kpi.store.connection import MIGRATIONS, SCHEMA_VERSION, open_store
from kpi.store.quarantine import batch_choices, imports_table

CONTACTS = "contact_id,opened_at,subject\n1,2025-03-01 10:00,first\n2,2025-03-01 11:00,second\n"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


def test_a_batch_is_named_with_who_imported_it(tmp_path: Path, export: Path) -> None:
    store = open_store(tmp_path / "store.duckdb")
    try:
        import_file(store, export, imported_by="alice")
        [choice] = batch_choices(store)
        assert choice.label.startswith("Batch 1: contacts.csv (layout generic contacts), 2 of 2")
        assert choice.label.endswith(" UTC by alice")
        assert list(imports_table(store)["By"]) == ["alice"]
        assert undo_preview(store, 1).heading() == (
            "Undoing batch 1 (imported by alice) changes the store as follows:"
        )
    finally:
        store.close()


def test_an_import_without_a_name_is_not_said_to_be_by_anyone(tmp_path: Path, export: Path) -> None:
    store = open_store(tmp_path / "store.duckdb")
    try:
        import_file(store, export)  # an older caller: no imported_by
        [choice] = batch_choices(store)
        assert " by " not in choice.label
        assert list(imports_table(store)["By"]) == ["not recorded"]
        assert undo_preview(store, 1).heading() == ("Undoing batch 1 changes the store as follows:")
    finally:
        store.close()


def test_a_store_from_before_imported_by_gains_it_empty(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    # A schema-3 store, made by the first three migrations, with one import in it.
    con = duckdb.connect(str(path))
    for migration in MIGRATIONS[:3]:
        migration(con)
    con.execute("INSERT INTO meta VALUES ('pseudonym_key', 'k'), ('schema_version', '3')")
    con.execute(
        """INSERT INTO imports (batch_id, file_name, layout, rows_read, rows_imported,
               imported_at) VALUES (1, 'old.csv', 'generic_contacts', 2, 2, ?)""",
        [datetime(2026, 3, 2, 9, 30)],
    )
    con.close()
    store = open_store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        assert list(imports_table(store)["By"]) == ["not recorded"]
        assert [c.label for c in batch_choices(store)] == [
            "Batch 1: old.csv (layout generic contacts), 2 of 2 rows imported, 2 Mar 2026 09:30 UTC"
        ]
    finally:
        store.close()


def test_local_mode_names_the_operating_system_account() -> None:
    assert importer_name() == getpass.getuser()


def test_a_signed_in_user_is_named_instead_of_the_account() -> None:
    assert importer_name("  Priya Shah ") == "Priya Shah"
    assert importer_name("") == getpass.getuser()


def test_without_an_account_name_the_importer_is_the_local_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_name() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_name)
    assert importer_name() == LOCAL_USER == "local user"


def test_an_account_name_with_a_terminal_escape_is_shown_inert(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "eve\x1b[2J")
    assert importer_name() == "eve\\x1b[2J"
