"""Rates and averages in an export: turned into totals with their weights, checked against the
counts they came from, and noticed where a per-contact field is given one.

Contact-centre interval reports carry averages (ASA, AHT) and percentages (service level %,
abandon %) beside their counts. A KPI pooled over many intervals must weight each by its calls,
so only counts and totals are stored: a column declared ``average_of = "answered"`` is stored as
the average times that row's answered calls (ASA x answered = total wait), and one declared
``percent_of = "offered"`` as the percentage of that row's offered calls, rounded to a whole call.
A rate an export gives beside its counts (``[rates]``) is never stored: it is checked against
them, and a row where they disagree by more than the rate's own rounding is a data-quality
warning, the counts kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import duckdb

from kpi.errors import ImportProblem
from kpi.ingest.intervals import INTERVALS
from kpi.ingest.mapping_schema import DURATION_UNITS
from kpi.ingest.parsing import Params, duration_sql
from kpi.store.schema import field_map

#: How every warning of this module ends: the values it questions were kept, not emptied (the
#: import summary lists such warnings apart, ``kpi.ingest.outcome``).
COUNTS_KEPT = "the counts were kept"

if TYPE_CHECKING:  # layouts and staging import this module
    from kpi.ingest.layouts import ColumnSpec, Layout
    from kpi.ingest.staging import Staged

#: Rate checks named in one import's warnings, at most (one row each); the rest are counted.
MAX_RATE_WARNINGS = 10_000


def percent_sql(value: str) -> str:
    """A percentage 0-100 from text such as ``85.3``, ``85.3%`` or ``85,3 %``; NULL otherwise."""
    text = f"replace(replace(trim({value}), '%', ''), ',', '.')"
    number = f"TRY_CAST(trim({text}) AS DOUBLE)"
    return f"(CASE WHEN {number} BETWEEN 0 AND 100 THEN {number} END)"


def stored_total(column: str, spec: ColumnSpec | None) -> str:
    """The stored value of an intervals field: an average times its weight, a percentage of its
    weight as whole calls, or the value as it is."""
    if spec is None:
        return column
    if spec.average_of:
        return f"({column} * {spec.average_of})"
    if spec.percent_of:
        return f"CAST(round({column} / 100.0 * {spec.percent_of}) AS BIGINT)"
    return column


# --- what a mapping may say ------------------------------------------------------------------


def check_rate_mapping(
    kind: str,
    columns: Mapping[str, ColumnSpec],
    rates: Mapping[str, ColumnSpec],
    constants: Mapping[str, Any],
    where: str,
) -> None:
    """Refuse ``average_of``/``percent_of`` outside an intervals mapping, a weight that is not a
    count the mapping gives, and a rate on a field it does not map."""
    declared = {n: s for n, s in columns.items() if s.average_of or s.percent_of}
    if kind != INTERVALS and (declared or rates):
        name = next(iter(declared or rates))
        section = "columns" if declared else "rates"
        raise ImportProblem(
            f"{where}: [{section}] {name} says it is an average or a percentage, which only "
            f'kind = "intervals" reads; a {kind} row is one item, so map its own value.'
        )
    fields = field_map(kind)
    for section, specs in (("columns", declared), ("rates", rates)):
        for name, spec in specs.items():
            _check_weight(name, spec, fields, columns, constants, f"{where}: [{section}] {name}")
    for name in rates:
        if name not in columns and name not in constants:
            raise ImportProblem(
                f"{where}: [rates] {name} checks a field the mapping does not import; map it "
                f"under [columns] (with the same percent_of or average_of to import it from "
                "the rate)."
            )


def _check_weight(
    name: str,
    spec: ColumnSpec,
    fields: Mapping[str, Any],
    columns: Mapping[str, ColumnSpec],
    constants: Mapping[str, Any],
    at: str,
) -> None:
    if name not in fields:
        raise ImportProblem(f"{at} is not an intervals field; fields are {', '.join(fields)}.")
    weight = spec.average_of or spec.percent_of
    if weight is None:
        raise ImportProblem(
            f'{at} needs average_of = "answered" or percent_of = "offered": the count it is '
            "an average or percentage of."
        )
    key = "average_of" if spec.average_of else "percent_of"
    wanted = "duration" if spec.average_of else "integer"
    if fields[name].type != wanted:
        what = "a total of seconds" if wanted == "duration" else "a count of calls"
        raise ImportProblem(f"{at}: {key} is for {what}, and {name} is not one.")
    if weight not in fields or fields[weight].type != "integer" or weight == name:
        counts = [n for n, f in fields.items() if f.type == "integer" and n != name]
        raise ImportProblem(f"{at}: {key} must be a count field: {', '.join(counts)}.")
    given = columns.get(weight)
    if (given is None or given.average_of or given.percent_of) and weight not in constants:
        raise ImportProblem(
            f"{at}: {key} = {weight!r} needs {weight} mapped from a count column under [columns]."
        )


#: Headers that name an average or a rate rather than one contact's own value.
_RATE_HEADER = re.compile(
    r"(^|[^a-z])(avg|average|mean|asa|aht|rate|ratio|pct|percent|percentage)([^a-z]|$)|%"
    r"|service level",
    re.IGNORECASE,
)
#: Per-contact fields a contact-centre report's averages and rates are mistaken for.
_PER_CONTACT = (
    "wait_seconds",
    "handle_seconds",
    "first_response_seconds",
    "resolution_seconds",
    "answered",
    "abandoned",
    "agent_replies",
    "reopens",
    "sla_met",
)


def per_contact_rate_notes(layout: Layout) -> tuple[str, ...]:
    """A note when a contacts mapping reads an average or a rate (by its header) into a field
    that is one contact's own value: an interval report mapped as contacts counts each row as
    one call with the average as its wait, a plausible wrong number."""
    if layout.kind != "contacts":
        return ()
    found = [
        f"{header!r} ({name})"
        for name, spec in layout.columns.items()
        if name in _PER_CONTACT
        for header in spec.columns
        if _RATE_HEADER.search(header)
    ]
    if not found:
        return ()
    return (
        f"{', '.join(found)} look like averages or rates, but each contacts row is one contact: "
        'map each contact\'s own value, or import an interval report with kind = "intervals" '
        "(average_of / percent_of turn averages and rates into totals)",
    )


# --- a supplied rate against its counts -------------------------------------------------------


def record_rate_warnings(cur: duckdb.DuckDBPyConnection, staged: Staged, issues: str) -> None:
    """A data-quality warning (a non-fatal issue in ``issues``) for each row whose ``[rates]``
    column disagrees with the counts imported for it by more than the rate's own rounding, and
    for each row counting more answered, abandoned or answered-in-time calls than were offered.
    The counts are kept: they are what the KPIs pool. A rate column the file lacks is skipped.
    A ``percent_of`` column written as fractions (0.85 for 85%) is refused."""
    layout = staged.layout
    if layout.kind != INTERVALS:
        return
    _refuse_fractions(cur, staged, issues)
    _count_issues(cur, staged, issues)
    headers = {_norm(h): i for i, h in reversed(list(enumerate(staged.raw.headers)))}
    for name, spec in layout.rates.items():
        position = headers.get(_norm(spec.columns[0]))
        weight = spec.average_of or spec.percent_of
        given = layout.columns.get(name)
        converted = given is not None and bool(given.average_of or given.percent_of)
        if position is None or weight is None or converted:
            continue  # no such column, or the field itself was made from a rate
        if not {name, weight} <= staged.present:
            continue
        _rate_issues(cur, staged, issues, name, spec, f"c{position}")


def percent_unreadable(header: str, value: str) -> str:
    """Why a ``percent_of`` column's value was emptied: out of range, or not a number."""
    text = value.replace("%", "").replace(",", ".").strip()
    try:
        float(text)
    except ValueError:
        return f"cannot read {value!r} as a percentage in {header}"
    return f"{header} {value!r} is outside 0-100%; the value was emptied"


def _refuse_fractions(cur: duckdb.DuckDBPyConnection, staged: Staged, issues: str) -> None:
    """Refuse a ``percent_of`` column whose every value lies between 0 and 1 (one above 0), none
    written with %: 0.85 read as 0.85% of 10 calls rounds to 0 calls, a wrong number in
    silence, and 0.85 might as well be 0.85%, so the file must say which it means. A lone such
    value among percentages is read as written, with a warning."""
    for name, spec in staged.layout.columns.items():
        if not spec.percent_of or name not in staged.present:
            continue
        raw = f"{name}__raw"
        found = cur.execute(
            f"""SELECT count(*) FILTER ({name} > 1 OR contains({raw}, '%')),
                       count(*) FILTER ({name} > 0), min({raw}) FILTER ({name} > 0)
                FROM {staged.table} WHERE {name} IS NOT NULL"""
        ).fetchall()[0]
        above_one, positive, example = found
        if above_one == 0 and positive > 0:
            raise ImportProblem(
                f"{staged.file_name}: column {spec.columns[0]!r} is a percentage of "
                f"{spec.percent_of}, but every value is between 0 and 1 (e.g. {example!r}): "
                "they look like fractions; write them as percentages (85 or 85%) and import again."
            )
        _warn_lone_fractions(cur, staged, issues, name, spec)


def _warn_lone_fractions(
    cur: duckdb.DuckDBPyConnection, staged: Staged, issues: str, name: str, spec: ColumnSpec
) -> None:
    """A warning for each value between 0 and 1 without % among percentages (``0.9`` beside
    ``80%``): read as 0.9%, as written, but it may be a fraction meaning 90%."""
    p = Params("f")
    message = (
        f"{spec.columns[0].replace('%', '%%')} %s is read as %s%% of {spec.percent_of}; if it "
        f"means a fraction, write it as a percentage (e.g. 90 for 0.9); {COUNTS_KEPT}"
    )
    raw = f"{name}__raw"
    cur.execute(
        f"""INSERT INTO {issues}
        SELECT _row, {p(spec.columns[0])}, {raw}, printf({p(message)}, {raw}, {raw}), false
        FROM {staged.table}
        WHERE {name} > 0 AND {name} < 1 AND NOT contains({raw}, '%')
        ORDER BY _row LIMIT {MAX_RATE_WARNINGS}""",
        p.values,
    )


#: Counts an interval row cannot have more of than it was offered calls.
_AT_MOST_OFFERED = ("answered", "abandoned", "answered_within")


def _count_issues(cur: duckdb.DuckDBPyConnection, staged: Staged, issues: str) -> None:
    """A warning for each row with more answered, abandoned or answered-in-time calls than
    offered ones (a count read from a percentage of offered cannot exceed it)."""
    layout = staged.layout
    offered = layout.columns.get("offered")
    if "offered" not in staged.present or offered is None or offered.percent_of:
        return
    for name in _AT_MOST_OFFERED:
        spec = layout.columns.get(name)
        if name not in staged.present or spec is None or spec.percent_of or spec.average_of:
            continue
        p = Params("o")
        message = f"{name} %s is more than offered %s; {COUNTS_KEPT}"
        cur.execute(
            f"""INSERT INTO {issues}
            SELECT _row, {p(spec.columns[0])}, CAST({name} AS VARCHAR),
                   printf({p(message)}, CAST({name} AS VARCHAR), CAST(offered AS VARCHAR)), false
            FROM {staged.table} WHERE {name} > offered
            ORDER BY _row LIMIT {MAX_RATE_WARNINGS}""",
            p.values,
        )


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


def _rate_issues(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    issues: str,
    name: str,
    spec: ColumnSpec,
    column: str,
) -> None:
    p = Params("r")
    text = f"NULLIF(trim(CAST(r.{column} AS VARCHAR)), '')"
    weight_name = spec.average_of or spec.percent_of
    weight = f"s.{weight_name}"
    if spec.percent_of:
        given, expected, unit = percent_sql(text), f"100.0 * s.{name} / {weight}", "%%"
    else:
        given, expected, unit = duration_sql(text, spec.unit, p), f"s.{name} / {weight}", " s"
    header = spec.columns[0]
    # printf's format: a % in the header ("Abandon %") is written %%.
    message = (
        f"{header.replace('%', '%%')} says %s but {name} / {weight_name} is %.2f{unit} "
        f"(%s of %s); {COUNTS_KEPT}"
    )
    cur.execute(
        f"""INSERT INTO {issues}
        SELECT _row, {p(header)}, value, printf({p(message)}, value, expected, n, w), false
        FROM (SELECT s._row, {text} AS value, {given} AS given, {expected} AS expected,
                     CAST(s.{name} AS VARCHAR) AS n, CAST({weight} AS VARCHAR) AS w,
                     {_rounding(text, spec.unit if spec.average_of else None)} AS tolerance
              FROM {staged.table} s JOIN {staged.raw.table} r USING (_row)
              WHERE {weight} > 0 AND s.{name} IS NOT NULL)
        WHERE given IS NOT NULL AND abs(given - expected) > tolerance
        ORDER BY _row LIMIT {MAX_RATE_WARNINGS}""",
        p.values,
    )


def _rounding(text: str, unit: str | None) -> str:
    """Half the last written digit of the rate (``12%``: 0.5; ``12.34``: 0.005; clock text:
    half a second), in the rate's own units, plus a hair for binary fractions."""
    digits = f"length(coalesce(regexp_extract({text}, '[.,]([0-9]+)', 1), ''))"
    factor = DURATION_UNITS[unit or "seconds"]
    return f"(0.5 * pow(10, -{digits}) * {factor} + 1e-9)"
