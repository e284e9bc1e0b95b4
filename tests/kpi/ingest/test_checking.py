"""The check step: dates that cannot have happened quarantine their row, with a reason naming the
field, the value and the bound; a non-finite number never gets past it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.ingest.checking import Checked, check
from kpi.ingest.files import read_export
from kpi.ingest.importer import import_file
from kpi.ingest.layouts import parse_layout
from kpi.ingest.limits import ImportLimits
from kpi.ingest.staging import Staged, source_positions, stage
from kpi.store.connection import Store
from tests.paths import BAD_INPUTS

MAPPING = {
    "name": "dates",
    "kind": "contacts",
    "date_format": "%Y-%m-%d %H:%M",
    "timezone": "UTC",
    "columns": {
        "contact_id": "Id",
        "opened_at": "Opened",
        "resolved_at": "Resolved",
        "closed_at": "Closed",
        "wait_seconds": "Wait",
    },
}
HEADER = "Id,Opened,Resolved,Closed,Wait\n"
NOW = dt.datetime(2026, 11, 30, 12, 0)
LIMITS = ImportLimits(now=NOW)  # latest plausible instant: 2 December 2026, 12:00 UTC
FUTURE = "is after the import time (2026-11-30) + 2 days: a date that has not happened yet"
WHOLE_ROW = "a row with an impossible date cannot be trusted, so the whole row is set aside"


@pytest.fixture
def cur(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor = store.con.cursor()
    yield cursor
    cursor.close()


def staged_file(cur: duckdb.DuckDBPyConnection, tmp_path: Path, body: str) -> Staged:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    layout = parse_layout(MAPPING, "dates.toml")
    raw = read_export(cur, path)
    raw.number_rows(cur)
    return stage(cur, raw, layout, path.name, source_positions(raw, layout, path.name))


def issues(cur: duckdb.DuckDBPyConnection, checked: Checked) -> list[tuple]:
    return cur.execute(
        f"SELECT _row, field, value, issue, fatal FROM {checked.issues_table} ORDER BY _row, field"
    ).fetchall()


def accepted(cur: duckdb.DuckDBPyConnection, checked: Checked) -> list[str]:
    found = cur.execute(f"SELECT contact_id FROM {checked.accepted_rows} ORDER BY _row")
    return [r[0] for r in found.fetchall()]


# --- dates that cannot have happened ----------------------------------------------------------


def test_an_opening_date_after_the_import_time_plus_the_tolerance_quarantines_the_row(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    staged = staged_file(
        cur,
        tmp_path,
        "C1,2026-11-29 09:00,,,\n"
        "C2,2099-01-01 10:00,,,\n"
        "C3,2026-12-02 11:59,,,\n"  # within the two days' tolerance: a time zone's slack
        "C4,2026-12-02 12:01,,,\n",
    )
    checked = check(cur, staged, LIMITS)
    hint = " (set KPI_MAX_FUTURE_DAYS to change the tolerance)"
    assert issues(cur, checked) == [
        (2, "opened_at", "2099-01-01 10:00", f"opened_at '2099-01-01 10:00' {FUTURE}{hint}", True),
        (4, "opened_at", "2026-12-02 12:01", f"opened_at '2026-12-02 12:01' {FUTURE}{hint}", True),
    ]
    assert accepted(cur, checked) == ["C1", "C3"]


def test_an_impossible_date_in_an_optional_field_sets_the_whole_row_aside_and_says_so(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    staged = staged_file(
        cur,
        tmp_path,
        "C1,2025-03-03 09:00,2099-03-03 12:00,,30\n"
        "C2,2025-03-03 09:00,,1985-06-01 00:00,30\n"
        "C3,2025-03-03 09:00,2025-03-03 12:00,2025-03-04 12:00,30\n",
    )
    checked = check(cur, staged, LIMITS)
    found = issues(cur, checked)
    assert [(row, name, fatal) for row, name, _, _, fatal in found] == [
        (1, "resolved_at", True),
        (2, "closed_at", True),
    ]
    assert found[0][3] == (
        f"resolved_at '2099-03-03 12:00' {FUTURE}; {WHOLE_ROW} "
        "(set KPI_MAX_FUTURE_DAYS to change the tolerance)"
    )
    assert found[1][3] == (
        "closed_at '1985-06-01 00:00' is before 1990-01-01, the earliest plausible date; "
        f"{WHOLE_ROW} (set KPI_EARLIEST_DATE to change it)"
    )
    assert accepted(cur, checked) == ["C3"]


def test_the_earliest_plausible_date_and_the_tolerance_come_from_the_limits(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    staged = staged_file(
        cur,
        tmp_path,
        "C1,2019-12-31 23:00,,,\nC2,2020-01-01 00:00,,,\nC3,2026-12-09 11:00,,,\n",
    )
    limits = ImportLimits(now=NOW, earliest_date=date(2020, 1, 1), max_future_days=10)
    checked = check(cur, staged, limits)
    assert [i[3] for i in issues(cur, checked)] == [
        "opened_at '2019-12-31 23:00' is before 2020-01-01, the earliest plausible date "
        "(set KPI_EARLIEST_DATE to change it)"
    ]
    assert accepted(cur, checked) == ["C2", "C3"]


def test_a_row_quarantined_for_its_date_gets_no_warnings_about_its_dates_order(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Opened in 2099 and resolved in 2025 "resolves before opening": the date is the problem.
    staged = staged_file(cur, tmp_path, "C1,2099-01-01 10:00,2025-03-03 12:00,,\n")
    checked = check(cur, staged, LIMITS)
    assert [(i[1], i[4]) for i in issues(cur, checked)] == [("opened_at", True)]


def test_an_import_with_an_impossible_date_counts_it_as_quarantined(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "future.csv"
    path.write_text(
        HEADER + "C1,2025-03-03 09:00,,,\nC2,2099-01-01 10:00,,,\nC3,2025-03-04 09:00,,,\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "dates.toml"
    mapping.write_text(
        'kind = "contacts"\ndate_format = "%Y-%m-%d %H:%M"\ntimezone = "UTC"\n'
        '[columns]\ncontact_id = "Id"\nopened_at = "Opened"\n',
        encoding="utf-8",
    )
    result = import_file(store, path, mapping=mapping, limits=LIMITS)
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (3, 2, 1)
    cur = store.cursor()
    (reason,) = cur.execute("SELECT reason FROM quarantine").fetchone()
    assert FUTURE in reason
    latest = cur.execute("SELECT max(opened_at) FROM contacts").fetchone()[0]
    assert latest == dt.datetime(2025, 3, 4, 9, 0)  # the as-of instant is not moved to 2099


# --- placeholder dates: 0001-01-01, 9999-12-31 ------------------------------------------------

PLACEHOLDERS = (
    "contact_id,opened_at,first_response_at,resolved_at,status,channel\n"
    "C1,2025-05-01 09:00:00,2025-05-01 10:00:00,2025-05-02 12:00:00,solved,email\n"
    "C2,0001-01-01 00:00:00,,,open,email\n"
    "C3,9999-12-31 23:59:00,,,open,email\n"
    "C4,2025-05-07 10:00:00,9999-12-31 23:59:00,,solved,email\n"
    "C5,2025-05-07 10:00:00,2025-05-07 11:00:00,0001-01-01 00:00:00,solved,email\n"
    "C6,2025-05-08 09:00:00,,,open,chat\n"
)
EARLY = "is before 1990-01-01, the earliest plausible date"


def test_a_placeholder_date_sets_its_row_aside_naming_row_column_and_value(
    store: Store, tmp_path: Path
) -> None:
    """0001-01-01 and 9999-12-31 are dates, if impossible ones: their rows are quarantined with
    the reason (not the whole file refused as "cannot read as a date"), and the value is kept
    as written (not scrubbed as if "0001-01-01 00" were a phone number)."""
    path = tmp_path / "placeholders.csv"
    path.write_text(PLACEHOLDERS, encoding="utf-8")
    result = import_file(store, path, limits=LIMITS)
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (6, 2, 4)
    found = store.cursor().execute(
        "SELECT row_number, column_name, value, reason FROM quarantine ORDER BY row_number"
    )
    future, early = "(set KPI_MAX_FUTURE_DAYS to change the tolerance)", "(set KPI_EARLIEST_DATE"
    assert found.fetchall() == [
        (2, "opened_at", "0001-01-01 00:00:00",
         f"opened_at '0001-01-01 00:00:00' {EARLY} {early} to change it)"),
        (3, "opened_at", "9999-12-31 23:59:00", f"opened_at '9999-12-31 23:59:00' {FUTURE} {future}"),
        (4, "first_response_at", "9999-12-31 23:59:00",
         f"first_response_at '9999-12-31 23:59:00' {FUTURE}; {WHOLE_ROW} {future}"),
        (5, "resolved_at", "0001-01-01 00:00:00",
         f"resolved_at '0001-01-01 00:00:00' {EARLY}; {WHOLE_ROW} {early} to change it)"),
    ]  # fmt: skip
    # The rest report as if the placeholders were never in the file.
    figures = report(store, Filters()).total().metrics
    assert figures["contacts"].value == 2
    assert figures["first_response_hours"].n == 1
    assert figures["first_response_hours"].value == pytest.approx(1.0)


def test_a_placeholder_date_in_a_declared_format_sets_its_row_aside(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    staged = staged_file(
        cur, tmp_path, "C1,0001-01-01 00:00,,,\nC2,9999-12-31 23:59,,,\nC3,2025-03-03 09:00,,,\n"
    )
    checked = check(cur, staged, LIMITS)
    assert [(i[0], i[1], i[2], i[4]) for i in issues(cur, checked)] == [
        (1, "opened_at", "0001-01-01 00:00", True),
        (2, "opened_at", "9999-12-31 23:59", True),
    ]
    assert accepted(cur, checked) == ["C3"]


def test_a_placeholder_date_with_an_offset_past_the_year_9999_in_utc_sets_its_row_aside(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "offsets.csv"
    path.write_text(
        "contact_id,opened_at\n"
        "C1,2025-05-01T09:00:00+01:00\n"
        "C2,9999-12-31T23:59:00-05:00\n"  # 10000-01-01 in UTC
        "C3,0001-01-01T00:00:00+05:00\n",  # the year 0 in UTC
        encoding="utf-8",
    )
    result = import_file(store, path, limits=LIMITS)
    assert (result.rows_imported, result.rows_quarantined) == (1, 2)
    found = store.cursor().execute("SELECT reason FROM quarantine ORDER BY 1").fetchall()
    reasons = [r[0] for r in found]
    assert reasons == [
        f"opened_at '0001-01-01T00:00:00+05:00' {EARLY} (set KPI_EARLIEST_DATE to change it)",
        f"opened_at '9999-12-31T23:59:00-05:00' {FUTURE} "
        "(set KPI_MAX_FUTURE_DAYS to change the tolerance)",
    ]


def test_a_tolerance_reaching_past_the_years_reports_cover_stops_at_their_end(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    staged = staged_file(cur, tmp_path, "C1,2200-12-31 23:59,,,\nC2,2201-01-01 00:00,,,\n")
    checked = check(cur, staged, ImportLimits(now=NOW, max_future_days=1e9))
    assert [i[3] for i in issues(cur, checked)] == [
        "opened_at '2201-01-01 00:00' is after 2200-12-31, the last date a report covers"
    ]
    assert accepted(cur, checked) == ["C1"]


# --- numbers that are not finite ----------------------------------------------------------------


def test_a_non_finite_number_in_the_staged_rows_is_caught_even_past_the_parsers(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # The parsers never give NaN; should one ever, pandas would take it for an empty value, so
    # the check looks for it in SQL.
    staged = staged_file(cur, tmp_path, "C1,2025-03-03 09:00,,,30\nC2,2025-03-03 09:00,,,40\n")
    cur.execute(f"UPDATE {staged.table} SET wait_seconds = 'NaN'::DOUBLE WHERE _row = 1")
    cur.execute(f"UPDATE {staged.table} SET wait_seconds = '-inf'::DOUBLE WHERE _row = 2")
    checked = check(cur, staged, LIMITS)
    assert issues(cur, checked) == [
        (1, "wait_seconds", "30", "cannot read '30' as a duration", False),
        (2, "wait_seconds", "40", "cannot read '40' as a duration", False),
    ]
    stored = cur.execute(f"SELECT wait_seconds FROM {checked.accepted_rows} ORDER BY _row")
    assert stored.fetchall() == [(None,), (None,)]


def test_a_nan_score_is_never_stored_and_nps_and_csat_count_only_real_scores(store: Store) -> None:
    result = import_file(store, BAD_INPUTS / "non_finite_scores.csv", limits=LIMITS)
    assert (result.rows_imported, result.warnings) == (5, 5)
    cur = store.cursor()
    scores = cur.execute("SELECT response_id, nps, csat, ces FROM responses ORDER BY 1").fetchall()
    assert scores == [
        ("R1", None, 4.0, 5.0),
        ("R2", 9.0, None, None),
        ("R3", None, None, 6.0),
        ("R4", 10.0, 5.0, 7.0),
        ("R5", 3.0, 2.0, 2.0),
    ]
    non_finite = cur.execute(
        "SELECT count(*) FROM responses WHERE NOT isfinite(nps) OR NOT isfinite(csat) "
        "OR NOT isfinite(ces)"
    ).fetchone()
    assert non_finite == (0,)
    march = Filters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    figures = report(store, march, metrics=("nps", "csat", "csat_mean")).total().metrics
    # NPS: promoters 9 and 10, detractor 3, of three answers; CSAT: 4 and 5 of 4, 5 and 2.
    assert figures["nps"].n == 3 and figures["nps"].value == pytest.approx(100 / 3)
    assert figures["csat"].n == 3 and figures["csat"].value == pytest.approx(200 / 3)
    assert figures["csat_mean"].value == pytest.approx(11 / 3)


# --- the rows to load -------------------------------------------------------------------------


def semi_joined(cur: duckdb.DuckDBPyConnection, checked: Checked) -> list[str]:
    """The accepted rows as the accepted table lists them (what ``accepted_rows`` stands for)."""
    table, accepted_table = checked.staged.table, checked.accepted_table
    found = cur.execute(
        f"SELECT contact_id FROM {table} WHERE _row IN (SELECT _row FROM {accepted_table}) "
        "ORDER BY _row"
    )
    return [r[0] for r in found.fetchall()]


def test_a_clean_export_loads_every_staged_row_without_a_join(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    body = "T1,2026-01-05 09:00,,,\nT2,2026-01-06 09:00,2026-01-06 10:00,,30\n"
    checked = check(cur, staged_file(cur, tmp_path, body), LIMITS)
    assert checked.all_accepted
    assert "_row IN" not in checked.accepted_rows
    assert accepted(cur, checked) == semi_joined(cur, checked) == ["T1", "T2"]


@pytest.mark.parametrize(
    "body",
    [
        "T1,2026-01-05 09:00,,,\nT1,2026-01-06 09:00,,,\n",  # a repeated id
        "T1,2026-01-05 09:00,,,\nT2,,,,\n",  # an empty required date
        "T1,2026-01-05 09:00,,,\n,2026-01-06 09:00,,,\n",  # no id
    ],
    ids=["repeated id", "fatal issue", "no id"],
)
def test_rows_left_out_keep_the_accepted_table_as_the_filter(
    cur: duckdb.DuckDBPyConnection, tmp_path: Path, body: str
) -> None:
    checked = check(cur, staged_file(cur, tmp_path, body), LIMITS)
    assert not checked.all_accepted
    assert accepted(cur, checked) == semi_joined(cur, checked) == ["T1"]
