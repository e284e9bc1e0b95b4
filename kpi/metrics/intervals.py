"""Call KPIs from contact-centre interval reports, pooled by calls.

An interval report has one row per interval x queue (or agent) holding counts and totals
(``kpi.store.schema.INTERVAL_FIELDS``). The KPIs are the ones ``kpi.metrics.calls`` declares for
call-level rows, worked out from the summed counts, so each interval weighs by its calls and never
counts as one: abandonment is all abandoned calls over all offered calls, never the mean of each
row's abandon %; ASA is all the wait over all answered calls. n is calls, never rows.

A mean's interval cannot come from the calls' own spread (an interval report does not carry it),
so ASA and AHT take the ratio estimator's: each row's calls are one cluster, and the spread of the
rows' totals around the pooled ratio gives its standard error (``RatioSums``).

Nothing here touches data beyond the Ibis aggregates of ``sums``; the engine
(``kpi.engine.intervals``) runs them and turns the figures into results with intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

from kpi.metrics.settings import Settings

#: The call KPIs an interval report gives, in ``kpi.metrics.calls`` order.
KEYS = ("aht_seconds", "asa_seconds", "abandonment_rate", "service_level")
#: What an interval report's rows are summed into: name -> (numerator column, weight column).
RATIOS = {
    "asa_seconds": ("wait_seconds_total", "answered"),
    "aht_seconds": ("handle_seconds_total", "answered"),
}


@dataclass(frozen=True)
class RatioSums:
    """What a pooled ratio Y / X over rows needs: the totals, the row count k and the sums of
    squares and products that give the ratio estimator's standard error."""

    y: float
    x: float
    k: int
    yy: float = 0.0
    xy: float = 0.0
    xx: float = 0.0

    @property
    def ratio(self) -> float | None:
        return self.y / self.x if self.x > 0 else None

    def standard_error(self) -> float | None:
        """sqrt(k / (k - 1) x sum((y_i - R x_i)^2)) / X: the linearised (cluster) standard error
        of R = Y / X, each row a cluster; None with fewer than two rows or no calls."""
        r = self.ratio
        if r is None or self.k < 2:
            return None
        # sum((y - R x)^2) expanded so that it aggregates in SQL; never negative in exact terms.
        residual = max(0.0, self.yy - 2 * r * self.xy + r * r * self.xx)
        return math.sqrt(self.k / (self.k - 1) * residual) / self.x


@dataclass(frozen=True)
class Pooled:
    """One KPI pooled over interval rows: successes of n calls (a rate), or a ratio of totals."""

    key: str
    n: int  # calls: offered (less short abandons) for rates, answered for averages
    x: int | None = None  # rates: the calls counted
    ratio: RatioSums | None = None  # averages
    rows: int = 0  # interval rows that gave the figure

    @property
    def value(self) -> float | None:
        if self.n <= 0:
            return None
        if self.ratio is not None:
            return self.ratio.ratio
        return 100.0 * (self.x or 0) / self.n


def sums(t: ir.Table) -> dict[str, ir.Scalar]:
    """The Ibis aggregates every interval KPI is worked out from (``pooled`` reads them).

    A row counts towards a KPI only when it has every count that KPI needs: a row with offered
    calls but no abandoned count says nothing of abandonment."""
    short = t.short_abandoned.fill_null(0)
    rate_rows = t.offered.notnull() & t.abandoned.notnull()
    level_rows = t.offered.notnull() & t.answered_within.notnull()
    out: dict[str, ir.Scalar] = {
        "rows": t.count(),
        "abandon_x": (t.abandoned - short).sum(where=rate_rows),
        "abandon_n": (t.offered - short).sum(where=rate_rows),
        "abandon_rows": rate_rows.sum(),
        "level_x": t.answered_within.sum(where=level_rows),
        "level_n": (t.offered - short).sum(where=level_rows),
        "level_rows": level_rows.sum(),
        "level_threshold_min": t.threshold_seconds.min(where=level_rows),
        "level_threshold_max": t.threshold_seconds.max(where=level_rows),
    }
    for key, (total, weight) in RATIOS.items():
        y, x = t[total].cast("float64"), t[weight].cast("float64")
        has = t[total].notnull() & t[weight].notnull() & (t[weight] > 0)
        out |= {
            f"{key}_y": y.sum(where=has),
            f"{key}_x": x.sum(where=has),
            f"{key}_k": has.sum(),
            f"{key}_yy": (y * y).sum(where=has),
            f"{key}_xy": (x * y).sum(where=has),
            f"{key}_xx": (x * x).sum(where=has),
        }
    return out


def pooled(record: Mapping[str, Any]) -> dict[str, Pooled]:
    """Each interval KPI from one record of ``sums``."""

    def number(name: str) -> float:
        value = record.get(name)
        return 0.0 if value is None or _missing(value) else float(value)

    out = {
        "abandonment_rate": Pooled(
            "abandonment_rate",
            int(number("abandon_n")),
            int(number("abandon_x")),
            rows=int(number("abandon_rows")),
        ),
        "service_level": Pooled(
            "service_level",
            int(number("level_n")),
            int(number("level_x")),
            rows=int(number("level_rows")),
        ),
    }
    for key in RATIOS:
        ratio = RatioSums(
            y=number(f"{key}_y"),
            x=number(f"{key}_x"),
            k=int(number(f"{key}_k")),
            yy=number(f"{key}_yy"),
            xy=number(f"{key}_xy"),
            xx=number(f"{key}_xx"),
        )
        out[key] = Pooled(key, int(ratio.x), ratio=ratio, rows=ratio.k)
    return out


def _missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def threshold_text(record: Mapping[str, Any], settings: Settings) -> str:
    """The service-level threshold the report's own counts were made with ("20 s"), and a
    warning when rows use different ones or one other than the team's setting."""
    low, high = record.get("level_threshold_min"), record.get("level_threshold_max")
    if low is None or high is None or _missing(low) or _missing(high):
        return "the threshold the report used (not given)"
    if low != high:
        return f"the thresholds the report used ({low:g} to {high:g} s: they differ between rows)"
    own = f"{low:g} s"
    if low != settings.service_level_seconds:
        own += f", the report's own threshold (the team's setting is {settings.service_level_seconds:g} s)"
    return own


def definition(key: str, record: Mapping[str, Any], settings: Settings, rows: int) -> str:
    """The sentence a pooled interval KPI is defined by, naming its source and weighting."""
    pooled_over = f"pooled over {rows:,} interval row{'s' if rows != 1 else ''} of interval reports"
    if key == "abandonment_rate":
        return (
            f"% of offered calls abandoned, {pooled_over} (all abandoned calls / all offered "
            "calls, never an average of each row's rate); short abandons are left out of both "
            "counts where the report gives them."
        )
    if key == "service_level":
        return (
            f"% of offered calls answered within {threshold_text(record, settings)}, "
            f"{pooled_over} (answered within the threshold / offered calls, short abandons "
            "left out where given)."
        )
    what = "wait in the queue" if key == "asa_seconds" else "handle time (talk + hold + wrap)"
    return (
        f"mean {what} in seconds of answered calls, {pooled_over} (total / answered calls, "
        "each row weighted by its calls)."
    )


#: How the interval of a pooled average is worked out, for its definition.
RATIO_METHOD = (
    "ratio-estimator interval (each interval row's calls as one cluster: an interval report "
    "does not carry the spread of single calls)"
)
