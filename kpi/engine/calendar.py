"""Business hours, set-wise: a calendar of working intervals and elapsed working time.

Elapsed business time between two instants is the length of their overlap with the working
intervals: by default Monday to Friday 09:00-17:00 Europe/London, minus the bank holidays of England
and Wales. Each day's local opening hours are converted to UTC with ``zoneinfo`` for that day, so a
working day keeps its eight hours across daylight-saving changes.

``business_seconds`` never walks rows in Python: it builds the (small) table of working intervals
with the cumulative working seconds before each, uploads it to the backend and answers every row
with two as-of joins, which any Ibis backend with as-of joins can run. What the business hours
are (and their checks) is ``kpi.metrics.business_hours``, which settings store.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.common.exceptions import TableNotFound

from kpi.metrics.business_hours import BusinessHours, bank_holidays, clock_seconds

# Working intervals either side of the data's dates: covers any UTC offset (at most 14 h) and
# instants after the last interval of the last day.
_MARGIN = timedelta(days=3)
_MICROSECONDS = 1_000_000.0


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
        opens, closes = (clock_seconds(text) for text in opening)
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
    made = _MADE.setdefault(backend, set())
    if name in made:  # same content: uploading it again costs ~0.1 s per query built
        try:
            return backend.table(name)
        except TableNotFound:  # gone with its connection: make it again
            made.discard(name)
    frame = working_intervals(hours, start, end)
    table = backend.create_table(name, frame, temp=True, overwrite=True)
    made.add(name)
    return table


#: The working-interval tables each backend already holds (their names are content digests).
_MADE: weakref.WeakKeyDictionary[ibis.BaseBackend, set[str]] = weakref.WeakKeyDictionary()


def _cumulative(joined: ir.Table, instant: str, prefix: str) -> ir.FloatingValue:
    """Working seconds from the first interval up to an instant.

    cum_before of the last interval starting at or before the instant, plus the part of that
    interval already worked; 0 before the first interval.
    """
    begin, finish = joined[f"{prefix}start"], joined[f"{prefix}end"]
    worked = ibis.least(joined[instant], finish).delta(begin, unit="microsecond") / _MICROSECONDS
    return (joined[f"{prefix}cum"] + worked).fill_null(0.0)


def _check_naive_utc(table: ir.Table, columns: tuple[str, ...]) -> None:
    for column in columns:
        dtype = table[column].type()
        if not dtype.is_timestamp() or dtype.timezone is not None:
            raise TypeError(f"{column} must be a naive timestamp meaning UTC, not {dtype}.")


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
    _check_naive_utc(table, (start_col, end_col))
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
