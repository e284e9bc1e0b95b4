"""Lasting step changes in a weekly rate, found without a dated note.

For each rate KPI, every split of the whole-week series into "before" and "from this week on"
(at least ``MIN_SIDE`` weeks each side) is tested with a two-proportion z-test on the pooled
counts; the split with the largest z is kept when it passes at ALPHA divided by the number of
splits tried (Bonferroni). A short spike is not a step: the weeks after the split must mostly
sit on the new side of the old level (``HOLD``), so the level has moved and stayed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpi.charts.spec import ChartSpec
from kpi.engine import report as engine
from kpi.engine import statistics
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.engine.tables import format_value
from kpi.insights.model import (
    ALPHA,
    Figure,
    Insight,
    Scope,
    guidance,
    insight_id,
    p_text,
    week_of,
)
from kpi.insights.over_time import _whole_weeks
from kpi.metrics.registry import REGISTRY

#: Weekly rates watched for a step change (counts with a numerator and a denominator).
STEP_KEYS = ("fcr", "csat", "sla", "complaint_rate", "reopen_rate")
#: Weeks each side of a split, so one odd week at either end is never "a new level".
MIN_SIDE = 6
#: Share of the weeks on each side that must sit on its own side of the midpoint between the
#: two levels: a spike of a few weeks lifts one side's average but does not pass this.
HOLD = 0.75


@dataclass(frozen=True)
class Step:
    """The best split of one KPI's weekly series: weeks before it and from it on."""

    key: str
    index: int
    before: tuple[int, int]
    after: tuple[int, int]
    test: statistics.ChangeTest
    splits: int


def step_changes(s: Scope) -> list[Insight]:
    """One insight per rate KPI whose weekly series moved to a new level and stayed there."""
    window = _whole_weeks(s)
    if window is None:
        return []
    weekly = engine.report(
        s.store, window, grain="week", settings=s.settings, metrics=list(STEP_KEYS)
    )
    parts = weekly.part_periods()
    weeks = [
        r.period
        for r in weekly.rows
        if not r.segment and r.period is not None and r.period != "undated"
    ]
    out = []
    for key in STEP_KEYS:
        points = [
            (week, result)
            for week, result in zip(weeks, weekly.series(key), strict=True)
            if week not in parts and result.numerator is not None and result.n > 0
        ]
        step = best_step(key, [r for _, r in points])
        if step is not None and _held(step, [r for _, r in points]):
            out.append(_step_insight(step, points, window))
    return out


def best_step(key: str, results: list[MetricResult]) -> Step | None:
    """The split with the largest two-proportion z, when it passes the Bonferroni-corrected
    level over every split tried; None otherwise."""
    splits = len(results) - 2 * MIN_SIDE + 1
    if splits < 1:
        return None
    hits = [int(r.numerator or 0) for r in results]
    sizes = [r.n for r in results]
    best: Step | None = None
    for index in range(MIN_SIDE, len(results) - MIN_SIDE + 1):
        before = (sum(hits[:index]), sum(sizes[:index]))
        after = (sum(hits[index:]), sum(sizes[index:]))
        test = statistics.two_proportion_test(*before, *after, alpha=ALPHA / splits)
        if test.z is None:
            continue
        if best is None or abs(test.z) > abs(best.test.z or 0.0):
            best = Step(key, index, before, after, test, splits)
    return best if best is not None and best.test.significant else None


def _held(step: Step, results: list[MetricResult]) -> bool:
    """Most weeks on each side sit on their own side of the midpoint between the two levels."""
    old = step.before[0] / step.before[1]
    new = step.after[0] / step.after[1]
    middle, up = 100.0 * (old + new) / 2, new > old
    values = [r.value for r in results]
    before = [v for v in values[: step.index] if v is not None]
    after = [v for v in values[step.index :] if v is not None]
    kept_before = sum((v < middle) == up for v in before) / max(len(before), 1)
    kept_after = sum((v > middle) == up for v in after) / max(len(after), 1)
    return kept_before >= HOLD and kept_after >= HOLD


def _step_insight(step: Step, points: list[tuple[str, MetricResult]], window: Filters) -> Insight:
    metric = REGISTRY[step.key]
    week = points[step.index][0]
    old = 100.0 * step.before[0] / step.before[1]
    new = 100.0 * step.after[0] / step.after[1]
    better = (new > old) == (metric.direction == "higher")
    verb = "up" if new > old else "down"
    definition = points[0][1].definition
    first, last = week_of(points[0][0]), week_of(points[-1][0])
    return Insight(
        id=insight_id("change_point", window, step.key),
        kind="change_point",
        title=f"{metric.label} {verb} from the week of {week_of(week)}: "
        f"{format_value(old, '%')} before, {format_value(new, '%')} since "
        f"({'better' if better else 'worse'})",
        summary=f"From the week of {week_of(week)}, {metric.label} moved to a new level and "
        f"stayed there: {step.after[0]:,} of {step.after[1]:,} since against "
        f"{step.before[0]:,} of {step.before[1]:,} in the weeks before. No dated note was "
        "needed to find it; add one saying what changed that week.",
        details=f"Best single split of {len(points)} whole weeks ({first} to {last}), "
        f"two-proportion z-test, Bonferroni-corrected over {step.splits} possible splits: "
        f"{p_text(step.test.p_value)}. At least {MIN_SIDE} weeks each side; "
        f"{HOLD:.0%} of the weeks each side sit on their own side of the midpoint.",
        figures=(
            Figure(f"{metric.label}, before {week_of(week)}", old, step.before[1], "%", definition),
            Figure(f"{metric.label}, from {week_of(week)}", new, step.after[1], "%", definition),
        ),
        chart=ChartSpec(
            "line",
            f"{metric.label} by week, before and from {week_of(week)}",
            "week",
            "value",
            tuple({"week": p, "value": r.value, "n": r.n, "signal": p == week} for p, r in points),
            unit="%",
            lines={"before": old, "since": new},
        ),
        metrics=(step.key,),
        filters=window,
        p_value=step.test.p_value,
        weight=abs(step.test.z or 0.0),
        **guidance("change_point", metric.label),
    )
