"""Insights as data: what one holds, what it asks the learner (prompts by level, models,
KSBs), and the scope (store, filters, settings, data range) detectors run in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi.charts.spec import ChartSpec
from kpi.engine import breakdowns, statistics
from kpi.engine.change import Change
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.engine.tables import format_value
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store

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
#: Every kind of insight, with the heading a page or pack gives it.
KIND_LABELS = {
    "change": "Change against the previous period",
    "signal": "Control-chart signal",
    "concentration": "Where SLA breaches cluster",
    "driver": "What drives complaints or detractors",
    "target": "Target missed",
    "before_after": "Before and after a dated change",
    "small_sample": "Small sample",
    "change_point": "A lasting step change",
}
KINDS = tuple(KIND_LABELS)
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
    #: The test behind the summary (its name, p, corrections, limits): kept out of the
    #: headline so a Level 2 reader meets the finding first and the statistics after.
    details: str = ""

    def prompts_for(self, level: int) -> tuple[str, ...]:
        return tuple(self.prompts.get(3 if level >= 3 else 2, ()))

    @property
    def heading(self) -> str:
        """ "Target missed: CSAT below its target of 85%": its kind's label, then its title."""
        return f"{kind_label(self.kind)}: {self.title}"

    def figures_table(self) -> pd.DataFrame:
        """The figures behind the insight as a table shows them: label, value in its unit, n."""
        rows = [
            {"figure": f.label, "value": format_value(f.value, f.unit), "n": f.n}
            for f in self.figures
        ]
        return pd.DataFrame(rows, columns=["figure", "value", "n"])

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


def kind_label(kind: str) -> str:
    """The heading of a kind of insight ("Target missed"); an unknown kind is shown as it is."""
    return KIND_LABELS.get(kind, kind)


# --- what each kind asks the learner ------------------------------------------------------------

#: Per kind: (level 2 prompts, level 3 prompts, models, KSB references). KSB references point at
#: rows of kpi/evidence/catalogue/ksbs.csv, whose codes are provisional (see kpi.evidence.ksbs).
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
    "change_point": (
        (
            "Explain what changed in the week {metric} moved to its new level.",
            "What did you or the team do differently from that week?",
        ),
        (
            "Analyse what caused the step change: a process, a system, a rota or the customers?",
            "Evaluate whether the new level has held, and its impact on customers.",
        ),
        ("STAR+Reflection", "What/So what/Now what"),
        ("ST0072:B6", "ST0072:B1", "ST0071:S7", "ST0071:K3", "ST0384:operational-management"),
    ),
}


def guidance(kind: str, metric: str) -> dict[str, Any]:
    level2, level3, models, ksbs = GUIDANCE[kind]
    return {
        "prompts": {
            2: tuple(p.format(metric=metric) for p in level2),
            3: tuple(p.format(metric=metric) for p in level3),
        },
        "models": models,
        "ksbs": ksbs,
    }


def week_of(day: date | str) -> str:
    """ "12 Jan 2026": how a summary names the week starting on ``day`` (a Monday)."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.day} {day:%b %Y}"


def p_text(p_value: float | None) -> str:
    """A p-value for the details line; one too small for a float reads "p < 1e-300"."""
    if p_value is None:
        return "not testable"
    return "p < 1e-300" if p_value <= 0 else f"p = {p_value:.3g}"


def distinct(value: float, other: float, least: int = 1) -> tuple[str, str]:
    """Both numbers with just enough decimals to tell them apart (from ``least``, up to 6), so a
    sentence never reads "88.97 is below 88.97"."""
    for places in range(least, 7):
        a, b = f"{value:,.{places}f}", f"{other:,.{places}f}"
        if a != b:
            return a, b
    return f"{value:,.6f}", f"{other:,.6f}"


def insight_id(kind: str, filters: Filters, *parts: object) -> str:
    """Stable across runs: the same pattern for the same filters gets the same id."""
    text = json.dumps([kind, filters.to_dict(), [str(p) for p in parts]], sort_keys=True)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def metric_figure(label: str, result: MetricResult) -> Figure:
    return Figure(
        label,
        result.value,
        result.n,
        result.unit,
        result.definition,
        result.ci_low,
        result.ci_high,
    )


def significantly_higher(test: statistics.ChangeTest) -> bool:
    """The second rate of a two-proportion test is above the first by more than chance."""
    return test.significant and test.difference is not None and test.difference > 0


def label_of(key: str) -> str:
    return REGISTRY[key].label


def bar_row(name: str, result: MetricResult) -> dict[str, Any]:
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


@dataclass(frozen=True)
class Comparison:
    key: str
    before: MetricResult
    after: MetricResult
    change: Change


def definition_of(s: Scope, key: str) -> str:
    """The registry's sentence for the variant the data supports (as the engine reports it)."""
    return REGISTRY[key].definition(breakdowns.scope(s.store, s.settings).context)
