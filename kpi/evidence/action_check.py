"""The action check: did the learner's SMART action work? The PDCA "check" of a reflection.

A reflection names the dated change its action made (an annotation); the check compares the
action's KPI (or the reflection's KPIs) before and after that date so that it cannot over-claim:

- like with like: the segment the reflection's insight was about (``SmartAction.segment``),
  whole Monday-Sunday weeks, as many after the change as before it (``like_for_like.windows``
  says what was left out and why);
- a clean baseline: when the before weeks hold a control-chart signal or a spike, the check says
  so in plain words and makes no claim that the difference is more than chance;
- a clean after window: when an after week is a spike against the other after weeks, the same;
- the effect (after minus before) with its 95% interval, the test and its p-value, and which
  way the KPI moved ("a real improvement" or "a real worsening", from the KPI's direction);
- whether the SMART target was met by the review date (or that the date is not reached yet);
- a before/after chart and the weekly series with the change marked (``chart``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from kpi.charts.spec import ChartSpec
from kpi.engine import breakdowns
from kpi.engine.change import Change, change
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.engine.tables import format_value
from kpi.evidence.baseline import distinct_values, note_of
from kpi.evidence.pack_charts import SMART_TARGET
from kpi.evidence.reflections import Reflection
from kpi.insights import like_for_like
from kpi.insights.insight_segment import Segment, measure, weekly
from kpi.insights.like_for_like import Effect, Windows, day_text, effect, effect_text
from kpi.insights.model import week_of
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store.annotations import Annotation
from kpi.store.connection import Store

#: How a check's verdict reads in its table.
VERDICTS = {
    "more": "more than chance",
    "within": "within chance",
    "unfair": "not judged: unfair baseline (see the warning)",
    "unusual_after": "not judged: an unusual week after the change (see the warning)",
    "untested": "no test for this KPI",
}
#: Why a weekday and hour segment is checked on SLA whatever KPIs the reflection names.
SLA_ONLY = "Measured on SLA: a weekday and hour segment can only be measured by SLA."


def movement(key: str, difference: float) -> str:
    """ "a real improvement" / "a real worsening" from the KPI's direction; "a real rise" /
    "a real fall" for a KPI where neither way is better."""
    direction = REGISTRY[key].direction
    up = difference > 0
    if direction is None:
        return "a real rise" if up else "a real fall"
    return "a real improvement" if up == (direction == "higher") else "a real worsening"


@dataclass(frozen=True)
class KpiCheck:
    """One KPI before and after, its test, its effect with interval, and what makes the before
    weeks an unfair baseline (empty when nothing does)."""

    key: str
    before: MetricResult
    after: MetricResult
    change: Change
    effect: Effect
    #: Sentences naming what makes the before weeks an unfair baseline; ``flagged`` holds
    #: those weeks and the unusual after weeks (the weekly chart marks them).
    warnings: tuple[str, ...]
    flagged: tuple[date, ...]
    #: The weekly series from the limits' first week to the after window's last (the chart's).
    weeks: tuple[tuple[date, MetricResult], ...]
    #: Sentences naming each after week that is a spike against the other after weeks.
    unusual_after: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """A key of ``VERDICTS``: an unfair baseline or an unusual after week is never judged,
        whatever the test says."""
        if self.warnings:
            return "unfair"
        if self.unusual_after:
            return "unusual_after"
        if self.change.p_value is None:
            return "untested"
        return "more" if self.change.significant else "within"

    def verdict_text(self) -> str:
        """The verdict for a table: "more than chance: a real worsening", "within chance", ..."""
        if self.verdict == "more" and self.change.difference is not None:
            return f"{VERDICTS['more']}: {movement(self.key, self.change.difference)}"
        return VERDICTS[self.verdict]

    def _warnings(self) -> list[str]:
        """A warning for unusual before weeks and one for unusual after weeks, naming them."""
        out = []
        for found, head, ending in (
            (self.warnings, "the before weeks are not a fair baseline", " ending"),
            (self.unusual_after, "the after weeks hold {}", ""),
        ):
            if found:
                many = len(found) > 1
                weeks = "those unusual weeks" if many else "that unusual week"
                out.append(
                    f"Warning: {head.format('unusual weeks' if many else 'an unusual week')}: "
                    + "; ".join(found)
                    + ". So no claim is made that the action caused this difference: it may "
                    f"be {weeks}{ending}, not the action working."
                )
        return out

    def sentences(self, segment: Segment) -> list[tuple[bool, str]]:
        """The KPI's check in plain words: the figures, the effect, then the verdict, each
        with whether it is a warning."""
        label, unit = REGISTRY[self.key].label, self.before.unit
        out = [
            (
                False,
                f"{label} for {segment.describe()}: {format_value(self.before.value, unit)} "
                f"(n = {self.before.n:,}) before, {format_value(self.after.value, unit)} "
                f"(n = {self.after.n:,}) after; the difference is "
                f"{effect_text(self.effect, unit)}.",
            )
        ]
        out += [(True, text) for text in self._warnings()]
        p = f"p = {self.change.p_value:.3g}" if self.change.p_value is not None else ""
        if self.verdict == "more" and self.change.difference is not None:
            zero = "; the 95% interval does not include zero" if self.effect.excludes_zero else ""
            moved = movement(self.key, self.change.difference)
            out.append(
                (False, f"This is {moved}, more than chance ({self.change.test}, {p}){zero}.")
            )
        elif self.verdict == "within":
            out.append(
                (
                    False,
                    f"This is within chance ({self.change.test}, {p}): the difference could "
                    "be noise, so it does not show the action worked.",
                )
            )
        return out


@dataclass(frozen=True)
class Check:
    """A reflection's check: the change it follows, the segment, the windows and each KPI."""

    note: Annotation
    segment: Segment
    windows: Windows | None
    kpis: tuple[KpiCheck, ...]
    target: str
    #: Why there is no comparison (no whole week on a side yet); None when there is one.
    problem: str | None = None
    #: Why the KPIs checked are not the ones the reflection names (``SLA_ONLY``); or None.
    measured: str | None = None

    def caption(self) -> str:
        """ "Category Billing, before and after 13 Apr 2026: 8 whole weeks before (...) ..."."""
        head = f"{self.segment.heading()}, before and after {day_text(self.note.on_date)}"
        if self.windows is None:
            return f"{head}: no check yet ({self.problem})."
        return f"{head}: {self.windows.describe()}."

    def parts(self) -> list[tuple[bool, str]]:
        """Everything the check says, in order, each with whether it is a warning (a page
        shows those in a warning box)."""
        out = [(False, self.caption())]
        if self.measured:
            out.append((False, self.measured))
        if self.windows is not None:
            out += [(False, note) for note in self.windows.notes]
        for k in self.kpis:
            out += k.sentences(self.segment)
        return [*out, (False, self.target)]

    def lines(self) -> list[str]:
        """Everything the check says, in order, for a page or a pack."""
        return [text for _, text in self.parts()]


def check(store: Store, r: Reflection, settings: Settings | None = None) -> Check | None:
    """The PDCA "check" of ``r``: see the module's docstring. None until the reflection names
    a dated change (annotation) and a KPI."""
    note = note_of(store, r.annotation_id)
    keys = tuple(k for k in ([r.action.kpi] if r.action.kpi else list(r.metrics)) if k)
    if note is None or not keys:
        return None
    settings = settings or load_settings(store)
    segment = r.action.segment
    named = keys
    keys = tuple(k for k in keys if not segment.block or k == "sla") or ("sla",)
    # Said whenever a KPI the reflection names is swapped or dropped, never silently.
    measured = SLA_ONLY if set(named) != set(keys) else None
    data_range = breakdowns.data_range(store, settings.timezone)
    found = like_for_like.windows(note.on_date, data_range)
    target = target_status(store, r, found if isinstance(found, Windows) else None, settings)
    if isinstance(found, str):
        return Check(note, segment, None, (), target, found, measured)
    first = measure(store, segment, keys, found.before, settings)
    second = measure(store, segment, keys, found.after, settings)
    limits = like_for_like.limits_window(found, data_range[0])
    kpis = tuple(
        _kpi_check(store, segment, k, first[k], second[k], found, limits, settings) for k in keys
    )
    return Check(note, segment, found, kpis, target, measured=measured)


def _kpi_check(
    store: Store,
    segment: Segment,
    key: str,
    before: MetricResult,
    after: MetricResult,
    w: Windows,
    limits: Filters,
    settings: Settings,
) -> KpiCheck:
    series = weekly(
        store, segment, key, limits.with_dates(limits.date_from, w.after.date_to), settings
    )
    baseline_weeks = [(d, m) for d, m in series if limits.date_to and d <= limits.date_to]
    warnings = like_for_like.baseline_warnings(key, baseline_weeks, w.before)
    unusual = like_for_like.after_warnings(key, series, w.after)
    return KpiCheck(
        key,
        before,
        after,
        change(after, before),
        effect(before, after),
        tuple(warnings.values()),
        (*warnings, *unusual),
        tuple(series),
        tuple(unusual.values()),
    )


# --- the SMART target -------------------------------------------------------------------------


def target_status(
    store: Store, r: Reflection, w: Windows | None, settings: Settings | None = None
) -> str:
    """Whether the SMART target was met by the review date, in one sentence: judged on the
    segment over the whole weeks from the change's first whole week to the review date."""
    a = r.action
    if a.kpi not in REGISTRY or a.target is None or a.review_date is None:
        return "No SMART target to judge yet: the action needs a KPI, a target and a review date."
    settings = settings or load_settings(store)
    metric = REGISTRY[a.kpi]
    last = breakdowns.data_range(store, settings.timezone)[1]
    if last is None or a.review_date > last:
        upto = f"the data run to {day_text(last)}" if last else "there are no data yet"
        return f"Review date {day_text(a.review_date)} not reached yet: {upto}."
    if w is None:
        return (
            f"Target not judged: there is no whole week after the change to "
            f"{day_text(a.review_date)}."
        )
    assert w.after.date_from is not None
    end = a.review_date - timedelta(days=(a.review_date.weekday() + 1) % 7)
    if end < w.after.date_from:
        return (
            f"Target not judged: the review date {day_text(a.review_date)} comes before the "
            f"first whole week after the change ({week_of(w.after.date_from)})."
        )
    period = Filters(date_from=w.after.date_from, date_to=end)
    result = measure(store, a.segment, [a.kpi], period, settings)[a.kpi]
    if result.value is None:
        return f"Target not judged: no {metric.label} for {a.segment.describe()} in {period.describe()}."
    higher = metric.direction != "lower"
    met = result.value >= a.target if higher else result.value <= a.target
    unit = result.unit
    interval = (
        f", 95% interval {format_value(result.ci_low, unit)} to {format_value(result.ci_high, unit)}"
        if result.ci_low is not None and result.ci_high is not None
        else ""
    )
    unsure = (
        " The 95% interval still includes the target, so the data cannot yet tell met from not met."
        if result.ci_low is not None
        and result.ci_high is not None
        and result.ci_low <= a.target <= result.ci_high
        else ""
    )
    value, target = distinct_values(result.value, a.target, unit)
    return (
        f"Target {'met' if met else 'not met'} by the review date ({day_text(a.review_date)}): "
        f"{metric.label} for {a.segment.describe()} was {value} "
        f"(n = {result.n:,}{interval}; {period.describe()}) against a target of "
        f"{target} ({'higher' if higher else 'lower'} is better).{unsure}"
    )


# --- tables and charts ----------------------------------------------------------------------------


def caption(found: Check) -> str:
    return found.caption()


def table(found: Check) -> pd.DataFrame:
    """The check's KPIs as a table: before and after with n, the difference with its 95%
    interval, the test's p-value and the verdict."""
    return pd.DataFrame(
        [
            {
                "KPI": REGISTRY[c.key].label,
                "before": format_value(c.before.value, c.before.unit),
                "n before": c.before.n,
                "after": format_value(c.after.value, c.after.unit),
                "n after": c.after.n,
                "difference (95% interval)": effect_text(c.effect, c.before.unit, short=True),
                "p": c.change.p_value,
                "verdict": c.verdict_text(),
            }
            for c in found.kpis
        ],
        columns=[
            "KPI",
            "before",
            "n before",
            "after",
            "n after",
            "difference (95% interval)",
            "p",
            "verdict",
        ],
    )


def chart(store: Store, r: Reflection, found: Check | None = None) -> list[ChartSpec]:
    """The check's charts for a page or a pack: per KPI, the before and after bars (with their
    95% intervals and the SMART target) and the weekly series with the change marked and the
    weeks that make the baseline unfair flagged. Empty when there is no check. Titles name no
    colleague (an agent segment other than the learner reads "a colleague"): charts may leave
    the product."""
    found = found if found is not None else check(store, r)
    if found is None or found.windows is None:
        return []
    out = []
    for k in found.kpis:
        target = r.action.target if r.action.kpi == k.key else None
        out += [_bars(found, k, target, r.learner), _weekly(found, k, target, r.learner)]
    return out


def _bars(found: Check, k: KpiCheck, target: float | None, me: str) -> ChartSpec:
    assert found.windows is not None
    w, label = found.windows, REGISTRY[k.key].label
    rows = tuple(
        {
            "period": f"{name} ({_range(window)})",
            "value": result.value,
            "ci_low": result.ci_low,
            "ci_high": result.ci_high,
            "n": result.n,
        }
        for name, window, result in (("before", w.before, k.before), ("after", w.after, k.after))
    )
    return ChartSpec(
        "bars",
        f"{label}, {found.segment.describe(me)}: {w.weeks} whole weeks before and after "
        f"{day_text(found.note.on_date)} (n = {k.before.n:,} and {k.after.n:,})",
        "period",
        "value",
        rows,
        unit=k.before.unit,
        lines=_target_line(target, k.before.unit),
        ci=("ci_low", "ci_high"),
    )


def _weekly(found: Check, k: KpiCheck, target: float | None, me: str) -> ChartSpec:
    assert found.windows is not None
    w, label = found.windows, REGISTRY[k.key].label
    rows = tuple(
        {
            "week": day.isoformat(),
            "value": m.value if m.n >= like_for_like.MIN_WEEKLY_N else None,
            "n": m.n,
            "signal": day in k.flagged,
        }
        for day, m in k.weeks
    )
    first, last = k.weeks[0][0], k.weeks[-1][0] + timedelta(days=6)
    return ChartSpec(
        "line",
        f"{label} by week, {found.segment.describe(me)}, {day_text(first)} - {day_text(last)} "
        f"(n = {sum(m.n for _, m in k.weeks):,}); the change on {day_text(found.note.on_date)} "
        "marked",
        "week",
        "value",
        rows,
        unit=k.before.unit,
        lines=_target_line(target, k.before.unit),
        marker=(w.after.date_from or found.note.on_date).isoformat(),
    )


def _target_line(target: float | None, unit: str) -> dict[str, float]:
    """The SMART target line, labelled as on every other chart ("SMART target 75.0%")."""
    if target is None:
        return {}
    return {f"{SMART_TARGET} {format_value(float(target), unit)}": float(target)}


def _range(window: Filters) -> str:
    return Filters(date_from=window.date_from, date_to=window.date_to).describe()
