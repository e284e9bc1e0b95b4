"""What a report holds: one KPI's result, a row per segment and period, and the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kpi.engine.filters import Filters
from kpi.metrics.settings import Settings

#: The period of a row of undated survey answers in a report with a grain.
UNDATED = "undated"


@dataclass
class MetricResult:
    """One KPI for one segment and period. ``value`` is None when it cannot be computed, and
    ``reason`` then says why; rates are percentages 0-100."""

    key: str
    value: float | None
    n: int
    definition: str
    variant: str
    unit: str
    ci_low: float | None = None
    ci_high: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    small_sample: bool = False
    reason: str | None = None
    #: Further figures: p90, promoters/detractors, sd, unanswered or unresolved counts...
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "definition": self.definition,
            "variant": self.variant,
            "unit": self.unit,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "small_sample": self.small_sample,
            "reason": self.reason,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass
class ReportRow:
    #: Breakdown field -> value ({} for the total row).
    segment: dict[str, str | None]
    #: Start date (ISO) of the day, week or month; None for the whole period; "undated".
    period: str | None
    metrics: dict[str, MetricResult]
    #: A dated period's length in days and how many of them the data and filters cover.
    days: int | None = None
    covered_days: int | None = None

    @property
    def partial(self) -> bool:
        """Only part of the period is covered: not to be read (or charted) as a whole one."""
        return (
            self.days is not None
            and self.covered_days is not None
            and self.covered_days < self.days
        )

    def to_dict(self) -> dict[str, Any]:
        coverage = {}
        if self.days is not None:
            coverage = {"partial": self.partial, "covered_days": self.covered_days}
        return {
            "segment": dict(self.segment),
            "period": self.period,
            **coverage,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
        }


@dataclass
class Report:
    filters: Filters
    by: tuple[str, ...]
    grain: str | None
    as_of: datetime
    settings: Settings
    rows: list[ReportRow]
    #: Label -> filters of each named period (report_periods only).
    named: dict[str, Filters] = field(default_factory=dict)

    def total(self, period: str | None = None) -> ReportRow | None:
        """The row over every segment (the only row when there is no breakdown)."""
        return next((r for r in self.rows if not r.segment and r.period == period), None)

    def totals(self) -> dict[str, MetricResult]:
        """The KPIs of the whole-period, all-segments row. A report run without a grain always
        has that row, so a missing one is a bug."""
        row = self.total()
        if row is None:
            raise RuntimeError("the report has no total row; run it without a grain")
        return dict(row.metrics)

    def series(
        self, key: str, segment: Mapping[str, str | None] | None = None
    ) -> list[MetricResult]:
        """One KPI over the dated periods of one segment (the total by default), in order."""
        wanted = dict(segment or {})
        return [
            r.metrics[key]
            for r in self.rows
            if r.segment == wanted and r.period not in (None, UNDATED) and key in r.metrics
        ]

    def part_periods(self) -> dict[str, tuple[int, int]]:
        """Period -> (days covered, days) of each dated period only partly covered."""
        return {
            r.period: (r.covered_days or 0, r.days or 0)
            for r in self.rows
            if not r.segment and r.period is not None and r.partial
        }

    def split(self) -> list[Report]:
        """A report over named periods as one report per period (rows with period None)."""
        labels = {r.period for r in self.rows}
        out = []
        for label, filters in self.named.items():  # rows follow the named periods' order
            if label in labels:
                rows = [replace(r, period=None) for r in self.rows if r.period == label]
                out.append(replace(self, grain=None, rows=rows, filters=filters))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "filters": self.filters.to_dict(),
            "by": list(self.by),
            "grain": self.grain,
            "as_of": self.as_of.isoformat(),
            "timezone": self.settings.timezone,
            "rows": [r.to_dict() for r in self.rows],
        }
