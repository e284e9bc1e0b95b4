"""SQL expressions that turn source text into canonical values, set-wise in DuckDB.

Every value that comes from a layout or mapping file (formats, words, patterns) reaches SQL as
a named parameter; identifiers are the importer's own positional column names (c0, c1, ...).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from kpi.errors import FIRST_YEAR, LAST_YEAR, ImportProblem

TRUE_WORDS = ("y", "yes", "true", "t", "1", "x")
FALSE_WORDS = ("n", "no", "false", "f", "0")

# Built-in synonyms for the canonical category words, so that most exports need no [values].
SYNONYMS: dict[str, dict[str, str]] = {
    "status": {
        "new": "open", "open": "open", "active": "open", "in progress": "open",
        "assigned": "open", "pending": "pending", "waiting": "pending",
        "waiting on customer": "pending", "waiting on third party": "pending",
        "awaiting customer": "pending", "snoozed": "pending", "on-hold": "on_hold",
        "on hold": "on_hold", "hold": "on_hold", "on_hold": "on_hold", "solved": "resolved",
        "resolved": "resolved", "done": "resolved", "closed": "closed",
    },
    "priority": {
        "low": "low", "lowest": "low", "4 - low": "low", "normal": "normal",
        "medium": "normal", "moderate": "normal", "3 - moderate": "normal", "high": "high",
        "highest": "urgent", "2 - high": "high", "urgent": "urgent", "critical": "urgent",
        "1 - critical": "urgent",
    },
    "channel": {
        "email": "email", "e-mail": "email", "mail": "email", "phone": "phone",
        "call": "phone", "voice": "phone", "telephone": "phone", "phone call (inbound)": "phone",
        "chat": "chat", "live chat": "chat", "messaging": "chat", "web chat": "chat",
        "social": "social", "twitter": "social", "facebook": "social", "instagram": "social",
        "whatsapp": "social", "web": "web", "web form": "web", "webform": "web",
        "portal": "web", "self service": "web", "in person": "in_person",
        "in_person": "in_person", "walk-in": "in_person", "post": "post", "letter": "post",
        "postal mail": "post", "other": "other",
    },
}  # fmt: skip

_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", " %H:%M:%S.%f")
ISO_LOCAL = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f",
    "%Y/%m/%d %H:%M", "%Y/%m/%d",
)  # fmt: skip
ISO_UTC = (
    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S UTC",
    "%Y-%m-%d %H:%M:%S.%f UTC",
)  # fmt: skip
ISO_OFFSET = (
    "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S %z",
)  # fmt: skip


def _family(day: str, month: str) -> tuple[str, ...]:
    # Two-digit years first: "%y" cannot swallow a four-digit year, but "%Y" reads "25" as 25 AD.
    numeric = tuple(
        f"{a}{sep}{b}{sep}{year}{time}"
        for year in ("%y", "%Y")
        for sep in "/-."
        for time in _TIMES
        for a, b in ((day, month),)
    )
    # The month as a word: abbreviated ("14 Mar 2025") or in full ("14 March 2025"); DuckDB's
    # %b reads only the abbreviation, so a full name needs %B (it was reported as unreadable).
    named = tuple(
        f"%d{sep}{month}{sep}{year}{time}"
        for month in ("%b", "%B")
        for year in ("%y", "%Y")
        for sep in "/- "
        for time in _TIMES
    )
    return numeric + (named if day == "%d" else ())


DAY_FIRST = _family("%d", "%m")
MONTH_FIRST = _family("%m", "%d") + (
    "%b %d, %Y", "%b %d, %Y %I:%M %p", "%B %d, %Y", "%B %d, %Y %I:%M %p", "%B %d, %Y %H:%M",
    "%B %d %Y", "%B %d %Y %H:%M", "%b %d %Y", "%b %d %Y %H:%M",
)  # fmt: skip


class Params:
    """Collects values for one statement and hands out their placeholders."""

    def __init__(self, prefix: str = "p", base: dict[str, Any] | None = None) -> None:
        # ``base`` carries the values of an enclosing statement (a subquery's parameters).
        self.prefix = prefix
        self.values: dict[str, Any] = dict(base or {})
        self._next = 0

    def __call__(self, value: Any) -> str:
        name = f"{self.prefix}{self._next}"
        self._next += 1
        self.values[name] = value
        return f"${name}"


@dataclass(frozen=True)
class DateParse:
    """How one timestamp column is read: explicit or detected formats plus the family label."""

    local: tuple[str, ...]
    utc: tuple[str, ...] = ()
    offset: tuple[str, ...] = ()
    epoch: bool = False
    label: str = ""
    family: str = ""  # iso, dmy, mdy or epoch when detected; "" when the user gave the format
    #: The whole column's numeric date shapes, when detection looked at them (so staging need
    #: not group every value again to check them).
    shapes: tuple[DateShape, ...] | None = field(default=None, compare=False, repr=False)

    def sql(self, value: str, timezone: str, p: Params, offsets: Sequence[OffsetRun] = ()) -> str:
        """SQL reading ``value`` as a naive UTC timestamp. ``offsets`` (``utc_offsets``) are
        stretches of local time over which ``timezone`` keeps one UTC offset: a local time in
        one is moved by that offset, the same instant as the time-zone conversion gives, at a
        fraction of its cost; any other local time is converted."""
        tz = p(timezone) if self.local else ""
        if offsets and self.local:
            # One conversion of the first format that reads the value: a converted time is
            # never NULL, so this is the coalesce of each format's conversion.
            read = ", ".join(f"try_strptime({value}, {p(f)})" for f in self.local)
            local = f"coalesce({read})"
            shifts = " ".join(
                f"WHEN {local} >= {p(run.start)} AND {local} < {p(run.end)} "
                f"THEN {local} + to_microseconds({p(run.shift)})"
                for run in offsets
            )
            parts = [f"(CASE {shifts} ELSE timezone('UTC', timezone({tz}, {local})) END)"]
        else:
            parts = [
                f"timezone('UTC', timezone({tz}, try_strptime({value}, {p(f)})))"
                for f in self.local
            ]
        parts += [f"try_strptime({value}, {p(f)})" for f in self.utc]
        parts += [f"timezone('UTC', try_strptime({value}, {p(f)}))" for f in self.offset]
        if self.epoch:
            parts.append(
                f"CASE WHEN regexp_full_match({value}, '[0-9]{{9,11}}') "
                f"THEN timezone('UTC', to_timestamp(CAST({value} AS BIGINT))) END"
            )
        parsed = f"coalesce({', '.join(parts)})" if parts else "NULL::TIMESTAMP"
        # A two-digit year read by %Y lands in antiquity: that reading is refused. A year the
        # file writes with four digits (0001-01-01, 9999-12-31) is a date, if an impossible one:
        # it is read, and the import's date bounds (``checking``) set its row aside, saying why.
        # (In UTC the year may be the next or the one before: 9999-12-31T23:59-05:00.)
        year = f"year({parsed})"
        written = " OR ".join(
            f"contains({value}, printf('%04d', {year}{shift}))" for shift in ("", " + 1", " - 1")
        )
        usual = f"{year} BETWEEN {FIRST_YEAR} AND {LAST_YEAR}"
        return f"(CASE WHEN {usual} OR {written} THEN {parsed} END)"


@dataclass(frozen=True)
class OffsetRun:
    """Local times from ``start`` (inclusive) to ``end`` (exclusive) over which a time zone
    keeps one offset: the UTC instant of each is the local time plus ``shift`` microseconds."""

    start: dt.datetime
    end: dt.datetime
    shift: int


#: Local hours looked at for offsets (about eleven years); a wider spread is converted value by
#: value, as are times outside the hours looked at.
OFFSET_HOURS = 100_000
#: Stretches of one offset at most (two a year where clocks change); more are converted.
OFFSET_RUNS = 48

# Each local hour's offset at its first and last microsecond, from the time-zone conversion
# itself; an hour whose two differ holds a change of the clocks and is left out (its times are
# converted one by one). Consecutive hours of one offset make one stretch.
_OFFSET_RUNS_SQL = """
WITH h AS (
    SELECT unnest(generate_series(date_trunc('hour', $lo::TIMESTAMP),
                                  date_trunc('hour', $hi::TIMESTAMP), INTERVAL 1 HOUR)) AS h),
o AS (
    SELECT h,
        epoch_us(timezone('UTC', timezone($tz, h))) - epoch_us(h) AS a,
        epoch_us(timezone('UTC', timezone($tz, h + INTERVAL 3599999999 MICROSECONDS)))
            - epoch_us(h + INTERVAL 3599999999 MICROSECONDS) AS b
    FROM h),
g AS (
    SELECT h, a, b, sum(CASE WHEN a = b AND a = pa AND pa = pb THEN 0 ELSE 1 END)
        OVER (ORDER BY h) AS run
    FROM (SELECT *, lag(a) OVER (ORDER BY h) AS pa, lag(b) OVER (ORDER BY h) AS pb FROM o))
SELECT min(h), max(h) + INTERVAL 1 HOUR, any_value(a) FROM g WHERE a = b GROUP BY run ORDER BY 1
"""


def utc_offsets(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    locals_sql: Sequence[str],
    timezone: str,
    params: dict[str, Any] | None = None,
) -> tuple[OffsetRun, ...]:
    """The stretches of one UTC offset of ``timezone`` over the local times ``locals_sql``
    (expressions over ``rows``, a sample of the file will do: a time outside every stretch is
    converted as it always was), for ``DateParse.sql``; () when there are none to use."""
    if not locals_sql:
        return ()
    found = con.execute(
        f"SELECT quantile_disc(l, 0.001), quantile_disc(l, 0.999) FROM "
        f"(SELECT unnest([{', '.join(locals_sql)}]) AS l FROM {rows})",
        params or {},
    ).fetchall()
    lo, hi = found[0]
    if lo is None or hi is None or (hi - lo) > dt.timedelta(hours=OFFSET_HOURS):
        return ()
    runs = con.execute(_OFFSET_RUNS_SQL, {"lo": lo, "hi": hi, "tz": timezone}).fetchall()
    if len(runs) > OFFSET_RUNS:
        return ()
    return tuple(OffsetRun(start, end, int(shift)) for start, end, shift in runs)


FAMILIES = {
    "iso": DateParse(ISO_LOCAL, ISO_UTC, ISO_OFFSET, label="ISO 8601", family="iso"),
    "epoch": DateParse((), epoch=True, label="Unix time", family="epoch"),
    "dmy": DateParse(DAY_FIRST + ISO_LOCAL, ISO_UTC, ISO_OFFSET, label="day-first", family="dmy"),
    "mdy": DateParse(
        MONTH_FIRST + ISO_LOCAL, ISO_UTC, ISO_OFFSET, label="month-first", family="mdy"
    ),
    # Third-party APIs' own text (Twitter/X ``created_at``, email ``Date:`` headers): weekday and
    # month in words with an offset, so no order of day and month is assumed.
    "worded": DateParse(
        (),
        (),
        ("%a %b %d %H:%M:%S %z %Y", "%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M %z"),
        label="worded with an offset (e.g. Tue Oct 31 22:10:47 +0000 2017)",
        family="worded",
    ),
}
FORMAT_HINT = (
    "Give the column's format as date_format in a mapping file (strptime codes, "
    'e.g. "%d/%m/%Y %H:%M") and import with --mapping FILE.'
)
AMBIGUOUS_HINT = (
    'Add date_format = "%d/%m/%Y %H:%M" (UK) or "%m/%d/%Y %H:%M" (US) to a '
    "mapping file and import with --mapping FILE."
)
SAMPLE_ROWS = 20_000  # rows of the file looked at to detect a date format
SAMPLE_VALUES = 2_000  # distinct values of those tried against every candidate format


def explicit_dates(formats: str | Sequence[str]) -> DateParse:
    """The formats the user gave, tried in order; ISO 8601 values are accepted beside them
    (they are unambiguous). A format with ``%z`` reads only values with an offset."""
    given = (formats,) if isinstance(formats, str) else tuple(formats)
    label = ", then ".join(given)
    zoned = tuple(f for f in given if "%z" in f)
    local = tuple(f for f in given if "%z" not in f)
    if not local:
        return DateParse((), (), (*zoned, *ISO_OFFSET), label=label)
    return DateParse((*local, *ISO_LOCAL), ISO_UTC, (*zoned, *ISO_OFFSET), label=label)


@dataclass
class DateDetection:
    column: str
    field_name: str
    examples: list[str] = field(default_factory=list)


def detect_dates(
    con: duckdb.DuckDBPyConnection,
    table: str,
    value_sql: str,
    where: DateDetection,
    file: str,
    params: dict[str, Any] | None = None,
    sampled: str | None = None,
) -> DateParse:
    """The one date family that reads a sample of the column, or a clear error.

    Formats are tried on a sample of distinct values (cheap). When one family fits, the
    caller parses the whole column and hands what it could not read to ``complete_dates``;
    when day-first and month-first both fit the sample, the whole column decides here.
    """
    sample = f"date_sample_{uuid.uuid4().hex[:8]}"
    # ``sampled`` is ``table`` computed over a sample of the file's rows, when the caller has it.
    rows = sampled or f"(SELECT * FROM {table} USING SAMPLE reservoir({SAMPLE_ROWS} ROWS))"
    con.execute(
        f"""CREATE TEMP TABLE {sample} AS SELECT v FROM (SELECT DISTINCT {value_sql} AS v
            FROM {rows} WHERE {value_sql} IS NOT NULL)
            USING SAMPLE reservoir({SAMPLE_VALUES} ROWS) REPEATABLE (42)""",
        params or {},
    )
    if con.execute(f"SELECT count(*) FROM {sample}").fetchall()[0][0] < 50:
        # A mostly empty column: sample its values, not its rows.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {sample} AS SELECT v FROM (SELECT DISTINCT
                {value_sql} AS v FROM {table} WHERE {value_sql} IS NOT NULL)
                USING SAMPLE reservoir({SAMPLE_VALUES} ROWS) REPEATABLE (42)""",
            params or {},
        )
    try:
        return _decide(con, table, value_sql, sample, where, file, params or {})
    finally:
        con.execute(f"DROP TABLE IF EXISTS {sample}")


def _decide(con, table, value_sql, sample, where: DateDetection, file: str, params) -> DateParse:
    if con.execute(f"SELECT count(*) FROM {sample}").fetchall()[0][0] == 0:
        return FAMILIES["iso"]
    if _unread(con, sample, "v", FAMILIES["epoch"]) == []:
        return FAMILIES["epoch"]
    worded = _narrow(con, sample, FAMILIES["worded"])
    if (worded.local or worded.offset) and not _unread(con, sample, "v", worded):
        return worded
    fitting = {}
    for name in ("iso", "dmy", "mdy"):
        narrowed = _narrow(con, sample, FAMILIES[name])
        if not _unread(con, sample, "v", narrowed):
            fitting[name] = narrowed
    if "iso" in fitting:
        return fitting["iso"]
    if len(fitting) == 1:
        return _proved_alone(con, table, value_sql, params, fitting, where, file)
    # Day-first and month-first both read the sample, or neither does: the whole column decides.
    checked = {
        name: _widened(con, table, value_sql, p, FAMILIES[name], params)
        for name, p in fitting.items()
    }
    fitting = {name: parse for name, parse in checked.items() if parse is not None}
    if len(fitting) > 1:
        raise ImportProblem(
            f"{file}: column {where.column!r} ({where.field_name}) has dates that read both "
            f"day-first and month-first, e.g. {_examples(con, sample)}.",
            hint=AMBIGUOUS_HINT,
        )
    if fitting:
        return _proved_alone(con, table, value_sql, params, fitting, where, file)
    # No one order reads the column: two shapes of date, each proving its own order, may.
    shapes = date_shapes(con, table, value_sql, params)
    check_date_shapes(con, shapes, where, file)
    mixed = shaped_dates(shapes)
    if mixed is not None and not _unread(con, table, value_sql, mixed, params=params):
        return mixed
    _refuse_undated_rows(con, table, value_sql, where, file, params)
    unread = _unread(con, table, value_sql, FAMILIES["dmy"], params=params) or _unread(
        con, table, value_sql, FAMILIES["mdy"], params=params
    )
    shown = ", ".join(repr(v) for v in unread) or _examples(con, sample)
    first = _first_row(con, table, value_sql, unread, params)
    at = f" (the first at row {first.row:,})" if first and first.row else ""
    raise ImportProblem(
        f"{file}: column {where.column!r} ({where.field_name}): no single date format reads "
        f"every value (not read: {shown}{at}).",
        hint=FORMAT_HINT,
    )


# --- values that are no date at all -------------------------------------------------------------

UNREAD_HINT = (
    "Correct that value in the file and import again, or give the column's date_format in a "
    "mapping file and import with --mapping FILE (rows whose date it cannot read are then set "
    "aside, each with its row)."
)


@dataclass(frozen=True)
class FirstRow:
    """The first row (in file order) holding one of some values: its number and value, and
    how many rows hold any of them."""

    row: int
    value: str
    rows: int


def _first_row(
    con: duckdb.DuckDBPyConnection,
    table: str,
    value_sql: str,
    values: Sequence[str],
    params: dict[str, Any] | None = None,
) -> FirstRow | None:
    """Where ``values`` first occur in ``table``: by the file's ``_row`` when the table has
    it (an import's tables do), else the first value with no row (row 0)."""
    if not values:
        return None
    con.execute(f"SELECT * FROM {table} LIMIT 0", params or {})
    row_sql = "_row" if "_row" in [d[0] for d in con.description or []] else "0"
    found = con.execute(
        f"""SELECT min(r), arg_min(v, r), count(*) FROM (
                SELECT {row_sql} AS r, {value_sql} AS v FROM {table})
            WHERE v IN (SELECT unnest($first_row_values))""",
        {**(params or {}), "first_row_values": list(values)},
    ).fetchall()
    row, value, rows = found[0]
    return None if value is None else FirstRow(int(row), value, int(rows))


def _at_row(first: FirstRow) -> str:
    return f"row {first.row:,}, " if first.row else ""


def _no_date(con: duckdb.DuckDBPyConnection, values: list[str]) -> list[str]:
    """The ``values`` that no date format of any family reads (words, a misspelt month)."""
    if not values:
        return []
    every = replace(
        FAMILIES["dmy"],
        local=tuple(dict.fromkeys(DAY_FIRST + MONTH_FIRST + ISO_LOCAL)),
        offset=tuple(dict.fromkeys(ISO_OFFSET + FAMILIES["worded"].offset)),
        epoch=True,
    )
    return _unread(con, MISSED, "v", every, limit=MISSED_LIMIT, params={"missed": values})


def _refuse_undated_rows(
    con, table: str, value_sql: str, where: DateDetection, file: str, params
) -> None:
    """Refuse a column holding values that are no date at all, naming the first such row, its
    value, and how the other values read: listing good values as unread says nothing useful."""
    missed = _unread(con, table, value_sql, FAMILIES["dmy"], limit=MISSED_LIMIT, params=params)
    bad = _no_date(con, missed)
    first = _first_row(con, table, value_sql, bad, params)
    if first is None:
        return
    raise ImportProblem(
        _undated_message(con, table, value_sql, where, file, params, bad, first),
        hint=UNREAD_HINT,
    )


def _undated_message(
    con, table, value_sql, where: DateDetection, file: str, params, bad: list[str], first: FirstRow
) -> str:
    others = ""
    if first.rows > 1:
        others = f" ({first.rows:,} rows hold values that are not dates)"
    row_sql = "_row" if first.row else "0"
    good = con.execute(
        f"""SELECT v FROM (SELECT {row_sql} AS r, {value_sql} AS v FROM {table})
            WHERE v IS NOT NULL AND v NOT IN (SELECT unnest($undated)) ORDER BY r, v LIMIT 1""",
        {**(params or {}), "undated": bad},
    ).fetchall()
    if good:
        family = next(
            (
                FAMILIES[name].label
                for name in ("iso", "dmy", "mdy", "worded")
                if set(_unread(con, table, value_sql, FAMILIES[name], len(bad) + 1, params))
                <= set(bad)
            ),
            None,
        )
        read = f"read as {family}" if family else "read as dates"
        others += f"; the column's other values {read}, e.g. {good[0][0]!r}"
    return (
        f"{file}: {_at_row(first)}column {where.column!r} ({where.field_name}): cannot read "
        f"{first.value!r} as a date{others}."
    )


# --- a column holding two numeric date formats ---------------------------------------------

#: A date written day and month first or month and day first: two numbers of 1-2 digits, a
#: year of 2 or 4, and the two characters between them, which tell one format from another.
NUMERIC_DATE = r"^([0-9]{1,2})([^0-9:])([0-9]{1,2})([^0-9:])([0-9]{4}|[0-9]{2})([^0-9]|$)"
ORDER_LABELS = {"dmy": "day-first", "mdy": "month-first"}
ORDER_CODES = {"dmy": ("%d", "%m"), "mdy": ("%m", "%d")}


@dataclass(frozen=True)
class DateShape:
    """The values of a column written with one pair of separators (``22-04-2015`` is ``--``,
    ``4/8/2015`` is ``//``): how many, an example, and which order they prove, if any."""

    separators: str
    values: int
    example: str
    day_over_12: str | None  # a value whose first number is above 12: it must be day-first
    month_over_12: str | None  # a value whose second number is above 12: month-first
    # One value per way of writing it (digits counted, time or not), so a hint covers them all.
    variants: tuple[str, ...] = ()

    @property
    def order(self) -> str | None:
        """dmy or mdy when the values themselves prove it; None when every one reads both."""
        if self.day_over_12 and not self.month_over_12:
            return "dmy"
        if self.month_over_12 and not self.day_over_12:
            return "mdy"
        return None

    def formats(self, order: str) -> tuple[str, ...]:
        first, second = ORDER_CODES[order]
        prefix = f"{first}{self.separators[0]}{second}{self.separators[1]}"
        family = DAY_FIRST if order == "dmy" else MONTH_FIRST
        return _with_t(tuple(f for f in family if f.startswith(prefix)))


@dataclass(frozen=True)
class WordedDates:
    """Values that only one order reads (``22 Apr 2015``): how many and one per way of writing."""

    values: int
    variants: tuple[str, ...]


VARIANTS = 30  # ways of writing one shape looked at for a hint


def _with_t(formats: tuple[str, ...]) -> tuple[str, ...]:
    # ``22-04-2015T09:00``: the date and time joined by a T, as some exports write them.
    joined = tuple(f.replace(" %H", "T%H").replace(" %I", "T%I") for f in formats if " %" in f)
    return formats + joined


def date_shapes(
    con: duckdb.DuckDBPyConnection, table: str, value_sql: str, params: dict[str, Any] | None = None
) -> list[DateShape]:
    """The numeric date shapes of a whole column, commonest first (one grouped pass)."""
    p = Params("s", params)
    # Values first grouped by their digits masked (which fixes the separators, the year's length
    # and what follows it) and their first six characters (which hold the day and month), so the
    # pattern runs once per group rather than once per value: same shapes, a fraction of the time.
    rows = con.execute(
        f"""WITH g0 AS (
                SELECT translate(v, '0123456789', '9999999999') AS k, count(*) AS n,
                       min(v) AS v
                FROM (SELECT {value_sql} AS v FROM {table})
                GROUP BY k, left(v, 6) HAVING k IS NOT NULL),
            m AS (
                SELECT v, n, k, m.s1 || m.s2 AS s, TRY_CAST(m.a AS INTEGER) AS a,
                       TRY_CAST(m.b AS INTEGER) AS b
                FROM (SELECT v, n, k, regexp_extract(v, {p(NUMERIC_DATE)},
                             ['a', 's1', 'b', 's2', 'y', 'e']) AS m FROM g0)),
            g AS (
                SELECT s, k, sum(n) AS n, min(v) AS ex,
                       arg_max(v, a) FILTER (WHERE a > 12) AS d, max(a) FILTER (WHERE a > 12) AS da,
                       arg_max(v, b) FILTER (WHERE b > 12) AS mo, max(b) FILTER (WHERE b > 12) AS mb
                FROM m WHERE a IS NOT NULL AND b IS NOT NULL GROUP BY s, k)
            SELECT s, CAST(sum(n) AS BIGINT), min(ex), arg_max(d, da), arg_max(mo, mb),
                   list(ex ORDER BY n DESC, ex)[1:{VARIANTS}]
            FROM g GROUP BY s ORDER BY sum(n) DESC, s""",
        p.values,
    ).fetchall()
    return [
        DateShape(s, n, example, day, month, tuple(variants))
        for s, n, example, day, month, variants in rows
    ]


def column_shapes(
    con: duckdb.DuckDBPyConnection, table: str, value_sql: str, params: dict[str, Any] | None = None
) -> list[DateShape]:
    """The numeric date shapes of a whole column as ``check_date_shapes`` needs them: when every
    shape proves its order (the usual case), from a cheap pass that keeps no ways of writing
    (``variants``), which only a refusal shows; otherwise ``date_shapes``, whole."""
    proved = _proved_shapes(con, table, value_sql, params)
    return proved if proved is not None else date_shapes(con, table, value_sql, params)


def _proved_shapes(
    con: duckdb.DuckDBPyConnection, table: str, value_sql: str, params: dict[str, Any] | None
) -> list[DateShape] | None:
    """``date_shapes`` without its ``variants`` (and with any value above 12 as the evidence),
    or None when a shape has no value above 12 (it proves no order: ``date_shapes`` must say
    how it is written). ``NUMERIC_DATE`` looks at eleven characters at most (two, a separator,
    two, a separator, four, one after), so values are grouped by those and the pattern runs on
    one value of each group (an aggregate, which keeps it from being pushed below the grouping):
    no per-character mask of every value is needed. Empty values make one group of their own
    (a NULL key), dropped after grouping: filtering them out before it took DuckDB about twice
    the CPU for the pass (0.27 against 0.14 s a column at 1M rows)."""
    p = Params("s", params)
    rows = con.execute(
        f"""WITH g0 AS (
                SELECT left(v, 11) AS h, count(*) AS n, min(v) AS v
                FROM (SELECT {value_sql} AS v FROM {table}) GROUP BY h HAVING h IS NOT NULL),
            m AS (
                SELECT v, n, m.s1 || m.s2 AS s, TRY_CAST(m.a AS INTEGER) AS a,
                       TRY_CAST(m.b AS INTEGER) AS b
                FROM (SELECT v, n, regexp_extract(v, {p(NUMERIC_DATE)},
                             ['a', 's1', 'b', 's2', 'y', 'e']) AS m FROM g0))
            SELECT s, CAST(sum(n) AS BIGINT), min(v), arg_max(v, a) FILTER (WHERE a > 12),
                   arg_max(v, b) FILTER (WHERE b > 12)
            FROM m WHERE a IS NOT NULL AND b IS NOT NULL GROUP BY s ORDER BY sum(n) DESC, s""",
        p.values,
    ).fetchall()
    shapes = [DateShape(s, n, example, day, month) for s, n, example, day, month in rows]
    if any(not (s.day_over_12 or s.month_over_12) for s in shapes):
        return None
    return shapes


def worded_dates(
    con: duckdb.DuckDBPyConnection, table: str, value_sql: str, order: str, params=None
) -> WordedDates:
    """The values of a column that ``order`` reads and the other order does not."""
    other = FAMILIES["mdy" if order == "dmy" else "dmy"]
    p = Params("w", params)
    rows = con.execute(
        f"""SELECT k, count(*), min(v) FROM (
                SELECT v, regexp_replace(v, '[0-9]', '9', 'g') AS k
                FROM (SELECT {value_sql} AS v FROM {table})
                WHERE v IS NOT NULL AND {other.sql("v", "UTC", p)} IS NULL)
            GROUP BY k ORDER BY count(*) DESC, k""",
        p.values,
    ).fetchall()
    return WordedDates(sum(r[1] for r in rows), tuple(r[2] for r in rows[:VARIANTS]))


def _proved_alone(
    con, table, value_sql, params, fitting: dict[str, DateParse], where: DateDetection, file: str
) -> DateParse:
    """The one order that reads the column, unless a shape of its numeric dates reads either
    way round: then the order came from other values (``22 Apr 2015`` beside ``4/8/2015``),
    and one format's order is never assumed for another."""
    name, parse = next(iter(fitting.items()))
    shapes = column_shapes(con, table, value_sql, params)
    if any(s.order is None and not (s.day_over_12 or s.month_over_12) for s in shapes):
        worded = worded_dates(con, table, value_sql, name, params)
        check_date_shapes(con, shapes, where, file, order=name, worded=worded)
    return replace(parse, shapes=tuple(shapes))


def check_date_shapes(
    con: duckdb.DuckDBPyConnection,
    shapes: list[DateShape],
    where: DateDetection,
    file: str,
    *,
    order: str | None = None,
    worded: WordedDates | None = None,
) -> None:
    """Refuse a column whose numeric dates come in two shapes when one shape proves its order
    and another does not: the second is never assumed to follow the first (``22-04-2015`` text
    beside a spreadsheet's ``4/8/2015``: 4 August or 8 April?). ``order`` and ``worded`` say
    that values of no numeric shape (a month written as a word) proved the order."""
    proved = [s for s in shapes if s.order]
    unproved = [s for s in shapes if s.order is None and not (s.day_over_12 or s.month_over_12)]
    if not unproved:
        return
    other = unproved[0]
    if proved:
        known = proved[0]
        way = known.order or "dmy"
        evidence = known.day_over_12 if way == "dmy" else known.month_over_12
        said = f"{_values(known.values)} written like {known.example!r} ({ORDER_LABELS[way]}, as {evidence!r} shows)"
        first = _formats_for(con, known.variants, known.formats(way))
    elif order and worded and worded.values:
        way, example = order, worded.variants[0]
        said = f"{_values(worded.values)} written like {example!r} (the month as a word, read {ORDER_LABELS[way]})"
        family = DAY_FIRST if way == "dmy" else MONTH_FIRST
        first = _formats_for(con, worded.variants, _with_t(family))
    else:
        return
    raise ImportProblem(
        f"{file}: column {where.column!r} ({where.field_name}) holds two date formats: "
        f"{said} and {other.values:,} like {other.example!r}, which read either "
        "way round (no day above 12); one format's order is never assumed for another.",
        hint=_shapes_hint(con, first, other),
    )


def _values(n: int) -> str:
    return f"{n:,} value" if n == 1 else f"{n:,} values"


def _formats_for(
    con: duckdb.DuckDBPyConnection, variants: tuple[str, ...], candidates: tuple[str, ...]
) -> list[str] | None:
    """For each way of writing (``variants``), the first candidate format that reads it; None
    when one of them is read by none (then no list of formats is offered)."""
    chosen: list[str] = []
    for value in variants:
        fmt = next((f for f in candidates if _strptime(con, value, f) is not None), None)
        if fmt is None:
            return None
        if fmt not in chosen:
            chosen.append(fmt)
    return chosen


def _strptime(con: duckdb.DuckDBPyConnection, value: str, fmt: str) -> dt.datetime | None:
    return con.execute("SELECT try_strptime(?, ?)", [value, fmt]).fetchall()[0][0]


def _shapes_hint(con: duckdb.DuckDBPyConnection, first: list[str] | None, other: DateShape) -> str:
    """The two date_format lists to choose from (read 4 August or 8 April), each reading every
    way the column writes its dates; the plain format hint when no list would."""
    choices = []
    for way in ("dmy", "mdy"):
        second = _formats_for(con, other.variants or (other.example,), other.formats(way))
        if first is None or second is None:
            return FORMAT_HINT
        when = next(filter(None, (_strptime(con, other.example, f) for f in second)), None)
        formats = ", ".join(f'"{f}"' for f in first + second)
        if when is not None:
            choices.append(f"[{formats}] if it is {when:%-d %B %Y}")
    if len(choices) < 2:
        return FORMAT_HINT
    return (
        f"Give date_format = {' or '.join(choices)} in a mapping file (formats are tried "
        "in order) and import with --mapping FILE."
    )


def shaped_dates(shapes: list[DateShape]) -> DateParse | None:
    """Every numeric shape proves its own order and they differ (``22-04-2015`` beside
    ``4/18/2015``): each shape read in its own order; None when that does not hold."""
    orders = {s.order for s in shapes}
    if len(shapes) < 2 or None in orders or len(orders) < 2:
        return None
    local = tuple(f for s in shapes for f in s.formats(s.order or "dmy"))
    label = ", ".join(f"{ORDER_LABELS[s.order or 'dmy']} ({s.example!r})" for s in shapes)
    return DateParse((*local, *ISO_LOCAL), ISO_UTC, ISO_OFFSET, label=label)


MISSED = "(SELECT unnest($missed) AS v)"  # the values a parse missed, as a table of ``v``
MISSED_LIMIT = 2000  # distinct missed values looked at; more means the format is wrong


def complete_dates(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    parse: DateParse,
    timezone: str,
    where: DateDetection,
    file: str,
) -> DateParse:
    """After a detected format parsed the whole column (``name`` from ``name__raw`` in
    ``table``): read what it missed with more formats of its family, or stop with the values
    that no format of the family reads."""
    raw = f"{name}__raw"
    missed = con.execute(
        f"SELECT DISTINCT {raw} FROM {table} WHERE {raw} IS NOT NULL AND {name} IS NULL "
        f"LIMIT {MISSED_LIMIT}"
    ).fetchall()
    if not missed or not parse.family:
        return parse
    values = [r[0] for r in missed]
    merged, unread = _read_missed(con, parse, values, timezone, where, file)
    if unread or len(values) == MISSED_LIMIT:
        _refuse_missed(con, table, name, parse, unread or values[:1], where, file)
    p = Params("u")
    con.execute(
        f"UPDATE {table} SET {name} = {merged.sql(raw, timezone, p)} "
        f"WHERE {raw} IS NOT NULL AND {name} IS NULL",
        p.values,
    )
    return merged


def _refuse_missed(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    parse: DateParse,
    unread: list[str],
    where: DateDetection,
    file: str,
) -> None:
    """The detected family read most of the column but not ``unread``: say the first row
    holding one of them, its value and what to do."""
    raw = f"{name}__raw"
    first = _first_row(con, table, raw, unread)
    shown = ", ".join(repr(v) for v in unread)
    if first is None:  # not expected: the values came from this table
        raise ImportProblem(
            f"{file}: column {where.column!r} ({name}): no single date format reads every value "
            f"(read as {parse.label}, but not: {shown}).",
            hint=FORMAT_HINT,
        )
    if not _no_date(con, [first.value]):  # a date, but of another family: two orders mixed
        raise ImportProblem(
            f"{file}: {_at_row(first)}column {where.column!r} ({name}): {first.value!r} is "
            f"not {parse.label} like the column's other values (not read: {shown}).",
            hint=FORMAT_HINT,
        )
    more = f" ({first.rows:,} rows like it)" if first.rows > 1 else ""
    raise ImportProblem(
        f"{file}: {_at_row(first)}column {where.column!r} ({name}): cannot read "
        f"{first.value!r} as a date{more}; the column's other values read as {parse.label}.",
        hint=UNREAD_HINT,
    )


def _read_missed(
    con: duckdb.DuckDBPyConnection,
    parse: DateParse,
    values: list[str],
    timezone: str,
    where: DateDetection,
    file: str,
) -> tuple[DateParse, list[str]]:
    """``parse`` with the formats of its family that the missed ``values`` need, and up to three
    values it still cannot read."""
    extra = _narrow(con, MISSED, FAMILIES[parse.family], {"missed": values})
    merged = _with_formats(parse, extra)
    p = Params("c")
    unread = con.execute(
        f"SELECT v FROM {MISSED} WHERE {merged.sql('v', timezone, p)} IS NULL LIMIT 3",
        {**p.values, "missed": values},
    ).fetchall()
    if unread and parse.family == "iso" and len(values) < MISSED_LIMIT:
        # The sample was all ISO, the rest is not: ISO values read the same day-first or
        # month-first, so the misses decide, as they would have had the sample held them.
        wider = _beyond_iso(con, merged, values, timezone, where, file)
        if wider is not None:
            return wider, []
    return merged, [r[0] for r in unread]


def _with_formats(parse: DateParse, extra: DateParse, **changes: Any) -> DateParse:
    """``parse`` that also tries ``extra``'s formats (each once, ``parse``'s first)."""
    return replace(
        parse,
        local=tuple(dict.fromkeys(parse.local + extra.local)),
        utc=tuple(dict.fromkeys(parse.utc + extra.utc)),
        offset=tuple(dict.fromkeys(parse.offset + extra.offset)),
        **changes,
    )


def _beyond_iso(
    con, parse: DateParse, missed: list[str], timezone: str, where: DateDetection, file: str
) -> DateParse | None:
    """``parse`` widened to the one non-ISO family that reads every missed value, if any."""
    values = "(SELECT unnest($missed) AS v)"
    fits: dict[str, DateParse] = {}
    for name in ("dmy", "mdy"):
        extra = _narrow(con, values, FAMILIES[name], {"missed": missed})
        p = Params("b")
        failing = con.execute(
            f"SELECT count(*) FROM {values} WHERE {extra.sql('v', timezone, p)} IS NULL",
            {**p.values, "missed": missed},
        ).fetchall()[0][0]
        if failing == 0:
            fits[name] = extra
    if len(fits) > 1:
        examples = ", ".join(repr(v) for v in sorted(missed)[:3])
        raise ImportProblem(
            f"{file}: column {where.column!r} ({where.field_name}) has dates that read both "
            f"day-first and month-first, e.g. {examples}.",
            hint=AMBIGUOUS_HINT,
        )
    if not fits:
        return None
    name, extra = next(iter(fits.items()))
    return _with_formats(parse, extra, label=FAMILIES[name].label, family=name)


def _unread(
    con, table: str, value_sql: str, parse: DateParse, limit: int = 3, params=None
) -> list[str]:
    """Up to ``limit`` distinct values of the column that ``parse`` cannot read."""
    p = Params("d", params)
    parsed = parse.sql(value_sql, "UTC", p)
    rows = con.execute(
        f"""SELECT DISTINCT {value_sql} FROM {table}
            WHERE {value_sql} IS NOT NULL AND {parsed} IS NULL LIMIT {int(limit)}""",
        p.values,
    ).fetchall()
    return [r[0] for r in rows]


def _widened(
    con, table, value_sql, narrowed: DateParse, family: DateParse, params
) -> DateParse | None:
    """``narrowed`` if it reads the whole column, else with the formats the misses need."""
    missed = _unread(con, table, value_sql, narrowed, limit=2000, params=params)
    if not missed:
        return narrowed
    values = "(SELECT unnest($missed) AS v)"
    extra = _narrow(con, values, family, {"missed": missed})
    # Without a family, so that the import does not widen it again (``complete_dates``).
    merged = _with_formats(narrowed, extra, epoch=False, family="")
    return None if _unread(con, table, value_sql, merged, params=params) else merged


#: A format that reads only text holding a letter: a day or month name, AM/PM, or a letter
#: written as it is ("T", "Z", "UTC"); ``%%`` is a percent sign, not a specifier.
_NEEDS_A_LETTER = re.compile(r"%[aAbBhp]|(?:^|[^%])(?:%%)*[A-Za-z]")


def _narrow(con, sample: str, parse: DateParse, params: dict | None = None) -> DateParse:
    """Keep only the formats that read some sample value, so the full parse tries few. When no
    sample value holds a letter, a format that needs one reads none of them: it is not tried
    (most of a family's formats name the month)."""
    p = Params()
    p.values.update(params or {})
    groups = (("local", parse.local), ("utc", parse.utc), ("offset", parse.offset))
    candidates = [(group, fmt) for group, fmts in groups for fmt in fmts]
    if any(_NEEDS_A_LETTER.search(fmt) for _, fmt in candidates):
        lettered = con.execute(
            f"SELECT count(*) FROM {sample} WHERE regexp_matches(v, '[A-Za-z]')", p.values
        ).fetchall()[0][0]
        if not lettered:
            candidates = [(g, fmt) for g, fmt in candidates if not _NEEDS_A_LETTER.search(fmt)]
    if not candidates:
        return DateParse((), (), (), label=parse.label, family=parse.family)
    probes = [(group, fmt, f"count(try_strptime(v, {p(fmt)}))") for group, fmt in candidates]
    counts = con.execute(
        f"SELECT {', '.join(probe for _, _, probe in probes)} FROM {sample}", p.values
    ).fetchall()[0]
    used = [(group, fmt) for (group, fmt, _), n in zip(probes, counts, strict=True) if n]
    pick = {g: tuple(f for grp, f in used if grp == g) for g, _ in groups}
    return DateParse(
        pick["local"], pick["utc"], pick["offset"], label=parse.label, family=parse.family
    )


def _examples(con: duckdb.DuckDBPyConnection, sample: str) -> str:
    rows = con.execute(f"SELECT v FROM {sample} ORDER BY v LIMIT 3").fetchall()
    return ", ".join(repr(r[0]) for r in rows)


# --- other types --------------------------------------------------------------------------------


def text_value(
    columns: list[str], p: Params, null_values: tuple[str, ...], extract: str | None
) -> str:
    """The trimmed source text of one field (several columns joined with a space), NULL if empty."""
    parts = [f"trim(CAST({c} AS VARCHAR))" for c in columns]
    value = parts[0] if len(parts) == 1 else f"trim(concat_ws(' ', {', '.join(parts)}))"
    if extract:
        value = f"regexp_extract({value}, {p(extract)}, 1)"
    empty = ["''"] + [p(v) for v in null_values]
    return f"(CASE WHEN {value} IN ({', '.join(empty)}) THEN NULL ELSE {value} END)"


def finite_sql(number: str) -> str:
    """``number`` when it is a finite number, else NULL: NaN and infinities (``'nan'``, ``'inf'``,
    ``'1e400'``) are never scores, durations or counts, so they are reported as unreadable."""
    return f"(CASE WHEN isfinite({number}) THEN {number} END)"


#: Clock text, minutes and seconds below 60: H:MM:SS (or H:M:S, with fractional seconds) and H:MM.
CLOCK_HMS = "[0-9]+:[0-5]?[0-9]:[0-5]?[0-9]([.][0-9]+)?"
CLOCK_HM = "[0-9]+:[0-5][0-9]"


def duration_sql(value: str, unit: str | None, p: Params) -> str:
    """Seconds from a number with a unit, H:MM, H:MM:SS or a spreadsheet time.

    ``12:34`` is twelve hours and 34 minutes (H:MM); ``99:99`` and ``1:99:99`` are not clock
    times and read as nothing, so the check step names them."""
    from kpi.ingest.layouts import DURATION_UNITS

    factor = DURATION_UNITS[unit or "seconds"]
    parts = f"string_split({value}, ':')"
    hours, minutes = f"CAST({parts}[1] AS DOUBLE) * 3600", f"CAST({parts}[2] AS DOUBLE) * 60"
    seconds = f"""(CASE
        WHEN regexp_full_match({value}, '-?[0-9]+([.][0-9]+)?')
            THEN CAST({value} AS DOUBLE) * {p(factor)}
        WHEN regexp_full_match({value}, '{CLOCK_HMS}')
            THEN {hours} + {minutes} + CAST({parts}[3] AS DOUBLE)
        WHEN regexp_full_match({value}, '{CLOCK_HM}') THEN {hours} + {minutes}
        END)"""
    # Four hundred digits cast to a double are infinite. (DuckDB evaluates the repeated CASE
    # once: measured as fast as the bare one.)
    return finite_sql(seconds)


def integer_sql(value: str) -> str:
    number = f"TRY_CAST({value} AS DOUBLE)"
    whole = f"isfinite({number}) AND {number} = floor({number})"  # NaN equals itself in DuckDB
    return f"(CASE WHEN {whole} THEN TRY_CAST({number} AS BIGINT) END)"


def boolean_sql(value: str, p: Params, true_values=(), false_values=()) -> str:
    trues = ", ".join(p(w) for w in (*TRUE_WORDS, *true_values))
    falses = ", ".join(p(w) for w in (*FALSE_WORDS, *false_values))
    low = f"lower({value})"
    return f"(CASE WHEN {low} IN ({trues}) THEN true WHEN {low} IN ({falses}) THEN false END)"


def contains_sql(value: str, word: str, p: Params) -> str:
    """True when ``word`` appears as a whole word (tags, labels); an empty cell is false."""
    pattern = p(r"(^|[^a-z0-9_])" + re.escape(word.lower()) + r"($|[^a-z0-9_])")
    return f"coalesce(regexp_matches(lower({value}), {pattern}), false)"


def category_sql(value: str, field_name: str, mapping: dict[str, str], p: Params) -> str:
    """A source word mapped to the canonical word: the layout's [values] first, then synonyms."""
    # The source word arrives normalised (``name_text``); so are the mapping's own words.
    words = {**SYNONYMS.get(field_name, {}), **{_mapped_word(k): v for k, v in mapping.items()}}
    if not words:
        return value
    keys = p(list(words.keys()))
    targets = p(list(words.values()))
    # list_position keeps this one expression however many words the mapping has.
    return f"list_extract({targets}, list_position({keys}, lower({value})))"


def score_sql(value: str, labels: dict[str, float | None], p: Params) -> str:
    """A score from a number (decimal comma allowed) or one of the layout's labels; never a
    non-finite number, whether typed in the file or given as a label's score."""
    number = f"TRY_CAST(replace({value}, ',', '.') AS DOUBLE)"
    if not labels:
        return finite_sql(number)
    keys = p(list(labels.keys()))
    scores = p([v for v in labels.values()])
    return finite_sql(
        f"(CASE WHEN list_contains({keys}, lower({value})) "
        f"THEN list_extract({scores}, list_position({keys}, lower({value}))) ELSE {number} END)"
    )


# --- names --------------------------------------------------------------------------------------

#: A name that may need normalising: any character outside printable ASCII, or a double space.
#: Plain ASCII names (nearly all) are left alone without a look from Python.
UNUSUAL_TEXT = "[^ -~]|  "


def name_text(text: str) -> str | None:
    """An agent, team, category or category word as one spelling: Unicode NFKC (fullwidth and
    compatibility forms become plain letters, a no-break space a space), without format
    characters (zero-width space and joiners, BOM, bidi marks, soft hyphen) or invisible
    controls, whitespace runs collapsed to one space; None when nothing visible is left."""
    visible = "".join(ch for ch in text if not _invisible(ch))
    normal = unicodedata.normalize("NFKC", visible)
    words = "".join(ch for ch in normal if not _invisible(ch)).split()
    return " ".join(words) or None


def _invisible(ch: str) -> bool:
    kind = unicodedata.category(ch)
    return kind == "Cf" or (kind == "Cc" and not ch.isspace())


def _mapped_word(word: str) -> str:
    return (name_text(word) or word).lower()
