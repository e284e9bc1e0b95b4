"""The import's steps one by one: staging says which fields a file gives (from the layout and
the header) and gives each name one spelling, and checking decides what each problem does to its
row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from kpi.ingest.checking import check
from kpi.ingest.files import read_export
from kpi.ingest.importer import import_file
from kpi.ingest.layouts import parse_layout
from kpi.ingest.staging import Staged, source_positions, stage
from kpi.store.connection import Store
from tests.paths import BAD_INPUTS

MAPPING = {
    "name": "steps",
    "kind": "contacts",
    "missing_columns": "ignore",
    "columns": {
        "contact_id": "Id",
        "opened_at": {"column": "Opened", "date_format": "%d/%m/%Y %H:%M"},
        "team": "Team",  # the file below has no Team column
        "agent": "Agent",
        "status": "Status",
        "wait_seconds": "Wait",
        "csat": "Rating",
    },
    "constants": {"channel": "phone"},
}


@pytest.fixture
def cur(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    """One cursor for a test: the steps' temporary tables are private to the cursor."""
    cursor = store.con.cursor()
    yield cursor
    cursor.close()


def staged_file(cur: duckdb.DuckDBPyConnection, tmp_path: Path, text: str) -> Staged:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    layout = parse_layout(MAPPING, "steps.toml")
    raw = read_export(cur, path)
    raw.number_rows(cur)
    return stage(cur, raw, layout, path.name, source_positions(raw, layout, path.name))


def test_the_fields_present_are_the_mapped_columns_found_the_constants_and_the_scores(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    staged = staged_file(
        cur, tmp_path, "Id,Opened,Agent,Status,Wait,Rating\nC1,02/03/2025 09:00,Ann,open,5,4\n"
    )
    assert staged.present == {
        "contact_id", "opened_at", "agent", "status", "wait_seconds", "csat", "channel",
    }  # fmt: skip
    assert "team" not in staged.present  # mapped, but the file has no such column
    assert staged.date_parses["opened_at"].label == "%d/%m/%Y %H:%M"
    # A text field kept as it is has no source copy; a typed one keeps its source text.
    assert staged.source_column("agent") == "agent"
    assert staged.source_column("wait_seconds") == "wait_seconds__raw"


def test_checking_quarantines_a_repeated_id_and_empties_an_unreadable_optional_value(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    staged = staged_file(
        cur,
        tmp_path,
        "Id,Opened,Agent,Status,Wait,Rating\n"
        "C1,02/03/2025 09:00,Ann,open,5,4\n"
        "C1,02/03/2025 10:00,Ann,open,6,4\n"
        "C2,02/03/2025 11:00,Bob,open,soon,5\n",
    )
    checked = check(cur, staged)
    issues = cur.execute(
        f"SELECT _row, field, issue, fatal FROM {checked.issues_table} ORDER BY _row"
    ).fetchall()
    assert issues == [
        (2, "contact_id", "duplicate contact_id C1 (first at row 1)", True),
        (3, "wait_seconds", "cannot read 'soon' as a duration", False),
    ]
    accepted = cur.execute(f"SELECT _row, wait_seconds FROM {checked.accepted_rows} ORDER BY _row")
    assert accepted.fetchall() == [(1, 5.0), (3, None)]
    assert checked.rolled_up == 0


def test_invisible_and_fullwidth_variants_of_a_name_are_staged_as_one(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    variants = ["Asha", "Asha\u200b", "\u202aAsha\u202c", "\uff21\uff53\uff48\uff41", "Asha\u00a0"]
    statuses = ["open", "Open\u200b", "\ufeffopen", "\uff2f\uff50\uff45\uff4e", "open\u00a0"]
    lines = [
        f"C{i},02/03/2025 09:00,{agent},{status},5,4"
        for i, (agent, status) in enumerate(zip(variants, statuses, strict=True))
    ]
    staged = staged_file(
        cur, tmp_path, "Id,Opened,Agent,Status,Wait,Rating\n" + "\n".join(lines) + "\n"
    )
    found = cur.execute(f"SELECT DISTINCT agent, status FROM {staged.table}").fetchall()
    assert found == [("Asha", "open")]
    # The category word's source text is normalised too (case is the mapping's business).
    raw = cur.execute(f"SELECT DISTINCT status__raw FROM {staged.table} ORDER BY 1").fetchall()
    assert raw == [("Open",), ("open",)]


def test_ids_keep_their_exact_spelling(cur: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # An id is matched exactly (repeats, re-imports): it is not a name, so not normalised.
    staged = staged_file(
        cur,
        tmp_path,
        "Id,Opened,Agent,Status,Wait,Rating\n"
        "C1,02/03/2025 09:00,Ann,open,5,4\nC1\u200b,02/03/2025 09:00,Ann,open,5,4\n",
    )
    ids = cur.execute(f"SELECT contact_id FROM {staged.table} ORDER BY _row").fetchall()
    assert ids == [("C1",), ("C1\u200b",)]


def test_an_imported_file_with_name_variants_has_one_agent_one_team_and_its_free_text_as_written(
    store: Store,
) -> None:
    result = import_file(store, BAD_INPUTS / "invisible_name_variants.csv")
    assert result.rows_imported == 5 and result.warnings == 0
    cur = store.cursor()
    names = cur.execute("SELECT DISTINCT agent, team, status, category FROM contacts").fetchall()
    assert names == [("Asha", "Care", "open", "Billing query")]
    subjects = {s for (s,) in cur.execute("SELECT subject FROM contacts").fetchall()}
    assert subjects == {"Hello there", "Hello\u00a0there", "Hello  there", "Hello\u2009there",
                        "Hello\tthere"}  # fmt: skip
