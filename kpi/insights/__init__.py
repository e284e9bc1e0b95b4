"""What the data says, found for the learner: patterns worth a reflection, each with its n.

``detect`` runs the detectors of this package's modules for a set of filters and returns ``Insight`` objects: a
title, the figures behind it (each with n and the registry's definition), a chart as data, and
what to reflect with (prompts by level, models, KSB references). Every KPI value comes from the
engine; the tests here only compare counts the engine returned, and each family of comparisons is
Bonferroni-corrected, so on data without patterns the false alarms stay at the nominal level.

``model``: what an insight holds and asks; ``over_time``: significant changes against the previous
period, XmR signals on weekly series, targets missed, before/after each dated annotation;
``change_points``: lasting step changes in a weekly rate, found without a dated note;
``breaches``: SLA breaches concentrated by weekday and hour, priority or channel; ``segments``:
categories driving complaints or detractors (Pareto), tiny samples that would top a ranking.

Layer 5 of the pipeline (see ARCHITECTURE.md). May import: ``kpi.errors``, ``kpi.store``,
``kpi.metrics``, ``kpi.engine``, ``kpi.charts``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from kpi.charts.spec import ChartSpec
from kpi.engine import report as engine
from kpi.engine.backend import CACHE
from kpi.engine.filters import Filters
from kpi.errors import InvalidChoice
from kpi.insights.breaches import concentrations
from kpi.insights.change_points import step_changes
from kpi.insights.model import (
    GUIDANCE,
    KINDS,
    Comparison,
    Figure,
    Insight,
    Scope,
    current_period,
    scope,
)
from kpi.insights.over_time import (
    annotation_checks,
    before_after,
    changes,
    missed_targets,
    period_comparisons,
    signals,
)
from kpi.insights.segments import drivers, small_samples
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store

__all__ = [
    "DETECTORS",
    "GUIDANCE",
    "KINDS",
    "Comparison",
    "Figure",
    "Insight",
    "Scope",
    "annotation_checks",
    "before_after",
    "changes",
    "concentrations",
    "current_period",
    "detect",
    "drivers",
    "find",
    "missed_targets",
    "period_comparisons",
    "scope",
    "signals",
    "small_samples",
    "step_changes",
    "trend_chart",
]

DETECTORS: dict[str, Callable[[Scope], list[Insight]]] = {
    "change": changes,
    "signal": signals,
    "concentration": concentrations,
    "driver": drivers,
    "target": missed_targets,
    "before_after": annotation_checks,
    "small_sample": small_samples,
    "change_point": step_changes,
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
        raise InvalidChoice(
            f"unknown insight kind {', '.join(unknown)}; choose from {', '.join(KINDS)}"
        )
    # One read of the data: the store's version (a few queries) is read once, not by each of
    # the detectors' dozens of engine calls.
    with CACHE.one_version(store):
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
    store: Store,
    filters: Filters,
    key: str,
    settings: Settings | None = None,
    as_of: datetime | None = None,
) -> ChartSpec:
    """A KPI week by week over the filters' range: the chart of a reflection with no insight.
    ``as_of`` (aware) fixes when open contacts are judged, so a later import cannot move it."""
    settings = settings or load_settings(store)
    metric = REGISTRY[key]
    weekly = engine.report(
        store, filters, grain="week", as_of=as_of, settings=settings, metrics=[key]
    )
    rows = tuple(
        {"week": r.period, "value": r.metrics[key].value, "n": r.metrics[key].n}
        for r in weekly.rows
        if not r.segment and r.period not in (None, "undated")
    )
    return ChartSpec("line", f"{metric.label} by week", "week", "value", rows, unit=metric.unit)
