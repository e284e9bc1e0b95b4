"""Filters: local dates to UTC instants, the previous period, and predicates on a real backend."""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pytest

from kpi.engine.filters import Filters, parse_list
from kpi.errors import InvalidChoice


def test_dates_are_local_days_as_utc_instants():
    summer = Filters(date_from=date(2025, 7, 1), date_to=date(2025, 7, 31))
    assert summer.utc_bounds("Europe/London") == (
        datetime(2025, 6, 30, 23),
        datetime(2025, 7, 31, 23),
    )
    winter = Filters(date_from=date(2025, 1, 1), date_to=date(2025, 1, 31))
    assert winter.utc_bounds("Europe/London") == (datetime(2025, 1, 1), datetime(2025, 2, 1))
    # The day the clocks go forward is 23 hours long.
    spring = Filters(date_from=date(2025, 3, 30), date_to=date(2025, 3, 30))
    start, end = spring.utc_bounds("Europe/London")
    assert (end - start).total_seconds() == 23 * 3600
    assert Filters().utc_bounds("Europe/London") == (None, None)


@pytest.mark.parametrize(
    ("start", "end", "previous"),
    [
        ((2025, 3, 10), (2025, 3, 16), ((2025, 3, 3), (2025, 3, 9))),  # a week
        ((2025, 3, 1), (2025, 3, 31), ((2025, 2, 1), (2025, 2, 28))),  # a calendar month
        ((2025, 9, 1), (2025, 11, 30), ((2025, 6, 1), (2025, 8, 31))),  # a quarter
        ((2025, 1, 1), (2025, 1, 31), ((2024, 12, 1), (2024, 12, 31))),  # across a year
        ((2025, 3, 5), (2025, 3, 5), ((2025, 3, 4), (2025, 3, 4))),  # a day
        ((2025, 3, 15), (2025, 4, 14), ((2025, 2, 12), (2025, 3, 14))),  # 31 days
    ],
)
def test_previous_period(start, end, previous):
    filters = Filters(date_from=date(*start), date_to=date(*end), channel=("email",))
    before = filters.previous_period()
    assert (before.date_from, before.date_to) == (date(*previous[0]), date(*previous[1]))
    assert before.channel == ("email",)


def test_previous_period_needs_both_dates():
    with pytest.raises(InvalidChoice, match="start and an end"):
        Filters(date_from=date(2025, 1, 1)).previous_period()


def test_bad_range_is_refused():
    with pytest.raises(InvalidChoice, match="starts"):
        Filters(date_from=date(2025, 2, 1), date_to=date(2025, 1, 1))


def test_values_are_normalised_and_round_trip():
    f = Filters(
        date_from="2025-03-01", date_to=datetime(2025, 3, 31, 12), channel="email", team=["A", "B"]
    )
    assert f.date_from == date(2025, 3, 1) and f.date_to == date(2025, 3, 31)
    assert f.channel == ("email",) and f.team == ("A", "B")
    assert Filters.from_dict(f.to_dict()) == f
    assert f.describe() == "1 Mar 2025 - 31 Mar 2025; channel: email; team: A, B"
    assert Filters().describe() == "all dates"
    assert parse_list(" email, ,phone ") == ("email", "phone")
    assert hash(f) == hash(Filters.from_dict(f.to_dict()))


def test_predicates_on_a_real_backend():
    con = ibis.duckdb.connect()
    table = ibis.memtable(
        {
            "opened_at": [
                datetime(2025, 6, 30, 22, 59),  # 23:59 on 30 June in London
                datetime(2025, 6, 30, 23, 0),  # midnight: 1 July
                datetime(2025, 7, 31, 22, 59),  # 23:59 on 31 July
                datetime(2025, 7, 31, 23, 0),  # 1 August
            ],
            "channel": ["email", "phone", "email", "email"],
            "agent": ["O'Brien", "Smith", "O'Brien", "Smith"],
        }
    )
    july = Filters(date_from=date(2025, 7, 1), date_to=date(2025, 7, 31))
    dated = table.filter(*july.date_predicates(table, "opened_at", "Europe/London"))
    assert con.execute(dated.count()) == 2
    mine = Filters(agent=("O'Brien",), channel=("email",))
    assert con.execute(table.filter(*mine.segment_predicates(table)).count()) == 2
    assert Filters().segment_predicates(table) == []
