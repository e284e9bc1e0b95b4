"""The mapping file's schema: every key, its type and the values it may take.

A mapping document (a user's mapping file, or a built-in layout, which has the same format) is
validated as a whole with pydantic before any row of the export is read, so a typo can never
import wrong data: a string where a list belongs, a misspelt direction, a pattern with no group.
Each value checks itself and says, for a person, what it expects; ``validate_mapping`` turns
pydantic's error list into the one line an ``ImportProblem`` carries, naming the file and the key
as it is written in TOML (``my.toml: [scores.csat] scale must be ...``).

Patterns, date formats and time zones are tried in DuckDB, the engine that will use them: its RE2
for patterns (linear time, so no pattern can hang an import; RE2 refuses backreferences) and its
strptime for date formats. Which canonical fields a mapping may name depends on its kind and is
checked by ``kpi.ingest.layouts`` once the document has its shape.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import duckdb
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    PlainValidator,
    Tag,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from kpi.errors import ImportProblem, printable
from kpi.store.schema import KINDS

DURATION_UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}
SCORE_FIELDS = ("nps", "csat", "ces")
#: ``high_is_easy`` and ``low_is_easy`` are the words effort scales (ces) are described with.
DIRECTIONS = ("high_is_good", "high_is_easy", "low_is_good", "low_is_easy")
LOW_IS_GOOD = ("low_is_good", "low_is_easy")
DUPLICATES = ("quarantine", "keep_last")
#: How a [rollup] field is made from its case's events (``kpi.ingest.rollup``).
AGGREGATES = ("first", "last", "min", "max", "count")
MISSING_COLUMNS = ("error", "ignore")
BIGGEST_NUMBER = 1e15  # beyond any scale, label or constant; keeps messages short


class Unfit(ValueError):
    """A value a key cannot take; ``str()`` is the rest of the line after the key's name."""


# --- showing a person what was found (one line, no control characters, short) ----------------


def quote(text: str, limit: int = 40) -> str:
    """A string as written in TOML, cut short, with anything unprintable escaped."""
    short = text if len(text) <= limit else text[:limit] + "…"
    return '"' + "".join(_safe_char(ch) for ch in short) + '"'


def _safe_char(ch: str) -> str:
    if ch in '"\\':
        return "\\" + ch
    if ch.isprintable():
        return ch
    return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"


def _number(value: int | float) -> str:
    if isinstance(value, int) and abs(value) > BIGGEST_NUMBER:
        return "a very large number"  # str() of a huge int is refused by Python itself
    return f"{value:g}" if isinstance(value, float) else str(value)


def _toml(value: Any, depth: int = 0) -> str:
    """A short TOML-like rendering: enough to recognise the value, never a whole document."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value, 20 if depth else 40)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list):
        if depth >= 2:
            return "[...]"
        items = [_toml(v, depth + 1) for v in value[:4]]
        return "[" + ", ".join(items + (["..."] if len(value) > 4 else [])) + "]"
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()  # a TOML date or time, written as in the file
    return quote(str(value), 30)


def describe(value: Any) -> str:
    """What was found, for "must be X, not <this>"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {quote(value)}"
    if isinstance(value, int | float):
        shown = _number(value)
        return shown if shown.startswith("a ") else f"the number {shown}"
    if isinstance(value, list):
        return f"the list {_toml(value)}"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__} ({_toml(value)})"


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


# --- the values, each checking itself ------------------------------------------------------


def _string(what: str) -> PlainValidator:
    def check(value: Any) -> str:
        if isinstance(value, str):
            return value
        raise Unfit(f"must be {what}, not {describe(value)}")

    return PlainValidator(check)


def _strings(what: str) -> PlainValidator:
    """A list of strings. A lone string is refused: it would be read letter by letter."""

    def check(value: Any) -> tuple[str, ...]:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise Unfit(f"must be {what}, not {describe(value)}")

    return PlainValidator(check)


def _one_of(words: Sequence[str]) -> PlainValidator:
    def check(value: Any) -> str:
        if isinstance(value, str) and value in words:
            return value
        found = quote(value) + _suggest(value, words) if isinstance(value, str) else describe(value)
        raise Unfit(f"must be one of {', '.join(words)}, not {found}")

    return PlainValidator(check)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Unfit(f"must be true or false, not {describe(value)}")


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= BIGGEST_NUMBER
    )


def _one_or_more(value: Any, wanted: str) -> tuple[str, ...]:
    """A text or a non-empty list of texts, as a tuple; else "must be ``wanted``"."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise Unfit(f"must be {wanted}, not {describe(value)}")


def _headers(value: Any) -> tuple[str, ...]:
    return _one_or_more(
        value,
        'a header, a list of headers or a table, e.g. "Ticket ID" or '
        '{ column = "Tags", contains = "complaint" }',
    )


def _word(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise Unfit(f'must be a word to look for, e.g. "complaint", not {describe(value)}')


def _scale(value: Any) -> tuple[float, float]:
    if isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
        low, high = float(value[0]), float(value[1])
        if low < high:
            return low, high
        raise Unfit(f"must be [low, high] with low < high, e.g. [1, 5], not {_toml(value)}")
    raise Unfit(
        "must be [low, high] numbers with low < high, e.g. [1, 5], or the answer words from "
        f'lowest to highest, e.g. ["Bad", "OK", "Good"], not {describe(value)}'
    )


def _scale_words(value: list[str]) -> tuple[str, ...]:
    """An ordinal scale: its answer words, lowest first (stored as 1..k, the words kept)."""
    seen: dict[str, str] = {}
    for word in value:
        key = word.strip().lower()
        if not key:
            raise Unfit(f"must not hold an empty word: {_toml(value)}")
        if key in seen:
            raise Unfit(f"holds {quote(word)} twice (words are matched whatever their case)")
        seen[key] = word
    return tuple(word.strip() for word in value)


def _scale_or_words(value: Any) -> tuple[float, float] | tuple[str, ...]:
    if isinstance(value, list) and len(value) >= 2 and all(isinstance(v, str) for v in value):
        return _scale_words(value)
    return _scale(value)


def _label(value: Any) -> float | None:
    if value == "" and isinstance(value, str):
        return None  # not an answer (e.g. "Offered")
    if _is_number(value):
        return float(value)
    raise Unfit(f'must be a number or "" (not an answer), not {describe(value)}')


def _constant(value: Any) -> str | bool | int | float:
    if isinstance(value, str | bool) or _is_number(value):
        return value
    raise Unfit(f"must be one value (a string, a number or true/false), not {describe(value)}")


# --- values DuckDB must accept, tried on a private in-memory connection ------------------------

_ENGINE: duckdb.DuckDBPyConnection | None = None
_ENGINE_LOCK = threading.Lock()


@contextmanager
def _cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on one in-memory DuckDB kept for the process (connecting costs ~20 ms; it holds
    no data, so nothing of an import can reach it)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = duckdb.connect(":memory:")
        cursor = _ENGINE.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


@contextmanager
def _duckdb(info: ValidationInfo) -> Iterator[duckdb.DuckDBPyConnection]:
    """The validation's cursor (``validate_mapping`` passes one), or one of our own when a
    model is built directly."""
    given = (info.context or {}).get("duckdb")
    if given is not None:
        yield given
    else:
        with _cursor() as own:
            yield own


def _refusal(info: ValidationInfo, sql: str, value: str) -> str | None:
    """DuckDB's one-line reason for refusing ``value`` in ``sql``, or None when it takes it."""
    with _duckdb(info) as con:
        try:
            con.execute(sql, [value]).fetchall()
        except (duckdb.Error, UnicodeError) as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            return printable(lines[0].split("Error: ", 1)[-1].strip()[:120])
    return None


def _timezone(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str):
        raise Unfit(f'must be a time zone name, e.g. "Europe/London", not {describe(value)}')
    if _refusal(info, "SELECT timezone(?, TIMESTAMP '2000-01-01')", value) is None:
        return value
    with _duckdb(info) as con:
        names = [name for (name,) in con.execute("FROM pg_timezone_names() SELECT name").fetchall()]
    raise Unfit(
        f'must be a known time zone name such as "Europe/London" or "UTC", not {quote(value)}'
        + _suggest(value, names)
    )


def _date_formats(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    """One format, or a list tried in order (a column holding two formats, each clear alone)."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(_date_format(v, info) for v in value)
    if isinstance(value, list):
        raise Unfit(
            'must be strptime codes such as "%d/%m/%Y %H:%M", or a list of them tried in order, '
            f"not {describe(value)}"
        )
    return (_date_format(value, info),)


def _date_format(value: Any, info: ValidationInfo) -> str:
    example = '"%d/%m/%Y %H:%M"'
    if not isinstance(value, str):
        raise Unfit(f"must be strptime codes such as {example}, not {describe(value)}")
    if not re.search("%.", value.replace("%%", "")):
        # No directive: DuckDB would take it and then read no date at all.
        raise Unfit(f"must use strptime codes such as {example}, not {quote(value)}")
    reason = _refusal(info, "SELECT try_strptime('2000-01-01', ?)", value)
    if reason:
        raise Unfit(f"{quote(value)} is not valid ({reason}); use strptime codes such as {example}")
    return value


def _extract(value: Any, info: ValidationInfo) -> str:
    example = '"^([^(]*)"'
    if not isinstance(value, str):
        raise Unfit(f"must be a regular expression, e.g. {example}, not {describe(value)}")
    # Naming group 1 makes DuckDB refuse a pattern with no capture group at all.
    reason = _refusal(info, "SELECT regexp_extract('', ?, ['kept'])", value)
    if reason and "capturing groups" in reason:
        raise Unfit(
            f"{quote(value)} has no capture group: put the part to keep in parentheses, "
            f"e.g. {example}"
        )
    if reason:
        raise Unfit(f"{quote(value)} is not a valid RE2 regular expression ({reason})")
    return value


def _pattern(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str):
        raise Unfit(
            f'must be a regular expression, e.g. "^Reporting period", not {describe(value)}'
        )
    reason = _refusal(info, "SELECT regexp_matches('', ?)", value)
    if reason:
        raise Unfit(f"{quote(value)} is not a valid RE2 regular expression ({reason})")
    return value


# --- the document --------------------------------------------------------------------------

Text = Annotated[str, _string("a string")]
Header = Annotated[str, _string('a column header (a string), e.g. "Ticket ID"')]
Headers = Annotated[tuple[str, ...], PlainValidator(_headers)]
Words = Annotated[tuple[str, ...], _strings('a list of words, e.g. ["done", "yes"]')]
Flag = Annotated[bool, PlainValidator(_flag)]
Word = Annotated[str, PlainValidator(_word)]
Timezone = Annotated[str, PlainValidator(_timezone)]
DateFormat = Annotated[tuple[str, ...], PlainValidator(_date_formats)]
Extract = Annotated[str, PlainValidator(_extract)]
Pattern = Annotated[str, PlainValidator(_pattern)]
Scale = Annotated[tuple[float, float] | tuple[str, ...], PlainValidator(_scale_or_words)]
Label = Annotated[float | None, PlainValidator(_label)]
Constant = Annotated[str | bool | int | float, PlainValidator(_constant)]
Canonical = Annotated[str, _string('a canonical word (a string), e.g. "pending"')]
CountField = Annotated[str, _string('a count field (a string), e.g. "answered"')]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnTable(_Table):
    """``field = { column = "Header", ... }``: where a field comes from and how to read it."""

    column: Header | None = None
    columns: Headers | None = None  # several are joined with a space (a date and a time column)
    unit: Annotated[str, _one_of(tuple(DURATION_UNITS))] | None = None
    contains: Word | None = None
    optional: Flag = False
    extract: Extract | None = None
    true_values: Words = ()
    false_values: Words = ()
    date_format: DateFormat | None = None
    #: The column is an average per one of this count field (ASA per answered call): the
    #: stored total is the value times that count (intervals only; ``kpi.ingest.rates``).
    average_of: CountField | None = None
    #: The column is a percentage of this count field (service level % of offered calls):
    #: the stored count is the value / 100 times that count.
    percent_of: CountField | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ColumnTable:
        if self.column is None and self.columns is None:
            raise Unfit('names no column: give column = "Header"')
        if self.column is not None and self.columns is not None:
            raise Unfit("gives both column and columns: keep one")
        if self.average_of is not None and self.percent_of is not None:
            raise Unfit("gives both average_of and percent_of: a column is one or the other")
        return self

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.column,) if self.column is not None else (self.columns or ())


def _source_tag(value: Any) -> str:
    return "table" if isinstance(value, dict) else "headers"


#: A header, a list of headers, or a table; pydantic puts the tag in error locations.
ColumnSource = Annotated[
    Annotated[ColumnTable, Tag("table")] | Annotated[Headers, Tag("headers")],
    Discriminator(_source_tag),
]
SOURCE_TAGS = ("table", "headers")


class Score(_Table):
    column: Header
    #: [low, high], or answer words lowest first (an ordinal scale 1..k); None: the default.
    scale: Scale | None = None
    labels: dict[str, Label] = {}
    direction: Annotated[str, _one_of(DIRECTIONS)] = "high_is_good"


class Scores(_Table):
    nps: Score | None = None
    csat: Score | None = None
    ces: Score | None = None


class Detect(_Table):
    headers: Annotated[tuple[str, ...], _strings('a list of headers, e.g. ["Id", "Created at"]')]


class Responses(_Table):
    responded_at: Annotated[str, _string('a contacts date field, e.g. "resolved_at"')] | None = None


def _where_values(value: Any) -> tuple[str, ...]:
    """The value(s) an event's column must hold for a [rollup] field to look at it."""
    return _one_or_more(
        value, 'a value or a list of values, e.g. "Resolve ticket" or ["Resolved", "Closed"]'
    )


def _minus(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1_000_000:
        return value
    raise Unfit(f"must be a whole number of events, e.g. 1, not {describe(value)}")


def _order_by(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise Unfit(
        'must be the header of the events\' timestamp, e.g. "Complete Timestamp", or a list '
        'whose later headers break ties, e.g. ["sys_updated_at", "sys_mod_count"], '
        f"not {describe(value)}"
    )


class RollupField(_Table):
    """``field = { first = "Header", where = { Column = "value" } }``: one canonical field made
    from the events of its case (``count = "*"`` counts events, ``minus`` takes some off)."""

    first: Header | None = None
    last: Header | None = None
    min: Header | None = None
    max: Header | None = None
    count: Header | None = None  # "*": every event; a header: events where it is not empty
    where: dict[str, Annotated[tuple[str, ...], PlainValidator(_where_values)]] = {}
    minus: Annotated[int, PlainValidator(_minus)] = 0

    @model_validator(mode="after")
    def _one_aggregate(self) -> RollupField:
        given = [a for a in AGGREGATES if getattr(self, a) is not None]
        if len(given) != 1:
            found = f"gives {' and '.join(given)}: keep one" if given else "names no aggregate"
            raise Unfit(f'{found} ({", ".join(AGGREGATES)}), e.g. {{ first = "Created" }}')
        if self.minus and given[0] != "count":
            raise Unfit(f"minus is only for count, not {given[0]}")
        return self

    @property
    def aggregate(self) -> str:
        return next(a for a in AGGREGATES if getattr(self, a) is not None)

    @property
    def column(self) -> str:
        """The header the aggregate reads ("*" for a count of events)."""
        return str(getattr(self, self.aggregate))


class Rollup(_Table):
    """[rollup]: an event log (one row per event) made into one row per case, events ordered
    by ``order_by`` (a timestamp column, never file order); every other key is a field."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, RollupField]
    order_by: Annotated[tuple[str, ...], PlainValidator(_order_by)]
    #: Message threads: the header of the message each row replies to. The case is then the
    #: thread, named by its first message's id (the key field's column holds each message's id).
    in_reply_to: Header | None = None
    #: Only cases whose first event matches are contacts (a thread a customer started).
    started_by: dict[str, Annotated[tuple[str, ...], PlainValidator(_where_values)]] = {}

    @property
    def fields(self) -> dict[str, RollupField]:
        return dict(self.model_extra or {})


class MappingDocument(_Table):
    """A whole mapping file (see the README's mapping-file reference)."""

    name: Text | None = None
    title: Text | None = None
    kind: Annotated[str, _one_of(KINDS)] = "contacts"
    source: Text | None = None
    date_format: DateFormat | None = None
    timezone: Timezone = "Europe/London"
    null_values: Annotated[tuple[str, ...], _strings('a list of strings, e.g. ["NA", "-"]')] = ()
    columns: dict[str, ColumnSource] = {}
    values: dict[str, dict[str, Canonical]] = {}
    constants: dict[str, Constant] = {}
    scores: Scores = Scores()
    detect: Detect | None = None
    duplicates: Annotated[str, _one_of(DUPLICATES)] = "quarantine"
    ignore_lines: Pattern | None = None
    #: A formatted report's grouping columns: shown on a group's first row only, so their
    #: empty cells on its other rows take that row's value (``kpi.ingest.report_groups``).
    fill_down: Annotated[tuple[str, ...], _strings('a list of headers, e.g. ["Case Owner"]')] = ()
    sheet: Annotated[str, _string('a sheet name (a string), e.g. "Calls"')] | None = None
    missing_columns: Annotated[str, _one_of(MISSING_COLUMNS)] = "error"
    responses: Responses = Responses()
    rollup: Rollup | None = None
    #: An export's own rates and averages beside the counts they come from (Abandon % beside
    #: Abandoned and Offered): never stored, checked against the counts (``kpi.ingest.rates``).
    rates: dict[str, ColumnTable] = {}
    notes: Text = ""


#: The models of the document's tables, by where they sit ("*" is any field name).
TABLE_MODELS: dict[tuple[str, ...], type[_Table]] = {
    (): MappingDocument,
    ("columns", "*"): ColumnTable,
    ("scores",): Scores,
    ("scores", "*"): Score,
    ("detect",): Detect,
    ("responses",): Responses,
    ("rollup",): Rollup,
    ("rollup", "*"): RollupField,
    ("rates", "*"): ColumnTable,
}
#: What a table-valued key holds, for "must be <this>, not ...".
TABLES: dict[tuple[str, ...], str] = {
    (): "a table of keys",
    ("columns",): 'a table of field = "Header" lines, e.g. contact_id = "Ticket ID"',
    ("values",): 'tables such as [values.status] with "Source word" = "canonical word" lines',
    ("values", "*"): 'a table of "Source word" = "canonical word" lines',
    ("constants",): 'a table of field = value lines, e.g. channel = "phone"',
    ("scores",): "tables [scores.nps], [scores.csat] or [scores.ces]",
    ("scores", "*"): 'a table with column = "Header" (and scale, labels, direction)',
    ("scores", "*", "labels"): 'a table of word = score, e.g. { "Good" = 2, "Bad" = 1 }',
    ("detect",): 'a table with headers = ["Header", ...]',
    ("responses",): 'a table with responded_at = "resolved_at"',
    ("rollup",): 'a table with order_by = "Timestamp" and field = { first = "Header" } lines',
    ("rollup", "*"): 'a table such as { first = "Header", where = { Column = "value" } }',
    ("rollup", "*", "where"): 'a table of Column = "value" lines',
    ("rollup", "started_by"): 'a table of Column = "value" lines, e.g. { inbound = "True" }',
    ("rates",): 'a table of field = { column = "Abandon %", percent_of = "offered" } lines',
    ("rates", "*"): 'a table such as { column = "ASA", average_of = "answered" }',
}
TOP_LEVEL_KEYS = frozenset(MappingDocument.model_fields)
COLUMN_KEYS = frozenset(ColumnTable.model_fields)


def validate_mapping(data: Any, where: str) -> MappingDocument:
    """The document with its shape checked, or an ``ImportProblem`` naming the file and key."""
    with _cursor() as con:
        try:
            return MappingDocument.model_validate(data, context={"duckdb": con})
        except ValidationError as exc:
            raise ImportProblem(problem_line(exc, data, where)) from None


# --- pydantic's errors as one line for a person ---------------------------------------------


def problem_line(error: ValidationError, data: Any, where: str) -> str:
    """``where: <first problem> (and N more).`` from a validation error of the document."""
    problems: list[str] = []
    for detail in error.errors(include_url=False):
        text = _problem(detail, data)
        if text not in problems:
            problems.append(text)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {problems[0] if problems else 'is not a valid mapping file'}{more}."


def _problem(detail: Any, data: Any) -> str:
    keys = _keys(detail["loc"])
    kind = detail["type"]
    error = (detail.get("ctx") or {}).get("error")
    if isinstance(error, Unfit):
        return f"{_path(keys)} {error}"
    if kind == "extra_forbidden":
        parent, key = keys[:-1], keys[-1]
        if parent == ("scores",):
            return f"[scores.{_key(key)}] is not one of {', '.join(SCORE_FIELDS)}"
        model = _model_at(parent)
        allowed = list(model.model_fields) if model is not None else []
        return (
            f"{_table(parent)} has an unknown key {_key(key)}{_suggest(key, allowed)}; "
            f"allowed: {', '.join(allowed)}"
        )
    if kind == "missing":
        parent, key = keys[:-1], keys[-1]
        return f"{_table(parent)} needs {key}" + (' = "Header"' if key == "column" else "")
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        found = _value_at(data, keys, detail.get("input"))
        return f"{_path(keys)} must be {TABLES.get(_pattern_of(keys), 'a table')}, not {describe(found)}"
    if "[key]" in detail["loc"]:
        return f"{_path(keys)} has a key that is not a string"
    message = printable(str(detail.get("msg", ""))[:120])
    return f"{_path(keys)} is not valid ({message})"


def _keys(loc: Sequence[int | str]) -> tuple[str, ...]:
    """The location as TOML keys: list positions, dict-key markers and union tags dropped."""
    keys = [str(k) for k in loc if isinstance(k, str) and k != "[key]"]
    if len(keys) >= 3 and keys[0] == "columns" and keys[2] in SOURCE_TAGS:
        del keys[2]
    return tuple(keys)


def _pattern_of(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Field names and words (the free keys of a table) replaced by "*"."""
    free = {
        "columns": (1,),
        "values": (1, 2),
        "constants": (1,),
        "scores": (1, 3),
        "rollup": (1, 3),
        "rates": (1,),
    }
    positions = free.get(keys[0], ()) if keys else ()
    if keys[:1] == ("rollup",) and len(keys) > 1 and keys[1] in Rollup.model_fields:
        positions = (3,) if keys[1] == "started_by" else ()  # its own keys, not a field's
    return tuple("*" if i in positions else k for i, k in enumerate(keys))


def _model_at(keys: tuple[str, ...]) -> type[_Table] | None:
    return TABLE_MODELS.get(_pattern_of(keys))


def _value_at(data: Any, keys: tuple[str, ...], default: Any) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else quote(key, 30)


def _table(keys: tuple[str, ...]) -> str:
    """A table as its header: ``[detect]``, ``[scores.csat]``, ``[columns] team``."""
    return f"[{_key(keys[0])}]" if len(keys) == 1 else _path(keys)


def _path(keys: tuple[str, ...]) -> str:
    """``null_values``, ``[columns] escalated contains``, ``[scores.csat] scale``."""
    if not keys:
        return "the mapping file"
    if len(keys) == 1:
        return _key(keys[0])
    depth = 2 if keys[0] in ("scores", "values") else 1
    head = ".".join(_key(k) for k in keys[:depth])
    rest = " ".join(_key(k) for k in keys[depth:])
    return f"[{head}]" + (f" {rest}" if rest else "")


__all__ = [
    "AGGREGATES",
    "COLUMN_KEYS",
    "DIRECTIONS",
    "DURATION_UNITS",
    "LOW_IS_GOOD",
    "SCORE_FIELDS",
    "TOP_LEVEL_KEYS",
    "ColumnTable",
    "MappingDocument",
    "Rollup",
    "RollupField",
    "Score",
    "describe",
    "quote",
    "validate_mapping",
]
