"""Insights across segments: categories driving complaints or detractors (Pareto), and
small samples that would top or bottom a ranking."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kpi.charts.spec import ChartSpec
from kpi.engine import breakdowns, statistics
from kpi.engine import report as engine
from kpi.engine.report import MetricResult
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
    rows: Sequence[engine.ReportRow],
    key: str,
    what: str,
    counts: Callable[[MetricResult], tuple[int, int]],
) -> list[Insight]:
    per = {r.segment["category"]: counts(r.metrics[key]) for r in rows}
    total_x = sum(x for x, _ in per.values())
    total_n = sum(n for _, n in per.values())
    if total_x == 0 or len(per) < 2:
        return []
    chart_rows = breakdowns.pareto({k: x for k, (x, _) in per.items()})
    chart_rows["n"] = [per[c][1] for c in chart_rows.category]
    out = []
    for category, (x, n) in per.items():
        if n < MIN_CELL:
            continue
        test = statistics.two_proportion_test(
            total_x - x, total_n - n, x, n, alpha=ALPHA / len(per)
        )
        if not test.significant or test.difference <= 0:
            continue
        share = 100.0 * x / total_x
        rate, rest_rate = 100.0 * x / n, 100.0 * (total_x - x) / max(total_n - n, 1)
        population = "contacts" if key == "complaint_rate" else "survey answers"
        definition = REGISTRY[key].label + ": " + rows[0].metrics[key].definition
        out.append(
            Insight(
                id=insight_id("driver", s.filters, key, category),
                kind="driver",
                title=f"{category} drives {what}: {share:.0f}% of all {what} from "
                f"{100.0 * n / total_n:.0f}% of {population}",
                summary=f"{x:,} {what} in {n:,} {population} ({rate:.1f}%) against {rest_rate:.1f}% "
                f"in other categories; two-proportion z-test, Bonferroni-corrected p = "
                f"{test.p_value:.3g}.",
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
                chart=ChartSpec(
                    "pareto",
                    f"Pareto of {what} by category",
                    "category",
                    "count",
                    tuple(chart_rows.to_dict("records")),
                    unit="count",
                    n="n",
                ),
                metrics=(key,),
                filters=s.filters,
                p_value=test.p_value,
                weight=share,
                **guidance("driver", what),
            )
        )
    return out


def small_samples(s: Scope) -> list[Insight]:
    """Agents whose CSAT would top (or bottom) a ranking on fewer answers than the minimum n."""
    report = engine.report(s.store, s.filters, by=("agent",), settings=s.settings, metrics=["csat"])
    results = [(r.segment["agent"], r.metrics["csat"]) for r in report.rows if r.segment]
    results = [(a, m) for a, m in results if a is not None and m.value is not None]
    if len(results) < 2:
        return []
    solid = [m.value for _, m in results if not m.small_sample]
    if not solid:
        return []
    out = []
    for agent, m in results:
        if not m.small_sample or min(solid) <= m.value <= max(solid):
            continue
        rows = tuple(
            {"agent": a, "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n}
            for a, r in sorted(results, key=lambda item: -(item[1].value or 0))
        )
        where = "above" if m.value > max(solid) else "below"
        out.append(
            Insight(
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
        )
    return out
