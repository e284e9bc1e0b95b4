"""What a point of a page chart stands for, so that clicking it opens the rows behind it.

The figure builders put a ``Pick`` in each drillable point's customdata (as its last item, a
short JSON text, since Plotly hands customdata back as it was given); a page reads the
selection Streamlit returns for a clicked point, and ``drill_request`` turns it into the
arguments of ``kpi.engine.drill.drill``: the page's own filters narrowed to the point's period
and segment, which is how the engine computed that point, so the rows number the point's n.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, get_args

import pandas as pd

from kpi.engine.drill import Only, period_filters
from kpi.engine.filters import SEGMENT_FIELDS, Filters

#: Marks a customdata item as a pick, so that no other text is read as one.
_TAG = "pick"
#: How ``kpi.engine.breakdowns.pareto`` names the cause of rows with no value.
NO_VALUE = "(none)"


@dataclass(frozen=True)
class Pick:
    """One point: its n, its period's first day (ISO; None for a chart not over time), its
    segment (field -> value, None for the segment with no value), whether it pools several
    segments ("other": no one segment's rows), and whether its figure counts only a rate's
    successes or failures (a bar of complaints rather than of contacts, of detractors rather
    than of answers: ``kpi.engine.drill.Only``)."""

    n: int
    period: str | None = None
    segment: Mapping[str, str | None] = field(default_factory=dict)
    pooled: bool = False
    only: Only | None = None

    def encode(self) -> str:
        return json.dumps(
            {
                _TAG: 1,
                "n": self.n,
                "period": self.period,
                "segment": dict(self.segment),
                "pooled": self.pooled,
                "only": self.only,
            },
            separators=(",", ":"),
        )


def decode(customdata: Any) -> Pick | None:
    """The pick in a point's customdata (its last item, or the customdata itself), else None."""
    listed = isinstance(customdata, Sequence) and not isinstance(customdata, str)
    item = customdata[-1] if listed and customdata else customdata
    if not isinstance(item, str) or not item.startswith("{"):
        return None
    try:
        found = json.loads(item)
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get(_TAG) != 1:
        return None
    return Pick(
        n=int(found.get("n") or 0),
        period=found.get("period"),
        segment=dict(found.get("segment") or {}),
        pooled=bool(found.get("pooled")),
        only=found.get("only") if found.get("only") in get_args(Only) else None,
    )


def picked(selection: Mapping[str, Any] | None) -> Pick | None:
    """The pick of the first selected point that has one (a click selects one point); None
    when nothing drillable is selected (a band, a target line, an empty selection)."""
    points: Iterable[Mapping[str, Any]] = (selection or {}).get("points") or []
    for point in points:
        pick = decode(point.get("customdata"))
        if pick is not None:
            return pick
    return None


@dataclass(frozen=True)
class DrillRequest:
    """The arguments of ``kpi.engine.drill.drill`` for one clicked point, and its n."""

    filters: Filters
    segment: dict[str, str | None]
    n: int
    only: Only | None = None


def drill_request(pick: Pick | None, filters: Filters, grain: str | None) -> DrillRequest | None:
    """The drill-through of a clicked point: ``filters`` (the chart's own) narrowed to the
    point's period by ``grain`` and to its segment. None for a point with no rows of its own:
    none at all (n = 0), a pooled "other", or a segment field the engine cannot filter by."""
    if pick is None or not pick.n or pick.pooled:
        return None
    if any(name not in SEGMENT_FIELDS for name in pick.segment):
        return None
    if pick.period is not None:
        if grain is None:
            return None
        filters = period_filters(filters, grain, date.fromisoformat(pick.period))
    return DrillRequest(filters, dict(pick.segment), pick.n, pick.only)


def with_picks(frame: pd.DataFrame, only: Only | None = None) -> pd.DataFrame:
    """A ``long_frame`` by period with each row's pick in a ``pick`` column: the period and n,
    or with ``only="successes"`` the numerator as n (a bar of complaints drills into them)."""
    counts = frame["numerator"] if only == "successes" else frame["n"]
    picks = [
        Pick(_whole(n), str(period)[:10], only=only).encode()
        for period, n in zip(frame["period"], counts, strict=True)
    ]
    return frame.assign(pick=picks)


#: What each driver of the Complaints page's Pareto counts, as a drill-through: the KPI whose
#: rows it counts and which of them (``kpi.engine.breakdowns.drivers``). Repeat contacts are
#: counted under a variant of FCR the team may not use, so they have no drill-through here.
DRIVER_DRILLS: dict[str, tuple[str, Only]] = {
    "complaints": ("complaint_rate", "successes"),
    "detractors": ("nps", "failures"),
}


def pareto_picks(ranked: pd.DataFrame, driver: str, field: str = "category") -> pd.DataFrame:
    """``kpi.engine.breakdowns.pareto``'s causes with each bar's pick: its segment (the
    "(none)" cause is the rows with no value) and its count, when the driver has a drill."""
    if driver not in DRIVER_DRILLS:
        return ranked
    only = DRIVER_DRILLS[driver][1]
    picks = [
        Pick(
            _whole(n), segment={field: None if name == NO_VALUE else str(name)}, only=only
        ).encode()
        for name, n in zip(ranked[field], ranked["count"], strict=True)
    ]
    return ranked.assign(pick=picks)


def _whole(n: Any) -> int:
    """A count from a frame's cell; 0 for an empty one."""
    return 0 if n is None or n != n else int(n)


#: Said when a click lands on the pooled "other" series, which has no one segment's rows.
POOLED = (
    'The "other" line pools several groups, so it has no single list of rows: filter to one '
    "group, or choose it from the list under the chart."
)
