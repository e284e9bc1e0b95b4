"""The data profile: rows from an unrelated year are pointed out rather than stretching every
axis."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from kpi.engine import profile as profile_module
from kpi.engine.backend import CACHE, backend_of
from kpi.engine.breakdowns import data_range
from kpi.engine.filters import Filters
from kpi.engine.page_data import compare
from kpi.engine.profile import data_profile, stray_dates
from kpi.engine.report import report
from kpi.errors import ImplausibleDates
from kpi.ingest.importer import import_file
from kpi.store import scratch
from kpi.store.connection import open_store
from kpi.store.copying import copy_store
from tests.kpi.stores import make_store


def test_rows_from_an_unrelated_year_are_pointed_out():
    recent = [{"opened_at": datetime(2026, 7, 1) + timedelta(days=d)} for d in range(30)]
    old = [{"opened_at": datetime(2019, 3, 4, 10)}] * 3
    assert stray_dates(make_store(recent)) is None
    notice = stray_dates(make_store(recent + old))
    assert notice is not None and notice.startswith(
        "3 rows are dated 4 Mar 2019, more than a year before the rest of the data "
        "(1 Jul 2026 - 30 Jul 2026)"
    )
    one = stray_dates(make_store(recent + old[:1]))
    assert one is not None and one.startswith("1 row is dated 4 Mar 2019, more than a year")


# --- dates no report can use ---------------------------------------------------------------------

NORMAL = [
    {"opened_at": datetime(2026, 7, 1, 9), "channel": "email"},
    {"opened_at": datetime(2026, 7, 2, 9), "channel": "phone"},
]
PLACEHOLDERS = [
    {"contact_id": "x1", "opened_at": datetime(1, 1, 1), "channel": "email"},
    {"contact_id": "x2", "opened_at": datetime(9999, 12, 31, 23, 59), "channel": "email"},
    {
        "contact_id": "x3",
        "opened_at": datetime(2026, 7, 3, 9),
        "first_response_at": datetime(9999, 12, 31, 23, 59),
        "resolved_at": datetime(9999, 12, 31, 23, 59),
    },
]
OUTSIDE = (
    "the store holds 3 contacts dated outside 1900-2200, which no report can use "
    "(e.g. test contact 'x1': opened_at 0001-01-01 00:00:00); "
)


def test_a_store_holding_placeholder_dates_refuses_every_report_with_one_line_saying_what_to_do():
    """Stored by an older version (or written by hand): the report neither crashes on them
    (OverflowError, "year 0 is out of range") nor judges every open contact at 9999."""
    store = make_store(NORMAL + PLACEHOLDERS)
    expected = OUTSIDE + (
        "they were written to the store outside an import: correct or delete those rows, or "
        "import their corrected file into a new store."
    )
    with pytest.raises(ImplausibleDates) as refused:
        data_profile(backend_of(store), None)
    assert str(refused.value) == expected
    for grain in (None, "week", "month"):
        with pytest.raises(ImplausibleDates, match="dated outside 1900-2200"):
            report(store, Filters(), by=("channel",) if grain else (), grain=grain)
    with pytest.raises(ImplausibleDates):  # what the dashboard's filters and pages ask first
        data_range(store)
    with pytest.raises(ImplausibleDates):
        compare(store, Filters(date_from=date(2026, 7, 1), date_to=date(2026, 7, 31)), ["sla"])


def test_placeholder_dates_from_an_import_name_the_batch_to_undo():
    store = make_store(NORMAL + [{**row, "batch_id": 7} for row in PLACEHOLDERS])
    with pytest.raises(ImplausibleDates) as refused:
        report(store, Filters())
    assert str(refused.value) == OUTSIDE + (
        "an earlier version imported them (batch 7): undo that import (kpi undo 7) and import "
        "the file again, which now sets such rows aside."
    )


def test_a_survey_answer_with_a_placeholder_date_is_refused_too():
    store = make_store(NORMAL, [{"response_id": "r9", "responded_at": datetime(1, 1, 1), "nps": 9}])
    with pytest.raises(ImplausibleDates, match=r"holds 1 survey answer dated outside 1900-2200"):
        data_profile(backend_of(store), None)


def test_dates_at_the_ends_of_the_years_reports_cover_are_kept():
    edges = [
        {"opened_at": datetime(1900, 1, 1)},
        {"opened_at": datetime(2026, 7, 1), "first_response_at": datetime(2200, 12, 31, 23, 59)},
    ]
    profile = data_profile(backend_of(make_store(NORMAL + edges)), None)
    assert (profile.first_day, profile.latest) == (
        datetime(1900, 1, 1),
        datetime(2200, 12, 31, 23, 59),
    )


# --- kept beside the store for the next process ----------------------------------------------


def _kept_profile(store_path: Path) -> Path:
    found = [
        path
        for path in (scratch.root_beside(store_path) / "sql").glob("*.json")
        if "supported" in json.loads(path.read_text(encoding="utf-8"))
    ]
    assert len(found) == 1
    return found[0]


def test_a_new_process_reads_the_profile_kept_beside_the_store_until_the_data_changes(
    seeded_db: Path, tmp_path: Path
) -> None:
    store = open_store(seeded_db)
    try:
        backend = backend_of(store)
        first = data_profile(backend, CACHE.version(store))
        kept = _kept_profile(seeded_db)
        # What was kept is what was found, exactly (instants to the microsecond).
        assert profile_module._from_json(json.loads(kept.read_text())) == first
        # A new process reads the kept file: marked here, so that reading it shows.
        marked = {**json.loads(kept.read_text()), "undated_responses": 12345}
        kept.write_text(json.dumps(marked), encoding="utf-8")
        CACHE.forget_profiles()
        assert data_profile(backend, CACHE.version(store)).undated_responses == 12345
        # An import moves the data on: the profile is found from the data again.
        extra = tmp_path / "extra.csv"
        extra.write_text(
            "contact_id,opened_at,channel\nnew-1,2026-01-05 09:00,email\n", encoding="utf-8"
        )
        import_file(store, extra, layout="generic_contacts")
        CACHE.forget_profiles()
        again = data_profile(backend, CACHE.version(store))
        assert again.undated_responses == first.undated_responses
        assert again.last_day is not None and again.last_day >= first.last_day
    finally:
        store.close()


def test_an_unreadable_kept_profile_is_found_from_the_data_again(seeded_db: Path) -> None:
    store = open_store(seeded_db)
    try:
        backend = backend_of(store)
        first = data_profile(backend, CACHE.version(store))
        _kept_profile(seeded_db).write_text('{"supported": 3}', encoding="utf-8")
        CACHE.forget_profiles()
        assert data_profile(backend, CACHE.version(store)) == first
    finally:
        store.close()


def test_another_store_file_at_the_same_path_and_version_never_reads_the_others_profile(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kpi.duckdb"
    profiles = []
    for year in (2023, 2025):
        store = open_store(path)
        export = tmp_path / f"contacts_{year}.csv"
        export.write_text(f"contact_id,opened_at,channel\na1,{year}-03-03 10:00,email\n")
        import_file(store, export, layout="generic_contacts")
        versions = store.version()
        CACHE.forget_profiles()  # as a new process starts
        profiles.append((versions, data_profile(backend_of(store), CACHE.version(store))))
        store.close()
        path.unlink()  # the next store is a new file at the same path
    (first_version, first), (second_version, second) = profiles
    assert first_version == second_version  # one import each: the same data version
    assert first.last_day == datetime(2023, 3, 3, 10)
    assert second.last_day == datetime(2025, 3, 3, 10)


def test_a_copy_put_over_a_store_never_reads_the_profile_kept_for_what_was_there(
    tmp_path: Path,
) -> None:
    # A store copied to B; each then imports one more file (the same data version: two
    # imports each). B's profile is kept; A is copied over B. B now holds A's data, and a new
    # process must find A's days, not those kept for B's own import.
    a_path, b_path = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    a = open_store(a_path)
    first = tmp_path / "first.csv"
    first.write_text("contact_id,opened_at,channel\nf1,2025-05-05 10:00,email\n")
    import_file(a, first, layout="generic_contacts")
    copy_store(a, str(b_path))
    for store_path, day in ((a_path, "2025-05-06"), (b_path, "2026-10-06")):
        store = a if store_path == a_path else open_store(store_path)
        extra = tmp_path / f"extra_{day}.csv"
        extra.write_text(f"contact_id,opened_at,channel\nx1,{day} 10:00,email\n")
        import_file(store, extra, layout="generic_contacts")
        if store is not a:
            assert data_profile(backend_of(store), CACHE.version(store)).last_day == datetime(
                2026, 10, 6, 9
            )
            store.close()
    copy_store(a, str(b_path), replace=True)
    a.close()
    CACHE.forget_profiles()  # as a new process starts
    b = open_store(b_path)
    try:
        assert data_profile(backend_of(b), CACHE.version(b)).last_day == datetime(2025, 5, 6, 9)
    finally:
        b.close()
