"""The engine against a plain-Python reference on generated data, plus business hours, periods,
segments, as-of, change and trend.

The reference below is deliberately slow and obvious: one loop per KPI over dicts, written from
the README glossary's definitions, sharing nothing with the engine but the Settings values.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kpi.engine import statistics
from kpi.engine.backend import CACHE, backend_of
from kpi.engine.change import Trend, change
from kpi.engine.filters import Filters
from kpi.engine.report import (
    OVERVIEW_GROUPS,
    OVERVIEW_TRENDS,
    overview,
    report,
    report_periods,
    trend,
)
from kpi.engine.results import ReportRow
from kpi.engine.timeline import utc_offsets
from kpi.errors import InvalidChoice
from kpi.metrics.registry import KEYS
from kpi.metrics.settings import Settings
from tests.kpi.stores import make_store

CAL = Settings(hours="calendar")
LONDON = ZoneInfo("Europe/London")
_ids = count(1)


# --- the reference -------------------------------------------------------------------------------


def local_day(instant: datetime) -> date:
    return instant.replace(tzinfo=UTC).astimezone(LONDON).date()


def in_range(instant, filters: Filters) -> bool:
    if filters.date_from is None and filters.date_to is None:
        return True
    if instant is None:
        return False
    day = local_day(instant)
    return (filters.date_from is None or day >= filters.date_from) and (
        filters.date_to is None or day <= filters.date_to
    )


def quantile(values, q):
    values = sorted(values)
    if not values:
        return None
    position = q * (len(values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (position - low) * (values[high] - values[low])


def reference(contacts, responses, filters: Filters, as_of: datetime, s: Settings = CAL):
    """{key: (value, n, numerator, denominator)} computed row by row in plain Python."""
    has = lambda rows, f: any(f(r) for r in rows)  # noqa: E731
    fr_supported = has(contacts, lambda r: r.get("first_response_at") is not None)
    res_supported = has(contacts, lambda r: r.get("resolved_at") or r.get("closed_at"))
    waits_supported = has(contacts, lambda r: r.get("wait_seconds") is not None)
    # FCR auto: the first variant the whole data supports.
    if has(contacts, lambda r: r.get("first_contact_resolved") is not None):
        fcr_variant = "flag"
    elif has(contacts, lambda r: r.get("agent_replies") is not None):
        fcr_variant = "one_touch"
    elif has(contacts, lambda r: r.get("customer_key") is not None):
        fcr_variant = "no_repeat"
    else:
        fcr_variant = None

    # The customer's next contact, over every contact (a repeat may be outside the filters).
    next_opened = {}
    by_customer = {}
    for r in contacts:
        by_customer.setdefault(r.get("customer_key"), []).append(r)
    for rows in by_customer.values():
        rows = sorted(rows, key=lambda r: (r["opened_at"], r["source"], r["contact_id"]))
        for this, following in zip(rows, rows[1:] + [None], strict=True):
            next_opened[this["contact_id"]] = following["opened_at"] if following else None

    def keep(r, time_column):
        for name, values in filters.segments().items():
            if r.get(name) not in values:
                return False
        return in_range(r.get(time_column), filters)

    tallies = {k: [0, 0] for k in KEYS}  # numerator, denominator

    def tally(key, population, success):
        if population:
            tallies[key][1] += 1
            tallies[key][0] += bool(success)

    samples = {
        "first_response_hours": [],
        "resolution_hours": [],
        "aht_seconds": [],
        "asa_seconds": [],
    }
    # A source that records statuses (anywhere in the store) tracks every contact's lifecycle
    # but a call's, one whose status is missing too (by its times).
    in_segments = lambda r: all(r.get(n) in v for n, v in filters.segments().items())  # noqa: E731
    status_sources = {r["source"] for r in contacts if r.get("status")}

    backlog = 0
    for r in contacts:
        resolved_time = r.get("resolved_at") or r.get("closed_at")
        status = r.get("status")
        resolved_by = resolved_time is not None and resolved_time <= as_of
        is_resolved = resolved_by or (resolved_time is None and status in ("resolved", "closed"))
        own_lifecycle = (
            status is not None
            or resolved_time is not None
            or r.get("first_response_at") is not None
        )
        ticket = r.get("answered") is None and r.get("abandoned") is None  # not a call
        tracked = (ticket and r["source"] in status_sources) or own_lifecycle
        # Backlog: open at the period's end (here: the as-of instant), any opening date.
        end = as_of + timedelta(microseconds=1)
        if filters.date_to is not None:
            day_after = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time())
            end = min(end, day_after.replace(tzinfo=LONDON).astimezone(UTC).replace(tzinfo=None))
        if in_segments(r) and tracked:
            done_by_end = (resolved_time is not None and resolved_time < end) or (
                resolved_time is None and status in ("resolved", "closed")
            )
            if r["opened_at"] < end and not done_by_end:
                backlog += 1
        if not keep(r, "opened_at"):
            continue
        tallies["contacts"][1] += 1
        answered, abandoned = r.get("answered"), r.get("abandoned")
        answered_eff = (
            answered if answered is not None else (None if abandoned is None else not abandoned)
        )
        abandoned_eff = (
            abandoned if abandoned is not None else (None if answered is None else not answered)
        )
        abandoned_eff = bool(abandoned_eff)
        wait = r.get("wait_seconds")
        offered = answered is not None or abandoned is not None
        short = abandoned_eff and wait is not None and wait < s.short_abandon_seconds
        handled = not abandoned_eff
        fr = r.get("first_response_at")
        replied = fr is not None and fr <= as_of
        is_open = bool(tracked) and not is_resolved
        fr_done = replied or resolved_by
        fr_open = not fr_done and is_open
        fr_end = fr if replied else resolved_time if resolved_by else as_of if is_open else None
        res_end = resolved_time if resolved_by else as_of if is_open else None
        opened = r["opened_at"]
        fr_elapsed = None if fr_end is None else max(0.0, (fr_end - opened).total_seconds())
        res_elapsed = None if res_end is None else max(0.0, (res_end - opened).total_seconds())
        target = s.sla_target(r.get("priority"), r.get("channel"))
        fr_t = target.first_response_hours * 3600 if target else None
        res_t = target.resolution_hours * 3600 if target else None
        fr_met = fr_done and fr_t is not None and fr_elapsed is not None and fr_elapsed <= fr_t
        fr_breached = (
            (fr_done or fr_open)
            and fr_t is not None
            and fr_elapsed is not None
            and fr_elapsed > fr_t
        )
        res_met = (
            resolved_by and res_t is not None and res_elapsed is not None and res_elapsed <= res_t
        )
        res_breached = (
            (resolved_by or is_open)
            and res_t is not None
            and res_elapsed is not None
            and res_elapsed > res_t
        )

        # A target counts only when the data has that kind of time at all.
        tally("sla_first_response", fr_supported and (fr_met or fr_breached), fr_met)
        tally("sla_resolution", res_supported and (res_met or res_breached), res_met)
        if fr_supported or res_supported:
            parts = [
                p
                for p, ok in (
                    ((fr_met, fr_breached), fr_supported),
                    ((res_met, res_breached), res_supported),
                )
                if ok
            ]
            met = all(m for m, _ in parts)
            breached = any(b for _, b in parts)
            tally("sla", met or breached, met)
        else:
            tally("sla", r.get("sla_met") is not None, r.get("sla_met"))
        if replied:
            samples["first_response_hours"].append(fr_elapsed / 3600)
        if resolved_by:
            samples["resolution_hours"].append(res_elapsed / 3600)
        if fcr_variant == "flag":
            flag = r.get("first_contact_resolved")
            tally("fcr", handled and flag is not None, flag)
        elif fcr_variant == "one_touch":
            replies = r.get("agent_replies")
            tally("fcr", handled and is_resolved and replies is not None,
                  replies is not None and replies <= 1 and (r.get("reopens") or 0) == 0)  # fmt: skip
        elif fcr_variant == "no_repeat":
            window_end = (resolved_time or opened) + timedelta(days=s.fcr_repeat_window_days)
            following = next_opened.get(r["contact_id"])
            repeat = following is not None and following <= window_end
            known = repeat or window_end <= as_of
            tally(
                "fcr",
                handled and is_resolved and r.get("customer_key") is not None and known,
                not repeat,
            )
        if handled and r.get("handle_seconds") is not None:
            samples["aht_seconds"].append(r["handle_seconds"])
        if answered_eff and wait is not None:
            samples["asa_seconds"].append(wait)
        tally("abandonment_rate", offered and not short, abandoned_eff)
        tally("service_level", waits_supported and offered and not short and (abandoned_eff or wait is not None),
              answered_eff and wait is not None and wait <= s.service_level_seconds)  # fmt: skip
        tally(
            "reopen_rate", is_resolved and r.get("reopens") is not None, (r.get("reopens") or 0) > 0
        )
        tally("escalation_rate", r.get("escalated") is not None, r.get("escalated"))
        tally("complaint_rate", r.get("complaint") is not None, r.get("complaint"))

    nps = [0, 0, 0]
    csat_scales = set()
    csat_scores = []
    for r in responses:
        if not keep(r, "responded_at"):
            continue
        tallies["responses"][1] += 1
        if r.get("nps") is not None:
            nps[0] += 1
            nps[1] += r["nps"] >= 9
            nps[2] += r["nps"] <= 6
        if r.get("csat") is not None:
            low, high = r["csat_scale_min"], r["csat_scale_max"]
            top = high - 1 if high - low + 1 >= 4 else high
            tally("csat", True, r["csat"] >= top)
            csat_scales.add((low, high))
            csat_scores.append(r["csat"])
        if r.get("ces") is not None:
            low, high = r["ces_scale_min"], r["ces_scale_max"]
            position = (r["ces"] - low) / (high - low)
            tally("ces", True, position >= (7 - s.ces_easy_top) / 6 - 1e-12)

    out = {}
    for key, (x, n) in tallies.items():
        if key in ("contacts", "responses"):
            out[key] = (float(n), n, None, None)
        elif key not in samples:
            out[key] = (100 * x / n if n else None, n, x, n)
    for key, values in samples.items():
        if key.endswith("hours"):
            out[key] = (quantile(values, 0.5), len(values), None, None)
        else:
            out[key] = (sum(values) / len(values) if values else None, len(values), None, None)
    out["nps"] = (
        100 * (nps[1] - nps[2]) / nps[0] if nps[0] else None,
        nps[0],
        nps[1] - nps[2],
        nps[0],
    )
    mean = sum(csat_scores) / len(csat_scores) if csat_scores and len(csat_scales) == 1 else None
    out["csat_mean"] = (mean, len(csat_scores), None, None)
    out["backlog"] = (float(backlog), backlog, None, None)
    if fcr_variant is None:
        out["fcr"] = (None, 0, None, None)
    return out


# --- generated data ------------------------------------------------------------------------------

T0 = datetime(2025, 3, 1)
minutes = st.integers(0, 60 * 24 * 40)
maybe = lambda s: st.none() | s  # noqa: E731


@st.composite
def contact_rows(draw):
    opened = T0 + timedelta(minutes=draw(minutes))
    first = draw(maybe(st.integers(0, 3000)))
    resolved = draw(maybe(st.integers(0, 6000)))
    return {
        "opened_at": opened,
        "first_response_at": None if first is None else opened + timedelta(minutes=first),
        "resolved_at": None if resolved is None else opened + timedelta(minutes=resolved),
        "status": draw(maybe(st.sampled_from(["open", "pending", "resolved", "closed"]))),
        "priority": draw(maybe(st.sampled_from(["low", "normal", "high", "urgent"]))),
        "channel": draw(maybe(st.sampled_from(["email", "phone"]))),
        "team": draw(maybe(st.sampled_from(["A", "B"]))),
        "agent_replies": draw(maybe(st.integers(0, 3))),
        "reopens": draw(maybe(st.integers(0, 2))),
        "escalated": draw(maybe(st.booleans())),
        "complaint": draw(maybe(st.booleans())),
        "answered": draw(maybe(st.booleans())),
        "abandoned": draw(maybe(st.booleans())),
        "wait_seconds": draw(maybe(st.integers(0, 60).map(float))),
        "handle_seconds": draw(maybe(st.integers(0, 900).map(float))),
        "first_contact_resolved": draw(maybe(st.booleans())),
        "sla_met": draw(maybe(st.booleans())),
        "customer_key": draw(maybe(st.sampled_from(["k1", "k2", "k3"]))),
    }


SCALES = [(1.0, 5.0), (1.0, 2.0), (1.0, 10.0)]


@st.composite
def response_rows(draw):
    scale = draw(st.sampled_from(SCALES))
    csat = draw(maybe(st.integers(int(scale[0]), int(scale[1])).map(float)))
    responded = draw(maybe(minutes))
    return {
        "responded_at": None if responded is None else T0 + timedelta(minutes=responded),
        "nps": draw(maybe(st.integers(0, 10).map(float))),
        "csat": csat,
        "csat_scale_min": scale[0],
        "csat_scale_max": scale[1],
        "ces": draw(maybe(st.integers(1, 7).map(float))),
        "ces_scale_min": 1.0,
        "ces_scale_max": 7.0,
        "channel": draw(maybe(st.sampled_from(["email", "phone"]))),
    }


def _with_ids(rows, prefix):
    key = "contact_id" if prefix == "c" else "response_id"
    return [{**row, key: f"{prefix}{i:04d}", "source": "test"} for i, row in enumerate(rows)]


filters_strategy = st.sampled_from(
    [
        Filters(),
        Filters(date_from=date(2025, 3, 10), date_to=date(2025, 3, 30)),
        Filters(date_from=date(2025, 3, 30), date_to=date(2025, 3, 30)),  # the DST change day
        Filters(channel=("email",), team=("A",)),
    ]
)

PROPERTY = hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(
    contacts=st.lists(contact_rows(), max_size=25),
    responses=st.lists(response_rows(), max_size=15),
    filters=filters_strategy,
)
def test_engine_matches_the_reference(contacts, responses, filters):
    contacts, responses = _with_ids(contacts, "c"), _with_ids(responses, "r")
    as_of = datetime(2025, 4, 5, 12)
    got = report(make_store(contacts, responses), filters, as_of=as_of, settings=CAL).total()
    assert_matches_reference(got, reference(contacts, responses, filters, as_of))


def assert_matches_reference(got: ReportRow, expected: dict[str, tuple[Any, ...]]) -> None:
    """Every KPI of a report's row is the reference's: n, value (to 1e-9), and the counts."""
    for key in KEYS:
        m = got.metrics[key]
        value, n, numerator, denominator = expected[key]
        assert m.n == n, key
        if value is None:
            assert m.value is None, key
        else:
            assert m.value == pytest.approx(value, rel=1e-9, abs=1e-9), key
        if numerator is not None and m.value is not None:
            assert (m.numerator, m.denominator) == (numerator, denominator), key


@hsettings(PROPERTY, max_examples=10)  # two stores and two groupings per example
@given(
    contacts=st.lists(contact_rows(), min_size=1, max_size=25),
    responses=st.lists(response_rows(), max_size=15),
    seed=st.integers(0, 1000),
)
def test_in_range_order_invariant_and_segments_recombine(contacts, responses, seed):
    contacts, responses = _with_ids(contacts, "c"), _with_ids(responses, "r")
    as_of = datetime(2025, 4, 5, 12)
    first = report(make_store(contacts, responses), as_of=as_of, settings=CAL, by=["channel"])
    shuffled_c, shuffled_r = contacts[:], responses[:]
    random.Random(seed).shuffle(shuffled_c)
    random.Random(seed).shuffle(shuffled_r)
    second = report(make_store(shuffled_c, shuffled_r), as_of=as_of, settings=CAL, by=["channel"])
    assert first.to_dict() == second.to_dict()  # row order never matters

    whole = first.total()
    segments = [r for r in first.rows if r.segment]
    for key, m in whole.metrics.items():
        if m.value is not None:
            if m.unit == "%":
                assert 0 <= m.value <= 100 and m.ci_low <= m.value <= m.ci_high, key
            if key == "nps":
                assert -100 <= m.value <= 100
        parts = [r.metrics[key] for r in segments]
        assert sum(p.n for p in parts) == m.n, key  # every contact is in exactly one segment
        if m.numerator is not None:
            assert sum(p.numerator or 0 for p in parts) == m.numerator, key
            # the total is recomputed from counts, not averaged from segment rates
            assert m.value == pytest.approx(100 * m.numerator / m.denominator) or key == "nps"


@hsettings(PROPERTY, max_examples=10)
@given(
    contacts=st.lists(contact_rows(), min_size=1, max_size=25),
    responses=st.lists(response_rows(), max_size=15),
    grain=st.sampled_from([None, "week"]),
)
def test_a_breakdowns_total_is_the_report_without_one(contacts, responses, grain):
    # A breakdown's total adds up the segments' counts and sums (only quantiles are worked out
    # from the rows again): it must be exactly the report with no breakdown, whatever segments
    # have none of a column (a sum of nothing is null, not 0) and with contacts of no channel.
    store = make_store(_with_ids(contacts, "c"), _with_ids(responses, "r"))
    as_of = datetime(2025, 4, 5, 12)
    split = report(store, as_of=as_of, settings=CAL, by=["channel"], grain=grain)
    whole = report(store, as_of=as_of, settings=CAL, grain=grain)
    totals = [r for r in split.rows if not r.segment]
    assert [r.period for r in totals] == [r.period for r in whole.rows]
    for mine, theirs in zip(totals, whole.rows, strict=True):
        for key, m in theirs.metrics.items():
            got = mine.metrics[key]
            assert (got.n, got.numerator, got.denominator) == (m.n, m.numerator, m.denominator)
            for a, b in ((got.value, m.value), (got.ci_low, m.ci_low), (got.ci_high, m.ci_high)):
                assert (a is None) == (b is None), (key, mine.period)
                if a is not None:
                    assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (key, mine.period)


@hsettings(max_examples=6, deadline=None)
@given(contacts=st.lists(contact_rows(), min_size=1, max_size=20))
def test_weekly_counts_add_up_to_the_period(contacts):
    contacts = _with_ids(contacts, "c")
    march = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 30))
    store = make_store(contacts)
    keys = ["contacts", "sla", "fcr", "escalation_rate"]
    whole = report(store, march, settings=CAL, metrics=keys).total().metrics
    weekly = report(store, march, grain="week", settings=CAL, metrics=keys)
    assert [r.period for r in weekly.rows] == [
        "2025-03-03",
        "2025-03-10",
        "2025-03-17",
        "2025-03-24",
    ]
    for key in keys:
        assert sum(r.metrics[key].n for r in weekly.rows) == whole[key].n, key


# --- business hours ------------------------------------------------------------------------------


def _local(*parts):
    """A London wall-clock time as the naive UTC the store holds."""
    return datetime(*parts, tzinfo=LONDON).astimezone(UTC).replace(tzinfo=None)


BUSINESS_CASES = {
    # name: (opened, first reply, expected working hours)
    "spring DST": (_local(2025, 3, 28, 16), _local(2025, 3, 31, 10), 2.0),
    "autumn DST": (_local(2025, 10, 24, 16), _local(2025, 10, 27, 10), 2.0),
    # 25 and 26 Dec 2021 fell on a weekend: the bank holidays moved to Mon 27 and Tue 28.
    "Christmas on a weekend": (_local(2021, 12, 24, 16), _local(2021, 12, 29, 10), 2.0),
    "Friday 16:30 to Monday 09:30": (_local(2025, 11, 7, 16, 30), _local(2025, 11, 10, 9, 30), 1.0),
    "opened on a bank holiday": (_local(2025, 8, 25, 10), _local(2025, 8, 26, 10), 1.0),
    "opened out of hours": (_local(2025, 11, 11, 7), _local(2025, 11, 11, 9, 45), 0.75),
}


def test_business_hours_cases_through_the_engine():
    rows = [
        {"category": name, "priority": "urgent", "opened_at": opened, "first_response_at": reply,
         "status": "open"}
        for name, (opened, reply, _) in BUSINESS_CASES.items()
    ]  # fmt: skip
    store = make_store(rows)
    result = report(store, by=["category"], metrics=["first_response_hours", "sla_first_response"])
    for row in result.rows:
        if not row.segment:
            continue
        expected = BUSINESS_CASES[row.segment["category"]][2]
        assert row.metrics["first_response_hours"].value == pytest.approx(expected, abs=1e-9)
        # urgent: 1 business hour to reply
        met = row.metrics["sla_first_response"].numerator
        assert met == (1 if expected <= 1 else 0), row.segment
    assert (
        "business hours (Mon-Fri 09:00-17:00"
        in result.total().metrics["sla_first_response"].definition
    )
    calendar = report(store, settings=CAL, metrics=["sla_first_response"]).total()
    assert calendar.metrics["sla_first_response"].numerator == 0  # every case > 1 calendar hour


def test_business_hours_setting_changes_open_contacts_too():
    # Urgent contact opened Friday 16:30, still unanswered at Monday 09:20: 50 working minutes.
    # A second, answered in 10 minutes, shows the data has reply times.
    opened = _local(2025, 11, 7, 16, 30)
    rows = [
        {"priority": "urgent", "opened_at": opened, "status": "open"},
        {"priority": "urgent", "opened_at": opened, "first_response_at": opened + timedelta(minutes=10),
         "status": "open"},
    ]  # fmt: skip
    store = make_store(rows)
    as_of = datetime(2025, 11, 10, 9, 20, tzinfo=LONDON)
    m = report(store, as_of=as_of, metrics=["sla_first_response"]).total().metrics
    assert (m["sla_first_response"].numerator, m["sla_first_response"].n) == (1, 1)  # 1st left out
    m = report(store, as_of=as_of, settings=CAL, metrics=["sla_first_response"]).total().metrics
    assert (m["sla_first_response"].numerator, m["sla_first_response"].n) == (1, 2)  # breached


# --- periods, time zone, as-of -----------------------------------------------------------------


def test_periods_follow_the_reporting_time_zone():
    rows = [
        {"opened_at": datetime(2025, 6, 30, 23, 30)},  # 00:30 on 1 July in London (BST)
        {"opened_at": datetime(2025, 1, 31, 23, 30)},  # 23:30 on 31 January (GMT)
        {"opened_at": datetime(2025, 3, 30, 0, 30)},  # 00:30 GMT, just before the spring change
        {"opened_at": datetime(2025, 3, 31, 23, 30)},  # 00:30 BST on 1 April
    ]
    store = make_store(rows)
    monthly = report(store, grain="month", settings=CAL, metrics=["contacts"])
    counts = {r.period: r.metrics["contacts"].value for r in monthly.rows}
    assert counts == {"2025-01-01": 1, "2025-02-01": 0, "2025-03-01": 1, "2025-04-01": 1,
                      "2025-05-01": 0, "2025-06-01": 0, "2025-07-01": 1}  # fmt: skip
    july = Filters(date_from=date(2025, 7, 1), date_to=date(2025, 7, 1))
    assert (
        report(store, july, settings=CAL, metrics=["contacts"]).total().metrics["contacts"].value
        == 1
    )
    daily = report(store, Filters(date_from=date(2025, 3, 30), date_to=date(2025, 4, 1)),
                   grain="day", settings=CAL, metrics=["contacts"])  # fmt: skip
    assert [(r.period, r.metrics["contacts"].value) for r in daily.rows] == [
        ("2025-03-30", 1),
        ("2025-03-31", 0),
        ("2025-04-01", 1),
    ]


def test_utc_offsets_find_both_2025_changes():
    offsets = utc_offsets("Europe/London", datetime(2025, 1, 1), datetime(2026, 1, 1))
    assert offsets == [
        (datetime(2025, 1, 1), 0),
        (datetime(2025, 3, 30, 1), 3600),
        (datetime(2025, 10, 26, 1), 0),
    ]


def test_as_of_defaults_to_the_latest_timestamp():
    rows = [{"opened_at": datetime(2025, 3, 3, 9), "resolved_at": datetime(2025, 3, 9, 18, 5)}]
    responses = [{"responded_at": datetime(2025, 3, 9, 17), "nps": 9}]
    result = report(make_store(rows, responses), settings=CAL)
    assert result.as_of == datetime(2025, 3, 9, 18, 5)
    aware = report(make_store(rows), as_of=datetime(2025, 3, 5, 12, tzinfo=UTC), settings=CAL)
    assert aware.as_of == datetime(2025, 3, 5, 12)
    assert aware.total().metrics["backlog"].value == 1  # not yet resolved on 5 March


def test_responses_break_down_by_a_linked_contacts_priority():
    contacts = [
        {"contact_id": "x1", "priority": "high", "team": "A"},
        {"contact_id": "x2", "priority": "low"},
    ]
    responses = [
        {"contact_id": "x1", "nps": 10, "responded_at": datetime(2025, 3, 4)},
        {"contact_id": "x2", "nps": 0, "responded_at": datetime(2025, 3, 4), "team": "B"},
        {"nps": 5, "responded_at": datetime(2025, 3, 4)},
    ]
    result = report(
        make_store(contacts, responses), by=["priority", "team"], settings=CAL, metrics=["nps"]
    )
    got = {
        (r.segment.get("priority"), r.segment.get("team")): r.metrics["nps"].value
        for r in result.rows
        if r.segment
    }
    assert got == {("high", "A"): 100.0, ("low", "B"): -100.0, (None, None): -100.0}
    assert result.total().metrics["nps"].n == 3


def test_filters_reach_the_backend_as_values_not_sql():
    rows = [{"agent": "O'Brien; DROP TABLE contacts; --"}, {"agent": "Smith"}]
    store = make_store(rows)
    m = report(store, Filters(agent=("O'Brien; DROP TABLE contacts; --",)), settings=CAL).total()
    assert m.metrics["contacts"].value == 1
    assert store.count("contacts") == 2


def test_unknown_names_are_refused_with_a_message():
    store = make_store()
    with pytest.raises(InvalidChoice, match="break down by colour"):
        report(store, by=["colour"])
    with pytest.raises(InvalidChoice, match="unknown KPI happiness"):
        report(store, metrics=["happiness"])
    with pytest.raises(InvalidChoice, match="grain"):
        report(store, grain="year")


def test_report_reads_settings_from_the_store():
    from kpi.metrics.settings import save_settings

    store = make_store([{"first_contact_resolved": True, "agent_replies": 3, "status": "closed"}])
    save_settings(store, Settings(hours="calendar", fcr_variant="one_touch"))
    m = report(store).total().metrics["fcr"]
    assert m.variant == "one_touch" and m.value == 0.0


def test_an_ibis_backend_works_as_well_as_a_store():
    store = make_store([{"escalated": True}, {"escalated": False}])
    m = report(backend_of(store), settings=CAL, metrics=["escalation_rate"]).total().metrics
    assert m["escalation_rate"].value == 50.0


# --- change and trend ---------------------------------------------------------------------------


def _answers(day, good, bad):
    when = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
    return [
        {"responded_at": when, "csat": 5.0, "csat_scale_min": 1.0, "csat_scale_max": 5.0}
    ] * good + [
        {"responded_at": when, "csat": 1.0, "csat_scale_min": 1.0, "csat_scale_max": 5.0}
    ] * bad


def test_change_uses_the_right_test():
    responses = _answers(date(2025, 3, 5), 60, 40) + _answers(date(2025, 2, 5), 30, 70)
    store = make_store(responses=responses)
    march = Filters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    now = report(store, march, settings=CAL).total().metrics
    before = report(store, march.previous_period(), settings=CAL).total().metrics
    c = change(now["csat"], before["csat"])
    expected = statistics.two_proportion_test(30, 100, 60, 100)
    assert c.difference == pytest.approx(30.0)
    assert c.p_value == pytest.approx(expected.p_value) and c.significant
    assert c.test == "two-proportion z-test"
    counted = change(now["responses"], before["responses"])
    assert counted.difference == 0 and counted.test is None and not counted.significant


def test_change_for_nps_and_means():
    nps_now = [{"responded_at": datetime(2025, 3, 5), "nps": s} for s in [10] * 50 + [3] * 10]
    nps_before = [{"responded_at": datetime(2025, 2, 5), "nps": s} for s in [10] * 20 + [3] * 40]
    store = make_store(responses=nps_now + nps_before)
    march = Filters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    a = report(store, march, settings=CAL).total().metrics["nps"]
    b = report(store, march.previous_period(), settings=CAL).total().metrics["nps"]
    c = change(a, b)
    assert c.p_value == pytest.approx(statistics.nps_change_test(20, 40, 60, 50, 10, 60).p_value)
    assert c.significant and c.test.startswith("NPS")


def test_trend_is_weekly_with_control_limits():
    responses = []
    for week in range(12):
        day = date(2025, 1, 6) + timedelta(weeks=week)
        responses += _answers(day, 8 if week != 10 else 1, 2 if week != 10 else 9)
    store = make_store(responses=responses)
    trends = trend(store, Filters(date_to=date(2025, 3, 30)), keys=["csat"], settings=CAL)
    t = trends["csat"]
    assert isinstance(t, Trend) and len(t.periods) == 12 and t.periods[0] == "2025-01-06"
    assert t.values[0] == pytest.approx(80.0) and t.values[10] == pytest.approx(10.0)
    # The data stop on Monday 24 March: that week is a part week, kept out of the limits.
    assert t.partial == [False] * 11 + [True]
    chart = statistics.xmr_limits(t.values[:11])
    assert t.chart.centre == pytest.approx(chart.centre)
    assert t.whole_values[:11] == t.values[:11] and t.whole_values[11] is None


def test_overview_has_both_periods_changes_and_trends():
    responses = _answers(date(2025, 3, 5), 6, 4) + _answers(date(2025, 2, 5), 3, 7)
    store = make_store([{"opened_at": datetime(2025, 3, 4), "escalated": True}], responses)
    march = Filters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31))
    o = overview(store, march, trend_keys=("csat", "contacts"), settings=CAL)
    assert o.previous.filters.date_from == date(2025, 2, 1)
    assert set(o.changes) == set(KEYS) and o.changes["csat"].difference == pytest.approx(30.0)
    assert set(o.trends) == {"csat", "contacts"} and len(o.trends["csat"].periods) == 12


@hsettings(max_examples=5, deadline=None)
@given(
    contacts=st.lists(contact_rows(), min_size=1, max_size=20),
    responses=st.lists(response_rows(), max_size=10),
)
def test_named_periods_in_one_pass_equal_separate_reports(contacts, responses):
    store = make_store(_with_ids(contacts, "c"), _with_ids(responses, "r"))
    week = Filters(date_from=date(2025, 3, 24), date_to=date(2025, 3, 30))
    as_of = datetime(2025, 4, 5, 12)
    both = report_periods(store, {"current": week, "previous": week.previous_period()},
                          by=["channel"], as_of=as_of, settings=CAL)  # fmt: skip
    current, previous = both.split()
    assert previous.filters == week.previous_period()
    for one, alone in ((current, week), (previous, week.previous_period())):
        separate = report(store, alone, by=["channel"], as_of=as_of, settings=CAL)
        assert one.to_dict() == separate.to_dict()


def test_backlog_over_many_periods_uses_the_same_rule():
    # More than 64 daily periods take the cross-join path; the answer must not change.
    rows = [
        {"opened_at": datetime(2025, 1, 1, 12), "resolved_at": datetime(2025, 2, 19, 12),
         "status": "resolved", "channel": "email"},
        {"opened_at": datetime(2025, 1, 10, 12), "status": "open", "channel": None},
    ]  # fmt: skip
    store = make_store(rows)
    days = Filters(date_from=date(2025, 1, 1), date_to=date(2025, 3, 31))
    daily = report(store, days, grain="day", by=["channel"], settings=CAL, metrics=["backlog"])
    totals = {r.period: r.metrics["backlog"].value for r in daily.rows if not r.segment}
    assert len(totals) == 90
    assert totals["2025-01-01"] == 1 and totals["2025-01-10"] == 2
    assert totals["2025-02-18"] == 2 and totals["2025-02-19"] == 1  # resolved at noon that day
    email = {
        r.period: r.metrics["backlog"].value
        for r in daily.rows
        if r.segment == {"channel": "email"}
    }
    assert email["2025-02-18"] == 1 and email["2025-02-19"] == 0
    weekly = report(store, days, grain="week", settings=CAL, metrics=["backlog"])
    assert {r.period: r.metrics["backlog"].value for r in weekly.rows}["2025-02-17"] == 1


def test_business_seconds_of_closed_contacts_follow_imports_and_settings():
    """The engine keeps closed contacts' business seconds per store version and business hours:
    an import or a change of hours must never serve the old figures."""
    from kpi.metrics.settings import save_settings

    opened = _local(2025, 11, 10, 9)  # a Monday
    reply = {"priority": "urgent", "opened_at": opened, "status": "open"}
    store = make_store([{**reply, "first_response_at": opened + timedelta(hours=2)}])

    def hours():
        return (
            report(store, metrics=["first_response_hours"]).total().metrics["first_response_hours"]
        )

    assert (hours().value, hours().n) == (pytest.approx(2.0), 1)
    save_settings(store, Settings(business_hours={"weekly": {"0": ["10:00", "17:00"]}}))
    assert hours().value == pytest.approx(1.0)
    row = {**reply, "contact_id": "late", "first_response_at": opened + timedelta(hours=4)}
    store.con.execute(
        "INSERT INTO contacts (source, contact_id, opened_at, first_response_at, priority, "
        "status) VALUES ('test', ?, ?, ?, ?, ?)",
        [row["contact_id"], opened, row["first_response_at"], "urgent", "open"],
    )
    store.con.execute("INSERT INTO imports (batch_id, file_name) VALUES (1, 'more')")
    m = hours()
    assert m.n == 2 and m.value == pytest.approx(2.0)  # median of 1 h and 3 h


def test_the_overview_trends_every_tile_but_the_backlog_in_tile_order() -> None:
    tiles = [k for keys in OVERVIEW_GROUPS.values() for k in keys]
    assert set(tiles) <= set(KEYS) and len(set(tiles)) == len(tiles)
    assert tuple(k for k in tiles if k != "backlog") == OVERVIEW_TRENDS
    assert "backlog" in tiles and "backlog" not in OVERVIEW_TRENDS


# --- whole and part periods -------------------------------------------------------------------

#: CSAT (%) of each whole week from Monday 6 July 2026; the part weeks around them score 0%.
WHOLE_WEEKS = [80.0, 70.0, 90.0, 60.0, 80.0, 70.0]


def part_period_store(whole=tuple(WHOLE_WEEKS)):
    """Answers every day from Thursday 2 July 2026 (a part first week, 4 of 7 days) to
    Wednesday 19 August 2026 (a part last week, 3 of 7 days, and August not yet over): ten a
    day, the whole weeks' CSAT at ``whole``, the part weeks all unhappy."""
    responses = []
    day = date(2026, 7, 2)
    while day <= date(2026, 8, 19):
        week = (day - date(2026, 7, 6)).days // 7
        good = int(whole[week] // 10) if 0 <= week < len(whole) else 0
        responses += _answers(day, good, 10 - good)
        day += timedelta(days=1)
    return make_store(responses=responses)


def test_part_weeks_and_months_at_the_data_s_edges_are_marked_with_their_days():
    store = part_period_store()
    weekly = report(store, grain="week", settings=CAL, metrics=["csat"])
    assert [r.period for r in weekly.rows][:2] == ["2026-06-29", "2026-07-06"]
    assert weekly.part_periods() == {"2026-06-29": (4, 7), "2026-08-17": (3, 7)}
    assert [r.partial for r in weekly.rows] == [True] + [False] * 6 + [True]
    monthly = report(store, grain="month", settings=CAL, metrics=["csat"])
    assert monthly.part_periods() == {"2026-07-01": (30, 31), "2026-08-01": (19, 31)}
    assert monthly.rows[1].to_dict()["partial"] is True
    assert monthly.rows[1].to_dict()["covered_days"] == 19


def test_a_filter_cutting_a_week_makes_it_a_part_week():
    store = part_period_store()
    cut = Filters(date_from=date(2026, 7, 8), date_to=date(2026, 7, 26))  # Wed to Sun
    weekly = report(store, cut, grain="week", settings=CAL, metrics=["csat"])
    assert weekly.part_periods() == {"2026-07-06": (5, 7)}


def test_control_limits_leave_the_part_weeks_out():
    trends = trend(part_period_store(), keys=["csat"], weeks=8, settings=CAL)
    t = trends["csat"]
    assert t.periods[0] == "2026-06-29" and t.partial == [True] + [False] * 6 + [True]
    assert t.values[0] == 0.0 and t.values[-1] == 0.0  # still reported, but not as whole weeks
    # By hand: mean 75; moving ranges 10, 20, 30, 20, 10, mean 18; limits 75 -/+ 2.66 x 18.
    assert t.chart.centre == pytest.approx(75.0)
    assert t.chart.mean_moving_range == pytest.approx(18.0)
    assert (t.chart.lower, t.chart.upper) == (pytest.approx(27.12), pytest.approx(122.88))
    assert not t.chart.signals  # the two 0% part weeks would each be a signal


def test_the_overview_says_when_the_previous_period_is_only_partly_covered():
    store = part_period_store()
    august = Filters(date_from=date(2026, 8, 1), date_to=date(2026, 8, 19))
    o = overview(store, august, trend_keys=("csat",), settings=CAL)
    # The previous 19 days are 13-31 July: all covered.
    assert o.previous.filters.date_from == date(2026, 7, 13) and o.previous_note is None
    july = Filters(date_from=date(2026, 7, 13), date_to=date(2026, 7, 31))
    o = overview(store, july, trend_keys=("csat",), settings=CAL)
    # The previous 19 days are 24 June - 12 July; the data start on 2 July.
    assert o.previous_note == "data covers 11 of 19 days"


# --- compiled SQL is shared by every date range ------------------------------------------------

#: Three whole weeks before the clocks change on 30 March 2025, and three after.
BEFORE_CHANGE = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 23))
AFTER_CHANGE = Filters(date_from=date(2025, 3, 31), date_to=date(2025, 4, 20))


def _views(source, filters: Filters, settings: Settings) -> list[dict]:
    """What the pages ask of one date range: weekly by channel, the whole range, and the range
    with the one before it."""
    as_of = datetime(2025, 4, 5, 12)
    weekly = report(source, filters, ["channel"], "week", as_of, settings)
    whole = report(source, filters, as_of=as_of, settings=settings)
    named = {"current": filters, "previous": filters.previous_period()}
    both = report_periods(source, named, ["channel"], as_of, settings)
    return [weekly.to_dict(), whole.to_dict(), both.to_dict()]


@hsettings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contacts=st.lists(contact_rows(), min_size=1, max_size=25),
    responses=st.lists(response_rows(), max_size=15),
    settings=st.sampled_from([CAL, Settings()]),
)
def test_a_new_date_range_reuses_the_compiled_queries_with_the_same_figures(
    contacts, responses, settings
):
    store = make_store(_with_ids(contacts, "c"), _with_ids(responses, "r"))
    _views(store, BEFORE_CHANGE, settings)
    compiled = CACHE.compilations
    after = _views(store, AFTER_CHANGE, settings)
    # The same shape of query: its SQL is reused (also after the first report built the
    # business-hours tables, which moved the store's version on).
    assert CACHE.compilations == compiled
    # A bare backend compiles each query with its dates written in: the same figures.
    assert after == _views(backend_of(store), AFTER_CHANGE, settings)


def test_a_longer_backlog_series_compiles_its_own_query_with_the_same_figures():
    rows = [
        {"opened_at": datetime(2025, 1, 6, 12), "status": "open", "channel": "email"},
        {"opened_at": datetime(2025, 2, 3, 12), "resolved_at": datetime(2025, 3, 5, 12),
         "status": "resolved", "channel": "phone"},
    ]  # fmt: skip
    store = make_store(rows)
    weeks = Filters(date_from=date(2025, 1, 6), date_to=date(2025, 1, 19))
    report(store, weeks, grain="week", settings=CAL, metrics=["backlog"])
    compiled = CACHE.compilations
    longer = weeks.with_dates(date(2025, 1, 6), date(2025, 3, 30))
    got = report(store, longer, grain="week", settings=CAL, metrics=["backlog"])
    assert CACHE.compilations == compiled + 1  # one more count per week: a new query
    fresh = report(backend_of(store), longer, grain="week", settings=CAL, metrics=["backlog"])
    assert got.to_dict() == fresh.to_dict()
    # Worked by hand: open from the week of 3 Feb, resolved at the as-of instant (the latest
    # time in the data, 5 Mar 12:00), so closed from the week of 3 Mar on.
    backlog = [r.metrics["backlog"].value for r in got.rows]
    assert backlog == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1]
