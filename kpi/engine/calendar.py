"""Business hours, set-wise: a calendar of working intervals and elapsed working time.

Elapsed business time between two instants is the length of their overlap with the working
intervals: by default Monday to Friday 09:00-17:00 Europe/London, minus the bank holidays of England
and Wales. Each day's local opening hours are converted to UTC with ``zoneinfo`` for that day, so a
working day keeps its eight hours across daylight-saving changes.

Nothing here walks rows in Python. The (small) table of working intervals carries the working
seconds of all earlier intervals, so the working seconds "clocked" up to any instant are one as-of
join away, and elapsed working time is the difference of two such readings. DuckDB runs that
as-of join natively; on other backends (PostgreSQL, Spark) the same reading comes from an
equi-join on the instant's UTC day with ``day_pieces`` (the timeline cut at each interval's start
and at every UTC midnight), which needs no as-of join and gives the same figures. What the
business hours are (and their checks) is ``kpi.metrics.business_hours``, which settings store.

A report does not redo those joins. ``contact_clocks`` keeps, in the store, the calendar (one row
per working interval, for the configured hours, time zone and holidays) and each contact's
row, as stored, with its readings at its opening, first response and resolution;
``derived_tables`` records what each was built for, and a table is rebuilt only when that changes
(other business hours, an import, data beyond the calendar's years). A business-hours report then
reads its contacts from that one table and subtracts: no join. A store opened
read-only keeps the same tables for the process only (temporary tables), and a bare backend, whose
data has no version, gets them as expressions.

A report on a PostgreSQL or Spark store runs on a bare backend of the store's own
(``kpi.engine.backend.remote_backend``), which keeps the same two tables in that store
(``kpi.store.derived``), named after what they hold: ``kpi_calendar_<digest>`` of the hours and
the years covered, ``kpi_times_<digest>`` of that calendar and the contacts' version. The next
process finds them by name; other hours, other years or other data name other tables, and the
superseded ones go once no report can still be reading them. Where the login cannot write there,
or for hours that are not the store's own, the process keeps them for itself, as above.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import weakref
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.common.exceptions import TableNotFound

from kpi.engine.backend import CACHE
from kpi.errors import FIRST_YEAR, LAST_YEAR, ImplausibleDates
from kpi.metrics import business_hours as business_hours_module
from kpi.metrics.business_hours import BusinessHours, bank_holidays, clock_seconds
from kpi.metrics.registry import resolved_time_of
from kpi.metrics.settings import SETTINGS_KEY, Settings, load_settings
from kpi.store.connection import Store
from kpi.store.derived import DerivedTables

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


#: Backends whose as-of join is native and fast; the others read the calendar by day pieces.
_NATIVE_ASOF = frozenset({"duckdb"})


#: One row of ``day_pieces``: day, from, to (None: for ever), and the governing interval.
_Piece = tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp | None, pd.Timestamp, pd.Timestamp, float]


def day_pieces(intervals: pd.DataFrame) -> pd.DataFrame:
    """The timeline cut for a day-keyed join: each interval governs the readings from its start
    to the next interval's start (working, then idle), and that span is cut at UTC midnights.

    Columns: ``day`` (the UTC midnight of the piece), ``piece_from``, ``piece_to`` (naive UTC;
    null for the last interval's one piece, which runs on for ever as the as-of join's last
    match does: ``clocked`` reads instants after its day on its day), and the governing
    interval's ``start_utc``, ``end_utc`` and ``cum_before``. Before the first interval there is
    no piece (the reading is 0).
    """
    starts: list[pd.Timestamp] = [pd.Timestamp(t) for t in intervals["start_utc"]]
    ends: list[pd.Timestamp] = [pd.Timestamp(t) for t in intervals["end_utc"]]
    cums: list[float] = [float(c) for c in intervals["cum_before"]]
    rows: list[_Piece] = []
    for i, begin in enumerate(starts):
        governed = (begin, ends[i], cums[i])
        if i + 1 == len(starts):
            rows.append((begin.normalize(), begin, None, *governed))
            break
        stop, day = starts[i + 1], begin.normalize()
        while day < stop:
            upto = day + pd.Timedelta(days=1)
            rows.append((day, max(begin, day), min(upto, stop), *governed))
            day = upto
    columns = ["day", "piece_from", "piece_to", "start_utc", "end_utc", "cum_before"]
    frame = pd.DataFrame(rows, columns=columns)
    types = {c: "datetime64[us]" for c in columns if c != "cum_before"}
    return frame.astype({**types, "cum_before": "float64"})


@dataclass(frozen=True)
class Pieces:
    """``day_pieces`` as a backend table, and the day of its last piece (instants after it are
    read on it)."""

    table: ir.Table
    last_day: datetime | None


def calendar_seconds(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    """Elapsed wall-clock seconds from start to end (negative when end is earlier)."""
    return end.delta(start, unit="microsecond") / _MICROSECONDS


def _date_range(
    backend: ibis.BaseBackend, table: ir.Table, columns: Sequence[str]
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


@cache
def calendar_rules() -> str:
    """What, besides the business hours, decides a calendar's intervals: the code that builds
    it and reads it, the ``holidays`` package's rules and the time-zone database. A table
    built by another version of any of them is built again (a fixed rule, a new bank holiday,
    a changed offset), here and in a store others share."""
    import holidays

    digest = hashlib.sha256()
    for module in (__file__, business_hours_module.__file__):
        digest.update(Path(module).read_bytes())
    digest.update(f"holidays {holidays.__version__}; tz {_tz_version()}".encode())
    return digest.hexdigest()[:16]


def _tz_version() -> str:
    """The version of the time-zone database ``zoneinfo`` reads (the system's, else the
    ``tzdata`` package's)."""
    for folder in zoneinfo.TZPATH:
        with contextlib.suppress(OSError), open(Path(folder) / "tzdata.zi") as zi:
            return zi.readline().strip()
    with contextlib.suppress(ImportError):
        import tzdata

        return str(tzdata.IANA_VERSION)
    return "unknown"


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _temp_table(backend: ibis.BaseBackend, name: str, make: Any) -> ir.Table:
    """A temporary table ``name`` on this backend, made from ``make()`` (a frame or an
    expression) unless this backend already holds it. Names are content digests, so a second
    call never changes a table an earlier, not yet executed expression reads."""
    made = _MADE.setdefault(backend, set())
    if name in made:  # same content: uploading it again costs ~0.1 s per query built
        try:
            return backend.table(name)
        except TableNotFound:  # gone with its connection: make it again
            made.discard(name)
    content = make()
    try:
        table = backend.create_table(name, content, temp=True, overwrite=True)
    except NotImplementedError:
        # No temporary tables (PySpark): its views are temporary (session-local) instead.
        if isinstance(content, pd.DataFrame):
            content = ibis.memtable(content)
        table = backend.create_view(name, content, overwrite=True)
    made.add(name)
    return table


def _intervals_table(
    backend: ibis.BaseBackend, hours: BusinessHours, start: date, end: date
) -> ir.Table:
    """The working intervals as a temporary backend table named after its content."""
    name = "_kpi_working_intervals_" + _digest(hours.to_dict(), start, end)
    return _temp_table(backend, name, lambda: working_intervals(hours, start, end))


def _pieces_table(
    backend: ibis.BaseBackend, hours: BusinessHours, start: date, end: date
) -> Pieces | None:
    """``day_pieces`` of the working intervals of start..end as a temporary backend table, for
    a backend without a native as-of join; None on one with it (DuckDB)."""
    if backend.name in _NATIVE_ASOF:
        return None
    frame = day_pieces(working_intervals(hours, start, end))
    last = None if frame.empty else frame["day"].iloc[-1].to_pydatetime()
    name = "_kpi_day_pieces_" + _digest(hours.to_dict(), start, end)
    return Pieces(_temp_table(backend, name, lambda: frame), last)


#: The temporary tables each backend already holds (their names are content digests). They go
#: with the backend's connection: a cached query may still name one.
_MADE: weakref.WeakKeyDictionary[ibis.BaseBackend, set[str]] = weakref.WeakKeyDictionary()


def clocked(
    table: ir.Table,
    instants: dict[str, str],
    calendar: ir.Table,
    pieces: Pieces | None = None,
) -> ir.Table:
    """``table`` with, for each instant column, the working seconds clocked from the calendar's
    first interval up to that instant (output column name -> instant column).

    The reading is cum_before of the last interval starting at or before the instant, plus the
    part of that interval already worked; 0 before the first interval, null for a null instant.
    That interval is found by an as-of join on the calendar, or, given ``pieces`` of the same
    calendar, by a join on the instant's day (backends without a native as-of join). Row order
    is not kept (joins reorder).
    """
    joined = (
        _governing(table, instants, calendar)
        if pieces is None
        else _pieced(table, instants, pieces)
    )
    readings = {}
    for i, (out, instant) in enumerate(instants.items()):
        begin, finish = joined[f"__bs{i}_start"], joined[f"__bs{i}_end"]
        worked = (
            ibis.least(joined[instant], finish).delta(begin, unit="microsecond") / _MICROSECONDS
        )
        reading = (joined[f"__bs{i}_cum"] + worked).fill_null(0.0)
        readings[out] = ibis.ifelse(joined[instant].isnull(), ibis.null("float64"), reading)
    kept = [joined[c] for c in table.columns if c not in readings]
    return joined.select(*kept, **readings)


def _pieced(table: ir.Table, instants: dict[str, str], pieces: Pieces) -> ir.Table:
    """``table`` with each instant's governing interval (``__bs{i}_start``, ``_end``,
    ``_cum``), found among the pieces of its UTC day (instants after the last piece's day on
    that day): an equi-join any backend runs, with the as-of join's answer."""
    joined = table
    for i, instant in enumerate(instants.values()):
        p = pieces.table
        right = p.select(
            **{
                f"__bs{i}_day": p.day.date(),
                f"__bs{i}_from": p.piece_from,
                f"__bs{i}_to": p.piece_to,
                f"__bs{i}_start": p.start_utc,
                f"__bs{i}_end": p.end_utc,
                f"__bs{i}_cum": p.cum_before,
            }
        )
        at = joined[instant]
        day = at.date()
        if pieces.last_day is not None:
            day = ibis.least(day, ibis.literal(pieces.last_day.date(), type="date"))
        upto = right[f"__bs{i}_to"]
        on = [
            day == right[f"__bs{i}_day"],
            right[f"__bs{i}_from"] <= at,
            upto.isnull() | (at < upto),
        ]
        joined = joined.left_join(right, on).drop(f"__bs{i}_day", f"__bs{i}_from", f"__bs{i}_to")
    return joined


def _governing(table: ir.Table, instants: dict[str, str], calendar: ir.Table) -> ir.Table:
    """``table`` with each instant's governing interval, by an as-of join (DuckDB's own)."""
    joined = table
    for i, instant in enumerate(instants.values()):
        right = calendar.select(
            **{
                f"__bs{i}_start": calendar.start_utc,
                f"__bs{i}_end": calendar.end_utc,
                f"__bs{i}_cum": calendar.cum_before,
            }
        )
        joined = joined.asof_join(right, joined[instant] >= right[f"__bs{i}_start"])
    return joined


def between(
    start: ir.TimestampValue,
    end: ir.TimestampValue,
    start_clock: ir.FloatingValue,
    end_clock: ir.FloatingValue,
) -> ir.FloatingValue:
    """Working seconds from start to end, from the calendar's readings at each: null when
    either instant is null, 0 when end is not after start."""
    return ibis.cases(
        (start.isnull() | end.isnull(), ibis.null("float64")),
        (end <= start, ibis.literal(0.0)),
        else_=end_clock - start_clock,
    )


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
    _check_years(first, last)
    intervals = _intervals_table(backend, hours, first - _MARGIN, last + _MARGIN)
    pieces = _pieces_table(backend, hours, first - _MARGIN, last + _MARGIN)
    readings = clocked(table, {"__bs_a": start_col, "__bs_b": end_col}, intervals, pieces)
    elapsed = between(readings[start_col], readings[end_col], readings.__bs_a, readings.__bs_b)
    columns = [readings[c] if c != out_col else elapsed.name(out_col) for c in table.columns]
    if out_col not in table.columns:
        columns.append(elapsed.name(out_col))
    return readings.select(*columns)


# --- the calendar and each contact's clock, kept ------------------------------------------------

#: What ``contact_clocks`` gives per contact: the working seconds clocked (on one calendar) up to
#: its opening, first response and resolution (its resolution time, else its closing time).
CLOCK_COLUMNS = ("opened_cum", "first_response_cum", "resolved_cum")
#: The contacts' instants a calendar must cover.
_CONTACT_INSTANTS = ("opened_at", "first_response_at", "resolved_at", "closed_at")


@dataclass(frozen=True)
class Clocks:
    """What a report reads to measure business time: per contact (``source``, ``contact_id``,
    ``opened_at``), the readings of ``CLOCK_COLUMNS``, and the reading at the as-of instant.
    Working seconds between two instants are the difference of their readings."""

    times: ir.Table
    as_of: float
    #: Whether ``times`` holds each contact's whole row besides its readings (the store's own
    #: ``business_times``), so that a report reads its contacts from it with no join.
    rows: bool = False


@dataclass(frozen=True)
class _Kept:
    """Where a store's calendar and contact readings are, what they were built for, and the
    days the calendar covers."""

    calendar: str
    times: str
    #: A digest of what the tables were built for (business hours, data, days).
    content: str
    first: date
    last: date


#: The store's tables that keep the calendar and the contacts' readings (kpi.store.schema).
STORED_CALENDAR, STORED_TIMES = "business_calendar", "business_times"


def calendar_years(first: date, last: date) -> tuple[date, date]:
    """The days a kept calendar covers for instants from first to last: whole years, with one
    more either side, so that a day's UTC offset never matters and the next import rarely
    needs a longer calendar. Instants outside the years a report covers (a placeholder's
    0001-01-01 or 9999-12-31) are refused, naming them: a calendar over ten thousand years
    cannot be built, and the data profile refuses such a store before any report gets here."""
    _check_years(first, last)
    return date(first.year - 1, 1, 1), date(last.year + 1, 12, 31)


def _check_years(first: date, last: date) -> None:
    """Refuse instants outside the years business hours are built for (``kpi.errors``)."""
    if first.year < FIRST_YEAR or last.year > LAST_YEAR:
        raise ImplausibleDates(
            f"business hours cover {FIRST_YEAR}-{LAST_YEAR}, and the contacts' dates (or the "
            f"as-of date) run from {first.isoformat()} to {last.isoformat()}: correct the "
            "dates outside those years, or give an as-of date inside them."
        )


def contact_clocks(backend: ibis.BaseBackend, hours: BusinessHours, as_of: datetime) -> Clocks:
    """Every contact's readings on the business calendar, and the as-of instant's.

    For a store, the tables it keeps (rebuilt when stale); for a store opened read-only whose
    kept tables are stale or missing, temporary tables for this process; for a bare backend,
    expressions over a temporary calendar.
    """
    store = CACHE.store_of(backend)
    if store is None:
        remote = _kept_remotely(backend, hours, as_of)
        if remote is not None:
            return remote
        first, last = _instants_range(backend, as_of)
        years = calendar_years(first, last)
        calendar = _intervals_table(backend, hours, *years)
        pieces = _pieces_table(backend, hours, *years)
        times = _times_expr(backend, calendar, pieces)
        return Clocks(times, _reading(backend, calendar, as_of))
    kept = _kept(store, backend, hours, as_of)
    key = ("clock at", kept.content, as_of)  # the reading depends on the calendar alone
    reading = CACHE.derived(key)
    if reading is None:
        reading = _reading(backend, backend.table(kept.calendar), as_of)
        CACHE.keep_derived(key, reading)
    rows = kept.times == STORED_TIMES
    return Clocks(CACHE.table(backend, kept.times), reading, rows)


def _instants_range(backend: ibis.BaseBackend, as_of: datetime) -> tuple[date, date]:
    """The first date of the contacts' instants, and the last of theirs and the as-of instant.
    An as-of before the data needs no earlier calendar: an open clock then measures 0."""
    first, last = _date_range(backend, backend.table("contacts"), _CONTACT_INSTANTS)
    return first, max(last, as_of.date())


def _covers(kept: _Kept, as_of: datetime) -> bool:
    """Whether a kept calendar reaches past the as-of instant's day (in any time zone)."""
    return as_of.date() + _MARGIN <= kept.last


def _reading(backend: ibis.BaseBackend, calendar: ir.Table, instant: datetime) -> float:
    """The working seconds clocked up to one instant: ``clocked`` for a single value, with the
    same arithmetic (whole microseconds over a million, added to cum_before)."""
    last = calendar.filter(calendar.start_utc <= instant).order_by(calendar.start_utc.desc())
    found = backend.execute(last.limit(1))
    if found.empty:
        return 0.0
    row = found.iloc[0]
    begin, finish = pd.Timestamp(row.start_utc), pd.Timestamp(row.end_utc)
    worked = (min(pd.Timestamp(instant), finish) - begin) // pd.Timedelta(microseconds=1)
    return float(row.cum_before + worked / _MICROSECONDS)


def _times_expr(
    backend: ibis.BaseBackend,
    calendar: ir.Table,
    pieces: Pieces | None = None,
    rows: bool = False,
) -> ir.Table:
    """Each contact's readings of ``CLOCK_COLUMNS`` on ``calendar`` (through its ``pieces`` on
    a backend without a native as-of join), by its key (``source``, ``contact_id``,
    ``opened_at``); with ``rows``, after every column of its row as stored.

    The whole row is for the store's own table (``_build_stored``): a business-hours report
    then reads that one table where it would otherwise join a million readings back to their
    contacts by key, the costliest step of its query. That join is made here instead, once per
    version of the data (the readings are worked out on the key and the instants alone:
    carrying every column through the calendar's joins takes longer). Only there, because only
    there is the copy pruned when an undo or a catch-up takes contacts away
    (``kpi.store.batches.forget_kept_rows``): a table kept on a PostgreSQL or Spark store, or a
    temporary one, holds the key alone."""
    c = backend.table("contacts")
    t = c.select(
        "source", "contact_id", "opened_at", _fr=c.first_response_at, _res=resolved_time_of(c)
    )
    instants = dict(zip(CLOCK_COLUMNS, ("opened_at", "_fr", "_res"), strict=True))
    t = clocked(t, instants, calendar, pieces)
    if not rows:
        return t.select("source", "contact_id", "opened_at", *CLOCK_COLUMNS)
    t = t.select(_source=t.source, _id=t.contact_id, **{k: t[k] for k in CLOCK_COLUMNS})
    joined = c.left_join(t, [c.source == t._source, c.contact_id == t._id])
    return joined.select(*c.columns, *CLOCK_COLUMNS)


def times_shape(backend: ibis.BaseBackend) -> list[str]:
    """The columns the store's own table of readings holds (``_times_expr`` with ``rows``):
    the contacts' as they are now, then ``CLOCK_COLUMNS``. Part of what it was built for, so a
    table of another shape (from before a migration, or an older version) is rebuilt."""
    return [*backend.table("contacts").columns, *CLOCK_COLUMNS]


# --- keeping them up to date ---------------------------------------------------------------------


def _kept(store: Store, backend: ibis.BaseBackend, hours: BusinessHours, as_of: datetime) -> _Kept:
    """The kept tables for this store version and business hours, checked once per process
    (and again when the as-of instant falls past the calendar's last day).

    Only the store's own business hours are kept in the store: hours a caller passes in
    (a preview of other settings) would otherwise replace the tables every other reader of
    the store relies on, so they get temporary tables, as a read-only store does.
    """
    version = CACHE.version(store)
    stored = CACHE.writable(store) and _configured(store, version) == hours
    # Stored tables serve every cursor; temporary ones only the cursor that made them.
    owner = CACHE.store_token(store) if stored else CACHE.token(backend)
    key = ("business clocks", owner, version, _digest(hours.to_dict()))
    kept = CACHE.derived(key)
    if not _usable(kept, store, as_of):
        with CACHE.derived_lock:
            kept = CACHE.derived(key)
            if not _usable(kept, store, as_of):
                kept = (_build_stored if stored else _build_temporary)(store, backend, hours, as_of)
                CACHE.keep_derived(key, kept)
    return kept


def _configured(store: Store, version: str | None) -> BusinessHours:
    """The store's own business hours (read once per store version)."""
    key = ("configured hours", CACHE.store_token(store), version)
    hours = CACHE.derived(key)
    if hours is None:
        hours = load_settings(store).calendar()
        # Store.get_setting leaves its one row unfetched on this thread's cursor, and DuckDB
        # refuses the Ibis backend's next query on it until the result is finished.
        store.cursor().fetchall()
        CACHE.keep_derived(key, hours)
    return hours


def _usable(kept: _Kept | None, store: Store, as_of: datetime) -> bool:
    """Whether tables found earlier still serve: the calendar reaches past as-of, and stored
    tables still hold what they held then. (The store's version alone does not say so: settings
    changed and changed back give the same version, with other hours in the tables meanwhile.)"""
    if kept is None or not _covers(kept, as_of):
        return False
    if kept.calendar != STORED_CALENDAR:
        return True  # temporary tables are named after their content
    return CACHE.derived(("stored clocks", CACHE.store_token(store))) == kept


def _built_for(backend: ibis.BaseBackend) -> dict[str, dict[str, Any]]:
    """What each kept table was built for (``derived_tables``), by table name."""
    rows = backend.execute(backend.table("derived_tables"))
    return {r["name"]: json.loads(r["built_for"]) for r in rows.to_dict("records")}


def _data_version(backend: ibis.BaseBackend) -> list[Any]:
    """What moves on with every import and undo (as the store's version does), the number of
    contacts, and a digest of the whole history of imports: the data the contacts' readings
    were worked out from. The history, not just its counts: a working copy whose own import
    was refused catches up with another person's, which can have the same batch number and
    counts (an import that only updates rows adds none) and other contents."""
    imports, contacts = backend.table("imports"), backend.table("contacts")
    history = backend.execute(
        imports.select("batch_id", "sha256", "imported_at", "undone_at").order_by("batch_id")
    )
    undone = int(history.undone_at.notna().sum())
    last = int(history.batch_id.max()) if len(history) else 0
    count = int(backend.execute(contacts.count()))
    digest = hashlib.sha256(history.astype(str).to_csv(index=False).encode()).hexdigest()
    return [len(history), last, undone, count, digest[:16]]


def _calendar_for(
    hours: BusinessHours, need: tuple[date, date], built: dict[str, Any] | None
) -> dict[str, Any]:
    """What the calendar must be built for: the hours, over whole years covering ``need``;
    a calendar built for the same hours that covers them is kept, and one that covers only
    some of them is lengthened (its first day, so every reading, kept where it can be)."""
    first, last = calendar_years(*need)
    rules = calendar_rules()
    if built and built.get("hours") == hours.to_dict() and built.get("rules") == rules:
        old_first, old_last = date.fromisoformat(built["first"]), date.fromisoformat(built["last"])
        first, last = min(first, old_first), max(last, old_last)
    return {
        "hours": hours.to_dict(),
        "rules": rules,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }


def _build_stored(
    store: Store, backend: ibis.BaseBackend, hours: BusinessHours, as_of: datetime
) -> _Kept:
    """Check the store's kept tables against the hours and the data, rebuilding what is stale
    in one transaction."""
    built = _built_for(backend)
    calendar = _calendar_for(hours, _instants_range(backend, as_of), built.get(STORED_CALENDAR))
    times = _times_for(backend, hours, calendar)
    stale = {
        name: wanted
        for name, wanted in ((STORED_CALENDAR, calendar), (STORED_TIMES, times))
        if built.get(name) != wanted
    }
    kept = _stored_kept(calendar, times)
    # Forgotten first: should the rebuild fail, nothing claims the tables' content.
    CACHE.keep_derived(("stored clocks", CACHE.store_token(store)), None)
    if stale:
        with CACHE.writing(store) as writer:
            if STORED_CALENDAR in stale:
                first, last = (date.fromisoformat(calendar[k]) for k in ("first", "last"))
                frame = working_intervals(hours, first, last)
                writer.insert(STORED_CALENDAR, frame, overwrite=True)
            if STORED_TIMES in stale:
                expr = _times_expr(writer, writer.table(STORED_CALENDAR), rows=True)
                # Made anew, not refilled: its columns follow the contacts'. In opening order,
                # so that a period's rows are a few adjacent row groups.
                writer.create_table(STORED_TIMES, expr.order_by("opened_at"), overwrite=True)
            _record(writer, stale)
        CACHE.rebuilt(store)
    CACHE.keep_derived(("stored clocks", CACHE.store_token(store)), kept)
    return kept


def _times_for(
    backend: ibis.BaseBackend, hours: BusinessHours, calendar: dict[str, Any]
) -> dict[str, Any]:
    """What the contacts' readings must be built for: the hours and calendar they read, the
    data's version and the columns they hold (``times_shape``)."""
    return {
        "hours": hours.to_dict(),
        "rules": calendar["rules"],
        "calendar_first": calendar["first"],
        "data": _data_version(backend),
        "columns": times_shape(backend),
    }


def _stored_kept(calendar: dict[str, Any], times: dict[str, Any]) -> _Kept:
    """The stored tables, with what they were built for."""
    first, last = (date.fromisoformat(calendar[k]) for k in ("first", "last"))
    return _Kept(STORED_CALENDAR, STORED_TIMES, _digest(calendar, times), first, last)


def _record(writer: ibis.BaseBackend, rebuilt: dict[str, dict[str, Any]]) -> None:
    """Note in ``derived_tables`` what the rebuilt tables were built for, and when."""
    table = writer.table("derived_tables")
    rows = writer.execute(table.filter(~table.name.isin(list(rebuilt))))
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("us")
    new = pd.DataFrame(
        {
            "name": list(rebuilt),
            "built_for": [json.dumps(v, sort_keys=True) for v in rebuilt.values()],
            "built_at": [now] * len(rebuilt),
        }
    )
    frame = pd.concat([rows, new], ignore_index=True).astype({"built_at": "datetime64[us]"})
    writer.insert("derived_tables", frame, overwrite=True)


def _build_temporary(
    store: Store, backend: ibis.BaseBackend, hours: BusinessHours, as_of: datetime
) -> _Kept:
    """The kept tables when the store cannot be written: the stored ones where they are current
    (a store written earlier and opened read-only), else temporary tables on this backend."""
    need = _instants_range(backend, as_of)
    if _has_derived_tables(backend):
        kept = _stored_if_current(store, backend, hours, need)
        if kept is not None and _covers(kept, as_of):
            return kept
    first, last = calendar_years(*need)
    calendar_name = "_kpi_calendar_" + _digest(hours.to_dict(), first, last)
    calendar = _temp_table(backend, calendar_name, lambda: working_intervals(hours, first, last))
    times_name = "_kpi_times_" + _digest(calendar_name, _data_version(backend))
    _temp_table(backend, times_name, lambda: _times_expr(backend, calendar).order_by("opened_at"))
    return _Kept(calendar_name, times_name, times_name, first, last)


def _has_derived_tables(backend: ibis.BaseBackend) -> bool:
    try:
        backend.table("derived_tables")
    except TableNotFound:  # a read-only store from before the tables (never migrated)
        return False
    return True


def _stored_if_current(
    store: Store, backend: ibis.BaseBackend, hours: BusinessHours, need: tuple[date, date]
) -> _Kept | None:
    """The stored tables, when they were built for these hours and this data (a store written
    earlier and opened read-only now); None otherwise."""
    built = _built_for(backend)
    calendar, times = built.get(STORED_CALENDAR), built.get(STORED_TIMES)
    if not calendar or not times or calendar.get("hours") != hours.to_dict():
        return None
    if calendar.get("rules") != calendar_rules():
        return None
    if times != _times_for(backend, hours, calendar) or need[0] < date.fromisoformat(
        calendar["first"]
    ):
        return None
    kept = _stored_kept(calendar, times)
    CACHE.keep_derived(("stored clocks", CACHE.store_token(store)), kept)
    return kept


# --- kept in a store named by URL ----------------------------------------------------------------

#: Prefixes of the derived tables kept in a PostgreSQL or Spark store (``kpi.store.derived``).
KEPT_CALENDAR, KEPT_TIMES = "kpi_calendar_", "kpi_times_"


@dataclass(frozen=True)
class _Remote:
    """A store named by URL's kept tables, as this process found or built them."""

    kept: _Kept
    calendar: ir.Table
    times: ir.Table
    readings: dict[datetime, float]


def _kept_remotely(
    backend: ibis.BaseBackend, hours: BusinessHours, as_of: datetime
) -> Clocks | None:
    """The readings of a backend on a store named by URL from the tables kept in that store
    (``kpi.store.derived``), made there when missing; None when the backend keeps none, the hours
    are not the store's own (a preview of other settings), or the login cannot write them.

    The tables are named after what they hold: the calendar after the hours and the years it
    covers, the readings after the calendar and the contacts' version. A table found under its
    name is current; a new one makes the last of its kind superseded. Found once per backend
    (a report's backend on a store named by URL reads it for one command)."""
    tables = CACHE.derived_tables(backend)
    if tables is None:
        return None
    key = ("kept remotely", CACHE.token(backend), _digest(hours.to_dict()))
    with CACHE.derived_lock:
        found = CACHE.derived(key)
        if found is None or not _covers(found.kept, as_of):
            if _store_hours(tables) != hours:
                return None
            found = _find_or_build(tables, backend, hours, as_of)
            if found is None:
                return None
            CACHE.keep_derived(key, found)
        reading = found.readings.get(as_of)
        if reading is None:
            reading = _reading(backend, found.calendar, as_of)
            found.readings[as_of] = reading
    return Clocks(found.times, reading)


def _store_hours(tables: DerivedTables) -> BusinessHours:
    """The business hours the store's own settings say."""
    stored = tables.setting(SETTINGS_KEY)
    settings = Settings.from_dict(json.loads(stored)) if stored else Settings()
    return settings.calendar()


def _find_or_build(
    tables: DerivedTables, backend: ibis.BaseBackend, hours: BusinessHours, as_of: datetime
) -> _Remote | None:
    """The kept calendar and readings for these hours, the data's years and its version."""
    first, last = calendar_years(*_instants_range(backend, as_of))
    calendar_name = KEPT_CALENDAR + _digest(hours.to_dict(), calendar_rules(), first, last)
    times_name = KEPT_TIMES + _digest(calendar_name, tables.data_version())
    calendar = tables.find(calendar_name)
    if calendar is None:
        calendar = tables.build(calendar_name, _intervals_table(backend, hours, first, last))
        if calendar is None:
            return None
    times = tables.find(times_name)
    if times is None:
        pieces = _pieces_table(backend, hours, first, last)
        # In opening order, so that a period's rows are a few adjacent row groups.
        content = _times_expr(backend, calendar, pieces).order_by("opened_at")
        times = tables.build(times_name, content)
        if times is None:
            return None
    for name in (calendar_name, times_name):
        tables.tidy(name)
    kept = _Kept(calendar_name, times_name, times_name, first, last)
    return _Remote(kept, calendar, times, {})
