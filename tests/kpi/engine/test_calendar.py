"""Business hours: worked cases checked by hand, and a slow plain-Python reference.

The reference walks day by day in local time and knows nothing about as-of joins, so agreement on
Hypothesis-generated instants (around clock changes, holidays and year ends) checks the set-wise
``business_seconds`` run on a real DuckDB backend.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.engine import calendar
from kpi.engine.calendar import (
    business_seconds,
    calendar_seconds,
    calendar_years,
    day_pieces,
    working_intervals,
)
from kpi.errors import ImplausibleDates, InvalidChoice
from kpi.metrics.business_hours import BusinessHours, bank_holidays

UTC = ZoneInfo("UTC")
HOUR = 3600.0
DEFAULT = BusinessHours()
SCOTLAND = BusinessHours(region="scotland")
SATURDAY_MORNINGS = BusinessHours(weekly={5: ("10:00", "14:00")}, region="none")


# --- the reference ------------------------------------------------------------------------------


def reference_business_seconds(
    start_utc: datetime | None, end_utc: datetime | None, hours: BusinessHours
) -> float | None:
    """Overlap of [start, end] with each local working day, walking one day at a time."""
    if start_utc is None or end_utc is None:
        return None
    if end_utc <= start_utc:
        return 0.0
    zone = ZoneInfo(hours.timezone)
    first = start_utc.replace(tzinfo=UTC).astimezone(zone).date() - timedelta(days=1)
    last = end_utc.replace(tzinfo=UTC).astimezone(zone).date() + timedelta(days=1)
    subdivision = {"england-and-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR"}
    closed = (
        holidays.country_holidays(
            "GB", subdiv=subdivision[hours.region], years=range(first.year, last.year + 1)
        )
        if hours.region != "none"
        else {}
    )
    total, day = 0.0, first
    while day <= last:
        opening = hours.weekly.get(day.weekday())
        if opening and day not in closed:
            opens, closes = (local_utc(day, clock, zone) for clock in opening)
            overlap = (min(end_utc, closes) - max(start_utc, opens)).total_seconds()
            total += max(0.0, overlap)
        day += timedelta(days=1)
    return total


def local_utc(day: date, clock: str, zone: ZoneInfo) -> datetime:
    if clock == "24:00":
        day, clock = day + timedelta(days=1), "00:00"
    local = datetime.combine(day, time.fromisoformat(clock), tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)


# --- running business_seconds on DuckDB ---------------------------------------------------------


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def compute(
    con: ibis.BaseBackend,
    pairs: list[tuple[datetime | None, datetime | None]],
    hours: BusinessHours = DEFAULT,
) -> list[float | None]:
    frame = pd.DataFrame(
        {
            "contact_id": range(len(pairs)),
            "opened_at": pd.Series([a for a, _ in pairs], dtype="datetime64[us]"),
            "answered_at": pd.Series([b for _, b in pairs], dtype="datetime64[us]"),
        }
    )
    table = con.create_table("contacts", frame, overwrite=True)
    result = business_seconds(con, table, "opened_at", "answered_at", hours).to_pandas()
    values = result.sort_values("contact_id")["business_seconds"]
    return [None if pd.isna(v) else float(v) for v in values]


def one(con: ibis.BaseBackend, start: datetime, end: datetime, hours=DEFAULT) -> float | None:
    return compute(con, [(start, end)], hours)[0]


# --- worked cases, checked by hand (times are UTC; BST = UTC+1 from 30 Mar to 26 Oct 2025) ----


def test_spring_clock_change_keeps_eight_hour_days(con):
    # Mon 24 Mar 09:00 GMT .. Mon 31 Mar 09:00 BST (08:00 UTC): five full days, nothing Monday.
    assert one(con, datetime(2025, 3, 24, 9), datetime(2025, 3, 31, 8)) == 40 * HOUR
    # Fri 28 Mar 16:00 GMT .. Mon 31 Mar 10:00 BST: 1 h + 1 h.
    assert one(con, datetime(2025, 3, 28, 16), datetime(2025, 3, 31, 9)) == 2 * HOUR


def test_autumn_clock_change_keeps_eight_hour_days(con):
    # Fri 24 Oct 16:00 BST (15:00 UTC) .. Mon 27 Oct 10:00 GMT: 1 h + 1 h.
    assert one(con, datetime(2025, 10, 24, 15), datetime(2025, 10, 27, 10)) == 2 * HOUR
    # The whole week of the change: Mon 20 Oct 09:00 BST .. Fri 31 Oct 17:00 GMT = 10 days.
    assert one(con, datetime(2025, 10, 20, 8), datetime(2025, 10, 31, 17)) == 80 * HOUR


def test_working_intervals_follow_the_local_clock_across_a_change():
    frame = working_intervals(DEFAULT, date(2025, 3, 28), date(2025, 3, 31))
    assert list(frame["start_utc"]) == [
        pd.Timestamp("2025-03-28 09:00"),
        pd.Timestamp("2025-03-31 08:00"),
    ]
    assert list(frame["end_utc"]) == [
        pd.Timestamp("2025-03-28 17:00"),
        pd.Timestamp("2025-03-31 16:00"),
    ]
    assert list(frame["cum_before"]) == [0.0, 8 * HOUR]
    assert str(frame["start_utc"].dtype).startswith("datetime64")


def test_christmas_2027_on_a_weekend_moves_both_holidays_to_monday_and_tuesday(con):
    # Fri 24 Dec 16:00 .. Wed 29 Dec 10:00: Sat, Sun, and the substitutes 27 and 28 Dec are closed.
    assert one(con, datetime(2027, 12, 24, 16), datetime(2027, 12, 29, 10)) == 2 * HOUR
    assert {date(2027, 12, 27), date(2027, 12, 28)} <= set(
        bank_holidays("england-and-wales", date(2027, 12, 1), date(2027, 12, 31))
    )


def test_boxing_day_2026_on_saturday_moves_to_monday_28th(con):
    # Thu 24 Dec 16:00 .. Tue 29 Dec 10:00: Christmas Fri, weekend, substitute Mon 28 Dec.
    assert one(con, datetime(2026, 12, 24, 16), datetime(2026, 12, 29, 10)) == 2 * HOUR


def test_friday_afternoon_to_monday_morning_is_one_business_hour(con):
    assert one(con, datetime(2025, 11, 7, 16, 30), datetime(2025, 11, 10, 9, 30)) == HOUR


def test_contact_opened_on_a_bank_holiday_starts_the_clock_next_working_day(con):
    # Easter Monday 21 Apr 2025, 11:00 BST .. Tue 22 Apr 10:00 BST (09:00 UTC).
    assert one(con, datetime(2025, 4, 21, 10), datetime(2025, 4, 22, 9)) == HOUR


def test_contact_opened_out_of_hours_starts_at_opening_time(con):
    # Tue 4 Nov 2025 20:00 .. Wed 5 Nov 10:00 (GMT).
    assert one(con, datetime(2025, 11, 4, 20), datetime(2025, 11, 5, 10)) == HOUR


def test_scotland_closes_for_st_andrews_day_substitute_and_england_does_not(con):
    # St Andrew's Day 2025 is a Sunday; Scotland's substitute is Mon 1 Dec.
    start, end = datetime(2025, 11, 28, 16), datetime(2025, 12, 2, 10)
    assert one(con, start, end, DEFAULT) == 10 * HOUR
    assert one(con, start, end, SCOTLAND) == 2 * HOUR


def test_scotland_closes_on_second_of_january(con):
    # Fri 2 Jan 2026: a Scottish bank holiday only.
    start, end = datetime(2026, 1, 2, 9), datetime(2026, 1, 2, 17)
    assert one(con, start, end, DEFAULT) == 8 * HOUR
    assert one(con, start, end, SCOTLAND) == 0.0


def test_end_before_start_is_zero_and_missing_instants_are_null(con):
    monday = datetime(2025, 11, 10, 10)
    results = compute(
        con,
        [(monday, monday - timedelta(hours=1)), (monday, monday), (None, monday), (monday, None)],
    )
    assert results == [0.0, 0.0, None, None]


def test_custom_weekly_hours_count_only_saturday_mornings(con):
    # Fri 20:00 .. Sun 12:00 with Sat 10:00-14:00 open: 4 h.
    assert one(con, datetime(2025, 11, 7, 20), datetime(2025, 11, 9, 12), SATURDAY_MORNINGS) == (
        4 * HOUR
    )


def test_time_within_one_working_interval_counts_fractions_of_a_second(con):
    start = datetime(2025, 11, 10, 10, 0, 0, 250_000)
    assert one(con, start, start + timedelta(seconds=90, microseconds=500_000)) == 90.5


def test_all_rows_and_columns_are_kept_and_an_existing_output_column_replaced(con):
    frame = pd.DataFrame(
        {
            "start_utc": pd.to_datetime(["2025-11-10 09:00", "2025-11-10 09:00", None]),
            "end_utc": pd.to_datetime(["2025-11-10 10:00", "2025-11-10 10:00", "2025-11-10 11:00"]),
            "business_seconds": [-1.0, -1.0, -1.0],
            "team": ["a", "a", "b"],
        }
    )
    table = con.create_table("clashing", frame, overwrite=True)
    result = business_seconds(con, table, "start_utc", "end_utc", DEFAULT)
    assert result.columns == table.columns
    out = result.to_pandas().sort_values("team", kind="stable")
    assert out["business_seconds"].tolist()[:2] == [HOUR, HOUR]
    assert pd.isna(out["business_seconds"].tolist()[2])


def test_time_zone_aware_or_text_columns_are_refused(con):
    table = ibis.memtable(
        {"a": pd.Series(pd.to_datetime(["2025-11-10 09:00"])).dt.tz_localize("UTC"), "b": ["x"]}
    )
    with pytest.raises(TypeError, match="naive timestamp"):
        business_seconds(con, table, "a", "a", DEFAULT)
    with pytest.raises(TypeError, match="naive timestamp"):
        business_seconds(con, table, "b", "b", DEFAULT)


def test_all_null_instants_give_nulls(con):
    assert compute(con, [(None, None)]) == [None]


def test_calendar_seconds_is_plain_elapsed_time(con):
    table = ibis.memtable(
        {"a": [datetime(2025, 3, 29, 23)], "b": [datetime(2025, 3, 30, 23, 0, 1)]}
    )
    assert con.execute(calendar_seconds(table.a, table.b)).tolist() == [86401.0]


# --- the calendar itself ------------------------------------------------------------------------


def test_bank_holidays_by_region():
    start, end = date(2025, 1, 1), date(2025, 12, 31)
    england = bank_holidays("england-and-wales", start, end)
    assert date(2025, 4, 21) in england and date(2025, 1, 2) not in england
    scotland = bank_holidays("scotland", start, end)
    assert date(2025, 1, 2) in scotland and date(2025, 12, 1) in scotland
    assert date(2025, 3, 17) in bank_holidays("northern-ireland", start, end)
    assert bank_holidays("none", start, end) == []
    assert england == sorted(england)


def test_business_hours_round_trip_through_json():
    hours = BusinessHours(timezone="Europe/Dublin", weekly={5: ("10:00", "14:00")}, region="none")
    assert BusinessHours.from_dict(json.loads(json.dumps(hours.to_dict()))) == hours
    assert BusinessHours.from_dict({}) == BusinessHours()
    # A closed day written as None is the same as an absent one.
    assert BusinessHours(weekly={0: ("09:00", "17:00"), 6: None}) == BusinessHours(
        weekly={0: ("09:00", "17:00")}
    )
    assert hash(BusinessHours()) == hash(BusinessHours())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"region": "wales-only"},
        {"timezone": "Mars/Olympus"},
        {"weekly": {0: ("17:00", "09:00")}},
        {"weekly": {0: ("9am", "5pm")}},
        {"weekly": {7: ("09:00", "17:00")}},
    ],
)
def test_invalid_business_hours_are_refused(kwargs):
    with pytest.raises(InvalidChoice):
        BusinessHours(**kwargs)


def test_working_intervals_with_no_working_days_is_an_empty_frame():
    frame = working_intervals(SATURDAY_MORNINGS, date(2025, 11, 10), date(2025, 11, 14))
    assert frame.empty and list(frame.columns) == ["start_utc", "end_utc", "cum_before"]


# --- properties against the reference -----------------------------------------------------------

# Instants near the awkward places: clock changes, Easter, Christmas, New Year, St Andrew's Day.
LANDMARKS = [
    datetime(2025, 3, 30, 1),
    datetime(2025, 10, 26, 1),
    datetime(2026, 3, 29, 1),
    datetime(2026, 10, 25, 1),
    datetime(2025, 4, 18, 12),
    datetime(2026, 12, 25),
    datetime(2027, 12, 25),
    datetime(2026, 1, 1),
    datetime(2025, 11, 30),
    datetime(2025, 11, 2, 6),  # US clocks change a week after the UK's
]
HOURS = [
    DEFAULT,
    SCOTLAND,
    BusinessHours(region="northern-ireland"),
    SATURDAY_MORNINGS,
    BusinessHours(
        timezone="America/New_York",
        weekly={d: ("08:30", "18:00") for d in range(6)},
        region="none",
    ),
    BusinessHours(weekly={d: ("00:00", "24:00") for d in range(7)}, region="none"),
    BusinessHours(weekly={d: ("00:30", "02:30") for d in range(7)}, region="none"),
    # Local days far ahead of UTC: the calendar must reach past the data's last UTC date.
    BusinessHours(timezone="Pacific/Auckland", weekly={d: ("06:00", "20:00") for d in range(7)}),
]

near_landmark = st.builds(
    lambda base, seconds: base + timedelta(seconds=seconds),
    st.sampled_from(LANDMARKS),
    st.integers(-4 * 86400, 4 * 86400),
)
anywhere = st.datetimes(datetime(2024, 1, 1), datetime(2028, 12, 31))
instants = st.one_of(near_landmark, anywhere)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[datetime | None, datetime | None]:
    start = draw(st.one_of(instants, st.none()) if draw(st.booleans()) else instants)
    if start is not None and draw(st.booleans()):
        # Close pairs: the usual first response or resolution, possibly across a change.
        return start, start + draw(st.timedeltas(timedelta(0), timedelta(days=12)))
    return start, draw(instants)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(pairs(), min_size=1, max_size=25), hours=st.sampled_from(HOURS))
def test_business_seconds_matches_the_day_by_day_reference(con, batch, hours):
    expected = [reference_business_seconds(a, b, hours) for a, b in batch]
    actual = compute(con, batch, hours)
    for got, want in zip(actual, expected, strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, abs=1e-6)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(st.tuples(instants, instants), min_size=1, max_size=10))
def test_open_all_hours_equals_elapsed_calendar_time(con, batch):
    always = BusinessHours(weekly={d: ("00:00", "24:00") for d in range(7)}, region="none")
    for (a, b), got in zip(batch, compute(con, batch, always), strict=True):
        assert got == pytest.approx(max(0.0, (b - a).total_seconds()), abs=1e-6)


# --- the day-pieces join (backends without a native as-of join) ---------------------------------


def test_day_pieces_cut_each_interval_s_span_at_utc_midnights():
    # Fri 28 Mar and Mon 31 Mar 2025 (BST from Sunday): Friday's interval governs until Monday's
    # starts, cut at three midnights; Monday's, the last, runs on for ever from its start.
    frame = day_pieces(working_intervals(DEFAULT, date(2025, 3, 28), date(2025, 3, 31)))
    friday, monday = datetime(2025, 3, 28, 9), datetime(2025, 3, 31, 8)
    midnight = [pd.Timestamp(2025, 3, day) for day in (28, 29, 30, 31)]
    assert frame["day"].tolist() == [*midnight, midnight[3]]
    assert frame["piece_from"].tolist() == [pd.Timestamp(friday), *midnight[1:], monday]
    assert frame["piece_to"].tolist()[:4] == [*midnight[1:], pd.Timestamp(monday)]
    assert pd.isna(frame["piece_to"].iloc[4])
    assert frame["start_utc"].tolist() == [pd.Timestamp(friday)] * 4 + [pd.Timestamp(monday)]
    assert frame["cum_before"].tolist() == [0.0] * 4 + [8 * HOUR]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(pairs(), min_size=1, max_size=25), hours=st.sampled_from(HOURS))
def test_the_day_pieces_join_reads_exactly_what_the_as_of_join_reads(
    con, monkeypatch, batch, hours
):
    as_of_join = compute(con, batch, hours)
    with monkeypatch.context() as patched:
        patched.setattr(calendar, "_NATIVE_ASOF", frozenset())  # DuckDB as if it had none
        pieces = compute(con, batch, hours)
    assert pieces == as_of_join  # the same arithmetic on the same interval: equal, not close


def test_a_calendar_is_not_built_for_years_outside_those_reports_cover():
    """A placeholder's 0001-01-01 or 9999-12-31 would ask for a calendar over ten thousand
    years (and the year 0 or 10000 around it): refused in one line, not an OverflowError."""
    assert calendar_years(date(1900, 1, 1), date(2200, 12, 31)) == (
        date(1899, 1, 1),
        date(2201, 12, 31),
    )
    for first, last in ((date(1, 1, 1), date(2025, 1, 1)), (date(2025, 1, 1), date(9999, 12, 31))):
        with pytest.raises(ImplausibleDates, match="business hours cover 1900-2200"):
            calendar_years(first, last)


def test_business_time_between_placeholder_dates_is_refused_not_overflowed(con):
    with pytest.raises(ImplausibleDates, match="run from 0001-01-01 to 9999-12-31"):
        compute(con, [(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59))], DEFAULT)
