"""Insights over time leave part periods out: no XmR signal from a part week, and no change
against a period the data only partly cover."""

from __future__ import annotations

from datetime import date

from kpi.engine import statistics
from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.insights import over_time
from kpi.insights.model import scope
from tests.kpi.engine.test_report import CAL, part_period_store


def test_part_weeks_never_set_off_a_control_chart_signal() -> None:
    store = part_period_store(whole=(80, 80, 90, 80, 90, 80))
    window = Filters(date_from=date(2026, 7, 6), date_to=date(2026, 8, 19))
    weekly = report(store, window, grain="week", settings=CAL, metrics=["csat"])
    assert weekly.part_periods() == {"2026-08-17": (3, 7)}  # 0%, far below the whole weeks
    # Read as a whole week it would be a signal: below 71.4 - 2.66 x 20 = 18.2.
    assert statistics.xmr_limits([80, 80, 90, 80, 90, 80, 0]).signals
    s = scope(store, window, CAL)
    assert over_time._signal_insight("csat", weekly, window, s) is None


def test_no_change_is_claimed_against_a_period_the_data_only_partly_cover() -> None:
    store = part_period_store()
    # 13-19 July against 6-12 July: both whole, so compared.
    whole = scope(store, Filters(date_from=date(2026, 7, 13), date_to=date(2026, 7, 19)), CAL)
    assert over_time.period_comparisons(whole) is not None
    # 6-12 July against 29 June - 5 July, which the data cover from Thursday 2 July only.
    part = scope(store, Filters(date_from=date(2026, 7, 6), date_to=date(2026, 7, 12)), CAL)
    assert over_time.period_comparisons(part) is None
    # 17-23 August: the data stop on the 19th.
    late = scope(store, Filters(date_from=date(2026, 8, 17), date_to=date(2026, 8, 23)), CAL)
    assert over_time.period_comparisons(late) is None
