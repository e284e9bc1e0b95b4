"""Change between two periods, and weekly trends: whether a KPI moved more than noise.

Works on results alone; ``report.trend`` and ``report.overview`` run the queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

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
    """One KPI week by week, with XmR control limits and run-rule signals (None if < 2 points).
    ``partial`` marks the weeks only partly covered: they are kept out of the limits."""

    key: str
    periods: list[str]
    results: list[MetricResult]
    chart: statistics.ControlChart | None
    partial: list[bool] = field(default_factory=list)

    @property
    def values(self) -> list[float | None]:
        return [r.value for r in self.results]

    @property
    def whole_values(self) -> list[float | None]:
        """The values with part weeks as gaps: what a sparkline or a limit may read."""
        return whole_only(self.values, self.partial)


def whole_only(values: Sequence[float | None], partial: Sequence[bool]) -> list[float | None]:
    """``values`` with the part periods' as gaps (a part week's count is not a drop in volume,
    and its rate rests on a few days)."""
    flags = list(partial) + [False] * (len(values) - len(partial))
    return [None if part else value for value, part in zip(values, flags, strict=False)]


#: The columns ``mark_parts`` adds (a table shows the period's own figures without them).
PART_COLUMNS = ("partial", "covered_days", "days")


def mark_parts(frame: pd.DataFrame, report_: Report) -> pd.DataFrame:
    """A ``long_frame`` by period with ``partial`` (bool), ``covered_days`` and ``days`` columns
    from the report's periods, so a chart can draw a part week or month apart from whole ones."""
    parts = report_.part_periods()
    periods = frame["period"]
    return frame.assign(
        partial=periods.isin(list(parts)),
        covered_days=periods.map(lambda p: parts[p][0] if p in parts else None),
        days=periods.map(lambda p: parts[p][1] if p in parts else None),
    )


def whole_periods(frame: pd.DataFrame) -> pd.DataFrame:
    """A ``mark_parts`` frame with the part periods' values as gaps (rows kept, so positions
    still match): what control limits are computed from."""
    if "partial" not in frame:
        return frame
    return frame.assign(value=frame["value"].where(~frame["partial"].astype(bool)))


def trend_window(filters: Filters, weeks: int, as_of: datetime, timezone: str) -> Filters:
    """The last ``weeks`` whole weeks (Monday to Sunday) up to the filter's end date, or up to
    the as-of date when there is none."""
    end = filters.date_to or local_date(as_of, timezone)
    last_monday = grain_start(end, "week")
    return filters.with_dates(last_monday - timedelta(weeks=weeks - 1), end)


def trends_from(report_: Report, keys: Sequence[str]) -> dict[str, Trend]:
    """Each KPI's weekly series; the XmR limits leave out the part weeks."""
    rows = [r for r in report_.rows if not r.segment and r.period not in (None, UNDATED)]
    periods = [str(r.period) for r in rows]
    partial = [r.partial for r in rows]
    out = {}
    for key in keys:
        results = report_.series(key)
        chart = statistics.xmr_limits(whole_only([r.value for r in results], partial))
        out[key] = Trend(key, periods, results, chart, partial)
    return out
