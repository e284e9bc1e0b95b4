"""The audit log: imports, undos, settings and role changes each leave one entry saying who,
when and what, in the same transaction as the change; `kpi audit` reads it back."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from kpi.cli.main import main
from kpi.ingest.importer import import_file
from kpi.metrics.settings import load_settings, save_settings
from kpi.store import audit, users
from kpi.store.batches import undo
from kpi.store.connection import open_store
from tests.paths import SAMPLE_DATA


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "store.duckdb")
    yield s
    s.close()


def test_an_import_and_its_undo_are_logged_with_who_and_the_counts(store):
    result = import_file(store, SAMPLE_DATA / "survey_responses.csv", imported_by="Priya Shah")
    undo(store, result.batch_id, by="Daniel Haigh")
    newest, oldest = audit.entries(store)
    assert (oldest.who, oldest.action) == ("Priya Shah", "import")
    assert oldest.detail.startswith(f"batch {result.batch_id} (survey_responses.csv, ")
    assert f"{result.rows_read:,} read, {result.rows_imported:,} imported" in oldest.detail
    assert (newest.who, newest.action) == ("Daniel Haigh", "undo")
    assert newest.detail == f"batch {result.batch_id} (survey_responses.csv)"


def test_a_refused_undo_leaves_no_entry(store):
    with pytest.raises(Exception, match="no import batch 7"):
        undo(store, 7, by="Daniel Haigh")
    assert audit.entries(store) == []


def test_a_settings_change_is_logged_with_what_changed_and_saving_nothing_new_is_not(store):
    current = load_settings(store)
    save_settings(store, current, by="Priya Shah")
    assert audit.entries(store) == []
    save_settings(store, replace(current, fcr_repeat_window_days=14), by="Priya Shah")
    (entry,) = audit.entries(store)
    assert (entry.who, entry.action) == ("Priya Shah", "settings")
    assert entry.detail == f"fcr_repeat_window_days: {current.fcr_repeat_window_days!r} -> 14"


def test_a_role_change_is_logged_with_who_changed_it(store):
    admin = users.sign_in(store, "https://id.example.org", "a", None, "Priya Shah")
    users.sign_in(store, "https://id.example.org", "b", None, "Amelia Booth")
    users.set_role(store, "Amelia Booth", "supervisor", by=admin)
    (entry,) = audit.entries(store)
    assert (entry.who, entry.action, entry.detail) == (
        "Priya Shah",
        "role",
        "Amelia Booth: learner -> supervisor",
    )


def test_the_product_can_only_add_to_the_log():
    public = {name for name in vars(audit) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("delete", "update", "edit", "clear"))}


def test_kpi_audit_lists_the_newest_first_and_writes_a_csv(tmp_path, capsys):
    db = tmp_path / "store.duckdb"
    store = open_store(db)
    try:
        import_file(store, SAMPLE_DATA / "survey_responses.csv", imported_by="=cmd|' /C calc'!A0")
        audit.add(store, "Priya Shah", "export", "reflection 1 as PDF")
    finally:
        store.close()
    assert main(["audit", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Priya Shah" in lines[0] and "export" in lines[0] and "import" in lines[1]
    out = tmp_path / "audit.csv"
    assert main(["audit", "--db", str(db), "--out", str(out)]) == 0
    text = out.read_text()
    assert "When (UTC)" in text and "'=cmd" in text  # a formula is neutralised in the CSV


def test_a_change_made_by_someone_signed_in_names_their_identity_as_well_as_their_name(store):
    admin = users.sign_in(store, "https://id.example.org", "a-7f3", None, "Priya Shah")
    users.sign_in(store, "https://id.example.org", "b-91c", None, "Amelia Booth")
    users.set_role(store, "Amelia Booth", "supervisor", by=admin)
    users.set_role(store, "Amelia Booth", "learner")  # from `kpi users`: nobody signed in
    local, signed = audit.entries(store)
    assert (signed.who, signed.identity) == ("Priya Shah", "https://id.example.org|a-7f3")
    assert local.identity == ""
    table = audit.as_table(store)
    assert list(table["Signed in as"]) == ["", "https://id.example.org|a-7f3"]


def test_an_audit_log_from_before_identities_keeps_its_entries_with_none(tmp_path):
    from kpi.store.connection import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))  # a schema-10 store, made by the first ten migrations
    for migration in MIGRATIONS[:10]:
        migration(con)
    con.execute("INSERT INTO meta VALUES ('pseudonym_key', 'k'), ('schema_version', '10')")
    con.execute(
        "INSERT INTO audit_log VALUES (1, TIMESTAMP '2026-03-02 09:30:00', 'Priya Shah', "
        "'undo', 'batch 1 (old.csv)')"
    )
    con.close()
    store = open_store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        audit.add(store, "Daniel Haigh", "export", "EV-0001 as PDF", identity="https://id|d")
        newest, oldest = audit.entries(store)
        assert (oldest.who, oldest.detail, oldest.identity) == (
            "Priya Shah",
            "batch 1 (old.csv)",
            "",
        )
        assert (newest.who, newest.identity) == ("Daniel Haigh", "https://id|d")
    finally:
        store.close()
