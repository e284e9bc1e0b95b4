"""The charts of an evidence pack, made to stand alone: an assessor may see one as a PNG with
nothing around it.

Each chart gets a title naming the KPI, the segment, the period and n; axis titles in words with
units; whole periods only (a part week at either end is left out, and the chart says which);
the team's target and the learner's SMART target as lines; and a footer on the image itself with
the learner, the evidence reference, the data cut-off and the source files. The learner's own
figures are drawn against the rest of the team combined (``kpi.engine.comparison``), never
ranked against colleagues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from kpi.charts.disclosure import SMALLEST_CELL
from kpi.charts.spec import ChartSpec
from kpi.charts.style import axis_title
from kpi.engine import report as engine
from kpi.engine.comparison import MeAgainstRest
from kpi.engine.filters import Filters
from kpi.engine.tables import format_value
from kpi.engine.timeline import period_label
from kpi.evidence.redaction import colleagues_phrase
from kpi.insights.insight_segment import Segment
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings

WEEK_AXIS = "Week starting (Monday)"
#: Axis titles of the columns charts are drawn across.
_X_TITLES = {
    "week": WEEK_AXIS,
    "who": "The learner and the rest of the team combined",
    "period": "Period",
}
#: How each kind of chart names its axes when the spec does not say.
_HEAT_AXES = ("Hour the contact was opened (local time)", "Weekday")
#: What a Pareto of each KPI counts (its left axis).
_PARETO_COUNTS = {"complaint_rate": "Complaints", "nps": "Detractors", "csat": "Unhappy answers"}
#: Values a team target or the learner's SMART target is drawn as (``kpi.charts.marks``).
TEAM_TARGET, SMART_TARGET = "target", "SMART target"


@dataclass(frozen=True)
class Context:
    """What every chart of one pack says about itself."""

    learner: str
    reference: str
    #: "31 Oct 2026 22:11 UTC": the latest record the figures could include.
    cutoff: str
    #: The source files that fed the pack, by name.
    sources: tuple[str, ...]
    #: The pack's period and segment in words.
    period: str
    segment: str
    indexed: bool = False
    first_day: date | None = None
    last_day: date | None = None

    @property
    def footer(self) -> str:
        files = ", ".join(self.sources) or "no imported file"
        return (
            f"{self.learner} · evidence {self.reference} · data cut-off {self.cutoff} · "
            f"source: {files}"
        )


def n_words(n: int, indexed: bool) -> str:
    """n as a pack may print it: exact, "<5" when suppressed, in bands when indexed."""
    if n < SMALLEST_CELL:
        return f"<{SMALLEST_CELL}"
    if not indexed:
        return f"{n:,}"
    for edge in (30, 100, 1000):  # bands: exact volumes can be commercially sensitive
        if n < edge:
            return f"under {edge:,}"
    return "1,000 or more"


def segment_words(filters: Filters, learner: str) -> str:
    """The filters other than dates in words; an agent other than the learner is "a colleague"
    (a filter must not name one), and no filter reads "all contacts"."""
    parts = []
    for name, values in filters.segments().items():
        if name == "agent":
            others = sum(1 for v in values if v != learner)
            words = [learner] if learner in values else []
            values = (*words, *([colleagues_phrase(others)] if others else []))
            parts.append(f"agent: {' and '.join(values)}")
            continue
        parts.append(f"{name} {', '.join(values)}")
    return "; ".join(parts) or ALL


ALL = "all contacts"


def period_words(filters: Filters, first: date | None, last: date | None) -> str:
    start, end = filters.date_from or first, filters.date_to or last
    if start is None or end is None:
        return "all dates"
    return f"{_day(start)} to {_day(end)}"


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


# --- whole periods -------------------------------------------------------------------------------


def _week_start(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def part_weeks(rows: tuple[Mapping[str, Any], ...], x: str, first: date, last: date) -> list[str]:
    """The weeks (Monday starts, ISO) of ``rows`` that [first, last] covers only in part."""
    out = []
    for row in rows:
        start = _week_start(row.get(x))
        if start is None:
            continue
        covered = (min(start + timedelta(days=6), last) - max(start, first)).days + 1
        if covered < 7:
            out.append(str(row[x]))
    return out


def _left_out(weeks: list[str], first: date, last: date) -> str:
    if not weeks:
        return ""
    words = []
    for week in weeks:
        start = date.fromisoformat(week[:10])
        covered = (min(start + timedelta(days=6), last) - max(start, first)).days + 1
        words.append(f"{period_label(week[:10], 'week')} ({max(covered, 0)} of 7 days)")
    return _left_out_words(words)


def _left_out_words(words: list[str]) -> str:
    """ "Whole weeks only: part week w/c 26 Jan 2026 (1 of 7 days) left out"."""
    weeks = "part weeks" if len(words) > 1 else "part week"
    return f"Whole weeks only: {weeks} {' and '.join(words)} left out"


def whole_weeks_only(spec: ChartSpec, first: date | None, last: date | None) -> ChartSpec:
    """A weekly chart without the part weeks at its ends, its subtitle saying which went."""
    if spec.x != "week" or first is None or last is None:
        return spec
    parts = part_weeks(spec.rows, spec.x, first, last)
    if not parts:
        return replace(spec, subtitle=spec.subtitle or "Whole weeks only")
    rows = tuple(r for r in spec.rows if str(r.get(spec.x)) not in parts)
    return replace(spec, rows=rows, subtitle=_left_out(parts, first, last))


# --- titles, axes, targets, footer ---------------------------------------------------------------


def total_n(spec: ChartSpec) -> int | None:
    """The n behind a chart: the sum of its rows' n (each contact or answer counted once)."""
    if not spec.n:
        return None
    values = [r.get(spec.n) for r in spec.rows]
    numbers = [int(v) for v in values if isinstance(v, int | float) and v == v]
    return sum(numbers) if numbers else None


def _axes(spec: ChartSpec, label: str, key: str | None, indexed: bool) -> tuple[str, str, str]:
    """(x, y, colour-bar) titles in words with units."""
    unit = "index" if indexed else spec.unit
    if spec.kind == "heatmap":
        return (*_HEAT_AXES, axis_title(label, unit))
    if spec.kind == "pareto":
        return "Category", f"{_PARETO_COUNTS.get(key or '', 'Count')} (number)", ""
    x_title = _X_TITLES.get(spec.x) or spec.x.replace("_", " ").capitalize()
    return x_title, axis_title(label, unit), ""


def _label(spec: ChartSpec, key: str | None) -> str:
    """The KPI a chart shows in words (a breach chart shows the breach rate, not the SLA)."""
    if spec.title.startswith("SLA breach rate"):
        return "SLA breach rate"
    return REGISTRY[key].label if key in REGISTRY else spec.title


#: KPIs counted in survey answers (every other in contacts), for what n counts.
SURVEY_KEYS = ("nps", "csat", "csat_mean", "ces", "responses")


def counted(key: str | None) -> str:
    return "answers" if key in SURVEY_KEYS else "contacts"


def titled(
    spec: ChartSpec, key: str | None, context: Context, period: str = "", note: str = ""
) -> ChartSpec:
    """The spec with its title (what, segment, period, n, then any ``note``), axis titles and
    footer."""
    n = total_n(spec)
    segment = context.segment
    if segment == ALL and key in SURVEY_KEYS:
        segment = "all survey answers"
    parts = [spec.title, segment, period or context.period]
    if n is not None:
        parts.append(f"n = {n_words(n, context.indexed)} {counted(key)}")
    title = ", ".join(parts) + (f". {note}" if note else "")
    return footed(replace(spec, title=title), key, context)


def footed(spec: ChartSpec, key: str | None, context: Context) -> ChartSpec:
    """The spec with axis titles in words and the footer, its title as it is (for a chart
    whose title already names its segment, period and n, such as the before/after check's)."""
    x_title, y_title, z_title = _axes(spec, _label(spec, key), key, context.indexed)
    return replace(spec, footer=context.footer, x_title=x_title, y_title=y_title, z_title=z_title)


def with_targets(
    spec: ChartSpec,
    key: str | None,
    settings: Settings,
    smart: Any,
    segment: Segment | None = None,
    me: str | None = None,
) -> ChartSpec:
    """The team's target for the KPI and the learner's SMART target on the same KPI, as lines
    (charts of a KPI's own values only: not a breach rate, a count or a heat map).

    The SMART target is drawn only on a chart of the action's own segment (``segment``): a 3%
    target for category Billing drawn on all contacts would be compared with the wrong figure.
    Elsewhere the title says where it is shown instead (``smart_elsewhere``)."""
    if spec.kind not in ("line", "bars") or key not in REGISTRY or spec.unit != REGISTRY[key].unit:
        return spec
    if spec.title.startswith("SLA breach rate"):
        return spec
    lines = dict(spec.lines)
    team = settings.target_value(key)
    if team is not None and TEAM_TARGET not in lines:
        lines[TEAM_TARGET] = team
    if smart is None or smart.kpi != key or smart.target is None:
        return replace(spec, lines=lines)
    if segment != smart.segment:
        return replace(spec, lines=lines)
    lines[f"{SMART_TARGET} {format_value(float(smart.target), spec.unit)}"] = float(smart.target)
    return replace(spec, lines=lines)


def smart_elsewhere(
    spec: ChartSpec, key: str | None, smart: Any, segment: Segment | None, me: str | None
) -> str:
    """On a chart of the SMART action's KPI but another segment (no SMART line), where its
    target is shown instead; else "". Said in the title, which wraps (the subtitle is one line
    and already names the part weeks left out)."""
    drawn = spec.kind in ("line", "bars") and key in REGISTRY and spec.unit == REGISTRY[key].unit
    if not drawn or smart is None or smart.kpi != key or smart.target is None:
        return ""
    if segment == smart.segment:
        return ""
    where = smart.segment.describe(me)
    return f"SMART target applies to {where}, shown on its before/after chart"


def weeks_period(spec: ChartSpec) -> str:
    """ "w/c 2 Feb 2026 to w/c 23 Mar 2026": the weeks a weekly chart shows."""
    weeks = sorted(str(r[spec.x])[:10] for r in spec.rows if r.get(spec.x))
    if not weeks:
        return ""
    return f"{period_label(weeks[0], 'week')} to {period_label(weeks[-1], 'week')}"


def stand_alone(
    spec: ChartSpec,
    key: str | None,
    context: Context,
    settings: Settings,
    smart: Any = None,
    segment: Segment | None = None,
) -> ChartSpec:
    """Everything above, in order: whole weeks, targets (the SMART one only when ``segment``,
    the chart's, is the action's), then the title that counts what is left."""
    whole = whole_weeks_only(spec, context.first_day, context.last_day)
    marked = with_targets(whole, key, settings, smart, segment, context.learner)
    note = smart_elsewhere(whole, key, smart, segment, context.learner)
    return titled(marked, key, context, weeks_period(marked) if spec.x == "week" else "", note)


# --- the pack's own charts -----------------------------------------------------------------------


def weekly_trend(
    store: Any, filters: Filters, key: str, settings: Settings, as_of: datetime | None
) -> ChartSpec:
    """A KPI week by week with its 95% interval; the part weeks the engine marks (the filters or
    the data cover them only in part) are left out, and the subtitle says which."""
    metric = REGISTRY[key]
    weekly = engine.report(
        store, filters, grain="week", as_of=as_of, settings=settings, metrics=[key]
    )
    rows = [r for r in weekly.rows if not r.segment and r.period not in (None, "undated")]
    kept = tuple({"week": r.period, **_values(r.metrics[key])} for r in rows if not r.partial)
    parts = tuple(r.period for r in rows if r.partial)
    return ChartSpec(
        "line",
        f"{metric.label} by week",
        "week",
        "value",
        kept,
        unit=metric.unit,
        ci=("ci_low", "ci_high"),
        subtitle=_parts_subtitle(weekly, parts),
    )


def _values(result: Any) -> dict[str, Any]:
    return {
        "value": result.value,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "n": result.n,
    }


def _parts_subtitle(weekly: Any, parts: tuple[str | None, ...]) -> str:
    if not parts:
        return "Whole weeks only"
    covered = weekly.part_periods()
    words = [
        f"{period_label(str(p), 'week')} ({covered[p][0]} of {covered[p][1]} days)"
        for p in parts
        if p in covered
    ]
    return _left_out_words(words)


def me_against_rest(found: MeAgainstRest, key: str) -> ChartSpec | None:
    """The learner's value against the rest of the team combined, each with its interval and
    n: two bars, never a ranking of colleagues. Each bar's n is in its label below the axis
    ("Me (Amelia Booth), n = 48"), clear of the error bars; a side under 5 is not drawn."""
    both = found.pair(key)
    if both is None:
        return None
    metric = REGISTRY[key]
    rows = []
    for who, row in zip(both["who"], both.to_dict("records"), strict=True):
        values = {c: _plain(v) for c, v in row.items() if c in _PAIR_COLUMNS}
        n = values.get("n")
        if isinstance(n, int | float) and n >= SMALLEST_CELL:
            label = f"n = {int(n):,}"
        else:  # suppressed here: the chart has no n column for ``shareable`` to act on
            values.update(value=None, ci_low=None, ci_high=None, n=None)
            label = f"n < {SMALLEST_CELL}"
        rows.append({"who": f"{who}, {label}", **values})
    return ChartSpec(
        "bars",
        f"{metric.label}: {found.me} against the rest of the team",
        "who",
        "value",
        tuple(rows),
        unit=metric.unit,
        n=None,  # no "n = ..." printed on the bars, where it sat on the error bars
        ci=("ci_low", "ci_high"),
    )


def me_title(spec: ChartSpec, key: str, context: Context, filters: Filters) -> ChartSpec:
    """The comparison's chart titled with the comparison's own scope: the learner's team, the
    period, the filters it applied (every one but the agent filter: "me" picks who is compared)
    and every agent in the team; n is the two sides' together, as the bars show."""
    scope = segment_words(replace(filters, agent=()), context.learner)
    parts = [spec.title, "your team" + (f" ({scope})" if scope != ALL else ""), context.period,
             "every agent in it"]  # fmt: skip
    sides = [r.get("n") for r in spec.rows]
    numbers = [int(v) for v in sides if isinstance(v, int | float)]
    if numbers:
        parts.append(f"n = {n_words(sum(numbers), context.indexed)} {counted(key)}")
    return footed(replace(spec, title=", ".join(parts)), key, context)


_PAIR_COLUMNS = ("value", "ci_low", "ci_high", "n")


def _plain(value: Any) -> Any:
    """numpy numbers as Python ones (a spec is JSON-ready); NaN as None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


def me_rows(found: MeAgainstRest, indexed: bool) -> list[list[str]]:
    """The comparison as a table: KPI, my value (n, interval), the rest's, and whether a test
    says they differ. Both sides under 5 answers are suppressed."""
    header = ["KPI", "Me", "Rest of the team", "A real difference?"]
    table = found.table()
    out = [header]
    for key, row in zip(found.keys, table.to_dict("records"), strict=True):
        mine, rest = found.ours[key], found.theirs[key]
        out.append(
            [
                REGISTRY[key].label,
                _side(mine, indexed),
                _side(rest, indexed),
                str(row["a real difference?"]),
            ]
        )
    return out


def _side(result: Any, indexed: bool) -> str:
    if result.n < SMALLEST_CELL:
        return f"suppressed (fewer than {SMALLEST_CELL} answers)"
    shown = (
        "hidden in indexed mode"
        if indexed and result.unit == "count"
        else format_value(result.value, result.unit)
    )
    text = f"{shown} (n = {n_words(result.n, indexed)}"
    if result.ci_low is not None and result.ci_high is not None and not indexed:
        low, high = (
            format_value(result.ci_low, result.unit),
            format_value(result.ci_high, result.unit),
        )
        text += f"; 95% interval {low} to {high}"
    return text + ")"


# --- alt text --------------------------------------------------------------------------------------

_KIND_WORDS = {
    "line": "Line chart",
    "bars": "Bar chart",
    "heatmap": "Heat map",
    "pareto": "Pareto chart (bars largest first, cumulative share as a line)",
}


def alt_text(spec: ChartSpec) -> str:
    """What a screen reader says for the chart: kind, title, axes, how many points and the range
    of the values, and the reference lines."""
    frame = pd.DataFrame(list(spec.rows))
    value = spec.z or spec.y
    parts = [f"{_KIND_WORDS.get(spec.kind, 'Chart')}: {spec.title}."]
    if spec.subtitle:
        parts.append(f"{spec.subtitle}.")
    if spec.x_title or spec.y_title:
        parts.append(f"Across: {spec.x_title or spec.x}; up: {spec.y_title or spec.y}.")
    values = (
        pd.to_numeric(frame[value], errors="coerce").dropna() if value in frame else pd.Series()
    )
    if len(values):
        low = format_value(float(min(values)), spec.unit)
        high = format_value(float(max(values)), spec.unit)
        parts.append(f"{len(frame)} points, values from {low} to {high}.")
    for name, line in spec.lines.items():
        parts.append(f"{name[:1].upper()}{name[1:]} line at {format_value(line, spec.unit)}.")
    return " ".join(parts)
