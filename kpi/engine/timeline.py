"""A report's periods and the reporting time zone: days, weeks and months as UTC instants, and
local wall-clock time computed by the backend without its time-zone functions.

The store holds naive UTC; a day, week or month is local to the settings' time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from kpi.engine.filters import Filters

Grain = Literal["day", "week", "month"]
GRAINS = ("day", "week", "month")
#: Internal grain of a report over named periods (e.g. "current" and "previous").
NAMED = "named"
#: Ibis's truncation unit of each grain.
TRUNCATE = {"day": "D", "week": "W", "month": "M"}

#: [(naive UTC instant, offset seconds from then on)], see ``utc_offsets``.
Offsets = list[tuple[datetime, int]]


@dataclass(frozen=True)
class Period:
    label: str | None
    #: Naive UTC instants, start inclusive and end exclusive; None = unbounded.
    start: datetime | None
    end: datetime | None


def to_utc(value: datetime, timezone: str) -> datetime:
    """Naive UTC from an aware instant, or from a naive one that means the reporting zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC).replace(tzinfo=None)


def local_date(instant: datetime, timezone: str) -> date:
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


def grain_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def grain_next(day: date, grain: str) -> date:
    if grain == "week":
        return day + timedelta(days=7)
    if grain == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


def periods_for(
    filters: Filters, grain: str | None, timezone: str, data_range: tuple[date, date] | None
) -> list[Period]:
    """The report's periods: one for the whole range, or every day/week/month it touches."""
    start, end = filters.utc_bounds(timezone)
    if grain is None:
        return [Period(None, start, end)]
    first = filters.date_from or (data_range[0] if data_range else None)
    last = filters.date_to or (data_range[1] if data_range else None)
    if first is None or last is None:
        return []
    out = []
    day = grain_start(first, grain)
    while day <= last:
        following = grain_next(day, grain)
        bounds = Filters(date_from=day, date_to=following - timedelta(days=1))
        lo, hi = bounds.utc_bounds(timezone)
        out.append(Period(day.isoformat(), lo, hi))
        day = following
    return out


def _offset(instant: datetime, zone: ZoneInfo) -> int:
    """The zone's UTC offset in seconds at a naive UTC instant."""
    offset = instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def utc_offsets(timezone: str, start: datetime, end: datetime) -> Offsets:
    """[(naive UTC instant, offset seconds from then on)] covering [start, end]: the first entry
    is the offset at ``start``, the rest are the zone's transitions inside the range."""
    zone = ZoneInfo(timezone)
    out = [(start, _offset(start, zone))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if _offset(following, zone) != _offset(day, zone):
            lo, hi = day, following  # bisect to the second the offset changes
            while hi - lo > timedelta(seconds=1):
                middle = lo + (hi - lo) / 2
                same = _offset(middle, zone) == _offset(day, zone)
                lo, hi = (middle, hi) if same else (lo, middle)
            out.append((hi.replace(microsecond=0), _offset(following, zone)))
        day = following
    return out


def offsets_around(timezone: str, first: datetime | None, last: datetime | None) -> Offsets:
    """``utc_offsets`` from a day before ``first`` to a day after ``last`` (enough for any local
    time of those instants); the offset of now when either is unknown (no data)."""
    if first is None or last is None:
        now = datetime.now(UTC).replace(tzinfo=None)
        return [(now, _offset(now, ZoneInfo(timezone)))]
    return utc_offsets(timezone, first - timedelta(days=1), last + timedelta(days=1))


def offsets_for(timezone: str, grain: str | None, periods: Sequence[Period]) -> Offsets | None:
    """The offsets a report needs to give rows their local day, week or month; None without a
    dated grain (a whole period, or named periods matched by their UTC bounds)."""
    if grain in (None, NAMED) or not periods:
        return None
    return offsets_around(timezone, periods[0].start, periods[-1].end)


def local_time(column: ir.TimestampValue, offsets: Offsets) -> ir.TimestampValue:
    """Naive UTC -> naive local wall-clock time, as a CASE over the zone's few transitions
    (portable: no backend time-zone functions)."""
    if len(offsets) == 1:
        return column + ibis.literal(offsets[0][1]).as_interval("s")
    branches = [(column >= instant, ibis.literal(seconds)) for instant, seconds in offsets[:0:-1]]
    seconds = ibis.cases(*branches, else_=ibis.literal(offsets[0][1]))
    return column + seconds.as_interval("s")
