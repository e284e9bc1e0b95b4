"""The same report on DuckDB, PostgreSQL and PySpark (local mode): every KPI, n and interval
bound agrees to 1e-9.

The engine takes a bare Ibis backend as well as a store (``kpi.engine.backend.backend_of``).
Each test builds a real DuckDB store, copies the tables the engine reads into the other backends
(``tests.backends.copy_tables``) and reports on all three: the store (DuckDB, with its kept
business-hours tables and as-of joins) is the reference, PostgreSQL and Spark read the business
calendar through its day pieces (``kpi.engine.calendar.day_pieces``).

The worked examples are those of ``tests/kpi/metrics`` (checked by hand there), one team each, so
that one report by team holds them all; a few of their hand-checked figures are asserted here too,
so the comparison is of figures known to be right. Spark is slow to start a query (a second or
more each), so the Hypothesis comparison takes few examples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kpi.engine.backend import backend_of
from kpi.engine.filters import Filters
from kpi.engine.report import OVERVIEW_GROUPS, overview, report
from kpi.engine.results import Report
from kpi.metrics.settings import Settings
from kpi.store.connection import Store
from tests.backends import copy_tables
from tests.kpi.engine.test_report import (
    _with_ids,
    assert_matches_reference,
    contact_rows,
    reference,
    response_rows,
)
from tests.kpi.metrics.test_intervals import WORKED
from tests.kpi.metrics.test_registry import _sla_rows
from tests.kpi.stores import make_store

pytestmark = [pytest.mark.backends, pytest.mark.slow]

CAL = Settings(hours="calendar")
BUSINESS = Settings()  # Monday to Friday 09:00-17:00 Europe/London, bank holidays closed
AS_OF = datetime(2025, 3, 10, 12, 0)
#: The overview's KPIs, every tile's.
OVERVIEW = tuple(key for keys in OVERVIEW_GROUPS.values() for key in keys)
OTHERS = ("postgres", "spark")
TOLERANCE = 1e-9


# --- the worked examples, one team each -----------------------------------------------------------

d = datetime


def _answers(team: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"responded_at": d(2025, 3, 4, 12), "team": team, **row} for row in rows]


def _calls() -> list[dict[str, Any]]:
    """tests/kpi/metrics/test_registry.py, test_call_metrics_worked_example."""
    phone = {"channel": "phone", "team": "calls"}
    return [
        {**phone, "answered": True, "wait_seconds": 10.0, "handle_seconds": 300.0},
        {**phone, "answered": True, "wait_seconds": 30.0, "handle_seconds": 600.0},
        {**phone, "answered": True},
        {**phone, "answered": None, "abandoned": False, "wait_seconds": 20.0},
        {**phone, "answered": False, "wait_seconds": 50.0, "handle_seconds": 100.0},
        {**phone, "answered": False, "wait_seconds": 3.0},
        {**phone, "answered": False},
        {**phone, "abandoned": True},
        {"channel": "email", "team": "calls", "handle_seconds": 900.0},
    ]


def _sla() -> list[dict[str, Any]]:
    """test_registry.py's SLA worked example (test_sla_outcomes_per_target_and_overall)."""
    return [{**row, "team": "sla"} for row in _sla_rows()]


def _resolutions() -> list[dict[str, Any]]:
    """test_resolution_time_says_when_the_closing_time_stood_in_and_for_how_many: 24, 12, 6 and
    10 hours, median 11."""
    rows = [
        {"opened_at": d(2025, 3, 3, 9), "resolved_at": d(2025, 3, 4, 9), "status": "resolved"},
        {"opened_at": d(2025, 3, 3, 9), "closed_at": d(2025, 3, 3, 21), "status": "closed"},
        {"opened_at": d(2025, 3, 3, 9), "closed_at": d(2025, 3, 3, 15), "status": "closed"},
        {"opened_at": d(2025, 3, 3, 9), "resolved_at": d(2025, 3, 3, 19),
         "closed_at": d(2025, 3, 5, 9), "status": "closed"},
    ]  # fmt: skip
    return [{**row, "team": "resolution"} for row in rows]


def _rates() -> list[dict[str, Any]]:
    """test_reopen_escalation_complaint_and_counts."""

    def resolved(**values: Any) -> dict[str, Any]:
        return {"status": "resolved", "resolved_at": d(2025, 3, 3, 12), "team": "rates", **values}

    return [
        resolved(reopens=0, escalated=True, complaint=True),
        resolved(reopens=1, escalated=False, complaint=True),
        resolved(reopens=2, escalated=False, complaint=False),
        resolved(escalated=None, complaint=False),
        {"status": "open", "reopens": 1, "team": "rates"},
    ]


def _responses() -> list[dict[str, Any]]:
    """test_nps_worked_example (NPS 40, n 5) and test_csat_auto_rule_across_scales (6 of 11)."""
    nps = _answers(
        "nps", [{"nps": float(s)} if s is not None else {} for s in (10, 9, 9, 7, 3, None)]
    )
    csat = [(s, 1.0, 5.0) for s in (5, 4, 3, 1)] + [(s, 1.0, 2.0) for s in (2, 1, 2)]
    csat += [(s, 1.0, 3.0) for s in (3, 2)] + [(s, 1.0, 10.0) for s in (9, 8)]
    rows = [{"csat": float(s), "csat_scale_min": lo, "csat_scale_max": hi} for s, lo, hi in csat]
    return nps + _answers("csat", [*rows, {"nps": 5.0}])


#: tests/kpi/metrics/test_intervals.py's worked rows: 6 abandoned of 63 offered.
INTERVALS = WORKED


def _with_intervals(store: Store, rows: Sequence[dict[str, Any]], team: str) -> Store:
    start = d(2025, 3, 4, 9)
    for i, row in enumerate(rows):
        row = {
            "source": "test",
            "interval_id": f"i{i}",
            "interval_start": start + timedelta(minutes=30 * i),
            "queue": "Billing",
            "team": team,
            "threshold_seconds": 20.0,
            **row,
        }
        marks = ", ".join("?" for _ in row)
        store.con.execute(
            f"INSERT INTO intervals ({', '.join(row)}) VALUES ({marks})", list(row.values())
        )
    return store


@pytest.fixture(scope="module")
def worked() -> Store:
    contacts = _calls() + _sla() + _resolutions() + _rates()
    return _with_intervals(make_store(contacts, _responses()), INTERVALS, "intervals")


# --- comparing reports ---------------------------------------------------------------------------


def _figures(result: Report) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every figure of a report, by (segment, period, KPI)."""
    out = {}
    for row in result.rows:
        for key, m in row.metrics.items():
            numbers = {"value": m.value, "n": m.n, "ci_low": m.ci_low, "ci_high": m.ci_high}
            numbers |= {"numerator": m.numerator, "denominator": m.denominator}
            numbers |= {f"extra {k}": v for k, v in m.extra.items()}
            words = {"variant": m.variant, "reason": m.reason, "small": m.small_sample}
            out[(tuple(row.segment.items()), row.period, key)] = {**numbers, **words}
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return a == b


def assert_agree(expected: Report, got: Report, backend: str) -> None:
    want, have = _figures(expected), _figures(got)
    assert list(have) == list(want), backend  # the same rows, segments, periods and KPIs
    wrong = [
        f"{key} {name}: DuckDB {value!r}, {backend} {have[key][name]!r}"
        for key, figures in want.items()
        for name, value in figures.items()
        if not _same(value, have[key].get(name))
    ]
    assert not wrong, "\n".join(wrong[:20])


def _on(request: pytest.FixtureRequest, name: str, store: Store) -> ibis.BaseBackend:
    """The backend ``name`` holding the store's tables."""
    backend = request.getfixturevalue(name)
    copy_tables(backend_of(store), backend)
    return backend


# --- the tests -----------------------------------------------------------------------------------


def test_the_worked_examples_are_the_hand_checked_figures_on_duckdb(worked):
    teams = {r.segment["team"]: r.metrics for r in _report(worked, CAL).rows if r.segment}
    assert teams["nps"]["nps"].value == pytest.approx(40.0) and teams["nps"]["nps"].n == 5
    assert (teams["csat"]["csat"].numerator, teams["csat"]["csat"].denominator) == (6, 11)
    calls = teams["calls"]
    assert (calls["abandonment_rate"].numerator, calls["abandonment_rate"].n) == (3, 7)
    assert (calls["service_level"].numerator, calls["service_level"].n) == (2, 6)
    assert calls["asa_seconds"].value == pytest.approx(20.0) and calls["asa_seconds"].n == 3
    assert calls["aht_seconds"].value == pytest.approx(600.0) and calls["aht_seconds"].n == 3
    assert teams["resolution"]["resolution_hours"].value == pytest.approx(11.0)
    rates = teams["rates"]
    assert (rates["reopen_rate"].numerator, rates["reopen_rate"].n) == (2, 3)
    assert (rates["escalation_rate"].numerator, rates["escalation_rate"].n) == (1, 3)
    assert (rates["complaint_rate"].numerator, rates["complaint_rate"].n) == (2, 4)
    pooled = teams["intervals"]["abandonment_rate"]
    assert (pooled.numerator, pooled.denominator) == (6, 63)


def _report(source: Store | ibis.BaseBackend, settings: Settings, **kwargs: Any) -> Report:
    return report(source, by=("team",), as_of=AS_OF, settings=settings, metrics=OVERVIEW, **kwargs)


@pytest.mark.parametrize("other", OTHERS)
def test_the_worked_examples_agree_in_calendar_hours(request, worked, other):
    backend = _on(request, other, worked)
    assert_agree(_report(worked, CAL), _report(backend, CAL), other)


@pytest.mark.parametrize("other", OTHERS)
def test_the_worked_examples_agree_in_business_hours_by_week(request, worked, other):
    backend = _on(request, other, worked)
    expected = _report(worked, BUSINESS, grain="week")
    assert_agree(expected, _report(backend, BUSINESS, grain="week"), other)


@pytest.mark.parametrize("other", OTHERS)
def test_a_daily_backlog_over_many_periods_agrees(request, other):
    # Over 64 periods the backlog places each contact by the period ends it passes (nested
    # CASEs): the same figures on every backend, capped ends (after as-of) included.
    start = d(2025, 1, 1, 10)
    rows = []
    for i in range(60):
        opened = start + timedelta(days=i * 1.3, hours=i % 7)
        row: dict[str, Any] = {"opened_at": opened, "team": "ab"[i % 2], "status": "resolved"}
        if i % 5 == 0:
            row["status"] = "open"
        elif i % 5 == 1:
            pass  # done, with no time
        elif i % 5 == 2:
            row["resolved_at"] = opened - timedelta(hours=2)  # before it opened
        else:
            row["resolved_at"] = opened + timedelta(days=i % 11, hours=5)
        rows.append(row)
    store = make_store(rows)
    backend = _on(request, other, store)
    days = Filters(date_from=date(2025, 1, 1), date_to=date(2025, 3, 31))
    expected = _report(store, CAL, grain="day", filters=days)
    assert len({r.period for r in expected.rows}) == 90
    assert_agree(expected, _report(backend, CAL, grain="day", filters=days), other)


# --- generated data ------------------------------------------------------------------------------

GENERATED_AS_OF = datetime(2025, 4, 5, 12)


@hsettings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    contacts=st.lists(contact_rows(), min_size=1, max_size=25),
    responses=st.lists(response_rows(), max_size=15),
    business=st.booleans(),
)
def test_generated_contacts_agree_on_every_backend(request, contacts, responses, business):
    store = make_store(_with_ids(contacts, "c"), _with_ids(responses, "r"))
    settings = BUSINESS if business else CAL

    # Unfiltered, then restricted on two segment fields: the store binds their values as
    # parameters of SQL compiled once, the other backends write them into their SQL.
    chosen = Filters(channel=("phone",), priority=("high", "urgent"))

    def run(source: Store | ibis.BaseBackend, filters: Filters | None = None) -> Report:
        return report(
            source, filters or Filters(), by=("team",), as_of=GENERATED_AS_OF, settings=settings
        )

    expected, expected_chosen = run(store), run(store, chosen)
    for other in OTHERS:
        backend = _on(request, other, store)
        assert_agree(expected, run(backend), other)
        assert_agree(expected_chosen, run(backend, chosen), other)


@hsettings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    contacts=st.lists(contact_rows(), max_size=25),
    responses=st.lists(response_rows(), max_size=15),
)
def test_every_backend_matches_the_plain_python_reference(request, contacts, responses):
    # Not only DuckDB's answer: each backend's, against the slow and obvious loops.
    contacts, responses = _with_ids(contacts, "c"), _with_ids(responses, "r")
    store = make_store(contacts, responses)
    expected = reference(contacts, responses, Filters(), GENERATED_AS_OF)
    for other in OTHERS:
        got = report(_on(request, other, store), as_of=GENERATED_AS_OF, settings=CAL).total()
        assert_matches_reference(got, expected)


@pytest.mark.parametrize("other", OTHERS)
def test_the_overview_agrees_in_both_kinds_of_hours(request, worked, other):
    # The dashboard's first page: both periods, their changes and the weekly trends.
    backend = _on(request, other, worked)
    week = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 9))
    for settings in (CAL, BUSINESS):
        expected = overview(worked, week, as_of=AS_OF, settings=settings)
        got = overview(backend, week, as_of=AS_OF, settings=settings)
        assert_agree(expected.current, got.current, other)
        assert_agree(expected.previous, got.previous, other)
        for key, want in expected.changes.items():
            have = got.changes[key]
            assert _same(want.difference, have.difference), key
            assert _same(want.p_value, have.p_value) and want.test == have.test, key
        for key, trend in expected.trends.items():
            assert got.trends[key].periods == trend.periods, key
            assert all(map(_same, trend.values, got.trends[key].values)), key
