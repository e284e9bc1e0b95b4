"""The first step of an import: a file read into DuckDB becomes a typed staging table.

Every field the layout maps and the file has is staged twice: its source text as
``<field>__raw`` (trimmed, empty as NULL) and its canonical typed value as ``<field>``, so that
the check step can name the text it could not read. A text field kept as it is has one copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import duckdb

from kpi.errors import ImportProblem
from kpi.ingest.files import RawTable
from kpi.ingest.layouts import Layout, resolve_headers
from kpi.ingest.parsing import (
    SAMPLE_ROWS,
    UNUSUAL_TEXT,
    DateDetection,
    DateParse,
    OffsetRun,
    Params,
    boolean_sql,
    category_sql,
    check_date_shapes,
    column_shapes,
    complete_dates,
    contains_sql,
    detect_dates,
    duration_sql,
    explicit_dates,
    integer_sql,
    name_text,
    score_sql,
    text_value,
    utc_offsets,
)
from kpi.ingest.privacy import is_name_header
from kpi.ingest.rates import percent_sql
from kpi.store.schema import Field, field_map


@dataclass(frozen=True)
class Staged:
    """A file staged for checking: the typed table and what it holds.

    ``present`` is every field the file gives a value for (a mapped column it has, a constant,
    a score column it has); ``table`` has ``_row`` and, per present field, ``<field>`` and
    (unless the field is kept verbatim) ``<field>__raw``.
    """

    raw: RawTable
    layout: Layout
    file_name: str
    tag: str  # makes this run's temporary table names unique
    positions: Mapping[str, int]  # source header -> column position in the raw table
    present: frozenset[str]
    date_parses: Mapping[str, DateParse]  # how each timestamp field was read

    @property
    def table(self) -> str:
        return f"stage_{self.tag}"

    @property
    def fields(self) -> dict[str, Field]:
        return field_map(self.layout.kind)

    def verbatim(self, name: str) -> bool:
        """A text field taken as it is: it cannot be unreadable, so needs no source copy."""
        f = self.fields.get(name)
        return (
            f is not None
            and f.type == "text"
            and name not in self.layout.scores
            and name not in self.layout.values
        )

    def source_column(self, name: str) -> str:
        """The staging column holding a field's source text."""
        return name if self.verbatim(name) else f"{name}__raw"

    @property
    def name_cells(self) -> list[str]:
        """The staging columns holding the row's cells whose header says they name a person
        (never imported themselves, but their names are scrubbed from the row's free text)."""
        return name_cells(self.raw.headers)


def name_cells(headers: list[str]) -> list[str]:
    """The staging columns that carry the source columns naming a person, one per column."""
    return [f"_name_{i}" for i, header in enumerate(headers) if is_name_header(header)]


@dataclass(frozen=True)
class _SourceText:
    """The source text of every present field, as a subquery over the raw table (and over a
    sample of its rows, for detecting date formats without a full pass)."""

    fields: tuple[str, ...]  # in the order of the select list
    query: str
    sample: str
    params: Mapping[str, Any]


def source_positions(raw: RawTable, layout: Layout, file_name: str) -> dict[str, int]:
    """Where each source column the layout uses is; raise ``ImportProblem`` when the file has
    no data rows or lacks a column it needs."""
    if raw.rows_read == 0:
        raise ImportProblem(f"{file_name}: the file has a header but no data rows.")
    return resolve_headers(layout, raw.headers, file_name)


def stage(
    cur: duckdb.DuckDBPyConnection,
    raw: RawTable,
    layout: Layout,
    file_name: str,
    positions: Mapping[str, int],
) -> Staged:
    """Stage ``raw`` as read with ``layout``; raise ``ImportProblem`` when its dates cannot be
    read with one format."""
    tag = uuid.uuid4().hex[:10]
    text = _source_text(raw, layout, positions)
    present = frozenset(text.fields)
    staged = Staged(raw, layout, file_name, tag, MappingProxyType(positions), present, {})
    parses = _read_dates(cur, staged, text)
    _create_typed_table(cur, staged, text, parses)
    _normalise_names(cur, staged, parses)
    return replace(staged, date_parses=MappingProxyType(_complete_dates(cur, staged, parses)))


def _source_text(raw: RawTable, layout: Layout, positions: Mapping[str, int]) -> _SourceText:
    """The trimmed source text of each field the layout maps and the file has, and the cells
    that name a person, as they are."""
    table = raw.table
    p = Params("t")
    fields = field_map(layout.kind)
    texts: list[tuple[str, str]] = []
    for name, spec in layout.columns.items():
        cols = [f"c{positions[c]}" for c in spec.columns if c in positions]
        if cols:
            texts.append((name, text_value(cols, p, layout.null_values, spec.extract)))
    for name, constant in layout.constants.items():
        if name in fields and name not in layout.columns:
            texts.append((name, f"CAST({p(str(constant))} AS VARCHAR)"))
    for name, score in layout.scores.items():
        if score.column in positions:
            column = f"c{positions[score.column]}"
            texts.append((name, text_value([column], p, layout.null_values, None)))
    names = [
        f"c{i} AS {cell}"
        for i, cell in zip(_name_positions(raw.headers), name_cells(raw.headers), strict=True)
    ]
    selects = ", ".join(["_row", *(f"{value} AS {name}__raw" for name, value in texts), *names])
    sample = f"(SELECT * FROM {table} USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (42))"
    # Not materialised: the typed stage reads it once, so no second copy of every string.
    return _SourceText(
        fields=tuple(name for name, _ in texts),
        query=f"(SELECT {selects} FROM {table})",
        sample=f"(SELECT {selects} FROM {sample})",
        params=p.values,
    )


def _name_positions(headers: list[str]) -> list[int]:
    return [i for i, header in enumerate(headers) if is_name_header(header)]


def _timestamp_fields(staged: Staged, names: tuple[str, ...]) -> list[str]:
    fields = staged.fields
    return [
        name
        for name in dict.fromkeys(names)
        if name not in staged.layout.scores
        and not staged.verbatim(name)
        and fields[name].type == "timestamp"
    ]


def _read_dates(
    cur: duckdb.DuckDBPyConnection, staged: Staged, text: _SourceText
) -> dict[str, DateParse]:
    """Each timestamp field's formats: the layout's, else those detected on a sample."""
    layout, parses = staged.layout, {}
    for name in _timestamp_fields(staged, text.fields):
        spec = layout.columns.get(name)
        explicit = (spec.date_format if spec else None) or layout.date_format
        if explicit:
            parses[name] = explicit_dates(explicit)
            continue
        where = DateDetection(" + ".join(spec.columns) if spec else name, name)
        parses[name] = detect_dates(
            cur,
            text.query,
            f"{name}__raw",
            where,
            staged.file_name,
            dict(text.params),
            sampled=text.sample,
        )
    return parses


def _create_typed_table(
    cur: duckdb.DuckDBPyConnection, staged: Staged, text: _SourceText, parses: dict[str, DateParse]
) -> None:
    """Canonical typed values beside their source text."""
    p = Params("y", dict(text.params))
    offsets = _local_offsets(cur, staged, text, parses)
    selects = ["_row", *staged.name_cells]
    for name in dict.fromkeys(text.fields):
        if staged.verbatim(name):
            selects.append(f"{name}__raw AS {name}")  # text kept as is: one copy suffices
            continue
        selects.append(f"{name}__raw")
        value = _typed_value(staged, name, f"{name}__raw", parses, p, offsets)
        selects.append(f"{value} AS {name}")
    cur.execute(
        f"CREATE TEMP TABLE {staged.table} AS SELECT {', '.join(selects)} FROM {text.query}",
        p.values,
    )


def _local_offsets(
    cur: duckdb.DuckDBPyConnection, staged: Staged, text: _SourceText, parses: dict[str, DateParse]
) -> tuple[OffsetRun, ...]:
    """The layout's time zone's stretches of one offset over the local times of the file's
    timestamp fields, found on the rows sampled for date detection (``utc_offsets``)."""
    p = Params("o", dict(text.params))
    local = [
        f"coalesce({', '.join(f'try_strptime({name}__raw, {p(f)})' for f in parse.local)})"
        for name, parse in parses.items()
        if parse.local and name not in staged.layout.scores and not staged.verbatim(name)
    ]
    return utc_offsets(cur, text.sample, local, staged.layout.timezone, p.values)


def _typed_value(
    staged: Staged,
    name: str,
    value: str,
    parses: dict[str, DateParse],
    p: Params,
    offsets: tuple[OffsetRun, ...] = (),
) -> str:
    """SQL reading the source text ``value`` as the field's canonical type (NULL if it cannot);
    ``offsets`` speed up a timestamp's conversion to UTC (``DateParse.sql``)."""
    layout = staged.layout
    if name in layout.scores:
        return score_sql(value, layout.scores[name].labels, p)
    f = staged.fields[name]
    spec = layout.columns.get(name)
    if f.type == "timestamp":
        return parses[name].sql(value, layout.timezone, p, offsets)
    if f.type == "duration":
        return duration_sql(value, spec.unit if spec else None, p)
    if spec is not None and spec.percent_of:  # a share of a count (kpi.ingest.rates)
        return percent_sql(value)
    if f.type == "integer":
        return integer_sql(value)
    if f.type == "boolean":
        if spec and spec.contains:
            return contains_sql(value, spec.contains, p)
        return boolean_sql(
            value, p, spec.true_values if spec else (), spec.false_values if spec else ()
        )
    if f.type == "category":
        return category_sql(value, name, layout.values.get(name, {}), p)
    if name in layout.values:  # free text renamed word for word; others kept
        return f"coalesce({category_sql(value, name, layout.values[name], p)}, {value})"
    return value


def name_fields(staged: Staged) -> list[str]:
    """The present fields that name something (agent, team, category, and the category words
    before they are mapped): one spelling each, so that an invisible or fullwidth variant is not
    a second agent. Ids are kept exactly as the source has them, free text as it is written."""
    fields = staged.fields
    return [
        name
        for name in sorted(staged.present)
        if name in fields
        and name not in staged.layout.scores
        and (
            fields[name].type == "category"
            or (fields[name].type == "text" and not fields[name].free_text)
        )
        and not name.endswith("_id")
    ]


def _normalise_names(
    cur: duckdb.DuckDBPyConnection, staged: Staged, parses: dict[str, DateParse]
) -> None:
    """Each name field's unusual spellings normalised (``parsing.name_text``), set-wise: the
    distinct values that are not plain printable ASCII are few (agents, teams), so Python
    normalises them (DuckDB has no NFKC) and one join per field writes them back, with the
    typed value read again from the normalised text."""
    names = name_fields(staged)
    if not names:
        return
    columns = [staged.source_column(name) for name in names]
    p = Params("n")
    # One scan for every field's distinct values (a grouping set each): each result row holds
    # one field's value, the others NULL.
    distinct = (
        f"SELECT {', '.join(columns)} FROM {staged.table} "
        f"GROUP BY GROUPING SETS ({', '.join(f'({c})' for c in columns)})"
    )
    found = cur.execute(
        f"SELECT * FROM ({distinct}) WHERE regexp_matches(coalesce({', '.join(columns)}), "
        f"{p(UNUSUAL_TEXT)})",
        p.values,
    ).fetchall()
    changes = []
    for row in found:
        name, value = next((n, v) for n, v in zip(names, row, strict=True) if v is not None)
        clean = name_text(value)
        if clean != value:
            changes.append((name, value, clean))
    if not changes:
        return
    table = f"names_{staged.tag}"
    fields, raws, cleans = (list(column) for column in zip(*changes, strict=True))
    cur.execute(
        f"CREATE TEMP TABLE {table} AS SELECT unnest($f) AS f, unnest($raw) AS raw, "
        "unnest($clean) AS clean",
        {"f": fields, "raw": raws, "clean": cleans},
    )
    try:
        for name in sorted(set(fields)):
            _rewrite_names(cur, staged, name, table, parses)
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def _rewrite_names(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    name: str,
    table: str,
    parses: dict[str, DateParse],
) -> None:
    source = staged.source_column(name)
    p = Params("w")
    sets = [f"{source} = n.clean"]
    if not staged.verbatim(name):
        sets.append(f"{name} = {_typed_value(staged, name, 'n.clean', parses, p)}")
    cur.execute(
        f"UPDATE {staged.table} SET {', '.join(sets)} FROM {table} n "
        f"WHERE n.f = {p(name)} AND n.raw = {staged.table}.{source}",
        p.values,
    )


def _complete_dates(
    cur: duckdb.DuckDBPyConnection, staged: Staged, parses: dict[str, DateParse]
) -> dict[str, DateParse]:
    """Values a detected format missed, read with more formats of its family (or an error)."""
    completed = {}
    for name, parse in parses.items():
        spec = staged.layout.columns.get(name)
        where = DateDetection(" + ".join(spec.columns) if spec else name, name)
        completed[name] = complete_dates(
            cur, staged.table, name, parse, staged.layout.timezone, where, staged.file_name
        )
        if completed[name].family in ("dmy", "mdy"):
            # Read in one order: every shape of date in the column must prove it on its own.
            # The source text is as detection saw it, so its shapes are reused when it has them.
            known = completed[name].shapes
            shapes = (
                list(known)
                if known is not None
                else column_shapes(cur, staged.table, f"{name}__raw")
            )
            check_date_shapes(cur, shapes, where, staged.file_name)
    return completed
