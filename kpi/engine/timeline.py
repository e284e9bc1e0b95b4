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
    #: A dated period's length in days, and how many of them both the data and the filters
    #: cover; None for a whole-range or named period.
    days: int | None = None
    covered: int | None = None

    @property
    def partial(self) -> bool:
        """Only part of the day, week or month is covered (the data starts or stops inside it,
        or the filters cut it): its figures are not comparable with whole periods'."""
        return self.days is not None and self.covered is not None and self.covered < self.days


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
    window = covered_window(filters, data_range)
    out = []
    day = grain_start(first, grain)
    while day <= last:
        following = grain_next(day, grain)
        bounds = Filters(date_from=day, date_to=following - timedelta(days=1))
        lo, hi = bounds.utc_bounds(timezone)
        covered = overlap_days(day, following - timedelta(days=1), window)
        out.append(Period(day.isoformat(), lo, hi, (following - day).days, covered))
        day = following
    return out


def covered_window(
    filters: Filters, data_range: tuple[date, date] | None
) -> tuple[date | None, date | None]:
    """The days both the filters and the data span (either end None = unbounded)."""
    starts = [d for d in (filters.date_from, data_range[0] if data_range else None) if d]
    ends = [d for d in (filters.date_to, data_range[1] if data_range else None) if d]
    return (max(starts) if starts else None, min(ends) if ends else None)


def overlap_days(first: date, last: date, window: tuple[date | None, date | None]) -> int:
    """How many days of ``first``..``last`` (inclusive) lie inside ``window``."""
    lo = max(first, window[0]) if window[0] else first
    hi = min(last, window[1]) if window[1] else last
    return max(0, (hi - lo).days + 1)


def coverage_note(filters: Filters, data_range: tuple[date, date] | None) -> str | None:
    """ "data covers 12 of 91 days" when the data covers only part of a dated period (a
    comparison with it is then not like with like); None when it covers it all."""
    if filters.date_from is None or filters.date_to is None or data_range is None:
        return None
    days = (filters.date_to - filters.date_from).days + 1
    covered = overlap_days(filters.date_from, filters.date_to, data_range)
    return None if covered >= days else f"data covers {covered} of {days} days"


def period_label(iso: str, grain: str | None) -> str:
    """How a period reads on an axis or in a hover: "Aug 2026", "w/c 4 Aug 2026", "4 Aug 2026"."""
    try:
        day = date.fromisoformat(iso)
    except ValueError:  # "undated", a named period
        return iso
    if grain == "month":
        return f"{day:%b %Y}"
    text = f"{day.day} {day:%b %Y}"
    return f"w/c {text}" if grain == "week" else text


def part_label(grain: str | None, covered: int, days: int) -> str:
    """ "part week: 4 of 7 days covered" for a period the data or the filters only partly cover."""
    name = {"week": "week", "month": "month"}.get(grain or "", "period")
    return f"part {name}: {covered} of {days} days covered"


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


def local_time(
    column: ir.TimestampValue, offsets: Sequence[tuple[datetime | ir.TimestampValue, int]]
) -> ir.TimestampValue:
    """Naive UTC -> naive local wall-clock time, as a CASE over the zone's few transitions
    (portable: no backend time-zone functions); an instant may be an expression (a parameter)."""
    if len(offsets) == 1:
        return column + ibis.literal(offsets[0][1]).as_interval("s")
    branches = [(column >= instant, ibis.literal(seconds)) for instant, seconds in offsets[:0:-1]]
    seconds = ibis.cases(*branches, else_=ibis.literal(offsets[0][1]))
    return column + seconds.as_interval("s")
