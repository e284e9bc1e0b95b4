"""The backlog: which contacts have a lifecycle to be open in, through a real import; and the
aggregate queries' SQL, kept with its dates as parameters."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import ibis
import pytest

from kpi.engine.aggregation import records
from kpi.engine.backend import CACHE, Slots, backend_of, parameterised
from kpi.engine.filters import Filters
from kpi.engine.profile import data_profile
from kpi.engine.report import report
from kpi.ingest.importer import import_file
from kpi.metrics.contact_facts import is_tracked
from kpi.metrics.settings import Settings
from kpi.store.connection import open_store
from tests.kpi.stores import make_store

CAL = Settings(hours="calendar")

TICKETS = """\
Ticket ID,Created,Status,Closed
T1,2025-03-01 10:00,Open,
T2,2025-03-02 10:00,Weird state,
T3,2025-03-03 10:00,Closed,2025-03-04 10:00
T4,2025-03-03 11:00,Weird state,2025-03-05 10:00
"""

MAPPING = """\
kind = "contacts"
source = "tickets"

[columns]
contact_id = "Ticket ID"
opened_at = "Created"
status = "Status"
closed_at = "Closed"
"""


def test_a_ticket_whose_status_was_emptied_at_import_counts_in_the_backlog_by_its_times(
    tmp_path: Path,
) -> None:
    (tmp_path / "tickets.csv").write_text(TICKETS)
    (tmp_path / "tickets.toml").write_text(MAPPING)
    store = open_store(":memory:")
    try:
        result = import_file(store, tmp_path / "tickets.csv", mapping=tmp_path / "tickets.toml")
        assert result.warnings == 2  # 'Weird state' twice: warned about and emptied
        statuses = (
            store.cursor()
            .execute("SELECT contact_id, status FROM contacts ORDER BY contact_id")
            .fetchall()
        )
        assert statuses == [("T1", "open"), ("T2", None), ("T3", "closed"), ("T4", None)]
        at = datetime(2025, 3, 4, 12)  # T1 and T2 open; T3 closed; T4 open until 5 March
        backlog = report(store, as_of=at, settings=CAL, metrics=["backlog"]).totals()["backlog"]
        assert backlog.value == 3
        later = datetime(2025, 3, 6, 12)  # T4 closed by its closing time
        backlog = report(store, as_of=later, settings=CAL, metrics=["backlog"]).totals()
        assert backlog["backlog"].value == 2
    finally:
        store.close()


def test_calls_and_sources_without_statuses_stay_out_of_the_backlog() -> None:
    d = datetime(2025, 3, 3, 9)
    rows = [
        {"source": "tickets", "opened_at": d, "status": "open"},
        {"source": "tickets", "opened_at": d},  # a ticket with its status emptied: open
        {"source": "tickets", "opened_at": d, "answered": True},  # a call: no lifecycle
        {"source": "volumes", "opened_at": d},  # a source that never records a status
    ]
    found = report(make_store(rows), as_of=datetime(2025, 3, 4), settings=CAL,
                   metrics=["backlog", "contacts"]).totals()  # fmt: skip
    assert (found["backlog"].value, found["contacts"].value) == (2, 4)


def test_the_profiles_sources_with_statuses_track_the_same_contacts_as_the_stores() -> None:
    # Reports take the sources that record statuses from the data profile rather than scanning
    # every contact again: the same contacts are tracked either way, and the profile follows
    # the data (a call log source gains a status: its other contacts become tracked).
    d = datetime(2025, 3, 3, 9)
    rows = [
        {"source": "tickets", "opened_at": d, "status": "open"},
        {"source": "tickets", "opened_at": d},
        {"source": "tickets", "opened_at": d, "answered": True},
        {"source": "volumes", "opened_at": d},
        {"source": "volumes", "opened_at": d, "abandoned": False},
    ]
    for extra, sources, tracked in (
        ([], {"tickets"}, 2),
        ([{"source": "volumes", "opened_at": d, "status": "resolved"}], {"tickets", "volumes"}, 4),
    ):
        store = make_store(rows + extra)
        backend = backend_of(store)
        profile = data_profile(backend, CACHE.version(store))
        assert profile.status_sources == sources
        t = backend.table("contacts")
        known = t.filter(is_tracked(t, profile.status_sources)).count().execute()
        read = t.filter(is_tracked(t)).count().execute()
        assert known == read == tracked


# --- compiled SQL with its dates as parameters ---------------------------------------------------

MARCH_3, MARCH_10 = datetime(2025, 3, 3, 9), datetime(2025, 3, 10, 9)


def test_records_run_one_compiled_query_for_any_instants() -> None:
    store = make_store([{"opened_at": MARCH_3}, {"opened_at": MARCH_10}])
    backend = backend_of(store)

    def opened_since(slots: Slots):
        t = backend.table("contacts")
        return t.filter(t.opened_at >= slots.timestamp("since")).aggregate(n=lambda t: t.count())

    key = ("test: opened since", CACHE.token(backend))
    assert records(backend, opened_since, key, {"since": datetime(2025, 3, 1)}) == [{"n": 2}]
    compiled = CACHE.compilations
    assert records(backend, opened_since, key, {"since": datetime(2025, 3, 5)}) == [{"n": 1}]
    assert records(backend, opened_since, key, {"since": MARCH_10}) == [{"n": 1}]  # inclusive
    assert records(backend, opened_since, key, {"since": datetime(2026, 1, 1)}) == [{"n": 0}]
    assert CACHE.compilations == compiled
    # Without a key (or on a bare backend) the instants are written into the SQL: the same.
    assert records(backend, opened_since, None, {"since": datetime(2025, 3, 5)}) == [{"n": 1}]


def test_sql_whose_text_holds_a_stand_in_year_is_compiled_with_its_dates_instead() -> None:
    # A team named like a stand-in year: the SQL cannot tell the stand-in apart, so it is not
    # kept with parameters, and the figures come from the dates written in.
    store = make_store(
        [
            {"opened_at": MARCH_3, "team": "1111"},
            {"opened_at": MARCH_10, "team": "1111"},
            {"opened_at": MARCH_3, "team": "other"},
        ]
    )
    backend = backend_of(store)
    slots = Slots({"since": datetime(2025, 3, 1)}, stand_ins=True)
    t = backend.table("contacts")
    chosen = t.filter(t.opened_at >= slots.timestamp("since"), t.team == "1111")
    expr = chosen.aggregate(n=chosen.count())
    assert parameterised(backend, str(backend.compile(expr)), slots) is None
    week = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 9), team=("1111",))
    later = week.with_dates(date(2025, 3, 10), date(2025, 3, 16))
    for filters in (week, later):
        got = report(store, filters, settings=CAL, metrics=["contacts"]).totals()
        assert got["contacts"].value == 1


def _open_by_rule(contacts: list[dict], end: datetime) -> int:
    """The backlog's rule in plain Python: opened before ``end`` and not done by it."""
    count = 0
    for r in contacts:
        resolved = r.get("resolved_at")
        done = r["status"] in ("resolved", "closed")
        done_by_end = (resolved is not None and resolved < end) or (resolved is None and done)
        count += r["opened_at"] < end and not done_by_end
    return count


@pytest.mark.parametrize(
    "last_day",
    [date(2025, 5, 11), date(2025, 6, 20)],  # 100 days: placed; 140 days: joined to the ends
)
def test_a_long_backlog_series_matches_the_rule_at_every_end(last_day: date) -> None:
    # Over 64 periods, each contact is placed by how many period ends its opening and closing
    # pass (up to 128 ends), or the ends are a table joined to the contacts (past 128); either
    # way the backlog at each end must be exactly the rule's count. The contacts include
    # the awkward ones: opened before the range, resolved before they opened, done with no
    # time, never closed, closed exactly at a local midnight, and no channel.
    rng = random.Random(7)
    london = ZoneInfo("Europe/London")
    contacts = []
    for _ in range(400):
        opened = datetime(2025, 1, 1) + timedelta(minutes=rng.randrange(0, 200 * 24 * 60))
        kind = rng.choice(["resolved", "resolved", "open", "undated", "before", "midnight"])
        resolved: datetime | None = opened + timedelta(hours=rng.expovariate(1 / 60))
        status = "resolved"
        if kind == "open":
            resolved, status = None, "open"
        elif kind == "undated":
            resolved = None
        elif kind == "before":
            resolved = opened - timedelta(hours=3)
        elif kind == "midnight":  # 30 March: the clocks go forward; midnight is still GMT
            resolved = datetime(2025, 3, 30) + timedelta(days=rng.randrange(0, 60))
            resolved -= timedelta(hours=1) if resolved.month >= 4 else timedelta(0)
        channel = rng.choice(["email", "chat", None])
        contacts.append(
            {"opened_at": opened, "resolved_at": resolved, "status": status, "channel": channel}
        )
    store = make_store(contacts)
    as_of = datetime(2025, 6, 1, 15, 30)  # the last days are capped at as-of
    days = Filters(date_from=date(2025, 2, 1), date_to=last_day)
    got = report(
        store, days, grain="day", by=["channel"], as_of=as_of, settings=CAL, metrics=["backlog"]
    )
    checked = 0
    for row in got.rows:
        day = date.fromisoformat(row.period)
        midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), london)
        end = min(midnight.astimezone(UTC).replace(tzinfo=None), as_of + timedelta(microseconds=1))
        mine = [c for c in contacts if not row.segment or c["channel"] == row.segment["channel"]]
        assert row.metrics["backlog"].value == _open_by_rule(mine, end), (row.segment, day)
        checked += 1
    # Every day, for the total and each of the three channels.
    assert checked == ((last_day - date(2025, 2, 1)).days + 1) * 4


def test_a_long_backlog_on_a_table_whose_opening_is_not_null_is_counted() -> None:
    # A user's own table (PostgreSQL, say) may declare opened_at NOT NULL; the openings and
    # the closings are stacked into one column, which must take both.
    start = datetime(2025, 1, 1)
    contacts = [
        {
            "opened_at": start + timedelta(days=i),
            "resolved_at": start + timedelta(days=i + 3) if i % 3 else None,
            "status": "resolved" if i % 3 else "open",
        }
        for i in range(120)
    ]
    store = make_store(contacts)
    store.con.execute("ALTER TABLE contacts ALTER COLUMN opened_at SET NOT NULL")
    bare = ibis.duckdb.from_connection(store.con)
    days = Filters(date_from=date(2025, 1, 1), date_to=date(2025, 4, 10))
    got = report(bare, days, grain="day", metrics=["backlog"], as_of=datetime(2025, 5, 1))
    assert len(got.rows) == 100
    for row in got.rows:
        end = datetime.combine(date.fromisoformat(row.period) + timedelta(days=1), time())
        end -= timedelta(hours=1) if end >= datetime(2025, 3, 31) else timedelta(0)  # BST
        assert row.metrics["backlog"].value == _open_by_rule(contacts, end), row.period


@pytest.mark.parametrize(
    "days",
    [60, 100, 140],  # a count per end; placed by a binary search; joined to the ends
)
def test_a_segment_open_at_no_period_end_shows_a_backlog_of_0_every_day(days: int) -> None:
    # Phone contacts are all resolved within the hour, so none is ever open at a midnight:
    # however long the series, phone has its rows, each with a backlog of 0, and no row of
    # another segment stands in for it.
    start = datetime(2025, 1, 1, 9)
    contacts = [
        {
            "opened_at": start + timedelta(days=d),
            "resolved_at": start + timedelta(days=d, minutes=30 if d % 2 else 60 * 24 * 3),
            "status": "resolved",
            "channel": "phone" if d % 2 else "email",
        }
        for d in range(days)
    ]
    period = Filters(date_from=start.date(), date_to=start.date() + timedelta(days=days - 1))
    got = report(
        make_store(contacts), period, grain="day", by=["channel"], settings=CAL,
        as_of=datetime(2025, 12, 31), metrics=["backlog"],
    )  # fmt: skip
    phone = [r.metrics["backlog"].value for r in got.rows if r.segment == {"channel": "phone"}]
    email = [r.metrics["backlog"].value for r in got.rows if r.segment == {"channel": "email"}]
    assert phone == [0.0] * days
    assert len(email) == days and max(email) == 2  # three days open: two at most midnights
    assert {tuple(r.segment.items()) for r in got.rows} == {
        (),
        (("channel", "email"),),
        (("channel", "phone"),),
    }
