"""Where a SMART action starts from: its KPI for its segment before the change, and the refusal
of a target that sits on the wrong side of it.

The baseline is read over the same weeks the action check calls "before" (whole weeks before
the dated change the action made); with no dated change yet, over the reflection's own period,
or else the last whole weeks of data. A target below the baseline of a KPI where higher is
better (or above it where lower is better), or equal to it, would be "met" by doing nothing, so
it is refused when the action is saved, naming the baseline, its n and its period, with enough
digits that the target and the baseline never print as the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kpi.engine import breakdowns
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.engine.tables import format_value
from kpi.engine.timeline import local_date
from kpi.errors import InvalidChoice
from kpi.insights import like_for_like
from kpi.insights.insight_segment import Segment, measure
from kpi.insights.model import distinct
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store.annotations import Annotation, all_annotations
from kpi.store.connection import Store


class TargetOnWrongSide(InvalidChoice):
    """A SMART target that the segment already meets: it asks for no improvement."""


@dataclass(frozen=True)
class Baseline:
    """The action's KPI for its segment over ``period``, and where ``period`` came from."""

    period: Filters
    result: MetricResult
    source: str

    def text(self) -> str:
        """ "94.0% (n = 1,204; 17 Nov 2025 - 11 Jan 2026, the 8 whole weeks before the change)"."""
        r = self.result
        return (
            f"{format_value(r.value, r.unit)} (n = {r.n:,}; {_dates(self.period)}, {self.source})"
        )


def _dates(period: Filters) -> str:
    return Filters(date_from=period.date_from, date_to=period.date_to).describe()


def note_of(store: Store, annotation_id: int | None) -> Annotation | None:
    if annotation_id is None:
        return None
    return next((a for a in all_annotations(store) if a.annotation_id == annotation_id), None)


def baseline_period(
    store: Store,
    filters: Filters,
    annotation_id: int | None,
    as_of: datetime | None,
    settings: Settings,
) -> tuple[Filters, str] | None:
    """The weeks a baseline is read over, and why those: see the module's docstring."""
    data_range = breakdowns.data_range(store, settings.timezone)
    note = note_of(store, annotation_id)
    if note is not None:
        found = like_for_like.windows(note.on_date, data_range)
        if not isinstance(found, str):
            return found.before, f"the {found.weeks} whole weeks before the change"
    if filters.date_from and filters.date_to:
        return filters, "the reflection's period"
    last = filters.date_to or (local_date(as_of, settings.timezone) if as_of else data_range[1])
    if last is None:
        return None
    end = last - timedelta(days=(last.weekday() + 1) % 7)  # the last whole week's Sunday
    weeks = like_for_like.WEEKS
    start = end - timedelta(days=7 * weeks - 1)
    if data_range[0] is not None and start < data_range[0]:
        start = data_range[0] + timedelta(days=(7 - data_range[0].weekday()) % 7)
    if start > end:
        return None
    return Filters(date_from=start, date_to=end), "the latest whole weeks of data"


def baseline(
    store: Store,
    segment: Segment,
    key: str,
    filters: Filters,
    annotation_id: int | None = None,
    as_of: datetime | None = None,
    settings: Settings | None = None,
) -> Baseline | None:
    """The KPI for the segment over its baseline period; None when the store has no data."""
    settings = settings or load_settings(store)
    found = baseline_period(store, filters, annotation_id, as_of, settings)
    if found is None:
        return None
    period, source = found
    return Baseline(period, measure(store, segment, [key], period, settings)[key], source)


def distinct_values(value: float, other: float, unit: str) -> tuple[str, str]:
    """Both values in their unit, with enough decimals that two different numbers never print
    the same ("92.90%" and "92.91%", not "92.9%" twice)."""
    shown = format_value(value, unit), format_value(other, unit)
    if value == other or shown[0] != shown[1]:
        return shown
    a, b = distinct(value, other, least=2)
    if unit == "points":
        return (f"+{a}" if value >= 0 else a), (f"+{b}" if other >= 0 else b)
    suffix = {"%": "%", "hours": " h", "seconds": " s"}.get(unit, "")
    return f"{a}{suffix}", f"{b}{suffix}"


def refuse_wrong_side(key: str, target: float, segment: Segment, found: Baseline) -> None:
    """Raise ``TargetOnWrongSide`` when ``target`` is on the wrong side of the baseline or
    equal to it (either is met without any change)."""
    metric = REGISTRY[key]
    value = found.result.value
    if metric.direction is None or value is None:
        return
    higher = metric.direction == "higher"
    if (higher and target > value) or (not higher and target < value):
        return
    r, unit = found.result, found.result.unit
    shown, base = distinct_values(target, value, unit)
    side, better = ("below", "above") if higher else ("above", "below")
    where = "equal to" if target == value else side
    raise TargetOnWrongSide(
        f"a target of {shown} for {metric.label} ({segment.describe()}) is {where} its "
        f"baseline of {base} (n = {r.n:,}; {_dates(found.period)}, {found.source}): "
        f"{metric.direction} is better, so that target is already met without any change; "
        f"set one {better} {base}"
    )
