"""Engine reports as tables people read and download: one row per segment and period, and
numbers written with their unit.

Only the engine's results are laid out here; nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kpi.engine.results import MetricResult, Report
from kpi.metrics.registry import REGISTRY

RESULT_COLUMNS = ["value", "n", "ci_low", "ci_high", "small_sample", "numerator"]


def result_row(result: MetricResult) -> dict[str, object]:
    return {
        "value": result.value,
        "n": result.n,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "small_sample": result.small_sample,
        "numerator": result.numerator,
    }


def long_frame(report: Report, keys: Sequence[str], totals: bool = True) -> pd.DataFrame:
    """One row per segment, period and KPI: the breakdown fields, ``period``, ``kpi`` (label),
    ``key``, value, n, the 95% interval, the small-sample flag and the numerator (successes of
    a rate, e.g. the complaints behind the complaint rate). The total row's segment
    fields read "All" (left out when ``totals`` is False)."""
    rows = []
    for row in report.rows:
        if not row.segment and report.by and not totals:
            continue
        labels = {f: ("All" if not row.segment else row.segment.get(f)) for f in report.by}
        for key in keys:
            if key not in row.metrics:
                continue
            rows.append(
                {
                    **labels,
                    "period": row.period,
                    "kpi": REGISTRY[key].label,
                    "key": key,
                    **result_row(row.metrics[key]),
                }
            )
    columns = [*report.by, "period", "kpi", "key", *RESULT_COLUMNS]
    frame = pd.DataFrame(rows, columns=columns)
    if report.grain is None:
        frame = frame.drop(columns="period")
    return frame


def format_value(value: float | None, unit: str) -> str:
    """82.7%, +34.8 (NPS points), 1.2 h, 605 s, 6,208; an em dash when there is no value."""
    if value is None or value != value:
        return "—"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "points":
        return f"{value:+.1f}"
    if unit == "hours":
        return f"{value:.1f} h"
    if unit == "seconds":
        return f"{value:,.0f} s"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def format_interval(result: MetricResult) -> str:
    """ "n = 1,865 · 95% CI 80.9%-84.3%" (or "p90 6.5 h" for medians)."""
    parts = [f"n = {result.n:,}"]
    if result.ci_low is not None and result.ci_high is not None:
        low, high = (
            format_value(result.ci_low, result.unit),
            format_value(result.ci_high, result.unit),
        )
        parts.append(f"95% CI {low} to {high}")
    if result.extra.get("p90") is not None:
        parts.append(f"p90 {format_value(result.extra['p90'], result.unit)}")
    return " · ".join(parts)


def format_change(difference: float, unit: str) -> str:
    """The change against the previous period in the KPI's own terms (points for rates)."""
    if unit == "%":
        return f"{difference:+.1f} pts"
    if unit == "points":
        return f"{difference:+.1f}"
    return f"{'+' if difference >= 0 else '−'}{format_value(abs(difference), unit)}"
