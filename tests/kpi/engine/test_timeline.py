"""Periods: how much of each day, week or month the data and the filters cover, and how a
period reads on a chart."""

from __future__ import annotations

from datetime import date

from kpi.engine.filters import Filters
from kpi.engine.timeline import coverage_note, part_label, period_label, periods_for

DATA = (date(2026, 7, 2), date(2026, 8, 19))  # a Thursday to a Wednesday


def test_weeks_at_the_data_s_edges_are_part_weeks_with_their_covered_days() -> None:
    weeks = periods_for(Filters(), "week", "Europe/London", DATA)
    assert [(p.label, p.covered, p.days, p.partial) for p in (weeks[0], weeks[1], weeks[-1])] == [
        ("2026-06-29", 4, 7, True),
        ("2026-07-06", 7, 7, False),
        ("2026-08-17", 3, 7, True),
    ]


def test_a_month_not_yet_over_and_a_filter_cutting_a_month_are_part_months() -> None:
    months = periods_for(Filters(date_to=date(2026, 8, 31)), "month", "Europe/London", DATA)
    assert [(p.label, p.covered, p.days) for p in months] == [
        ("2026-07-01", 30, 31),
        ("2026-08-01", 19, 31),
    ]
    cut = Filters(date_from=date(2026, 7, 10), date_to=date(2026, 7, 31))
    assert periods_for(cut, "month", "UTC", DATA)[0].covered == 22


def test_periods_read_as_people_write_them() -> None:
    assert period_label("2026-08-01", "month") == "Aug 2026"
    assert period_label("2026-08-03", "week") == "w/c 3 Aug 2026"
    assert period_label("2026-08-03", "day") == "3 Aug 2026"
    assert period_label("undated", "week") == "undated"
    assert part_label("week", 4, 7) == "part week: 4 of 7 days covered"


def test_a_comparison_period_the_data_only_partly_cover_says_how_much() -> None:
    previous = Filters(date_from=date(2026, 4, 3), date_to=date(2026, 7, 2))
    assert coverage_note(previous, DATA) == "data covers 1 of 91 days"
    assert (
        coverage_note(Filters(date_from=date(2026, 7, 6), date_to=date(2026, 7, 12)), DATA) is None
    )
    assert coverage_note(Filters(), DATA) is None  # open-ended: nothing to compare
