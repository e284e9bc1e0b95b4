"""Segment choices are parameters of the compiled SQL, as dates are: a new choice of channel,
team, agent... reuses the SQL compiled for another (or for none), with the figures a bare
backend gets from SQL with the values written in. Values with quotes and other odd characters
reach the database as values, never as SQL text."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from kpi.engine import breakdowns
from kpi.engine.backend import CACHE, Slots, backend_of, parameterised
from kpi.engine.filters import Filters
from kpi.engine.report import report, report_periods
from kpi.metrics.settings import Settings
from kpi.store.connection import Store
from tests.kpi.stores import make_store

CAL = Settings(hours="calendar")
AS_OF = datetime(2025, 3, 20, 12)
PERIOD = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 16))
ODD = ("O'Brien", 'say "hi"; DROP TABLE contacts; --', "back\\slash", "%_ü€", "$1")


def _contacts() -> list[dict]:
    rows = []
    agents = ["Ann", *ODD]
    for i in range(36):
        opened = datetime(2025, 3, 3, 9) + timedelta(hours=7 * i)
        row = {
            "opened_at": opened,
            "channel": ("email", "phone", "chat")[i % 3],
            "team": ("Leeds", "Cardiff")[i % 2],
            "agent": agents[i % len(agents)],
            "priority": ("low", "high")[i % 2],
            "category": ("Billing", "Tech", "O'Reilly's")[i % 3],
            "first_response_at": opened + timedelta(hours=1 + i % 5),
        }
        if i % 4:
            row.update(status="resolved", resolved_at=opened + timedelta(hours=3 + i % 7))
        else:
            row["status"] = "open"
        rows.append(row)
    return rows


def _responses() -> list[dict]:
    return [
        {
            "responded_at": datetime(2025, 3, 4, 10) + timedelta(hours=11 * i),
            "channel": ("email", "phone", None)[i % 3],
            "agent": (None, "O'Brien", "Ann")[i % 3],
            "csat": float(1 + i % 5),
            "csat_scale_min": 1.0,
            "csat_scale_max": 5.0,
            "nps": float(i % 11),
        }
        for i in range(24)
    ]


@pytest.fixture
def store():
    store = make_store(_contacts(), _responses())
    yield store
    store.close()


def _views(source: Store | object, filters: Filters) -> list[dict]:
    """What the pages ask: weekly by channel, the whole period, two named periods by agent."""
    weekly = report(source, filters, ["channel"], "week", AS_OF, CAL)
    whole = report(source, filters, as_of=AS_OF, settings=CAL)
    first = filters.with_dates(date(2025, 3, 3), date(2025, 3, 9))
    second = filters.with_dates(date(2025, 3, 10), date(2025, 3, 16))
    both = report_periods(source, {"a": first, "b": second}, ["agent"], AS_OF, CAL)
    return [weekly.to_dict(), whole.to_dict(), both.to_dict()]


CHOICES = [
    Filters(),
    Filters(channel=("phone",)),
    Filters(channel=("email", "chat")),
    Filters(agent=ODD[:2]),
    Filters(agent=(ODD[2],), category=("O'Reilly's",)),
    Filters(team=("Leeds",), priority=("high",)),
    Filters(agent=("nobody at all",)),
]
#: The same sets of restricted fields as ``CHOICES``, other values.
FIRST = [
    Filters(),
    Filters(channel=("chat",)),
    Filters(agent=("Ann",)),
    Filters(agent=("Ann", "O'Brien"), category=("Billing",)),
    Filters(team=("Cardiff",), priority=("low",)),
]


def test_a_new_segment_choice_reuses_the_compiled_queries_with_the_same_figures(store):
    # The first choices compile the contacts' queries once, whether a field is restricted or
    # not; the answers' queries once per set of restricted fields. Other values of the same
    # fields then compile nothing.
    for choice in FIRST:
        _views(store, _with(choice))
    compiled = CACHE.compilations
    for choice in reversed(CHOICES):
        got = _views(store, _with(choice))
        assert got == _views(backend_of(store), _with(choice)), choice
    assert CACHE.compilations == compiled


def test_a_first_restriction_compiles_no_contact_query(store):
    # Unrestricted first: every segment field is already a parameter of the contacts' SQL.
    keys = ("contacts", "sla", "backlog", "first_response_hours")
    report(store, PERIOD, ["team"], "week", AS_OF, CAL, keys)
    compiled = CACHE.compilations
    for channel in (("phone",), ("email", "phone"), ("chat",), ()):
        chosen = _with(Filters(channel=channel, team=channel and ("Leeds",)))
        got = report(store, chosen, ["team"], "week", AS_OF, CAL, keys)
        assert (
            got.to_dict()
            == report(backend_of(store), chosen, ["team"], "week", AS_OF, CAL, keys).to_dict()
        )
    assert CACHE.compilations == compiled


def _with(choice: Filters) -> Filters:
    return choice.with_dates(PERIOD.date_from, PERIOD.date_to)


def test_odd_values_count_the_rows_that_hold_them(store):
    for value in ODD:
        totals = report(store, _with(Filters(agent=(value,))), as_of=AS_OF, settings=CAL)
        expected = sum(1 for row in _contacts() if row["agent"] == value)
        assert totals.totals()["contacts"].value == expected > 0, value
    reilly = report(store, _with(Filters(category=("O'Reilly's",))), as_of=AS_OF, settings=CAL)
    assert reilly.totals()["contacts"].value == 12


def test_an_empty_selection_is_every_row(store):
    every = report(store, _with(Filters(channel=())), as_of=AS_OF, settings=CAL).to_dict()
    assert every == report(store, PERIOD, as_of=AS_OF, settings=CAL).to_dict()
    assert every["rows"][0]["metrics"]["contacts"]["value"] == 36
    # Rows without the field (answers with no channel, none linked) count when unrestricted.
    answers = report(store, PERIOD, as_of=AS_OF, settings=CAL, metrics=("responses",))
    assert answers.totals()["responses"].n == 24


def test_breakdowns_reuse_their_sql_for_another_choice(store):
    views = (breakdowns.time_distribution, breakdowns.breach_heatmap, breakdowns.backlog_age)
    for view in views:
        view(store, PERIOD)
    compiled = CACHE.compilations
    for choice in CHOICES[1:]:
        fresh = make_store(_contacts(), _responses())  # compiled afresh: the same figures
        try:
            for view in views:
                got = view(store, _with(choice))
                assert got.equals(view(fresh, _with(choice))), (view.__name__, choice)
        finally:
            fresh.close()
    # Each fresh store compiled its own; the first store compiled nothing more.
    assert CACHE.compilations == compiled + len(views) * len(CHOICES[1:])


def test_a_stand_in_list_becomes_a_list_parameter(store):
    backend = backend_of(store)
    t = backend.table("contacts")
    slots = Slots({"segment_agent": ("O'Brien",)}, stand_ins=True)
    predicate = slots.among("segment_agent", t.agent)
    assert predicate is not None
    sql = str(backend.compile(t.filter(predicate).select("agent")))
    query = parameterised(backend, sql, slots)
    assert query is not None and query.names == ("segment_agent",)
    assert "O'Brien" not in query.sql and "CAST($segment_agent AS VARCHAR[])" in query.sql
    cursor = backend.con.execute(query.sql, {"segment_agent": ["O'Brien"]})
    assert {row[0] for row in cursor.fetchall()} == {"O'Brien"}
    # Without values, a literal slot is no predicate at all.
    assert Slots({"segment_agent": ()}).among("segment_agent", t.agent) is None
