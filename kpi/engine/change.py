"""Change between two periods, and weekly trends: whether a KPI moved more than noise.

Works on results alone; ``report.trend`` and ``report.overview`` run the queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kpi.engine import statistics
from kpi.engine.filters import Filters
from kpi.engine.results import UNDATED, MetricResult, Report
from kpi.engine.timeline import grain_start, local_date


@dataclass(frozen=True)
class Change:
    """Current against previous: the difference (percentage points, NPS points or the unit) and
    whether a test says it is more than noise. ``test`` names the test; None when untestable."""

    key: str
    difference: float | None
    p_value: float | None
    significant: bool
    test: str | None


def change(current: MetricResult, previous: MetricResult) -> Change:
    """Two-proportion z-test for rates, the NPS difference over sqrt(SE1^2 + SE2^2), Welch's t
    for means; medians and counts get the difference only."""
    difference = None
    if current.value is not None and previous.value is not None:
        difference = current.value - previous.value
    if difference is None or current.variant != previous.variant:
        return Change(current.key, difference, None, False, None)
    outcome, test = _test(current, previous)
    if outcome is None or outcome.p_value is None:
        return Change(current.key, difference, None, False, None)
    return Change(current.key, difference, outcome.p_value, bool(outcome.significant), test)


def _test(
    current: MetricResult, previous: MetricResult
) -> tuple[statistics.ChangeTest | None, str | None]:
    """The test that fits the KPI's kind, and its name; (None, None) when none does."""
    if "promoters" in current.extra:
        outcome = statistics.nps_change_test(
            previous.extra["promoters"],
            previous.extra["detractors"],
            previous.n,
            current.extra["promoters"],
            current.extra["detractors"],
            current.n,
        )
        return outcome, "NPS z-test (SE of the difference = sqrt(SE1^2 + SE2^2))"
    if current.numerator is not None:
        counts = (previous.numerator, previous.denominator, current.numerator, current.denominator)
        if any(count is None for count in counts):
            return None, None
        x1, n1, x2, n2 = (int(count or 0) for count in counts)
        outcome = statistics.two_proportion_test(x1, n1, x2, n2)
        return outcome, "two-proportion z-test"
    sds = current.extra.get("sd"), previous.extra.get("sd")
    if sds[0] is not None and sds[1] is not None:
        assert current.value is not None and previous.value is not None  # checked by change()
        outcome = statistics.mean_change_test(
            previous.value, sds[1], previous.n, current.value, sds[0], current.n
        )
        return outcome, "Welch's t-test"
    return None, None


@dataclass
class Trend:
    """One KPI week by week, with XmR control limits and run-rule signals (None if < 2 points)."""

    key: str
    periods: list[str]
    results: list[MetricResult]
    chart: statistics.ControlChart | None

    @property
    def values(self) -> list[float | None]:
        return [r.value for r in self.results]


def trend_window(filters: Filters, weeks: int, as_of: datetime, timezone: str) -> Filters:
    """The last ``weeks`` whole weeks (Monday to Sunday) up to the filter's end date, or up to
    the as-of date when there is none."""
    end = filters.date_to or local_date(as_of, timezone)
    last_monday = grain_start(end, "week")
    return filters.with_dates(last_monday - timedelta(weeks=weeks - 1), end)


def trends_from(report_: Report, keys: Sequence[str]) -> dict[str, Trend]:
    periods = [r.period for r in report_.rows if not r.segment and r.period not in (None, UNDATED)]
    out = {}
    for key in keys:
        results = report_.series(key)
        out[key] = Trend(key, periods, results, statistics.xmr_limits([r.value for r in results]))
    return out
