"""Insights over time: changes against the previous period (the engine's tests), XmR signals
on whole weeks, targets missed, and before/after each dated annotation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from kpi.charts.spec import ChartSpec
from kpi.engine import breakdowns, statistics
from kpi.engine import report as engine
from kpi.engine.change import change
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult, Report
from kpi.engine.tables import format_value
from kpi.engine.timeline import coverage_note
from kpi.insights import like_for_like
from kpi.insights.model import (
    BEFORE_AFTER_DAYS,
    BEFORE_AFTER_KEYS,
    CHANGE_KEYS,
    MIN_WEEKS,
    SIGNAL_KEYS,
    SIGNAL_RULES,
    Comparison,
    Figure,
    Insight,
    Scope,
    bar_row,
    current_period,
    distinct,
    guidance,
    insight_id,
    label_of,
    metric_figure,
    p_text,
    week_of,
)
from kpi.metrics import targets
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store import annotations as store_annotations
from kpi.store.annotations import Annotation
from kpi.store.connection import Store


def period_comparisons(s: Scope) -> tuple[Filters, Filters, list[Comparison]] | None:
    """Every testable KPI of the current period against the previous one (both n at least the
    minimum), with the engine's test; None when there is no previous period in the data."""
    period = current_period(s)
    if period is None:
        return None
    previous = period.previous_period()
    if _part_covered(s, period) or _part_covered(s, previous):
        return None
    keys = list(CHANGE_KEYS)
    # Both periods in one pass (one query per family), as the Overview's comparison does.
    periods = {"now": period, "before": previous}
    both = engine.report_periods(s.store, periods, settings=s.settings, metrics=keys).split()
    now, before = (r.totals() for r in both)
    tested = []
    for key in keys:
        current, prior = now[key], before[key]
        if min(current.n, prior.n) < s.settings.minimum_n:
            continue
        result = change(current, prior)
        if result.test is not None:
            tested.append(Comparison(key, prior, current, result))
    return period, previous, tested


def _part_covered(s: Scope, period: Filters) -> bool:
    """The data covers only part of the period (it starts or stops inside it): its figures
    would be compared with a whole period's as if like with like."""
    if s.first_day is None or s.last_day is None:
        return False
    return coverage_note(period, (s.first_day, s.last_day)) is not None


def changes(s: Scope) -> list[Insight]:
    """KPIs that moved against the previous period by more than chance (engine ``change``)."""
    found = period_comparisons(s)
    if found is None:
        return []
    period, previous, tested = found
    return [
        _change_insight(c, c.change.difference, period, previous)
        for c in tested
        if c.change.significant and c.change.difference is not None
    ]


def _change_insight(
    comparison: Comparison, difference: float, period: Filters, previous: Filters
) -> Insight:
    """One significant change; ``difference`` is the comparison's, known to be a number."""
    key, current, prior, result = (
        comparison.key,
        comparison.after,
        comparison.before,
        comparison.change,
    )
    metric = REGISTRY[key]
    better = (difference > 0) == (metric.direction == "higher")
    verb = "rose" if difference > 0 else "fell"
    title = (
        f"{metric.label} {verb} from {format_value(prior.value, current.unit)} to "
        f"{format_value(current.value, current.unit)} ({'better' if better else 'worse'})"
    )
    chart = ChartSpec(
        "bars",
        f"{metric.label}: previous period and this period",
        "period",
        "value",
        (bar_row(previous.describe(), prior), bar_row(period.describe(), current)),
        unit=current.unit,
        ci=("ci_low", "ci_high"),
    )
    return Insight(
        id=insight_id("change", period, key),
        kind="change",
        title=title,
        summary=f"{period.describe()} against {previous.describe()}: "
        f"{format_value(prior.value, prior.unit)} (n = {prior.n:,}) to "
        f"{format_value(current.value, current.unit)} (n = {current.n:,}). "
        "A change this big is more than chance.",
        details=f"{result.test}: {p_text(result.p_value)}.",
        figures=(
            metric_figure(f"{metric.label}, previous", prior),
            metric_figure(metric.label, current),
        ),
        chart=chart,
        metrics=(key,),
        filters=period,
        p_value=result.p_value,
        weight=abs(difference) + (1 if not better else 0),
        **guidance("change", metric.label),
    )


def _whole_weeks(s: Scope) -> Filters | None:
    """The filters' range (the data's when unset) trimmed to whole Monday-Sunday weeks, so a
    part week never looks like a drop in volume."""
    start = s.filters.date_from or s.first_day
    end = s.filters.date_to or s.last_day
    if start is None or end is None:
        return None
    start = start + timedelta(days=(7 - start.weekday()) % 7)
    end = end - timedelta(days=(end.weekday() + 1) % 7)
    if (end - start).days + 1 < 7 * MIN_WEEKS:
        # Too short for limits of its own: take the weeks before, up to the period's end.
        start = end - timedelta(days=7 * 26 - 1)
    if s.first_day and start < s.first_day:
        start = s.first_day + timedelta(days=(7 - s.first_day.weekday()) % 7)
    if (end - start).days + 1 < 7 * MIN_WEEKS:
        return None
    return s.filters.with_dates(start, end)


def signals(s: Scope) -> list[Insight]:
    """Weeks that an XmR chart marks: a point outside the limits or a run on one side."""
    window = _whole_weeks(s)
    if window is None:
        return []
    weekly = engine.report(
        s.store, window, grain="week", settings=s.settings, metrics=list(SIGNAL_KEYS)
    )
    out = []
    for key in SIGNAL_KEYS:
        insight = _signal_insight(key, weekly, window, s)
        if insight:
            out.append(insight)
    return out


def _week_starts(weekly: Report) -> list[str]:
    """The ISO start date of each dated week of the total, in order."""
    return [
        r.period
        for r in weekly.rows
        if not r.segment and r.period is not None and r.period != "undated"
    ]


def _signal_insight(key: str, weekly: Report, window: Filters, s: Scope) -> Insight | None:
    results = weekly.series(key)
    periods = _week_starts(weekly)
    # Weeks too small to read, and part weeks, are gaps, not points.
    minimum = 0 if REGISTRY[key].unit == "count" else max(10, s.settings.minimum_n // 3)
    parts = weekly.part_periods()
    values = [
        r.value if r.n >= minimum and p not in parts else None
        for p, r in zip(periods, results, strict=True)
    ]
    chart = statistics.xmr_limits(values)
    if chart is None:
        return None
    shown_from = s.filters.date_from.isoformat() if s.filters.date_from else ""
    found = [
        g
        for g in chart.signals
        if g.rule in SIGNAL_RULES
        and periods[g.index] >= shown_from[:10]
        and chart.upper > chart.lower
    ]
    if not found:
        return None
    return _signal_found(key, window, chart, found, periods, results)


def _signal_found(
    key: str,
    window: Filters,
    chart: statistics.ControlChart,
    found: list[statistics.Signal],
    periods: list[str],
    results: list[MetricResult],
) -> Insight:
    """The insight for the weeks an XmR chart marks (``found``, never empty), named most recent
    first, the latest one explained in the summary."""
    metric = REGISTRY[key]
    marked = {periods[g.index] for g in found}
    weeks = sorted(marked, reverse=True)
    rows = tuple(
        {"week": p, "value": r.value, "n": r.n, "signal": p in marked}
        for p, r in zip(periods, results, strict=True)
    )
    latest = max(found, key=lambda g: g.index)
    others = ", ".join(week_of(w) for w in weeks[1:4]) + (" ..." if len(weeks) > 4 else "")
    title = f"{metric.label}: the weekly control chart marks the week of {week_of(weeks[0])}" + (
        f" and {len(weeks) - 1} earlier (most recent first: {others})" if len(weeks) > 1 else ""
    )
    return Insight(
        id=insight_id("signal", window, key),
        kind="signal",
        title=title,
        summary=_signal_sentence(metric.label, latest, chart, periods, results),
        details=f"XmR chart over {len(periods)} whole weeks: centre {chart.centre:.4g}, limits "
        f"{chart.lower:.4g} to {chart.upper:.4g} (mean moving range x 2.66). Rules used: a "
        "point outside the limits, or 8 weeks in a row on one side of the centre.",
        figures=tuple(
            Figure(f"{metric.label}, week of {week_of(p)}", r.value, r.n, r.unit, r.definition)
            for p, r in reversed(list(zip(periods, results, strict=True)))
            if p in marked
        )[:6],
        chart=ChartSpec(
            "line",
            f"{metric.label} by week with XmR limits",
            "week",
            "value",
            rows,
            unit=metric.unit,
            lines={"centre": chart.centre, "upper limit": chart.upper, "lower limit": chart.lower},
        ),
        metrics=(key,),
        filters=window,
        # The most recent signal first: what happened last week matters more than last year.
        weight=float(date.fromisoformat(weeks[0]).toordinal()),
        **guidance("signal", metric.label),
    )


def _signal_sentence(
    label: str,
    signal: statistics.Signal,
    chart: statistics.ControlChart,
    periods: list[str],
    results: list[MetricResult],
) -> str:
    """The latest marked week in words: its value against the limit it crossed, each printed
    with enough digits to show the difference, or the run that ended there."""
    week, value = week_of(periods[signal.index]), results[signal.index].value
    unit = "%" if results[signal.index].unit == "%" else ""
    if signal.rule == "outside_limits" and value is not None:
        above = value > chart.upper
        limit = chart.upper if above else chart.lower
        shown, edge = distinct(value, limit, least=0 if unit == "" else 1)
        where = "above the upper" if above else "below the lower"
        return (
            f"In the week of {week}, {label} was {shown}{unit}, {where} limit of {edge}{unit}: "
            "something unusual happened that week."
        )
    side = "above" if value is not None and value > chart.centre else "below"
    return (
        f"In the week of {week}, {label} had been {side} its average for 8 weeks in a row: "
        "the level has probably shifted."
    )


def missed_targets(s: Scope) -> list[Insight]:
    """KPIs whose whole 95% interval misses the team's target in the current period."""
    period = current_period(s)
    keys = [k for k in s.settings.targets if k in REGISTRY]
    if period is None or not keys:
        return []
    total = engine.report(s.store, period, settings=s.settings, metrics=keys).totals()
    out = []
    for key in keys:
        result, target = total[key], s.settings.targets[key]
        status = targets.rag(result.value, target, result.ci_low, result.ci_high)
        if status is None or status.status != "red" or result.n < s.settings.minimum_n:
            continue
        label = label_of(key)
        out.append(
            Insight(
                id=insight_id("target", period, key),
                kind="target",
                title=f"{label} {format_value(result.value, result.unit)} misses its target "
                f"of {format_value(target.value, result.unit)}",
                summary=f"{status.text}. {period.describe()}.",
                figures=(metric_figure(label, result),),
                chart=ChartSpec(
                    "bars",
                    f"{label} against target",
                    "period",
                    "value",
                    (bar_row(period.describe(), result),),
                    unit=result.unit,
                    lines={"target": target.value},
                    ci=("ci_low", "ci_high"),
                ),
                metrics=(key,),
                filters=period,
                weight=abs((result.value or 0.0) - target.value),
                **guidance("target", label),
            )
        )
    return out


def before_after(
    store: Store,
    filters: Filters,
    on_date: date,
    keys: Sequence[str] = BEFORE_AFTER_KEYS,
    days: int = BEFORE_AFTER_DAYS,
    settings: Settings | None = None,
) -> tuple[Filters, Filters, list[Comparison]] | None:
    """The KPIs over whole weeks before ``on_date`` against as many whole weeks from it (at
    most ``days`` each side, ``like_for_like.windows``; the same segments), each with the
    engine's test (two-proportion z-test for rates); None without a whole week each side."""
    settings = settings or load_settings(store)
    found = like_for_like.windows(
        on_date, breakdowns.data_range(store, settings.timezone), filters, days // 7
    )
    if isinstance(found, str):
        return None
    before, after = found.before, found.after
    first = engine.report(store, before, settings=settings, metrics=list(keys)).totals()
    second = engine.report(store, after, settings=settings, metrics=list(keys)).totals()
    comparisons = [Comparison(k, first[k], second[k], change(second[k], first[k])) for k in keys]
    return before, after, comparisons


def annotation_checks(s: Scope) -> list[Insight]:
    """Before/after each dated annotation inside the filters' range."""
    notes = store_annotations.between(s.store, s.filters.date_from, s.filters.date_to)
    out = []
    for note in notes:
        if s.last_day and note.on_date > s.last_day:
            continue
        insight = _before_after_insight(s, note)
        if insight:
            out.append(insight)
    return out


def _before_after_title(note: Annotation, moved: list[Comparison]) -> str:
    day = f"{note.on_date.day} {note.on_date:%b %Y}"
    if not moved:
        return f"No change beyond chance after \u201c{note.text}\u201d ({day})"
    parts = [
        f"{label_of(c.key)} {format_value(c.before.value, c.before.unit)} -> "
        f"{format_value(c.after.value, c.after.unit)}"
        for c in moved
    ]
    return f"After \u201c{note.text}\u201d ({day}): " + "; ".join(parts)


def _before_after_rows(tested: list[Comparison]) -> tuple[dict[str, object], ...]:
    """Chart rows: each KPI's value before and after, side by side."""
    rows: list[dict[str, object]] = []
    for c in tested:
        rows.append({"kpi": label_of(c.key), "period": "before", **bar_row("before", c.before)})
        rows.append({"kpi": label_of(c.key), "period": "after", **bar_row("after", c.after)})
    return tuple(rows)


def _before_after_insight(s: Scope, note: Annotation) -> Insight | None:
    found = before_after(s.store, s.filters, note.on_date, settings=s.settings)
    if found is None:
        return None
    before, after, comparisons = found
    weeks = (after.days or 0) // 7
    undated = s.filters.with_dates(None, None)
    tested = [c for c in comparisons if min(c.before.n, c.after.n) >= s.settings.minimum_n]
    if not tested:
        return None
    moved = [c for c in tested if c.change.significant]
    day = f"{note.on_date.day} {note.on_date:%b %Y}"
    title = _before_after_title(note, moved)
    figures = []
    for c in tested:
        figures += [
            metric_figure(f"{label_of(c.key)}, before", c.before),
            metric_figure(f"{label_of(c.key)}, after", c.after),
        ]
    best = min((c.change.p_value for c in tested if c.change.p_value is not None), default=None)
    return Insight(
        # The id leaves the dates out: found again on the window it reports, it stays the same.
        id=insight_id("before_after", undated, note.annotation_id, note.on_date),
        kind="before_after",
        title=title,
        summary=f"{weeks} whole weeks before ({before.describe()}) against {weeks} whole weeks "
        f"from the change ({after.describe()}); two-proportion z-test per KPI (NPS: z-test "
        "of the difference). "
        + "; ".join(
            f"{label_of(c.key)} p = {c.change.p_value:.3g}"
            for c in tested
            if c.change.p_value is not None
        ),
        figures=tuple(figures),
        chart=ChartSpec(
            "bars",
            f"Before and after {day}",
            "kpi",
            "value",
            _before_after_rows(tested),
            unit="%",
            color="period",
            ci=("ci_low", "ci_high"),
        ),
        metrics=tuple(c.key for c in tested),
        filters=s.filters.with_dates(before.date_from, after.date_to),
        p_value=best,
        weight=10.0 * len(moved),
        **guidance("before_after", ", ".join(label_of(c.key) for c in moved) or "the KPIs"),
    )
