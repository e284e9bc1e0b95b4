"""Before/after comparisons that cannot over-claim: like with like, a clean baseline, and the
effect with its interval.

- Windows are whole Monday-Sunday weeks, as many after a dated change as before it. The week of
  a change that does not fall on a Monday mixes days before and after, so it is left out; when
  the data cannot give the full number of weeks on both sides, both shrink to the shorter, and
  the windows say why.
- The "before" window is judged against the segment's weekly control chart (XmR limits from up
  to half a year of whole weeks before the change) and each of its weeks against the others:
  a week outside the limits, a run on one side of the centre, or a week that differs from the
  other before weeks by more than chance makes the baseline unfair, and then no "more than
  chance" claim is made: the difference could be a spike ending, not the change working.
- Each "after" week is tested against the other after weeks the same way (``after_warnings``):
  one unusual week after the change could make the difference on its own.
- The effect (after minus before) comes with its 95% interval, not only a p-value (for NPS
  from the adjusted standard errors of the NPS interval, so it never has zero width).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from kpi.engine import statistics
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.engine.tables import format_value
from kpi.insights.model import ALPHA, BEFORE_AFTER_DAYS, SIGNAL_RULES, week_of
from kpi.metrics.registry import REGISTRY

#: Whole weeks each side of a change.
WEEKS = BEFORE_AFTER_DAYS // 7
#: Whole weeks (ending where the before window ends) the before window's control limits use.
LIMIT_WEEKS = 26
#: A weekly point needs this many outcomes to be read (fewer are gaps, as on the weekly signals).
MIN_WEEKLY_N = 10


def day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


@dataclass(frozen=True)
class Windows:
    """The two windows of a before/after comparison and what was left out, in words."""

    before: Filters
    after: Filters
    weeks: int
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """ "8 whole weeks before (17 Nov 2025 - 11 Jan 2026) and 8 after (12 Jan 2026 - ...)"."""
        assert self.before.date_from and self.before.date_to
        assert self.after.date_from and self.after.date_to
        s = "s" if self.weeks != 1 else ""
        return (
            f"{self.weeks} whole week{s} before ({day_text(self.before.date_from)} - "
            f"{day_text(self.before.date_to)}) and {self.weeks} after "
            f"({day_text(self.after.date_from)} - {day_text(self.after.date_to)})"
        )


def windows(
    on_date: date,
    data_range: tuple[date | None, date | None],
    filters: Filters | None = None,
    weeks: int = WEEKS,
) -> Windows | str:
    """Whole weeks before and from ``on_date`` (equal numbers, at most ``weeks``), inside the
    data's range; a sentence saying why when there is not a whole week on each side."""
    filters = filters or Filters()
    change_week = on_date - timedelta(days=on_date.weekday())
    after_start = change_week if on_date.weekday() == 0 else change_week + timedelta(days=7)
    before_end = change_week - timedelta(days=1)
    notes = []
    if on_date.weekday():
        notes.append(
            f"The week of the change ({week_of(change_week)}) is left out: it mixes days "
            f"before and after {day_text(on_date)}."
        )
    first, last = data_range
    available_before = available_after = weeks
    if first is not None:
        first_monday = first + timedelta(days=(7 - first.weekday()) % 7)
        available_before = max(0, ((before_end - first_monday).days + 1) // 7)
    if last is not None:
        last_sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        available_after = max(0, ((last_sunday - after_start).days + 1) // 7)
    if available_after < 1:
        return f"the data hold no whole week from {day_text(after_start)} yet"
    if available_before < 1:
        return f"the data hold no whole week before {day_text(on_date)}"
    count = min(weeks, available_before, available_after)
    if count < weeks:
        short = "after the change" if available_after < weeks else "before the change"
        notes.append(
            f"{count} whole week{'s' if count != 1 else ''} each side, not {weeks}: the data "
            f"hold only {count} {short}, and both sides are kept the same length."
        )
    before = filters.with_dates(before_end - timedelta(days=7 * count - 1), before_end)
    after = filters.with_dates(after_start, after_start + timedelta(days=7 * count - 1))
    return Windows(before, after, count, tuple(notes))


def limits_window(w: Windows, data_first: date | None) -> Filters:
    """The whole weeks the before window's control limits read: up to ``LIMIT_WEEKS`` ending
    where it ends, none before the data's first whole week."""
    assert w.before.date_from and w.before.date_to
    start = w.before.date_to - timedelta(days=7 * LIMIT_WEEKS - 1)
    if data_first is not None:
        first_monday = data_first + timedelta(days=(7 - data_first.weekday()) % 7)
        start = max(start, first_monday)
    return w.before.with_dates(min(start, w.before.date_from), w.before.date_to)


# --- is the before window a fair baseline? -------------------------------------------------------


def baseline_warnings(
    key: str, series: Sequence[tuple[date, MetricResult]], before: Filters
) -> dict[date, str]:
    """Each week of the before window that makes it an unfair baseline (a control-chart signal
    on the weekly series, or a spike against the other before weeks), with a sentence saying
    so, in date order; empty when the baseline is fair."""
    assert before.date_from and before.date_to
    inside = [i for i, (day, _) in enumerate(series) if before.date_from <= day <= before.date_to]
    found: dict[date, str] = {}
    values = [r.value if r.n >= MIN_WEEKLY_N else None for _, r in series]
    chart = statistics.xmr_limits(values)
    if chart is not None and chart.upper > chart.lower:
        for signal in chart.signals:
            if signal.rule in SIGNAL_RULES and signal.index in inside:
                day, result = series[signal.index]
                found.setdefault(day, _signal_words(key, day, result, signal, chart))
    for index in inside:
        day, result = series[index]
        # Against every other week read, not only the other before weeks: a spike's own
        # neighbours would make an ordinary week look like a dip.
        rest = [r for i, (_, r) in enumerate(series) if i != index]
        words = _spike_words(key, day, result, rest, len(inside))
        if words:
            found.setdefault(day, words)
    return {day: found[day] for day in sorted(found)}


def _signal_words(
    key: str,
    day: date,
    result: MetricResult,
    signal: statistics.Signal,
    chart: statistics.ControlChart,
) -> str:
    label, unit = REGISTRY[key].label, result.unit
    if signal.rule == "outside_limits":
        where = "above the upper" if (result.value or 0) > chart.upper else "below the lower"
        limit = chart.upper if where.startswith("above") else chart.lower
        return (
            f"in the week of {week_of(day)} {label} was {format_value(result.value, unit)} "
            f"(n = {result.n:,}), {where} control limit ({format_value(limit, unit)})"
        )
    return (
        f"the week of {week_of(day)} ends a run of 8 weeks on one side of {label}'s average: "
        "the level was shifting before the change"
    )


def after_warnings(
    key: str, series: Sequence[tuple[date, MetricResult]], after: Filters
) -> dict[date, str]:
    """Each week of the after window that differs from the other after weeks by more than
    chance (a spike), with a sentence saying so, in date order; empty when there is none.

    Against the other after weeks only, and without the run rules: a lasting shift after the
    change is what an action aims at, but one unusual week could make a difference on its own.
    The most unusual week is set aside before the rest are tested again, so a spike never
    makes its ordinary neighbours look like dips.
    """
    assert after.date_from and after.date_to
    left = [i for i, (day, _) in enumerate(series) if after.date_from <= day <= after.date_to]
    tests, found = len(left), {}
    while len(left) > 1:
        flagged = {}
        for index in left:
            day, result = series[index]
            rest = [series[i][1] for i in left if i != index]
            words = _spike_words(key, day, result, rest, tests, "the other after weeks")
            if words:
                flagged[index] = words
        if not flagged:
            break
        middle = float(np.median([series[i][1].value or 0.0 for i in left]))
        worst = max(flagged, key=lambda i: abs((series[i][1].value or 0.0) - middle))
        found[series[worst][0]] = flagged[worst]
        left.remove(worst)
    return {day: found[day] for day in sorted(found)}


def _spike_words(
    key: str,
    day: date,
    week: MetricResult,
    rest: Sequence[MetricResult],
    tests: int,
    others: str = "the other weeks",
) -> str | None:
    """The week against the other weeks pooled (Bonferroni over the before weeks): words when
    it differs by more than chance, else None. Rates and NPS only."""
    if week.n < MIN_WEEKLY_N or not rest:
        return None
    alpha = ALPHA / max(tests, 1)
    if "promoters" in week.extra:
        if any("promoters" not in r.extra for r in rest):
            return None
        test = statistics.nps_change_test(
            sum(r.extra["promoters"] for r in rest),
            sum(r.extra["detractors"] for r in rest),
            sum(r.n for r in rest),
            week.extra["promoters"],
            week.extra["detractors"],
            week.n,
            alpha=alpha,
        )
        pooled = statistics.nps(
            sum(r.extra["promoters"] for r in rest),
            sum(r.extra["detractors"] for r in rest),
            sum(r.n for r in rest),
        )
    elif week.numerator is not None and all(r.numerator is not None for r in rest):
        x, n = sum(r.numerator or 0 for r in rest), sum(r.n for r in rest)
        test = statistics.two_proportion_test(x, n, week.numerator, week.n, alpha=alpha)
        pooled = 100.0 * x / n if n else None
    else:
        return None
    if not test.significant or test.difference is None:
        return None
    label, unit = REGISTRY[key].label, week.unit
    side = "above" if test.difference > 0 else "below"
    return (
        f"in the week of {week_of(day)} {label} was {format_value(week.value, unit)} "
        f"(n = {week.n:,}), a spike {side} {others} ({format_value(pooled, unit)})"
    )


# --- the effect and its interval ----------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """After minus before, in the KPI's unit (percentage points for rates), with its 95%
    interval; ``method`` names how the interval was worked out."""

    difference: float | None
    low: float | None
    high: float | None
    method: str

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def effect(before: MetricResult, after: MetricResult) -> Effect:
    """The difference with a 95% interval: Newcombe's hybrid score interval for rates (from
    the two Wilson intervals), the NPS difference +/- 1.96 x sqrt(SE1^2 + SE2^2) with the
    adjusted standard errors of the NPS interval (so it never has zero width), Welch's t for
    means; the difference alone for anything else."""
    if before.value is None or after.value is None:
        return Effect(None, None, None, "no interval: a side has no value")
    difference = after.value - before.value
    if "promoters" in before.extra and "promoters" in after.extra:
        return _nps_effect(before, after, difference)
    if before.numerator is not None and after.numerator is not None and before.unit == "%":
        return _rate_effect(before, after, difference)
    sds = before.extra.get("sd"), after.extra.get("sd")
    if sds[0] is not None and sds[1] is not None and min(before.n, after.n) >= 2:
        return _mean_effect(before, after, difference, float(sds[0]), float(sds[1]))
    return Effect(difference, None, None, "no interval for this kind of KPI")


def _rate_effect(before: MetricResult, after: MetricResult, difference: float) -> Effect:
    x1, n1, x2, n2 = before.numerator or 0, before.n, after.numerator or 0, after.n
    p1, p2 = x1 / n1, x2 / n2
    first, second = statistics.wilson_interval(x1, n1), statistics.wilson_interval(x2, n2)
    assert first.low is not None and first.high is not None
    assert second.low is not None and second.high is not None
    d = p2 - p1
    low = d - math.sqrt((p2 - second.low) ** 2 + (first.high - p1) ** 2)
    high = d + math.sqrt((second.high - p2) ** 2 + (p1 - first.low) ** 2)
    return Effect(difference, 100.0 * low, 100.0 * high, "Newcombe's hybrid score interval")


def _nps_effect(before: MetricResult, after: MetricResult, difference: float) -> Effect:
    errors = [
        statistics.nps_standard_error(
            r.extra["promoters"], r.extra["detractors"], r.n, adjusted=True
        )
        for r in (before, after)
    ]
    if errors[0] is None or errors[1] is None:
        return Effect(difference, None, None, "no interval: a side has no answers")
    half = statistics.z_score() * math.hypot(errors[0], errors[1])
    return Effect(
        difference,
        difference - half,
        difference + half,
        "NPS difference +/- 1.96 x its adjusted SE (one answer of each kind added to each side)",
    )


def _mean_effect(
    before: MetricResult, after: MetricResult, difference: float, sd1: float, sd2: float
) -> Effect:
    v1, v2 = sd1**2 / before.n, sd2**2 / after.n
    error = math.sqrt(v1 + v2)
    if error == 0:
        return Effect(difference, difference, difference, "Welch's t interval")
    df = (v1 + v2) ** 2 / (v1**2 / (before.n - 1) + v2**2 / (after.n - 1))
    half = statistics.t_quantile(0.975, df) * error
    return Effect(difference, difference - half, difference + half, "Welch's t interval")


def effect_text(e: Effect, unit: str, short: bool = False) -> str:
    """ "+3.1 percentage points (95% interval +1.2 to +5.0)"; ``short`` leaves out "95%
    interval" (for a column whose heading says it)."""
    if e.difference is None:
        return "no difference can be worked out"
    points = {"%": "percentage points", "points": "NPS points", "score": "points"}.get(unit, unit)
    shown = f"{e.difference:+.1f} {points}"
    if e.low is None or e.high is None:
        return f"{shown} ({e.method})"
    return f"{shown} ({'' if short else '95% interval '}{e.low:+.1f} to {e.high:+.1f})"
