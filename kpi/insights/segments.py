"""Insights across segments: categories driving complaints or detractors (Pareto), and
small samples that would top or bottom a ranking."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from kpi.charts.spec import ChartSpec
from kpi.engine import breakdowns, statistics
from kpi.engine import report as engine
from kpi.engine.results import MetricResult, ReportRow
from kpi.engine.tables import format_value
from kpi.insights.model import (
    ALPHA,
    MIN_CELL,
    Figure,
    Insight,
    Scope,
    guidance,
    insight_id,
    metric_figure,
    p_text,
    significantly_higher,
)
from kpi.metrics.registry import REGISTRY


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
    rows: Sequence[ReportRow],
    key: str,
    what: str,
    counts: Callable[[MetricResult], tuple[int, int]],
) -> list[Insight]:
    per = {r.segment["category"]: counts(r.metrics[key]) for r in rows}
    total_x = sum(x for x, _ in per.values())
    total_n = sum(n for _, n in per.values())
    if total_x == 0 or len(per) < 2:
        return []
    chart = _pareto_chart(per, what)
    definition = REGISTRY[key].label + ": " + rows[0].metrics[key].definition
    out = []
    for category, (x, n) in per.items():
        if n < MIN_CELL:
            continue
        test = statistics.two_proportion_test(
            total_x - x, total_n - n, x, n, alpha=ALPHA / len(per)
        )
        if significantly_higher(test):
            out.append(
                _driver_insight(
                    s, key, what, category, (x, n), (total_x, total_n), test, chart, definition
                )
            )
    return out


def _pareto_chart(per: dict[str | None, tuple[int, int]], what: str) -> ChartSpec:
    """Pareto chart of the counts per category, each bar with its population n."""
    frame = breakdowns.pareto({k: x for k, (x, _) in per.items()})
    frame["n"] = [per[c][1] for c in frame.category]
    return ChartSpec(
        "pareto",
        f"Pareto of {what} by category",
        "category",
        "count",
        _records(frame),
        unit="count",
        n="n",
    )


def _records(frame: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    return tuple({str(k): v for k, v in row.items()} for row in frame.to_dict("records"))


def _driver_insight(
    s: Scope,
    key: str,
    what: str,
    category: str | None,
    counts: tuple[int, int],
    totals: tuple[int, int],
    test: statistics.ChangeTest,
    chart: ChartSpec,
    definition: str,
) -> Insight:
    """One category with ``counts`` (x of n) out of ``totals`` whose rate tests higher."""
    (x, n), (total_x, total_n) = counts, totals
    share = 100.0 * x / total_x
    rate, rest_rate = 100.0 * x / n, 100.0 * (total_x - x) / max(total_n - n, 1)
    population = "contacts" if key == "complaint_rate" else "survey answers"
    return Insight(
        id=insight_id("driver", s.filters, key, category),
        kind="driver",
        title=f"{category} drives {what}: {share:.0f}% of all {what} from "
        f"{100.0 * n / total_n:.0f}% of {population}",
        summary=f"{x:,} {what} in {n:,} {population} ({rate:.1f}%) against {rest_rate:.1f}% "
        "in other categories. A gap this big is more than chance.",
        details=f"Two-proportion z-test against the other categories, Bonferroni-corrected: "
        f"{p_text(test.p_value)}.",
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
        chart=chart,
        metrics=(key,),
        filters=s.filters,
        p_value=test.p_value,
        weight=share,
        **guidance("driver", what),
    )


def small_samples(s: Scope) -> list[Insight]:
    """Agents whose CSAT would top (or bottom) a ranking on fewer answers than the minimum n."""
    report = engine.report(s.store, s.filters, by=("agent",), settings=s.settings, metrics=["csat"])
    # (agent, result, its value): only agents with a CSAT to rank.
    results = [
        (agent, m, m.value)
        for agent, m in ((r.segment["agent"], r.metrics["csat"]) for r in report.rows if r.segment)
        if agent is not None and m.value is not None
    ]
    if len(results) < 2:
        return []
    solid = [value for _, m, value in results if not m.small_sample]
    if not solid:
        return []
    low, high = min(solid), max(solid)
    rows = tuple(
        {"agent": a, "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}
        for a, r, value in sorted(results, key=lambda item: -item[2])
    )
    return [
        _small_sample_insight(s, agent, m, "above" if value > high else "below", rows)
        for agent, m, value in results
        if m.small_sample and not low <= value <= high
    ]


def _small_sample_insight(
    s: Scope, agent: str, m: MetricResult, where: str, rows: tuple[dict[str, Any], ...]
) -> Insight:
    return Insight(
        id=insight_id("small_sample", s.filters, agent),
        kind="small_sample",
        # The title names no one: insights can end up in shared evidence.
        title=f"A CSAT of {format_value(m.value, m.unit)} on only {m.n} answers sits "
        f"{where} every solid result: a small sample, not a ranking",
        summary=f"Results under n = {s.settings.minimum_n} are flagged as small samples; "
        f"its 95% interval runs from {format_value(m.ci_low, m.unit)} to "
        f"{format_value(m.ci_high, m.unit)}.",
        figures=(metric_figure("CSAT, small sample", m),),
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
        **guidance("small_sample", "CSAT"),
    )
