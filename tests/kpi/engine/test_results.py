"""What a report holds: the whole-period row's KPIs, and a refusal when there is none."""

from __future__ import annotations

from datetime import datetime

import pytest

from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult, Report, ReportRow
from kpi.metrics.settings import Settings


def _result(value: float) -> MetricResult:
    return MetricResult("csat", value, 10, "CSAT: % satisfied", "top2", "%")


def _report(rows: list[ReportRow], grain: str | None = None) -> Report:
    return Report(Filters(), ("channel",), grain, datetime(2026, 3, 1), Settings(), rows)


def test_totals_are_the_kpis_of_the_row_over_every_segment() -> None:
    rows = [
        ReportRow({"channel": "email"}, None, {"csat": _result(80.0)}),
        ReportRow({}, None, {"csat": _result(75.0)}),
    ]
    assert _report(rows).totals() == {"csat": _result(75.0)}


def test_a_report_without_a_whole_period_row_has_no_totals() -> None:
    rows = [ReportRow({}, "2026-03-02", {"csat": _result(75.0)})]
    with pytest.raises(RuntimeError, match="no total row"):
        _report(rows, grain="week").totals()
