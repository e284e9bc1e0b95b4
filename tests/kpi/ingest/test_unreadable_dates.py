"""A date column with a value that is no date (a misspelt month, a word) stops the import with
one line naming the file, the first such row, the column and the value, and what to do; the
column's good values are never listed as unreadable (issue 9, left over from stop 17).

The files are small exports as a helpdesk writes them: dates with the month as a word."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpi.errors import ImportProblem
from kpi.ingest.importer import import_file
from kpi.store.connection import Store, open_store

HEADER = "Ticket ID,Created,Status,Team,Subject"
TICKETS = [
    "1041,3 March 2025 09:15,Open,Billing,Cannot log in",
    "1042,4 March 2025 10:40,Solved,Billing,Refund request",
    "1043,Marhc 5 2025 11:00,Closed,Care,Change of address",
    "1044,6 March 2025 14:05,Closed,Care,Change of address",
    "1045,7 March 2025 08:30,Open,Care,tbc",
]
MAPPING = """kind = "contacts"
[columns]
contact_id = "Ticket ID"
opened_at = "Created"
status = "Status"
team = "Team"
subject = "Subject"
"""


@pytest.fixture
def store():
    opened = open_store(":memory:")
    yield opened
    opened.close()


def export(folder: Path, rows: list[str], name: str = "tickets.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def mapping(folder: Path, extra: str = "") -> Path:
    path = folder / "tickets.toml"
    path.write_text(extra + MAPPING, encoding="utf-8")
    return path


def refusal(store: Store, path: Path, mapping_path: Path) -> str:
    with pytest.raises(ImportProblem) as raised:
        import_file(store, path, mapping=mapping_path)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_misspelt_month_names_its_file_row_column_and_value_not_the_good_dates(tmp_path, store):
    message = refusal(store, export(tmp_path, TICKETS), mapping(tmp_path))
    assert message.startswith(
        "tickets.csv: row 3, column 'Created' (opened_at): cannot read 'Marhc 5 2025 11:00' "
        "as a date; the column's other values read as day-first, e.g. '3 March 2025 09:15'."
    )
    # The good values are not said to be unreadable, and the user is told what to do.
    assert "'4 March 2025 10:40'" not in message
    assert "Correct that value in the file" in message and "date_format" in message


def test_the_first_bad_row_is_named_and_how_many_there_are(tmp_path, store):
    rows = [*TICKETS[:2], TICKETS[3], "1046,Tuesday,Open,Care,x", TICKETS[2]]
    message = refusal(store, export(tmp_path, rows), mapping(tmp_path))
    assert (
        "row 4, column 'Created' (opened_at): cannot read 'Tuesday' as a date (2 rows " in message
    )


def test_months_written_in_full_are_read_not_refused(tmp_path, store):
    good = [r for r in TICKETS if "Marhc" not in r]
    result = import_file(store, export(tmp_path, good), mapping=mapping(tmp_path))
    assert (result.rows_read, result.rows_imported) == (4, 4)
    opened = store.con.execute("SELECT min(opened_at), max(opened_at) FROM contacts").fetchone()
    assert opened == (dt.datetime(2025, 3, 3, 9, 15), dt.datetime(2025, 3, 7, 8, 30))  # GMT


def test_the_advice_works_a_date_format_sets_aside_only_the_bad_row(tmp_path, store):
    result = import_file(
        store,
        export(tmp_path, TICKETS),
        mapping=mapping(tmp_path, 'date_format = "%d %B %Y %H:%M"\n'),
    )
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (5, 4, 1)
    ((row, reason),) = store.con.execute("SELECT row_number, reason FROM quarantine").fetchall()
    assert row == 3 and "cannot read 'Marhc 5 2025 11:00' as a date" in reason


def test_a_bad_value_beyond_the_detection_sample_is_named_by_its_row(tmp_path, store):
    # 30,000 rows: detection looks at a sample, so the one bad value is found when the whole
    # column is read; the message still names its row.
    start = dt.datetime(2024, 1, 1, 8, 0)
    rows = [
        f"{2000 + i},{(start + dt.timedelta(minutes=17 * i)):%d %B %Y %H:%M},Open,Care,x"
        for i in range(30_000)
    ]
    rows[25_123] = "27123,Wendsday 3rd,Open,Care,x"
    message = refusal(store, export(tmp_path, rows), mapping(tmp_path))
    assert message.startswith(
        "tickets.csv: row 25,124, column 'Created' (opened_at): cannot read 'Wendsday 3rd' as a "
        "date"
    )
    assert "Correct that value in the file" in message
