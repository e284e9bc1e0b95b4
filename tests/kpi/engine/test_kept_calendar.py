"""The business calendar and each contact's working-time readings, kept in the store.

They are rebuilt when the business hours, holidays or time zone change, or when the data
changes, and reused otherwise (also by a new process); a store opened read-only still reports
the same figures. Asserted on the stored tables themselves, never on timing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kpi.engine.backend import CACHE
from kpi.engine.report import report
from kpi.ingest.importer import import_file
from kpi.metrics.settings import Settings, load_settings, save_settings
from kpi.store.batches import undo
from kpi.store.connection import Store, open_store
from kpi.store.copying import copy_store

LONDON = ZoneInfo("Europe/London")
KEYS = ["first_response_hours", "resolution_hours", "sla"]
CLOCKS = ["opened_cum", "first_response_cum", "resolved_cum"]


def _local(year: int, month: int, day: int, hour: int) -> datetime:
    """A London wall-clock time as the naive UTC the store holds."""
    local = datetime(year, month, day, hour, tzinfo=LONDON)
    return local.astimezone(UTC).replace(tzinfo=None)


def _add_contacts(store: Store, rows: list[tuple[str, datetime, datetime | None]]) -> None:
    """Contacts (id, opened, first reply) as one import would add them: the rows, and a batch
    so that the store's version moves on."""
    with store.transaction() as cur:
        batch = cur.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM imports").fetchall()[0][0]
        for contact_id, opened, reply in rows:
            cur.execute(
                "INSERT INTO contacts (source, contact_id, opened_at, first_response_at, "
                "resolved_at, priority, status, batch_id) VALUES ('t', ?, ?, ?, ?, 'urgent', ?, ?)",
                [
                    contact_id,
                    opened,
                    reply,
                    reply + timedelta(hours=30) if reply else None,
                    "resolved" if reply else "open",
                    batch,
                ],
            )
        cur.execute("INSERT INTO imports (batch_id, file_name) VALUES (?, 'test')", [batch])


#: Monday 10 Nov 2025 09:00 London, replied at 11:00; a Friday-to-Monday reply; one still open.
ROWS = [
    ("a", _local(2025, 11, 10, 9), _local(2025, 11, 10, 11)),
    ("b", _local(2025, 11, 7, 16), _local(2025, 11, 10, 10)),
    ("c", _local(2025, 11, 12, 9), None),
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store(tmp_path / "store.duckdb")
    _add_contacts(store, ROWS)
    return store


def _built(store: Store) -> dict[str, tuple[dict, datetime]]:
    rows = store.cursor().execute("SELECT name, built_for, built_at FROM derived_tables")
    return {name: (json.loads(built_for), at) for name, built_for, at in rows.fetchall()}


def _calendar(store: Store) -> list[tuple[datetime, datetime, float]]:
    sql = "SELECT start_utc, end_utc, cum_before FROM business_calendar ORDER BY start_utc"
    return store.cursor().execute(sql).fetchall()


def _interval_on(store: Store, day: str) -> list[tuple[datetime, datetime]]:
    """The stored working intervals that start on a UTC day."""
    sql = (
        "SELECT start_utc, end_utc FROM business_calendar WHERE CAST(start_utc AS DATE) = ? "
        "ORDER BY start_utc"
    )
    return store.cursor().execute(sql, [day]).fetchall()


def _figures(source: Store, settings: Settings | None = None) -> dict[str, tuple]:
    total = report(source, metrics=KEYS, settings=settings).total()
    assert total is not None
    return {k: (m.value, m.n, m.ci_low, m.ci_high) for k, m in total.metrics.items()}


def test_the_first_report_keeps_the_calendar_and_readings_in_the_store(store):
    assert _calendar(store) == [] and _built(store) == {}
    figures = _figures(store)
    assert figures["first_response_hours"][:2] == (pytest.approx(2.0), 2)  # 2 h and 1+1 h
    built = _built(store)
    assert set(built) == {"business_calendar", "business_times"}
    assert built["business_calendar"][0]["hours"] == Settings().calendar().to_dict()
    # Whole years around the data, 09:00-17:00 London: GMT in November, BST in June.
    assert _interval_on(store, "2025-11-10") == [
        (datetime(2025, 11, 10, 9), datetime(2025, 11, 10, 17))
    ]
    assert _interval_on(store, "2025-06-02") == [
        (datetime(2025, 6, 2, 8), datetime(2025, 6, 2, 16))
    ]
    assert _interval_on(store, "2025-12-25") == []  # Christmas Day
    assert built["business_calendar"][0]["first"] == "2024-01-01"
    assert built["business_calendar"][0]["last"] == "2026-12-31"
    times = store.cursor().execute(
        "SELECT contact_id, first_response_cum - opened_cum FROM business_times ORDER BY 1"
    )
    assert times.fetchall() == [("a", 7200.0), ("b", 7200.0), ("c", None)]


def test_a_second_report_and_a_new_process_reuse_the_kept_tables(store, tmp_path):
    first = _figures(store)
    built, calendar = _built(store), _calendar(store)
    # Another setting than the business hours: a new store version, the same tables.
    save_settings(store, Settings(sla_default_priority="high"))
    assert _figures(store)["first_response_hours"] == first["first_response_hours"]
    assert _built(store) == built and _calendar(store) == calendar
    store.close()
    again = open_store(tmp_path / "store.duckdb")
    assert _figures(again)["first_response_hours"] == first["first_response_hours"]
    assert _built(again) == built  # same content, same build time: not rebuilt
    again.close()


@pytest.mark.parametrize(
    ("hours", "day", "interval"),
    [
        # Opening at 10:00 instead of 09:00.
        ({"weekly": {str(d): ["10:00", "17:00"] for d in range(5)}}, "2025-11-10",
         [(datetime(2025, 11, 10, 10), datetime(2025, 11, 10, 17))]),
        # Scotland's holidays: St Andrew's Day (Monday 1 Dec 2025 in lieu) is closed.
        ({"region": "scotland"}, "2025-12-01", []),
        # Another time zone: 09:00 in New York is 14:00 UTC in November.
        ({"timezone": "America/New_York", "region": "none"}, "2025-11-10",
         [(datetime(2025, 11, 10, 14), datetime(2025, 11, 10, 22))]),
    ],
)  # fmt: skip
def test_the_calendar_is_rebuilt_when_hours_holidays_or_time_zone_change(
    store, hours, day, interval
):
    _figures(store)
    old = _built(store)
    assert _interval_on(store, "2025-12-01") != []  # a working Monday in England
    save_settings(store, Settings(business_hours=hours))
    _figures(store)
    assert _interval_on(store, day) == interval
    built = _built(store)
    assert built["business_calendar"][0]["hours"] == load_settings(store).calendar().to_dict()
    assert built["business_calendar"] != old["business_calendar"]
    assert built["business_times"] != old["business_times"]


def test_hours_changed_and_changed_back_give_the_first_figures_again(store):
    first = _figures(store)
    save_settings(store, Settings(business_hours={"timezone": "America/New_York"}))
    assert _figures(store) != first
    save_settings(store, Settings())
    assert _figures(store) == first
    assert _built(store)["business_calendar"][0]["hours"] == Settings().calendar().to_dict()


def test_an_import_rebuilds_the_readings_and_keeps_the_calendar(store):
    _figures(store)
    built, calendar = _built(store), _calendar(store)
    _add_contacts(store, [("d", _local(2025, 11, 13, 9), _local(2025, 11, 13, 13))])
    assert _figures(store)["first_response_hours"][1] == 3
    after = _built(store)
    assert after["business_calendar"] == built["business_calendar"]
    assert _calendar(store) == calendar
    assert after["business_times"][0]["data"] != built["business_times"][0]["data"]
    count = store.cursor().execute("SELECT count(*) FROM business_times").fetchall()
    assert count == [(4,)]


def test_data_from_a_later_year_lengthens_the_calendar(store):
    _figures(store)
    _add_contacts(store, [("late", _local(2027, 3, 1, 9), _local(2027, 3, 1, 10))])
    assert _figures(store)["first_response_hours"][1] == 3
    calendar = _built(store)["business_calendar"][0]
    assert (calendar["first"], calendar["last"]) == ("2024-01-01", "2028-12-31")
    assert _interval_on(store, "2027-03-01") == [
        (datetime(2027, 3, 1, 9), datetime(2027, 3, 1, 17))
    ]


def test_other_hours_passed_in_leave_the_kept_tables_alone(store):
    _figures(store)
    built = _built(store)
    preview = Settings(business_hours={"timezone": "America/New_York"})
    assert _figures(store, preview) != _figures(store)
    assert _built(store) == built


def test_a_store_opened_read_only_reports_the_same_figures(tmp_path):
    path = tmp_path / "store.duckdb"
    # Never reported on: nothing kept yet, and a read-only store cannot keep anything.
    writer = open_store(path)
    _add_contacts(writer, ROWS)
    writer.close()
    reader = open_store(path, read_only=True)
    unkept = _figures(reader)
    preview = _figures(reader, Settings(business_hours={"region": "scotland"}))
    assert _built(reader) == {}
    reader.close()
    writer = open_store(path)
    kept, kept_preview = (
        _figures(writer),
        _figures(writer, Settings(business_hours={"region": "scotland"})),
    )
    writer.close()
    assert unkept == kept and preview == kept_preview
    # Kept by the writer, then read by a read-only process.
    reader = open_store(path, read_only=True)
    assert _figures(reader) == kept
    reader.close()


def test_a_calendar_built_by_other_rules_is_built_again_with_its_readings(store, monkeypatch):
    # Another program version, holidays package or time-zone database (calendar.calendar_rules)
    # may lay the same hours out differently: the kept tables are built again, not reused.
    from kpi.engine import calendar

    figures = _figures(store)
    before = _built(store)
    assert before["business_calendar"][0]["rules"] == calendar.calendar_rules()
    monkeypatch.setattr(calendar, "calendar_rules", lambda: "other rules")
    store.close()
    CACHE.forget_compiled()  # the other version is another process
    again = open_store(store.path)
    try:
        assert _figures(again) == figures  # the same rules in fact: the same figures
        after = _built(again)
    finally:
        again.close()
    for name in ("business_calendar", "business_times"):
        assert after[name][0]["rules"] == "other rules"
        assert after[name][1] > before[name][1]  # built again


def _columns(store: Store, table: str) -> list[str]:
    rows = store.cursor().execute(f"DESCRIBE {table}").fetchall()
    return [r[0] for r in rows]


def test_the_kept_readings_carry_each_contacts_whole_row(store):
    # A business-hours report reads this one table instead of joining the readings back to
    # the contacts by key: it must hold every contact, every column as stored.
    _figures(store)
    assert _columns(store, "business_times") == [*_columns(store, "contacts"), *CLOCKS]
    differ = store.cursor().execute(
        "SELECT count(*) FROM ((SELECT * EXCLUDE (opened_cum, first_response_cum, resolved_cum)"
        " FROM business_times) EXCEPT ALL (SELECT * FROM contacts))"
    )
    assert differ.fetchall() == [(0,)]
    assert _built(store)["business_times"][0]["columns"] == _columns(store, "business_times")


def test_readings_kept_by_an_earlier_version_without_the_rows_are_built_again(store):
    figures = _figures(store)
    built = _built(store)["business_times"][0]
    # As an earlier version kept them: the key and the readings only, built for no columns.
    old = {k: v for k, v in built.items() if k != "columns"}
    with store.transaction() as cur:
        cur.execute(
            "CREATE OR REPLACE TABLE business_times AS SELECT source, contact_id, opened_at, "
            "opened_cum, first_response_cum, resolved_cum FROM business_times"
        )
        cur.execute(
            "UPDATE derived_tables SET built_for = ? WHERE name = 'business_times'",
            [json.dumps(old, sort_keys=True)],
        )
    store.close()
    CACHE.forget_compiled()  # another process
    again = open_store(store.path)
    try:
        assert _figures(again) == figures
        assert _columns(again, "business_times") == [*_columns(again, "contacts"), *CLOCKS]
    finally:
        again.close()


def test_another_import_history_with_the_same_counts_rebuilds_the_readings(store):
    # A working copy whose own import was refused catches up with another person's, under the
    # same batch number and counts (an import that only updates rows adds none): other data.
    assert _figures(store)["first_response_hours"][:2] == (pytest.approx(2.0), 2)
    with store.transaction() as cur:
        cur.execute(
            "UPDATE contacts SET first_response_at = first_response_at + INTERVAL 1 HOUR "
            "WHERE contact_id = 'a'"
        )
        cur.execute("UPDATE imports SET sha256 = 'another file', imported_at = now()")
    store.close()
    CACHE.forget_compiled()  # another process
    again = open_store(store.path)
    try:  # 3 h and 2 h now
        assert _figures(again)["first_response_hours"][:2] == (pytest.approx(2.5), 2)
    finally:
        again.close()


WRONG_FILE = """\
Ticket ID,Created,Status,Subject
W1,2025-11-10 09:00,Open,Confidential escalation for a named customer
W2,2025-11-11 09:00,Open,Confidential escalation for a named customer
"""

WRONG_MAPPING = """\
kind = "contacts"
source = "wrong"

[columns]
contact_id = "Ticket ID"
opened_at = "Created"
status = "Status"
subject = "Subject"
"""


def _kept_subjects(store: Store) -> list[tuple]:
    sql = "SELECT subject FROM business_times WHERE subject IS NOT NULL"
    return store.cursor().execute(sql).fetchall()


def test_an_undone_files_rows_do_not_outlive_it_in_the_kept_copy_or_a_store_copy(store, tmp_path):
    # The kept copy holds whole rows, free text included: an undo prunes the undone rows from
    # it (an import marks it stale), so a store nobody reports on in business hours again keeps
    # nothing of the undone file, and `kpi store copy` leaves the engine's tables behind.
    (tmp_path / "wrong.csv").write_text(WRONG_FILE)
    (tmp_path / "wrong.toml").write_text(WRONG_MAPPING)
    first = _figures(store)
    result = import_file(store, tmp_path / "wrong.csv", mapping=tmp_path / "wrong.toml")
    assert "business_times" not in _built(store)  # stale: the next report builds it anew
    _figures(store)
    assert len(_kept_subjects(store)) == 2
    undo(store, result.batch_id)
    assert _kept_subjects(store) == [] and "business_times" not in _built(store)
    _figures(store)  # rebuilt without the undone rows
    assert _kept_subjects(store) == [] and _figures(store) == first
    copy_store(store, str(tmp_path / "copy.duckdb"))
    copy = open_store(tmp_path / "copy.duckdb")
    try:
        assert copy.cursor().execute("SELECT count(*) FROM business_times").fetchall() == [(0,)]
        assert _figures(copy) == first
    finally:
        copy.close()


def test_a_report_running_while_another_session_undoes_still_counts_the_contacts(
    store, tmp_path, monkeypatch
):
    # The undo commits between the report finding the kept copy and querying it (another
    # session's, in the same dashboard process): the copy is pruned of the undone rows, never
    # emptied, so the report counts the contacts still there rather than none.
    from kpi.engine import preparation

    (tmp_path / "wrong.csv").write_text(WRONG_FILE)
    (tmp_path / "wrong.toml").write_text(WRONG_MAPPING)
    result = import_file(store, tmp_path / "wrong.csv", mapping=tmp_path / "wrong.toml")
    assert report(store, metrics=["contacts"]).totals()["contacts"].value == 5
    found = preparation.prepared_clocks

    def undone_meanwhile(*args, **kwargs):
        clocks = found(*args, **kwargs)
        monkeypatch.setattr(preparation, "prepared_clocks", found)
        undo(store, result.batch_id)
        return clocks

    monkeypatch.setattr(preparation, "prepared_clocks", undone_meanwhile)
    during = report(store, metrics=["contacts", "sla"]).totals()
    assert during["contacts"].value == 3
    assert report(store, metrics=["contacts"]).totals()["contacts"].value == 3
