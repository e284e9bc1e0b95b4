"""What the data says, found for the learner: patterns worth a reflection, each with its n.

``detect`` runs the detectors below for a set of filters and returns ``Insight`` objects: a
title, the figures behind it (each with n and the registry's definition), a chart as data, and
what to reflect with (prompts by level, models, KSB references). Every KPI value comes from the
engine; the tests here only compare counts the engine returned, and each family of comparisons is
Bonferroni-corrected, so on data without patterns the false alarms stay at the nominal level.

Detectors: significant changes against the previous period; XmR signals on weekly series; SLA
breaches concentrated by weekday and hour, priority or channel; categories driving complaints or
detractors (Pareto); targets missed; before/after each dated annotation; tiny samples that would
top a ranking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi import annotations, breakdowns, engine, statistics, targets
from kpi.chartspec import ChartSpec
from kpi.engine import MetricResult, Report
from kpi.filters import Filters
from kpi.metrics import REGISTRY
from kpi.settings import Settings, load_settings
from kpi.store import Store
from kpi.tables import format_value

ALPHA = statistics.ALPHA
#: KPIs whose change between periods is tested (rates, NPS, means); medians and counts are not.
CHANGE_KEYS = (
    "nps",
    "csat",
    "ces",
    "fcr",
    "sla",
    "reopen_rate",
    "escalation_rate",
    "complaint_rate",
    "abandonment_rate",
    "service_level",
)
#: Weekly series watched with XmR charts.
SIGNAL_KEYS = ("contacts", "csat", "nps", "fcr", "sla", "complaint_rate", "reopen_rate")
#: Run rules used for insights: the two with the lowest false-alarm rate on weekly series.
SIGNAL_RULES = ("outside_limits", "run")
#: KPIs compared before and after an annotation.
BEFORE_AFTER_KEYS = ("fcr", "reopen_rate", "csat", "nps", "sla", "complaint_rate")
BEFORE_AFTER_DAYS = 56
#: A cell needs this many outcomes before its breach rate is compared with the rest.
MIN_CELL = 20
MIN_WEEKS = 8
KINDS = (
    "change",
    "signal",
    "concentration",
    "driver",
    "target",
    "before_after",
    "small_sample",
)
WEEKDAYS = breakdowns.WEEKDAYS


@dataclass(frozen=True)
class Figure:
    """One number behind an insight, with its n and what it means."""

    label: str
    value: float | None
    n: int
    unit: str
    definition: str
    ci_low: float | None = None
    ci_high: float | None = None

    def text(self) -> str:
        shown = format_value(self.value, self.unit)
        return f"{self.label}: {shown} (n = {self.n:,})"


@dataclass(frozen=True)
class Insight:
    id: str
    kind: str
    title: str
    summary: str
    figures: tuple[Figure, ...]
    chart: ChartSpec
    #: Registry keys involved (their definitions go in an evidence pack).
    metrics: tuple[str, ...]
    filters: Filters
    p_value: float | None = None
    #: Bigger is more striking; used to order the list.
    weight: float = 0.0
    #: Reflection prompts: level 2 explain/apply, level 3 analyse/evaluate/impact.
    prompts: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    ksbs: tuple[str, ...] = ()

    def prompts_for(self, level: int) -> tuple[str, ...]:
        return tuple(self.prompts.get(3 if level >= 3 else 2, ()))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chart"] = self.chart.to_dict()
        data["filters"] = self.filters.to_dict()
        data["prompts"] = {str(k): list(v) for k, v in self.prompts.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Insight:
        values = dict(data)
        values["figures"] = tuple(Figure(**f) for f in values.get("figures", ()))
        values["chart"] = ChartSpec.from_dict(values["chart"])
        values["filters"] = Filters.from_dict(values.get("filters") or {})
        values["prompts"] = {int(k): tuple(v) for k, v in (values.get("prompts") or {}).items()}
        for name in ("metrics", "models", "ksbs"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)


# --- what each kind asks the learner ------------------------------------------------------------

#: Per kind: (level 2 prompts, level 3 prompts, models, KSB references). KSB references point at
#: rows of kpi/catalogue/ksbs.csv, whose codes are provisional (see kpi.ksbs).
GUIDANCE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "change": (
        (
            "Explain what {metric} measures and how it is worked out.",
            "What did you do in this period that could have affected {metric}?",
            "How will you apply what you learned next week?",
        ),
        (
            "Analyse why {metric} moved: which contacts, channels or reasons drove it?",
            "Evaluate whether the change is more than chance (look at n and the test).",
            "What was the impact on customers and the business, and what will you change?",
        ),
        ("STAR+Reflection", "What/So what/Now what"),
        ("ST0072:K6", "ST0072:B1", "ST0071:K3", "ST0071:S6", "ST0384:operational-management"),
    ),
    "signal": (
        (
            "Explain what the control limits on the chart show.",
            "What happened in the weeks the chart marks?",
        ),
        (
            "Analyse the cause of the weeks outside the usual range: special cause or a shift?",
            "Evaluate what monitoring you would put in place to spot it sooner.",
        ),
        ("STAR+Reflection", "What/So what/Now what"),
        ("ST0071:S6", "ST0071:K3", "ST0072:K4", "ST0384:operational-management"),
    ),
    "concentration": (
        (
            "Explain the service standard these contacts missed.",
            "How could you organise your work to meet it at these times?",
        ),
        (
            "Analyse why breaches cluster here: demand, staffing, process or systems?",
            "Evaluate options (rota, triage, templates) against cost and quality.",
            "Show the impact you expect and how you will measure it.",
        ),
        ("STAR+Reflection", "Gibbs"),
        ("ST0072:S4", "ST0072:K5", "ST0071:S3", "ST0071:S6", "ST0384:operational-management"),
    ),
    "driver": (
        (
            "Explain what customers in this category complained about and how you responded.",
            "How did you use HEAT (Hear, Empathise, Apologise, Take ownership) on these cases?",
        ),
        (
            "Analyse the root cause (5 Whys or a fishbone) behind this category.",
            "Evaluate the customer journey touchpoint that fails and recommend a change.",
            "Quantify the impact: complaints and detractors you could avoid.",
        ),
        ("Gibbs", "STAR+Reflection", "HEAT", "LATER"),
        ("ST0072:S5", "ST0072:K1", "ST0071:S2", "ST0071:K2", "ST0071:K3"),
    ),
    "target": (
        (
            "Explain the target and why it matters to customers.",
            "Which part of the target is yours, and what will you do to meet it?",
        ),
        (
            "Analyse the gap to target and what drives it.",
            "Evaluate a SMART action and the impact if it closes the gap.",
        ),
        ("STAR+Reflection", "What/So what/Now what"),
        ("ST0072:K5", "ST0072:K2", "ST0071:S6", "ST0071:S3"),
    ),
    "before_after": (
        (
            "Explain the change that was made on this date.",
            "What did you do differently after it?",
        ),
        (
            "Evaluate the before/after result: is it more than chance, and what else changed?",
            "Show the impact on customers and the business, and the next PDCA step.",
        ),
        ("STAR+Reflection", "Gibbs"),
        ("ST0071:S7", "ST0071:K1", "ST0072:B6", "ST0072:B2", "ST0384:project-management"),
    ),
    "small_sample": (
        ("Explain why a score from a handful of answers cannot be compared with others.",),
        (
            "Evaluate how small samples could mislead a team review, and what you would show instead.",
        ),
        ("What/So what/Now what",),
        ("ST0071:K3", "ST0072:K6", "ST0384:managing-people"),
    ),
}


def _guidance(kind: str, metric: str) -> dict[str, Any]:
    level2, level3, models, ksbs = GUIDANCE[kind]
    return {
        "prompts": {
            2: tuple(p.format(metric=metric) for p in level2),
            3: tuple(p.format(metric=metric) for p in level3),
        },
        "models": models,
        "ksbs": ksbs,
    }


def _id(kind: str, filters: Filters, *parts: object) -> str:
    """Stable across runs: the same pattern for the same filters gets the same id."""
    text = json.dumps([kind, filters.to_dict(), [str(p) for p in parts]], sort_keys=True)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _figure(label: str, result: MetricResult) -> Figure:
    return Figure(
        label,
        result.value,
        result.n,
        result.unit,
        result.definition,
        result.ci_low,
        result.ci_high,
    )


def _label(key: str) -> str:
    return REGISTRY[key].label


def _bar_row(name: str, result: MetricResult) -> dict[str, Any]:
    return {
        "period": name,
        "value": result.value,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "n": result.n,
    }


# --- the current period ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    store: Store
    filters: Filters
    settings: Settings
    first_day: date | None
    last_day: date | None


def scope(store: Store, filters: Filters, settings: Settings | None = None) -> Scope:
    settings = settings or load_settings(store)
    first, last = breakdowns.data_range(store, settings.timezone)
    return Scope(store, filters, settings, first, last)


def current_period(s: Scope) -> Filters | None:
    """The filters' period, or the latest whole calendar month of data when no dates are set."""
    if s.filters.date_from and s.filters.date_to:
        return s.filters
    if s.last_day is None:
        return None
    end = s.filters.date_to or s.last_day
    month_end = (end.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if end != month_end:  # the month is not complete: use the one before
        end = end.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    if s.first_day and start < s.first_day:
        return None
    return s.filters.with_dates(start, end)


# --- detectors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    key: str
    before: MetricResult
    after: MetricResult
    change: engine.Change


def period_comparisons(s: Scope) -> tuple[Filters, Filters, list[Comparison]] | None:
    """Every testable KPI of the current period against the previous one (both n at least the
    minimum), with the engine's test; None when there is no previous period in the data."""
    period = current_period(s)
    if period is None:
        return None
    previous = period.previous_period()
    if s.first_day and previous.date_from < s.first_day:
        return None
    keys = list(CHANGE_KEYS)
    now = engine.report(s.store, period, settings=s.settings, metrics=keys).total()
    before = engine.report(s.store, previous, settings=s.settings, metrics=keys).total()
    tested = []
    for key in keys:
        current, prior = now.metrics[key], before.metrics[key]
        if min(current.n, prior.n) < s.settings.minimum_n:
            continue
        result = engine.change(current, prior)
        if result.test is not None:
            tested.append(Comparison(key, prior, current, result))
    return period, previous, tested


def changes(s: Scope) -> list[Insight]:
    """KPIs that moved against the previous period by more than chance (engine ``change``)."""
    found = period_comparisons(s)
    if found is None:
        return []
    period, previous, tested = found
    return [
        _change_insight(c.key, period, previous, c.after, c.before, c.change)
        for c in tested
        if c.change.significant
    ]


def _change_insight(
    key: str,
    period: Filters,
    previous: Filters,
    current: MetricResult,
    prior: MetricResult,
    result: engine.Change,
) -> Insight:
    metric = REGISTRY[key]
    better = (result.difference > 0) == (metric.direction == "higher")
    verb = "rose" if result.difference > 0 else "fell"
    title = (
        f"{metric.label} {verb} from {format_value(prior.value, current.unit)} to "
        f"{format_value(current.value, current.unit)} ({'better' if better else 'worse'})"
    )
    chart = ChartSpec(
        "bars",
        f"{metric.label}: previous period and this period",
        "period",
        "value",
        (_bar_row(previous.describe(), prior), _bar_row(period.describe(), current)),
        unit=current.unit,
        ci=("ci_low", "ci_high"),
    )
    return Insight(
        id=_id("change", period, key),
        kind="change",
        title=title,
        summary=f"{result.test}: p = {result.p_value:.3g}; {period.describe()} against "
        f"{previous.describe()}.",
        figures=(_figure(f"{metric.label}, previous", prior), _figure(metric.label, current)),
        chart=chart,
        metrics=(key,),
        filters=period,
        p_value=result.p_value,
        weight=abs(result.difference or 0.0) + (1 if not better else 0),
        **_guidance("change", metric.label),
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


def _signal_insight(key: str, weekly: Report, window: Filters, s: Scope) -> Insight | None:
    results = weekly.series(key)
    periods = [r.period for r in weekly.rows if not r.segment and r.period not in (None, "undated")]
    # Weeks too small to read are gaps, not points.
    minimum = 0 if REGISTRY[key].unit == "count" else max(10, s.settings.minimum_n // 3)
    values = [r.value if r.n >= minimum else None for r in results]
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
    metric = REGISTRY[key]
    weeks = sorted({periods[g.index] for g in found})
    marked = {periods[g.index] for g in found}
    rows = tuple(
        {"week": p, "value": r.value, "n": r.n, "signal": p in marked}
        for p, r in zip(periods, results, strict=True)
    )
    first = found[0]
    listed = ", ".join(_week(w) for w in weeks[:3]) + (" ..." if len(weeks) > 3 else "")
    title = (
        f"{metric.label}: the weekly control chart marks {len(weeks)} "
        f"week{'s' if len(weeks) != 1 else ''} ({listed})"
    )
    return Insight(
        id=_id("signal", window, key),
        kind="signal",
        title=title,
        summary=f"{first.description} Centre {chart.centre:.4g}, limits {chart.lower:.4g} to "
        f"{chart.upper:.4g} (XmR, mean moving range x 2.66), {len(periods)} weeks.",
        figures=tuple(
            Figure(f"{metric.label}, week of {_week(p)}", r.value, r.n, r.unit, r.definition)
            for p, r in zip(periods, results, strict=True)
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
        weight=float(len(weeks)),
        **_guidance("signal", metric.label),
    )


def _week(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%b %Y}"


def _breach_counts(s: Scope, field_: str) -> pd.DataFrame:
    """SLA outcomes and breaches per value of ``field_``, from the engine's SLA result (a breach
    is a contact in its population it does not count as met)."""
    report = engine.report(s.store, s.filters, by=(field_,), settings=s.settings, metrics=["sla"])
    rows = [
        {
            field_: "(none)" if r.segment[field_] is None else r.segment[field_],
            "breached": r.metrics["sla"].n - (r.metrics["sla"].numerator or 0),
            "outcomes": r.metrics["sla"].n,
        }
        for r in report.rows
        if r.segment and r.metrics["sla"].n
    ]
    return pd.DataFrame(rows, columns=[field_, "breached", "outcomes"])


def _breach_grid(s: Scope, channel: str) -> pd.DataFrame:
    """One channel's breaches by local weekday and hour opened (``breakdowns.breach_heatmap``,
    the same rows as SLA compliance)."""
    if channel == "(none)":
        return pd.DataFrame(columns=["weekday", "hour", "breached", "outcomes"])
    chosen = Filters.from_dict({**s.filters.to_dict(), "channel": [channel]})
    grid = breakdowns.breach_heatmap(s.store, chosen)
    return grid[grid.outcomes > 0].reset_index(drop=True)


def _definition(s: Scope, key: str) -> str:
    """The registry's sentence for the variant the data supports (as the engine reports it)."""
    return REGISTRY[key].definition(breakdowns.scope(s.store, s.settings).context)


def _excess(group: pd.DataFrame, mask: pd.Series, tests: int) -> statistics.ChangeTest:
    """Breach rate inside ``mask`` against the rest of ``group``, Bonferroni over ``tests``."""
    inside, rest = group[mask], group[~mask]
    return statistics.two_proportion_test(
        int(rest.breached.sum()),
        int(rest.outcomes.sum()),
        int(inside.breached.sum()),
        int(inside.outcomes.sum()),
        alpha=ALPHA / max(tests, 1),
    )


def concentrations(s: Scope) -> list[Insight]:
    """Where SLA breaches cluster: weekday-hour blocks within a channel, and priorities or
    channels whose breach rate is well above the rest."""
    by_channel = _breach_counts(s, "channel")
    if by_channel.empty or by_channel.breached.sum() == 0:
        return []
    out = _segment_concentration(s, by_channel, "channel")
    out += _segment_concentration(s, _breach_counts(s, "priority"), "priority")
    return out + _time_concentration(s, by_channel)


def _segment_concentration(s: Scope, counts: pd.DataFrame, field_: str) -> list[Insight]:
    if len(counts) < 2:
        return []
    out = []
    for _, row in counts.iterrows():
        value = row[field_]
        if row.outcomes < MIN_CELL:
            continue
        test = _excess(counts, counts[field_] == value, len(counts))
        if not test.significant or test.difference <= 0:
            continue
        rest = counts[counts[field_] != value]
        rate = 100.0 * row.breached / row.outcomes
        rest_rate = 100.0 * rest.breached.sum() / rest.outcomes.sum()
        rows = tuple(
            {field_: str(r[field_]), "value": 100.0 * r.breached / r.outcomes, "n": int(r.outcomes)}
            for _, r in counts.iterrows()
        )
        out.append(
            _breach_insight(
                s,
                ("segment", field_, value),
                f"SLA breaches concentrate in {field_} {value}: {rate:.1f}% breached against "
                f"{rest_rate:.1f}% elsewhere",
                test,
                (int(row.breached), int(row.outcomes)),
                (int(rest.breached.sum()), int(rest.outcomes.sum())),
                ChartSpec("bars", f"SLA breach rate by {field_}", field_, "value", rows, unit="%"),
            )
        )
    return out


def _time_concentration(s: Scope, by_channel: pd.DataFrame) -> list[Insight]:
    """Per channel, the weekday-hour cells breaching well above the channel's other hours,
    merged into blocks of consecutive hours."""
    channels = [str(c) for c in by_channel[by_channel.outcomes >= MIN_CELL].channel]
    tests = 7 * 24 * max(len(channels), 1)
    out = []
    for channel in channels:
        grid = _breach_grid(s, channel)
        if grid.empty:
            continue
        hot = []
        for _, cell in grid.iterrows():
            if cell.outcomes < MIN_CELL:
                continue
            mask = (grid.weekday == cell.weekday) & (grid.hour == cell.hour)
            test = _excess(grid, mask, tests)
            if test.significant and test.difference > 0:
                hot.append((int(cell.weekday), int(cell.hour)))
        for weekday, first, last in _blocks(hot):
            out.append(_time_insight(s, channel, grid, weekday, first, last, tests))
    return out


def _time_insight(
    s: Scope, channel: str, grid: pd.DataFrame, weekday: int, first: int, last: int, tests: int
) -> Insight:
    mask = (grid.weekday == weekday) & grid.hour.between(first, last)
    test = _excess(grid, mask, tests)
    inside, rest = grid[mask], grid[~mask]
    hours = f"{first:02d}:00-{last:02d}:59"
    rate = 100.0 * inside.breached.sum() / inside.outcomes.sum()
    rest_rate = 100.0 * rest.breached.sum() / max(rest.outcomes.sum(), 1)
    rows = tuple(
        {
            "day": WEEKDAYS[int(r.weekday)],
            "hour": int(r.hour),
            "value": 100.0 * r.breached / r.outcomes,
            "n": int(r.outcomes),
        }
        for _, r in grid.iterrows()
    )
    return _breach_insight(
        s,
        ("time", channel, weekday, first, last),
        f"{channel.capitalize()} SLA breaches concentrate on {_DAY_NAMES[weekday]} {hours}: "
        f"{rate:.1f}% breached against {rest_rate:.1f}% at other times",
        test,
        (int(inside.breached.sum()), int(inside.outcomes.sum())),
        (int(rest.breached.sum()), int(rest.outcomes.sum())),
        ChartSpec(
            "heatmap",
            f"SLA breach rate by weekday and hour opened, {channel}",
            "hour",
            "day",
            rows,
            unit="%",
            z="value",
        ),
    )


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _blocks(cells: Iterable[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(weekday, first hour, last hour) runs of consecutive hours on the same day."""
    out: list[tuple[int, int, int]] = []
    for weekday, hour in sorted(cells):
        if out and out[-1][0] == weekday and out[-1][2] == hour - 1:
            out[-1] = (weekday, out[-1][1], hour)
        else:
            out.append((weekday, hour, hour))
    return out


def _breach_insight(
    s: Scope,
    parts: tuple[object, ...],
    title: str,
    test: statistics.ChangeTest,
    inside: tuple[int, int],
    rest: tuple[int, int],
    chart: ChartSpec,
) -> Insight:
    definition = _definition(s, "sla")
    figures = (
        Figure("Breach rate here", 100.0 * inside[0] / inside[1], inside[1], "%", definition),
        Figure(
            "Breach rate elsewhere", 100.0 * rest[0] / max(rest[1], 1), rest[1], "%", definition
        ),
    )
    return Insight(
        id=_id("concentration", s.filters, *parts),
        kind="concentration",
        title=title,
        summary=f"Two-proportion z-test against the rest, Bonferroni-corrected: p = "
        f"{test.p_value:.3g}. {inside[0]:,} of {inside[1]:,} contacts breached here.",
        figures=figures,
        chart=chart,
        metrics=("sla",),
        filters=s.filters,
        p_value=test.p_value,
        weight=100.0 * (test.difference or 0.0),
        **_guidance("concentration", "SLA compliance"),
    )


def drivers(s: Scope) -> list[Insight]:
    """Categories whose complaint rate, or share of detractors among answers, is well above the
    other categories' (Pareto chart of the counts, z-test of the rates)."""
    report = engine.report(
        s.store, s.filters, by=("category",), settings=s.settings, metrics=["complaint_rate", "nps"]
    )
    rows = [r for r in report.rows if r.segment and r.segment.get("category") is not None]
    out = []
    for key, what, counts in (
        ("complaint_rate", "complaints", lambda m: (m.numerator or 0, m.n)),
        ("nps", "detractors", lambda m: (int(m.extra.get("detractors", 0)), m.n)),
    ):
        out += _driver_insights(s, rows, key, what, counts)
    return out


def _driver_insights(
    s: Scope,
    rows: Sequence[engine.ReportRow],
    key: str,
    what: str,
    counts: Callable[[MetricResult], tuple[int, int]],
) -> list[Insight]:
    per = {r.segment["category"]: counts(r.metrics[key]) for r in rows}
    total_x = sum(x for x, _ in per.values())
    total_n = sum(n for _, n in per.values())
    if total_x == 0 or len(per) < 2:
        return []
    chart_rows = breakdowns.pareto({k: x for k, (x, _) in per.items()})
    chart_rows["n"] = [per[c][1] for c in chart_rows.category]
    out = []
    for category, (x, n) in per.items():
        if n < MIN_CELL:
            continue
        test = statistics.two_proportion_test(
            total_x - x, total_n - n, x, n, alpha=ALPHA / len(per)
        )
        if not test.significant or test.difference <= 0:
            continue
        share = 100.0 * x / total_x
        rate, rest_rate = 100.0 * x / n, 100.0 * (total_x - x) / max(total_n - n, 1)
        population = "contacts" if key == "complaint_rate" else "survey answers"
        definition = REGISTRY[key].label + ": " + rows[0].metrics[key].definition
        out.append(
            Insight(
                id=_id("driver", s.filters, key, category),
                kind="driver",
                title=f"{category} drives {what}: {share:.0f}% of all {what} from "
                f"{100.0 * n / total_n:.0f}% of {population}",
                summary=f"{x:,} {what} in {n:,} {population} ({rate:.1f}%) against {rest_rate:.1f}% "
                f"in other categories; two-proportion z-test, Bonferroni-corrected p = "
                f"{test.p_value:.3g}.",
                figures=(
                    Figure(f"{what.capitalize()} rate, {category}", rate, n, "%", definition),
                    Figure(
                        f"{what.capitalize()} rate, other categories",
                        rest_rate,
                        total_n - n,
                        "%",
                        definition,
                    ),
                ),
                chart=ChartSpec(
                    "pareto",
                    f"Pareto of {what} by category",
                    "category",
                    "count",
                    tuple(chart_rows.to_dict("records")),
                    unit="count",
                    n="n",
                ),
                metrics=(key,),
                filters=s.filters,
                p_value=test.p_value,
                weight=share,
                **_guidance("driver", what),
            )
        )
    return out


def missed_targets(s: Scope) -> list[Insight]:
    """KPIs whose whole 95% interval misses the team's target in the current period."""
    period = current_period(s)
    keys = [k for k in s.settings.targets if k in REGISTRY]
    if period is None or not keys:
        return []
    total = engine.report(s.store, period, settings=s.settings, metrics=keys).total()
    out = []
    for key in keys:
        result, target = total.metrics[key], s.settings.targets[key]
        status = targets.rag(result.value, target, result.ci_low, result.ci_high)
        if status is None or status.status != "red" or result.n < s.settings.minimum_n:
            continue
        label = _label(key)
        out.append(
            Insight(
                id=_id("target", period, key),
                kind="target",
                title=f"{label} {format_value(result.value, result.unit)} misses its target "
                f"of {format_value(target.value, result.unit)}",
                summary=f"{status.text}. {period.describe()}.",
                figures=(_figure(label, result),),
                chart=ChartSpec(
                    "bars",
                    f"{label} against target",
                    "period",
                    "value",
                    (_bar_row(period.describe(), result),),
                    unit=result.unit,
                    lines={"target": target.value},
                    ci=("ci_low", "ci_high"),
                ),
                metrics=(key,),
                filters=period,
                weight=abs((result.value or 0.0) - target.value),
                **_guidance("target", label),
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
) -> tuple[Filters, Filters, list[Comparison]]:
    """The KPIs ``days`` before ``on_date`` against ``days`` from it (the same segments), each
    with the engine's test (two-proportion z-test for rates)."""
    settings = settings or load_settings(store)
    before = filters.with_dates(on_date - timedelta(days=days), on_date - timedelta(days=1))
    after = filters.with_dates(on_date, on_date + timedelta(days=days - 1))
    first = engine.report(store, before, settings=settings, metrics=list(keys)).total()
    second = engine.report(store, after, settings=settings, metrics=list(keys)).total()
    comparisons = [
        Comparison(
            k,
            first.metrics[k],
            second.metrics[k],
            engine.change(second.metrics[k], first.metrics[k]),
        )
        for k in keys
    ]
    return before, after, comparisons


def annotation_checks(s: Scope) -> list[Insight]:
    """Before/after each dated annotation inside the filters' range."""
    notes = annotations.between(s.store, s.filters.date_from, s.filters.date_to)
    out = []
    for note in notes:
        if s.first_day and note.on_date - timedelta(days=BEFORE_AFTER_DAYS) < s.first_day:
            continue
        if s.last_day and note.on_date > s.last_day:
            continue
        insight = _before_after_insight(s, note)
        if insight:
            out.append(insight)
    return out


def _before_after_insight(s: Scope, note: annotations.Annotation) -> Insight | None:
    before, after, comparisons = before_after(s.store, s.filters, note.on_date, settings=s.settings)
    tested = [c for c in comparisons if min(c.before.n, c.after.n) >= s.settings.minimum_n]
    if not tested:
        return None
    moved = [c for c in tested if c.change.significant]
    day = f"{note.on_date.day} {note.on_date:%b %Y}"
    if moved:
        parts = [
            f"{_label(c.key)} {format_value(c.before.value, c.before.unit)} -> "
            f"{format_value(c.after.value, c.after.unit)}"
            for c in moved
        ]
        title = f"After \u201c{note.text}\u201d ({day}): " + "; ".join(parts)
    else:
        title = f"No change beyond chance after \u201c{note.text}\u201d ({day})"
    rows = []
    for c in tested:
        rows.append({"kpi": _label(c.key), "period": "before", **_bar_row("before", c.before)})
        rows.append({"kpi": _label(c.key), "period": "after", **_bar_row("after", c.after)})
    figures = []
    for c in tested:
        figures += [
            _figure(f"{_label(c.key)}, before", c.before),
            _figure(f"{_label(c.key)}, after", c.after),
        ]
    best = min((c.change.p_value for c in tested if c.change.p_value is not None), default=None)
    return Insight(
        id=_id("before_after", s.filters, note.annotation_id, note.on_date),
        kind="before_after",
        title=title,
        summary=f"{BEFORE_AFTER_DAYS} days before ({before.describe()}) against {BEFORE_AFTER_DAYS} "
        f"days from the change ({after.describe()}); two-proportion z-test per KPI (NPS: z-test "
        "of the difference). "
        + "; ".join(
            f"{_label(c.key)} p = {c.change.p_value:.3g}"
            for c in tested
            if c.change.p_value is not None
        ),
        figures=tuple(figures),
        chart=ChartSpec(
            "bars",
            f"Before and after {day}",
            "kpi",
            "value",
            tuple(rows),
            unit="%",
            color="period",
            ci=("ci_low", "ci_high"),
        ),
        metrics=tuple(c.key for c in tested),
        filters=s.filters.with_dates(before.date_from, after.date_to),
        p_value=best,
        weight=10.0 * len(moved),
        **_guidance("before_after", ", ".join(_label(c.key) for c in moved) or "the KPIs"),
    )


def small_samples(s: Scope) -> list[Insight]:
    """Agents whose CSAT would top (or bottom) a ranking on fewer answers than the minimum n."""
    report = engine.report(s.store, s.filters, by=("agent",), settings=s.settings, metrics=["csat"])
    results = [(r.segment["agent"], r.metrics["csat"]) for r in report.rows if r.segment]
    results = [(a, m) for a, m in results if a is not None and m.value is not None]
    if len(results) < 2:
        return []
    solid = [m.value for _, m in results if not m.small_sample]
    if not solid:
        return []
    out = []
    for agent, m in results:
        if not m.small_sample or min(solid) <= m.value <= max(solid):
            continue
        rows = tuple(
            {"agent": a, "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}
            for a, r in sorted(results, key=lambda item: -(item[1].value or 0))
        )
        where = "above" if m.value > max(solid) else "below"
        out.append(
            Insight(
                id=_id("small_sample", s.filters, agent),
                kind="small_sample",
                # The title names no one: insights can end up in shared evidence.
                title=f"A CSAT of {format_value(m.value, m.unit)} on only {m.n} answers sits "
                f"{where} every solid result: a small sample, not a ranking",
                summary=f"Results under n = {s.settings.minimum_n} are flagged as small samples; "
                f"its 95% interval runs from {format_value(m.ci_low, m.unit)} to "
                f"{format_value(m.ci_high, m.unit)}.",
                figures=(_figure("CSAT, small sample", m),),
                chart=ChartSpec(
                    "bars",
                    "CSAT by agent with 95% intervals",
                    "agent",
                    "value",
                    rows,
                    unit="%",
                    ci=("ci_low", "ci_high"),
                ),
                metrics=("csat",),
                filters=s.filters,
                weight=1.0,
                **_guidance("small_sample", "CSAT"),
            )
        )
    return out


DETECTORS: dict[str, Callable[[Scope], list[Insight]]] = {
    "change": changes,
    "signal": signals,
    "concentration": concentrations,
    "driver": drivers,
    "target": missed_targets,
    "before_after": annotation_checks,
    "small_sample": small_samples,
}


def detect(
    store: Store,
    filters: Filters | None = None,
    kinds: Sequence[str] = KINDS,
    settings: Settings | None = None,
) -> list[Insight]:
    """Every insight of ``kinds`` for the filters, most striking first within each kind."""
    unknown = [k for k in kinds if k not in DETECTORS]
    if unknown:
        raise ValueError(
            f"unknown insight kind {', '.join(unknown)}; choose from {', '.join(KINDS)}"
        )
    s = scope(store, filters or Filters(), settings)
    if s.last_day is None:
        return []
    out = []
    for kind in kinds:
        out += sorted(DETECTORS[kind](s), key=lambda i: -i.weight)
    return out


def find(
    store: Store, insight_id: str, filters: Filters, settings: Settings | None = None
) -> Insight | None:
    """The insight with this id, detected again on today's data (kind from the id)."""
    kind = insight_id.rsplit("-", 1)[0]
    if kind not in DETECTORS:
        return None
    return next((i for i in detect(store, filters, (kind,), settings) if i.id == insight_id), None)


def trend_chart(
    store: Store, filters: Filters, key: str, settings: Settings | None = None
) -> ChartSpec:
    """A KPI week by week over the filters' range: the chart of a reflection with no insight."""
    settings = settings or load_settings(store)
    metric = REGISTRY[key]
    weekly = engine.report(store, filters, grain="week", settings=settings, metrics=[key])
    rows = tuple(
        {"week": r.period, "value": r.metrics[key].value, "n": r.metrics[key].n}
        for r in weekly.rows
        if not r.segment and r.period not in (None, "undated")
    )
    return ChartSpec("line", f"{metric.label} by week", "week", "value", rows, unit=metric.unit)
