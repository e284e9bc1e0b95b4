"""Business hours, set-wise: a calendar of working intervals and elapsed working time.

Elapsed business time between two instants is the length of their overlap with the working
intervals: by default Monday to Friday 09:00-17:00 Europe/London, minus the bank holidays of England
and Wales. Each day's local opening hours are converted to UTC with ``zoneinfo`` for that day, so a
working day keeps its eight hours across daylight-saving changes.

``business_seconds`` never walks rows in Python: it builds the (small) table of working intervals
with the cumulative working seconds before each, uploads it to the backend and answers every row
with two as-of joins, which any Ibis backend with as-of joins can run.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import ibis
import ibis.expr.types as ir
import pandas as pd

#: Regions a user can choose, as stored in settings; "none" means no bank holidays.
REGIONS: tuple[str, ...] = ("england-and-wales", "scotland", "northern-ireland", "none")

# The `holidays` package's UK subdivisions. England and Wales share their bank holidays.
_SUBDIVISIONS: dict[str, str | None] = {
    "england-and-wales": "ENG",
    "scotland": "SCT",
    "northern-ireland": "NIR",
    "none": None,
}

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
# Working intervals either side of the data's dates: covers any UTC offset (at most 14 h) and
# instants after the last interval of the last day.
_MARGIN = timedelta(days=3)
_MICROSECONDS = 1_000_000.0


def _default_weekly() -> dict[int, tuple[str, str] | None]:
    return {day: ("09:00", "17:00") for day in range(5)}


def _clock_seconds(text: str) -> int:
    """Seconds after midnight of an "HH:MM" clock time; "24:00" is the end of the day."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise ValueError(f"Business hours must look like '09:00', not {text!r}.")
    hour, minute = int(match[1]), int(match[2])
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise ValueError(f"{text!r} is not a time of day between 00:00 and 24:00.")
    return hour * 3600 + minute * 60


def _day_key(key: int | str) -> int:
    """A weekday number, Monday=0, from an int, a digit string (JSON keys) or a day name."""
    text = str(key).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, name in enumerate(_DAY_NAMES):
        if text in (name, name[:3]):
            return number
    raise ValueError(f"{key!r} is not a day of the week (Monday=0 .. Sunday=6).")


def _normalise_weekly(weekly: Mapping[Any, Any]) -> Mapping[int, tuple[str, str]]:
    days: dict[int, tuple[str, str]] = {}
    for key, hours in weekly.items():
        if hours is None:  # a closed day is the same as an absent one
            continue
        opens, closes = (str(part).strip() for part in hours)
        if _clock_seconds(opens) >= _clock_seconds(closes):
            raise ValueError(
                f"Opening time {opens} must be before closing time {closes}; "
                "split overnight hours over two days."
            )
        days[_day_key(key)] = (opens, closes)
    return MappingProxyType(dict(sorted(days.items())))


@dataclass(frozen=True)
class BusinessHours:
    """When the team works: local opening hours per weekday, a time zone and a holiday region."""

    timezone: str = "Europe/London"
    #: Monday=0 .. Sunday=6 -> ("09:00", "17:00"); absent or None for a closed day.
    weekly: Mapping[int, tuple[str, str] | None] = field(
        default_factory=_default_weekly, hash=False
    )
    #: "england-and-wales", "scotland", "northern-ireland" or "none" (no bank holidays).
    region: str = "england-and-wales"

    def __post_init__(self) -> None:
        try:  # fail now, with the zone's name, rather than mid-query
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"Unknown time zone {self.timezone!r}: {error}") from None
        if self.region not in _SUBDIVISIONS:
            raise ValueError(f"Unknown holiday region {self.region!r}; choose one of {REGIONS}.")
        object.__setattr__(self, "weekly", _normalise_weekly(self.weekly))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, as stored in the settings table; ``from_dict`` reads it back."""
        return {
            "timezone": self.timezone,
            "weekly": {str(day): list(hours) for day, hours in self.weekly.items()},
            "region": self.region,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessHours:
        """Business hours from ``to_dict`` output (or its JSON); missing keys take the defaults."""
        defaults = cls()
        return cls(
            timezone=data.get("timezone", defaults.timezone),
            weekly=data.get("weekly", defaults.weekly),
            region=data.get("region", defaults.region),
        )


def bank_holidays(region: str, start: date, end: date) -> list[date]:
    """The bank holidays of a UK region between two dates inclusive, with substitute days.

    Taken from the ``holidays`` package's rules (no download): England and Wales, Scotland or
    Northern Ireland; "none" gives no holidays.
    """
    if region not in _SUBDIVISIONS:
        raise ValueError(f"Unknown holiday region {region!r}; choose one of {REGIONS}.")
    subdivision = _SUBDIVISIONS[region]
    if subdivision is None or end < start:
        return []
    calendar = holidays.country_holidays(
        "GB", subdiv=subdivision, years=range(start.year, end.year + 1)
    )
    return sorted(day for day in calendar if start <= day <= end)


def _local_to_utc(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """A local wall-clock time on a day as a naive UTC datetime, with that day's offset."""
    # "24:00" is midnight of the next day; fold=0 reads a repeated hour as its first occurrence
    # and a skipped one with the offset before the change.
    days, rest = divmod(seconds, 86400)
    clock = time(rest // 3600, rest % 3600 // 60)
    local = datetime.combine(day + timedelta(days=days), clock, tzinfo=zone)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def working_intervals(hours: BusinessHours, start: date, end: date) -> pd.DataFrame:
    """The working intervals of the local days start..end inclusive, in UTC.

    Columns: ``start_utc``, ``end_utc`` (naive datetime64 meaning UTC) and ``cum_before``, the
    working seconds of all earlier intervals, which turns elapsed working time into a difference
    of two look-ups.
    """
    zone = ZoneInfo(hours.timezone)
    closed = set(bank_holidays(hours.region, start, end))
    rows: list[tuple[datetime, datetime]] = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        opening = hours.weekly.get(day.weekday())
        if opening is None or day in closed:
            continue
        opens, closes = (_clock_seconds(text) for text in opening)
        begin, finish = _local_to_utc(day, opens, zone), _local_to_utc(day, closes, zone)
        if rows and begin < rows[-1][1]:
            # Only where a clock change repeats midnight: never count the same second twice.
            begin = rows[-1][1]
        if finish > begin:
            rows.append((begin, finish))
    frame = pd.DataFrame(rows, columns=["start_utc", "end_utc"])
    frame = frame.astype({"start_utc": "datetime64[us]", "end_utc": "datetime64[us]"})
    lengths = (frame["end_utc"] - frame["start_utc"]).dt.total_seconds()
    frame["cum_before"] = (lengths.cumsum() - lengths).astype("float64")
    return frame


def calendar_seconds(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    """Elapsed wall-clock seconds from start to end (negative when end is earlier)."""
    return end.delta(start, unit="microsecond") / _MICROSECONDS


def _date_range(
    backend: ibis.BaseBackend, table: ir.Table, columns: list[str]
) -> tuple[date, date]:
    """The first and last dates in the columns (one query); today when they are all null."""
    bounds = table.aggregate(
        **{f"lo{i}": table[c].min() for i, c in enumerate(columns)},
        **{f"hi{i}": table[c].max() for i, c in enumerate(columns)},
    )
    values = [pd.Timestamp(v) for v in backend.execute(bounds).iloc[0] if not pd.isna(v)]
    if not values:
        today = date.today()
        return today, today
    return min(values).date(), max(values).date()


def _intervals_table(
    backend: ibis.BaseBackend, hours: BusinessHours, start: date, end: date
) -> ir.Table:
    """The working intervals as a temporary backend table named after its content.

    The name is a digest of the hours and dates, so a second call never changes the table an
    earlier, not yet executed expression reads.
    """
    key = json.dumps([hours.to_dict(), start.isoformat(), end.isoformat()], sort_keys=True)
    name = "_kpi_working_intervals_" + hashlib.sha1(key.encode()).hexdigest()[:16]
    frame = working_intervals(hours, start, end)
    return backend.create_table(name, frame, temp=True, overwrite=True)


def _cumulative(joined: ir.Table, instant: str, prefix: str) -> ir.FloatingValue:
    """Working seconds from the first interval up to an instant.

    cum_before of the last interval starting at or before the instant, plus the part of that
    interval already worked; 0 before the first interval.
    """
    begin, finish = joined[f"{prefix}start"], joined[f"{prefix}end"]
    worked = ibis.least(joined[instant], finish).delta(begin, unit="microsecond") / _MICROSECONDS
    return (joined[f"{prefix}cum"] + worked).fill_null(0.0)


def business_seconds(
    backend: ibis.BaseBackend,
    table: ir.Table,
    start_col: str,
    end_col: str,
    hours: BusinessHours,
    out_col: str = "business_seconds",
    span: tuple[date, date] | None = None,
) -> ir.Table:
    """``table`` with ``out_col``: working seconds between two UTC instants.

    Both columns are naive timestamps meaning UTC. The value is the length of the overlap of
    [start, end] with the working intervals; null when either instant is null, 0 when end is not
    after start. Row order is not kept (as-of joins reorder), so keep a key column.

    ``span``, the first and last dates the instants fall on, saves a query over ``table`` when
    the caller knows them.
    """
    for column in (start_col, end_col):
        dtype = table[column].type()
        if not dtype.is_timestamp() or dtype.timezone is not None:
            raise TypeError(f"{column} must be a naive timestamp meaning UTC, not {dtype}.")
    first, last = span or _date_range(backend, table, [start_col, end_col])
    intervals = _intervals_table(backend, hours, first - _MARGIN, last + _MARGIN)
    joined = table
    for instant, prefix in ((start_col, "__bs_a_"), (end_col, "__bs_b_")):
        right = intervals.select(
            **{
                f"{prefix}start": intervals.start_utc,
                f"{prefix}end": intervals.end_utc,
                f"{prefix}cum": intervals.cum_before,
            }
        )
        joined = joined.asof_join(right, joined[instant] >= right[f"{prefix}start"])
    start, end = joined[start_col], joined[end_col]
    elapsed = ibis.cases(
        (start.isnull() | end.isnull(), ibis.null("float64")),
        (end <= start, ibis.literal(0.0)),
        else_=_cumulative(joined, end_col, "__bs_b_") - _cumulative(joined, start_col, "__bs_a_"),
    )
    columns = [joined[c] if c != out_col else elapsed.name(out_col) for c in table.columns]
    if out_col not in table.columns:
        columns.append(elapsed.name(out_col))
    return joined.select(*columns)
