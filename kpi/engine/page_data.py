"""Engine results shaped into what a dashboard page shows, so that no page computes a figure,
an order or a default: pages call these and lay the result out.

Layer 3 (see ARCHITECTURE.md): reads ``kpi.engine`` results and ``kpi.store`` tables only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from kpi.engine.change import Change, change
from kpi.engine.filters import Filters
from kpi.engine.report import (
    report,
    report_periods,
    spans_all_data,
    undated_answers,
    with_undated,
)
from kpi.engine.results import UNDATED, MetricResult, Report
from kpi.engine.statistics import ControlChart, xmr_limits
from kpi.engine.tables import format_value, long_frame
from kpi.metrics.registry import short_label
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store
from kpi.store.schema import PRIORITIES

#: Priorities urgent first, as service standards list them.
URGENCY = {p: i for i, p in enumerate(reversed(PRIORITIES))}


def compare(
    store: Store, filters: Filters, keys: Sequence[str], settings: Settings | None = None
) -> tuple[dict[str, MetricResult], dict[str, Change]]:
    """A few KPIs now, and their changes against the previous period of the same length (none
    when the period is open-ended). Cheaper than ``report.overview`` for a page that shows a few
    tiles: only the KPIs named are computed, and no weekly trends."""
    if filters.date_from is None or filters.date_to is None:
        return report(store, filters, metrics=keys, settings=settings).totals(), {}
    # Both periods in one pass (one query per family), as the Overview does.
    periods = {"current": filters, "previous": filters.previous_period()}
    current, previous = report_periods(store, periods, settings=settings, metrics=keys).split()
    before = previous.totals()
    changes = {k: change(current.totals()[k], before[k]) for k in keys}
    # All time counts the answers without a date too, as the Overview does.
    with_undated(store, filters, current, before, changes, current.settings)
    return current.totals(), changes


def undated_line(store: Store, filters: Filters, settings: Settings | None = None) -> str | None:
    """What a page says about answers without a date in the chosen segments: counted in an
    all-time view, in no dated period (nor any chart over time); None when there are none."""
    chosen = settings or load_settings(store)
    count = undated_answers(store, filters, chosen)
    if not count:
        return None
    answers = f"{count:,} survey answers have" if count != 1 else "1 survey answer has"
    if spans_all_data(store, filters, chosen):
        return (
            f"Undated: {answers} no date. They are counted in these all-time figures, but in "
            "no week or month of the charts over time."
        )
    return (
        f"Undated: {answers} no date, so no dated period includes them. Choose All time to "
        "count them."
    )


def by_segment(report: Report, keys: Sequence[str], drop_empty: bool = False) -> pd.DataFrame:
    """``long_frame`` of a report broken down by one field, without its total row, in the
    field's reading order: priorities urgent first, anything else by name (never ranked by
    value). With ``drop_empty``, segments with no observations (calls have no SLA outcome) are
    left out."""
    field = report.by[0]
    frame = long_frame(report, keys, totals=False)
    if drop_empty:
        frame = frame[frame.n > 0]
    if field == "priority":
        return frame.sort_values(field, key=lambda p: p.map(URGENCY), kind="stable")
    return frame.sort_values(field, kind="stable")


def time_title(result: MetricResult) -> str:
    """The heading of a time KPI's distribution: its name, median and 90th percentile, as in
    "Resolution time: median 5.2 h, p90 31 h"."""
    median = format_value(result.value, "hours")
    p90 = format_value(result.extra.get("p90"), "hours")
    return f"{short_label(result.key, result.variant)}: median {median}, p90 {p90}"


def plotted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The rows of one KPI of a ``long_frame`` that have a value: what a chart of it shows."""
    return frame[(frame.key == key) & frame.value.notna()]


def dated(frame: pd.DataFrame) -> pd.DataFrame:
    """A ``long_frame`` by period without its "undated" rows, for charts over time."""
    return frame[frame.period != UNDATED]


def counts(frame: pd.DataFrame) -> pd.DataFrame:
    """A rate's ``long_frame`` with its numerator (e.g. the complaints behind the complaint
    rate) as the value, zero where there were none."""
    return frame.assign(value=frame.numerator.fillna(0))


def control_chart(frame: pd.DataFrame) -> ControlChart | None:
    """XmR limits of a ``long_frame``'s values over time. Small samples (a part week at the
    period's edge) are gaps: they would set off signals of their own."""
    points = [
        None if small else value
        for value, small in zip(frame.value, frame.small_sample, strict=True)
    ]
    return xmr_limits(points)


@dataclass(frozen=True)
class ImportTotals:
    """Rows read, imported and set aside by the imports still in force (undone ones left out):
    read always equals imported plus quarantined."""

    read: int = 0
    imported: int = 0
    quarantined: int = 0


def import_totals(batches: pd.DataFrame) -> ImportTotals:
    """``ImportTotals`` of ``kpi.store.quarantine.imports_table``."""
    if batches.empty:
        return ImportTotals()
    active = batches[batches["undone_at"].isna()]
    read, kept, held = (
        int(active[c].sum()) for c in ("rows_read", "rows_imported", "rows_quarantined")
    )
    return ImportTotals(read, kept, held)


def active_batches(batches: pd.DataFrame) -> list[int]:
    """The batch ids of ``imports_table`` that can still be undone."""
    if batches.empty:
        return []
    return [int(b) for b in batches[batches["undone_at"].isna()]["batch_id"]]
