"""The KPI registry: every KPI, in the order the README glossary and the pages list them.

Each KPI is declared once, as a ``Metric`` with one or more ``Formula`` variants (see
``kpi.metrics.definitions``), in the module of its family: ``surveys`` (NPS, CSAT, CES),
``contacts`` (FCR, SLAs, response and resolution times, flagged rates), ``calls`` (handle time,
speed of answer, abandonment, service level) and ``volume`` (contacts, responses, backlog).
Adding a KPI is one declaration there and its place in ``_FAMILIES`` here.

The types and the per-contact facts are re-exported so callers keep one import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from kpi.errors import InvalidChoice
from kpi.metrics import calls, contacts, surveys, volume
from kpi.metrics.contact_facts import contact_columns, resolved_time_of, sla_columns, target_seconds
from kpi.metrics.definitions import Context, Formula, Kind, Metric, Rows, Table, Values
from kpi.metrics.settings import Settings

__all__ = [
    "KEYS",
    "PROFILE_ALL",
    "REGISTRY",
    "Context",
    "Formula",
    "Kind",
    "Metric",
    "Rows",
    "Table",
    "Values",
    "contact_columns",
    "glossary",
    "metric",
    "resolved_time_of",
    "score_range",
    "short_label",
    "sla_columns",
    "target_seconds",
]

#: The families in glossary order: the flagged contact rates come after the call KPIs.
_FAMILIES: tuple[tuple[Metric, ...], ...] = (
    surveys.METRICS,
    contacts.SERVICE,
    calls.METRICS,
    contacts.RATES,
    volume.METRICS,
)

REGISTRY: dict[str, Metric] = {m.key: m for family in _FAMILIES for m in family}

KEYS: tuple[str, ...] = tuple(REGISTRY)

#: Every profile column a formula may require (the engine counts which have data).
PROFILE_ALL = frozenset(
    c for m in REGISTRY.values() for f in m.variants.values() for c in f.requires
)


def metric(key: str) -> Metric:
    try:
        return REGISTRY[key]
    except KeyError:
        raise InvalidChoice(f"unknown KPI {key!r}; choose from {', '.join(KEYS)}") from None


def short_label(key: str, variant: str | None = None) -> str:
    """The KPI's name as a heading or tile shows it: "Resolution time", "FCR (one touch)" (the
    variant only for KPIs with several). The text before the colon of its definition."""
    return metric(key).short_label(variant)


def score_range(key: str, scales: Iterable[str | tuple[float, float]] = ()) -> tuple[float, float]:
    """The (low, high) a filter on a survey score's answers should span: from the lowest to the
    highest point of every scale the data's answers use, else the KPI's usual scale.

    ``scales`` are (low, high) pairs or "low-high" text, as ``kpi.engine.breakdowns.score_counts``
    lists them in its ``scale`` column. Raises InvalidChoice for a KPI that is not a score.
    """
    usual = metric(key).scale
    if usual is None:
        raise InvalidChoice(f"{key!r} is not a survey score; choose nps, csat or ces")
    pairs = [_scale_pair(s) for s in scales]
    if not pairs:
        return usual
    return min(low for low, _ in pairs), max(high for _, high in pairs)


_SCALE_TEXT = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*")


def _scale_pair(scale: str | tuple[float, float]) -> tuple[float, float]:
    if not isinstance(scale, str):
        return float(scale[0]), float(scale[1])
    match = _SCALE_TEXT.fullmatch(scale)
    if match is None:
        raise InvalidChoice(f"scale {scale!r} is not low-high, e.g. 1-5")
    return float(match[1]), float(match[2])


def glossary(settings: Settings | None = None) -> list[dict[str, str | None]]:
    """Label, unit, direction and default definition of every KPI (README, pages, exports)."""
    context = Context(settings or Settings(), datetime(2000, 1, 1), frozenset(PROFILE_ALL))
    return [
        {
            "key": m.key,
            "label": m.label,
            "unit": m.unit,
            "direction": m.direction,
            "definition": m.definition(context),
        }
        for m in REGISTRY.values()
    ]
