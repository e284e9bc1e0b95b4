"""The second step of an import: the staged rows checked, and each problem given its outcome.

A value that cannot be read, or that Pandera rejects, is an issue. An issue on a required field
is fatal: the row goes to quarantine. Any other issue empties its value and is recorded as a
data-quality warning; the rest of the row still counts. A date that cannot have happened (after
the import time plus a tolerance, or before a plausible floor) quarantines its whole row,
whichever timestamp it is in. A repeated id is quarantined, or for an event log
(``duplicates = "keep_last"``) rolled up into its last row. An event log with a ``[rollup]`` is
made one row per case before any check (``kpi.ingest.rollup``), so the checks see cases.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import duckdb

from kpi.errors import ImportProblem, printable
from kpi.ingest import rollup, validation
from kpi.ingest.intervals import duplicate_reason_sql, key_from_values
from kpi.ingest.limits import LAST_INSTANT, ImportLimits
from kpi.ingest.parsing import Params
from kpi.ingest.privacy import scrub
from kpi.ingest.rates import (
    per_contact_rate_notes,
    percent_unreadable,
    record_rate_warnings,
)
from kpi.ingest.staging import Staged
from kpi.store.schema import key_field

VALIDATION_CHUNK = 500_000  # rows handed to Pandera at a time


@dataclass(frozen=True)
class Issue:
    """One problem with one value of one row."""

    row: int
    field: str
    value: str | None
    issue: str
    fatal: bool  # the row is quarantined; otherwise the value is emptied with a warning


@dataclass(frozen=True)
class Checked:
    """Staged rows with their issues recorded.

    ``issues_table`` holds every issue (plus repeated ids, as fatal issues); ``accepted_table``
    holds the ``_row`` of each row to load: no fatal issue, and one row per id.
    """

    staged: Staged
    rolled_up: int  # event rows rolled up into the last row of their id
    #: What the import must say although no row is set aside (repeated ids whose dates differ).
    notes: tuple[str, ...] = ()
    #: Every staged row is to be loaded (no fatal issue, no repeated id): the usual clean export.
    all_accepted: bool = False

    @property
    def issues_table(self) -> str:
        return f"issues_{self.staged.tag}"

    @property
    def accepted_table(self) -> str:
        return f"dup_{self.staged.tag}"

    @property
    def accepted_rows(self) -> str:
        """The staged rows to load, as a FROM clause (extendable with ``AND ...``)."""
        if self.all_accepted:
            # The same rows without a semi-join of every staged row to the accepted table.
            return f"{self.staged.table} WHERE true"
        return f"{self.staged.table} WHERE _row IN (SELECT _row FROM {self.accepted_table})"


def check(
    cur: duckdb.DuckDBPyConnection, staged: Staged, limits: ImportLimits | None = None
) -> Checked:
    """Find every issue in ``staged``, empty the values of non-fatal ones, mark duplicates.

    ``limits`` bound plausible dates (``kpi.ingest.limits``)."""
    limits = limits or ImportLimits()
    checked = Checked(staged, rolled_up=0)
    _create_issues_table(cur, checked)
    # An event log becomes one row per case first, so each case's row is checked as a row.
    staged, rolled = rollup.roll_up(cur, staged, checked.issues_table)
    checked = replace(checked, staged=staged)
    bounds = DateBounds.of(limits)
    _record_impossible_dates(cur, checked, bounds)
    issues = _parse_issues(cur, staged) + _non_finite_issues(cur, staged)
    issues += _word_scale_issues(cur, staged)
    issues += _validation_issues(cur, staged, {(i.row, i.field) for i in issues}, bounds)
    _record_issues(cur, checked, issues)
    record_rate_warnings(cur, staged, checked.issues_table)  # after values were emptied
    key_from_values(cur, staged)  # an interval row's key from its start as read
    if rolled is not None:
        rolled_up = rollup.settle(cur, staged, rolled, checked.issues_table)
        _mark_duplicates(cur, checked)
        notes = rolled.notes + per_contact_rate_notes(staged.layout)
        return replace(
            checked, rolled_up=rolled_up, notes=notes, all_accepted=_accepts_all(cur, checked)
        )
    notes = _repeats_with_other_dates(cur, staged) + per_contact_rate_notes(staged.layout)
    rolled_up = _mark_duplicates(cur, checked)
    return replace(
        checked, rolled_up=rolled_up, notes=notes, all_accepted=_accepts_all(cur, checked)
    )


# --- dates that cannot have happened ----------------------------------------------------------


@dataclass(frozen=True)
class DateBounds:
    """The plausible dates of one import (naive UTC, like the staged timestamps)."""

    now: dt.datetime
    latest: dt.datetime
    earliest: dt.datetime
    future_days: float

    @classmethod
    def of(cls, limits: ImportLimits) -> DateBounds:
        return cls(limits.current(), limits.latest(), limits.earliest(), limits.max_future_days)

    def outside(self, name: str, p: Params) -> str:
        """SQL: the staged timestamp ``name`` is outside the bounds (NULL is not)."""
        return f"({name} > {p(self.latest)} OR {name} < {p(self.earliest)})"

    def reasons(self, name: str, whole_row: str) -> tuple[str, str]:
        """printf formats of the quarantine reasons for a date too late and too early (the
        value is the ``%s``)."""
        days = f"{self.future_days:g} day{'' if self.future_days == 1 else 's'}"
        future = (
            f"{name} '%s' is after the import time ({self.now:%Y-%m-%d}) + {days}: "
            f"a date that has not happened yet{whole_row} "
            "(set KPI_MAX_FUTURE_DAYS to change the tolerance)"
        )
        if self.latest >= LAST_INSTANT:  # a tolerance reaching past the dates reports cover
            future = (
                f"{name} '%s' is after {self.latest:%Y-%m-%d}, the last date a report "
                f"covers{whole_row}"
            )
        past = (
            f"{name} '%s' is before {self.earliest:%Y-%m-%d}, the earliest plausible date"
            f"{whole_row} (set KPI_EARLIEST_DATE to change it)"
        )
        return future, past

    def plausible_rows(self, staged: Staged, p: Params) -> str:
        """SQL: the row has no impossible date (always true without timestamps)."""
        outside = [self.outside(name, p) for name in sorted(staged.date_parses)]
        return f"NOT coalesce({' OR '.join(outside)}, false)" if outside else "true"


def _record_impossible_dates(
    cur: duckdb.DuckDBPyConnection, checked: Checked, bounds: DateBounds
) -> None:
    """A timestamp after the import time plus the tolerance, or before the earliest plausible
    date, quarantines its row, set-wise: one such date moves the as-of instant, the SLA and the
    Overview's default period, and a row holding one cannot be trusted in its other fields."""
    staged = checked.staged
    fields = staged.fields
    p = Params()
    parts = []
    for name in sorted(staged.date_parses):
        # An impossible date in an optional field still sets the row aside: say so.
        whole_row = "" if fields[name].required else WHOLE_ROW
        future, past = bounds.reasons(name, whole_row)
        raw = f"{name}__raw"
        shown = f"(CASE WHEN length({raw}) > 60 THEN left({raw}, 57) || '...' ELSE {raw} END)"
        parts.append(
            f"""SELECT _row, {p(name)}, {raw},
                printf(CASE WHEN {name} > {p(bounds.latest)} THEN {p(future)} ELSE {p(past)} END,
                       {shown}), true
            FROM {staged.table} WHERE {bounds.outside(name, p)}"""
        )
    if parts:
        cur.execute(f"INSERT INTO {checked.issues_table} {' UNION ALL '.join(parts)}", p.values)


#: Said of an impossible date in an optional field: the row goes, not just the value.
WHOLE_ROW = "; a row with an impossible date cannot be trusted, so the whole row is set aside"


# --- numbers that are not finite ----------------------------------------------------------------


def _non_finite_issues(cur: duckdb.DuckDBPyConnection, staged: Staged) -> list[Issue]:
    """A NaN or infinity in a typed number (the parsers never give one: this is the guard that
    keeps it so, since pandas cannot tell a NaN from an empty value)."""
    fields, p = staged.fields, Params()
    names = [
        n
        for n in sorted(staged.present)
        if n in staged.layout.scores or (n in fields and fields[n].type in ("duration", "score"))
    ]
    parts = [
        f"SELECT _row, {p(n)} AS f, {n}__raw AS v FROM {staged.table} WHERE NOT isfinite({n})"
        for n in names
    ]
    return _unreadable_issues(cur, staged, parts, p)


def _unreadable_issues(
    cur: duckdb.DuckDBPyConnection, staged: Staged, parts: list[str], p: Params
) -> list[Issue]:
    """The rows of ``parts`` (queries of _row, field, source text) as unreadable-value issues."""
    if not parts:
        return []
    rows = cur.execute(" UNION ALL ".join(parts), p.values).fetchall()
    return [
        Issue(row, name, value, _unreadable(staged, name, value), _fatal(staged, name))
        for row, name, value in rows
    ]


# --- values that cannot be read -------------------------------------------------------------


def _parse_issues(cur: duckdb.DuckDBPyConnection, staged: Staged) -> list[Issue]:
    """Source text that could not be read as its field's type."""
    p = Params()
    parts = []
    for name in sorted(n for n in staged.present if not staged.verbatim(n)):
        no_answer = _no_answer_words(staged, name)
        skip = f" AND lower({name}__raw) NOT IN ({', '.join(p(w) for w in no_answer)})"
        parts.append(
            f"SELECT _row, {p(name)} AS f, {name}__raw AS v FROM {staged.table} "
            f"WHERE {name}__raw IS NOT NULL AND {name} IS NULL{skip if no_answer else ''}"
        )
    return _unreadable_issues(cur, staged, parts, p)


def _word_scale_issues(cur: duckdb.DuckDBPyConnection, staged: Staged) -> list[Issue]:
    """An answer that is not one of a word scale's words (``3`` on ``["Bad", "OK", "Good"]``):
    emptied with a warning, as an out-of-scale number is, never taken as a position."""
    p, found = Params(), []
    for name in sorted(n for n in staged.present if n in staged.layout.scores):
        spec = staged.layout.scores[name]
        if not spec.words:
            continue
        keys = ", ".join(p(w) for w in spec.labels)
        rows = cur.execute(
            f"SELECT _row, {name}__raw FROM {staged.table} WHERE {name} IS NOT NULL "
            f"AND lower({name}__raw) NOT IN ({keys})",
            p.values,
        ).fetchall()
        words = ", ".join(spec.words)
        found += [
            Issue(
                row,
                name,
                value,
                f"{value!r} is not one of the {name} scale's words ({words})",
                _fatal(staged, name),
            )
            for row, value in rows
        ]
    return found


def _no_answer_words(staged: Staged, name: str) -> list[str]:
    spec = staged.layout.scores.get(name)
    return [w for w, v in spec.labels.items() if v is None] if spec else []


def _unreadable(staged: Staged, name: str, value: str) -> str:
    if name in staged.layout.scores:
        return f"cannot read {value!r} as a {name} score"
    spec = staged.layout.columns.get(name)
    if spec is not None and spec.percent_of:
        return percent_unreadable(spec.columns[0], value)
    f = staged.fields[name]
    if f.type == "timestamp":
        return f"cannot read {value!r} as a date ({staged.date_parses[name].label})"
    if f.type == "category":
        return f"{value!r} is not a known {name} (use [values.{name}] in a mapping)"
    kinds = {"duration": "a duration", "integer": "a whole number", "boolean": "yes/no"}
    return f"cannot read {value!r} as {kinds.get(f.type, f.type)}"


def _fatal(staged: Staged, name: str) -> bool:
    fields = staged.fields
    return name in fields and fields[name].required


# --- values Pandera rejects -----------------------------------------------------------------


def _validation_issues(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    unreadable: set[tuple[int, str]],
    bounds: DateBounds,
) -> list[Issue]:
    """Pandera's verdict on the typed values (ranges, scales, order of timestamps); a value
    already reported as unreadable is not reported again, and a row quarantined for an
    impossible date is not looked at (its timestamps' order means nothing)."""
    columns = _validated_columns(staged)
    scales = {name: spec.scale for name, spec in staged.layout.scores.items()}
    issues = []
    for failure in _failures(cur, staged, columns, scales, bounds):
        if (failure.row, failure.field) in unreadable:
            continue
        shown = _show(failure.value)
        issues.append(
            Issue(failure.row, failure.field, shown, _describe(failure, shown), failure.required)
        )
    return issues


def _validated_columns(staged: Staged) -> list[str]:
    """The present fields Pandera checks; raise when a required field has no column."""
    fields = staged.fields
    columns = [
        n
        for n in sorted(staged.present)
        if n in staged.layout.scores
        or (n in fields and (fields[n].type != "text" or fields[n].required))
    ]
    missing = [f.name for f in fields.values() if f.required and f.name not in staged.present]
    if missing:
        raise ImportProblem(
            f"{staged.file_name}: the layout gives no column for {', '.join(missing)}."
        )
    return columns


def _describe(failure: validation.Failure, shown: str) -> str:
    if failure.issue == "is empty":
        return f"{failure.field} is empty"
    if failure.issue.startswith(failure.field):
        return failure.issue
    return f"{failure.field} {shown} {failure.issue}"


def _failures(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    columns: list[str],
    scales: dict[str, tuple[float, float]],
    bounds: DateBounds,
) -> Iterator[validation.Failure]:
    """Pandera over the typed rows in chunks, so memory stays flat however big the file."""
    p = Params()
    query = (
        f"SELECT _row, {', '.join(columns)} FROM {staged.table} "
        f"WHERE {bounds.plausible_rows(staged, p)}"
    )
    for batch in cur.sql(query, params=p.values).to_arrow_reader(VALIDATION_CHUNK):
        frame = batch.to_pandas().set_index("_row")
        yield from validation.failures(staged.layout.kind, frame, scales)


def _show(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


# --- outcomes -------------------------------------------------------------------------------


def _create_issues_table(cur: duckdb.DuckDBPyConnection, checked: Checked) -> None:
    cur.execute(
        f"""CREATE TEMP TABLE {checked.issues_table} (_row BIGINT, field VARCHAR, value VARCHAR,
            issue VARCHAR, fatal BOOLEAN)"""
    )


def _record_issues(cur: duckdb.DuckDBPyConnection, checked: Checked, issues: list[Issue]) -> None:
    """Issues into their table; non-fatal ones empty their value (fatal ones quarantine the
    row when it is loaded)."""
    table = checked.issues_table
    if issues:
        cur.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)",
            [
                (i.row, i.field, None if i.value is None else str(i.value)[:500], i.issue, i.fatal)
                for i in issues
            ],
        )
    for name in {i.field for i in issues if not i.fatal}:
        cur.execute(
            f"""UPDATE {checked.staged.table} SET {name} = NULL WHERE _row IN
                (SELECT _row FROM {table} WHERE field = ? AND NOT fatal)""",
            [name],
        )


def _repeats_with_other_dates(cur: duckdb.DuckDBPyConnection, staged: Staged) -> tuple[str, ...]:
    """With ``duplicates = "keep_last"``, the ids whose rows disagree on a date: the row kept is
    the file's last, which is a guess (an event log may be in any order), so it is said, with
    how many ids and one example, never picked in silence."""
    if staged.layout.duplicates != "keep_last" or not staged.date_parses:
        return ()
    key = key_field(staged.layout.kind)
    dates = sorted(staged.date_parses)
    differs = " OR ".join(f"count(DISTINCT {d}) > 1" for d in dates)
    which = " ".join(f"WHEN count(DISTINCT {d}) > 1 THEN '{d}'" for d in dates)
    found = cur.execute(
        f"""SELECT count(*) OVER (), id, field, rows FROM (
                SELECT {key} AS id, CASE {which} END AS field, count(*) AS rows
                FROM {staged.table} WHERE {key} IS NOT NULL
                GROUP BY {key} HAVING count(*) > 1 AND ({differs}))
            ORDER BY id LIMIT 1"""
    ).fetchall()
    if not found:
        return ()
    ids, example, field, rows = found[0]
    shown = printable(str(example))[:40]
    return (
        f"{ids:,} {key}{'s' if ids != 1 else ''} appear on several rows with different dates "
        f"(e.g. {shown!r}: {rows} rows, {field} differs); the last row of each in the file was "
        'kept (duplicates = "keep_last" goes by file order, not by date): check that the file '
        "is in time order",
    )


def _mark_duplicates(cur: duckdb.DuckDBPyConnection, checked: Checked) -> int:
    """A repeated id: quarantined, or for event logs rolled up into its last row. Leaves one
    row per id in the accepted table; returns how many rows were rolled up."""
    staged, accepted = checked.staged, checked.accepted_table
    duplicates, key = staged.layout.duplicates, key_field(staged.layout.kind)
    keep = "DESC" if duplicates == "keep_last" else "ASC"
    cur.execute(
        f"""CREATE TEMP TABLE {accepted} AS
        SELECT _row, {key} AS id,
               row_number() OVER (PARTITION BY {key} ORDER BY _row {keep}) AS rank,
               first(_row) OVER (PARTITION BY {key} ORDER BY _row {keep}) AS kept
        FROM {staged.table}
        WHERE {key} IS NOT NULL
          AND _row NOT IN (SELECT _row FROM {checked.issues_table} WHERE fatal)"""
    )
    if duplicates == "quarantine":
        # A repeated interval is said as the file writes it (kpi.ingest.intervals).
        plain = (f"printf('duplicate {key} %s (first at row %d)', a.id, a.kept)", "a.id")
        reason, value = duplicate_reason_sql(staged, "s", "f") or plain
        cur.execute(
            f"""INSERT INTO {checked.issues_table}
            SELECT a._row, ?, {value}, {reason}, true
            FROM {accepted} a JOIN {staged.table} s ON s._row = a._row
            JOIN {staged.table} f ON f._row = a.kept
            WHERE a.rank > 1""",
            [key],
        )
    rolled_up = 0
    if duplicates == "keep_last":
        rolled_up = cur.execute(f"SELECT count(*) FROM {accepted} WHERE rank > 1").fetchall()[0][0]
    cur.execute(f"DELETE FROM {accepted} WHERE rank > 1")
    return rolled_up


def _accepts_all(cur: duckdb.DuckDBPyConnection, checked: Checked) -> bool:
    """Whether every staged row is to be loaded. The accepted table is made of the staging
    table's rows (those kept, one per id), so as many rows as the staging table means that
    none was left out."""
    found = cur.execute(
        f"SELECT (SELECT count(*) FROM {checked.accepted_table}) = "
        f"(SELECT count(*) FROM {checked.staged.table})"
    ).fetchall()
    return bool(found[0][0])


# --- an import that would set aside too much ----------------------------------------------------


@dataclass(frozen=True)
class _Cause:
    """The commonest reason rows would be set aside: how many, one example, what to do."""

    rows: int
    reason: str
    where: str  # "row 4" or "line 5"
    advice: str


def refuse_if_mostly_set_aside(
    cur: duckdb.DuckDBPyConnection, checked: Checked, limits: ImportLimits
) -> None:
    """Raise ``ImportProblem`` before anything is loaded when every row would be quarantined
    (a wrong ``date_format`` or column does that: an empty batch only hides the mistake), or
    more than ``limits.max_quarantine`` percent of them. The line names each cause with its count
    and what to do about the commonest; the store is left as it was."""
    staged = checked.staged
    read = staged.raw.rows_read
    fatal_rows = cur.execute(
        f"SELECT count(DISTINCT _row) FROM {checked.issues_table} WHERE fatal"
    ).fetchall()[0][0]
    aside = len(staged.raw.rejected) + fatal_rows
    if read == 0 or aside == 0:
        return
    limit = limits.max_quarantine
    if aside < read and aside * 100 <= limit * read:
        return
    causes = _causes(cur, checked)
    # Every reason with its count, commonest first: one named alone hides the others.
    shown = causes[:MAX_CAUSES]
    because = ", ".join(f"{c.rows:,} x {c.reason} ({c.where})" for c in shown)
    if len(causes) > len(shown):
        because += f" and {len(causes) - len(shown):,} more reasons"
    cause = causes[0]
    if aside == read:
        head = f"every row ({read:,}) would be set aside"
    else:
        head = (
            f"{aside:,} of {read:,} rows ({aside / read:.0%}) would be set aside, more than the "
            f"limit of {limit:g}% (--max-quarantine or KPI_MAX_QUARANTINE)"
        )
    raise ImportProblem(
        f"{staged.file_name}: {head}: {because}; {cause.advice}. Nothing was imported."
    )


#: A quoted value, and a line number, in a reason: what differs between rows of one cause.
_QUOTED = re.compile(r"'[^']*'")
_LINE = re.compile(r"^line [0-9]+: ")


MAX_CAUSES = 5  # reasons named in a refusal; the rest are counted


def _causes(cur: duckdb.DuckDBPyConnection, checked: Checked) -> list[_Cause]:
    """Each reason rows would be set aside, with how many and one example, commonest first."""
    staged = checked.staged
    found = cur.execute(
        f"""SELECT field, regexp_replace(issue, '''[^'']*''', '…', 'g') AS kind,
                   count(DISTINCT _row) AS n, arg_min(issue, _row), min(_row)
            FROM {checked.issues_table} WHERE fatal
            GROUP BY field, kind ORDER BY n DESC, kind"""
    ).fetchall()
    causes = [
        _Cause(rows, _short(issue), f"e.g. row {row}", _advice(staged, name, issue))
        for name, _, rows, issue, row in found
    ]
    lines: dict[str, list[int]] = {}
    reasons: dict[str, str] = {}
    for r in staged.raw.rejected:
        kind = _QUOTED.sub("…", _LINE.sub("", r.reason))
        lines.setdefault(kind, []).append(r.line)
        reasons.setdefault(kind, _LINE.sub("", r.reason))
    causes += [
        _Cause(
            len(found_lines),
            _short(reasons[kind]),
            f"e.g. line {min(found_lines)}",
            "check the file's delimiter and quoting, or re-export it, and import again",
        )
        for kind, found_lines in lines.items()
    ]
    return sorted(causes, key=lambda c: -c.rows)


def _advice(staged: Staged, name: str, issue: str) -> str:
    """What to do about a cause that sets aside every row, naming the mapping key to fix."""
    spec = staged.layout.columns.get(name)
    column = f"column {' + '.join(repr(c) for c in spec.columns)} ({name})" if spec else f"{name}"
    field = staged.fields.get(name)
    if field is not None and field.type == "timestamp" and issue.startswith("cannot read"):
        return (
            f"{column} is not in that format: fix date_format in the mapping (a list of "
            "formats is tried in order) and import again"
        )
    if issue.startswith("duplicate"):
        return f"check that {name} names the column of unique ids and import again"
    if issue.endswith("is empty"):
        return f"check that [columns] {name} names the right column and import again"
    return f"check {column} in the mapping, or the file, and import again"


def _short(text: str, limit: int = 120) -> str:
    """A reason for a one-line message: no email, phone or card number (a message is read on
    screens and in logs), no control character, cut short."""
    text = printable(scrub(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"
