"""The action check: did the learner's SMART action work? The PDCA "check" of a reflection.

A reflection names the dated change its action made (an annotation); the check compares its KPIs
before and after that date with the engine's change test, so "it worked" is claimed only when the
difference is more than chance.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kpi.engine.tables import format_value
from kpi.evidence.reflections import Reflection
from kpi.insights import Comparison, before_after
from kpi.insights.model import BEFORE_AFTER_DAYS
from kpi.metrics.registry import REGISTRY
from kpi.store.annotations import Annotation, all_annotations
from kpi.store.connection import Store


def check(store: Store, r: Reflection) -> tuple[Annotation, list[Comparison]] | None:
    """Before/after the dated change the action made, on the action's KPI (or the reflection's
    KPIs): the PDCA "check". None until the reflection names an annotation."""
    if r.annotation_id is None:
        return None
    note = next((a for a in all_annotations(store) if a.annotation_id == r.annotation_id), None)
    if note is None:
        return None
    keys = tuple(k for k in ([r.action.kpi] if r.action.kpi else list(r.metrics)) if k)
    if not keys:
        return None
    _, _, comparisons = before_after(store, r.filters.with_dates(None, None), note.on_date, keys)
    return note, comparisons


def caption(note: Annotation) -> str:
    """What ``check`` compares: "Before and after 12 Jan 2026 (8 weeks each side)"."""
    return f"Before and after {note.on_date:%d %b %Y} ({BEFORE_AFTER_DAYS // 7} weeks each side)"


def table(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """``check``'s comparisons as a table: each KPI before and after with its n, the
    test's p-value and whether the change is more than chance."""
    return pd.DataFrame(
        [
            {
                "KPI": REGISTRY[c.key].label,
                "before": format_value(c.before.value, c.before.unit),
                "n before": c.before.n,
                "after": format_value(c.after.value, c.after.unit),
                "n after": c.after.n,
                "p": c.change.p_value,
                "more than chance": "yes" if c.change.significant else "no",
            }
            for c in comparisons
        ]
    )
