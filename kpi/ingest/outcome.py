"""What an import did: its counts and top reasons, read back for a file imported before, and
described in the lines `kpi import` prints and the Data page shows."""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import duckdb

from kpi.ingest.rates import COUNTS_KEPT
from kpi.store.connection import Store


@dataclass
class ImportResult:
    file_name: str
    layout: str
    kind: str
    source: str
    batch_id: int | None
    rows_read: int
    rows_imported: int
    rows_quarantined: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Rows older than the stored versions, which were kept as stored.
    older: int = 0
    rolled_up: int = 0
    responses_linked: int = 0
    warnings: int = 0
    encoding: str = ""
    date_formats: dict[str, str] = field(default_factory=dict)
    top_reasons: list[tuple[str, int, str]] = field(default_factory=list)
    top_warnings: list[tuple[str, int, str]] = field(default_factory=list)
    skipped_lines: int = 0
    already_imported: bool = False
    #: What the import must say although nothing was set aside (undated answers, repeated ids
    #: whose dates differ), one sentence each.
    notes: list[str] = field(default_factory=list)
    #: Fields a lenient layout (missing_columns = "ignore") maps whose columns the file lacks,
    #: as "field ('Column')": they stay empty, which must not go unsaid.
    absent_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def previous_import(store: Store, sha: str) -> ImportResult | None:
    """The batch that imported these exact bytes and is not undone, if any."""
    rows = (
        store.cursor()
        .execute(
            """SELECT batch_id, file_name, layout, kind, source, rows_read, rows_imported,
                  rows_quarantined, coalesce(rows_older, 0), encoding
           FROM imports WHERE sha256 = ? AND undone_at IS NULL ORDER BY batch_id LIMIT 1""",
            [sha],
        )
        .fetchall()
    )
    if not rows:
        return None
    b, file_name, layout, kind, source, read, imported, quarantined, older, enc = rows[0]
    # Re-importing the same bytes changes nothing: every imported row is unchanged, except
    # the rows found older than the stored ones, which still are.
    return ImportResult(
        file_name, layout, kind, source, b, read, imported, quarantined,
        unchanged=imported - older, older=older, encoding=enc, already_imported=True,
    )  # fmt: skip


#: (RE2 pattern, replacement) applied in turn to a reason to find its kind of problem.
GROUPING = (
    ("''[^'']*''", "…"),  # a quoted value
    ("^line [0-9]+: ", ""),  # a malformed line's number
    ("duplicate ([a-z_]+) .* \\(first at row [0-9]+\\)", "duplicate \\1 …"),
    ("^duplicate ([a-z_]+): rows [0-9]+ and [0-9]+ .*", "duplicate \\1 …"),  # an interval
)


def top_reasons(
    cur: duckdb.DuckDBPyConnection, table: str, column: str, batch_id: int, limit: int = 5
) -> list[tuple[str, int, str]]:
    """The most common problems of a batch, grouped by their kind, with an example row."""
    if table not in ("quarantine", "import_warnings") or column not in ("reason", "issue"):
        raise ValueError("unknown issue table")  # a programming error: callers pass constants
    # Group by the kind of problem: quoted values, a malformed line's number and a repeated
    # id differ from row to row, so '200k x line N: malformed CSV' is one group, not 200k.
    problem = column
    for pattern, replacement in GROUPING:
        problem = f"regexp_replace({problem}, '{pattern}', '{replacement}', 'g')"
    rows = cur.execute(
        f"""SELECT {problem} AS problem, count(*) AS n,
                   arg_min(printf('row %d: %s', row_number, {column}), row_number) AS example
            FROM {table} WHERE batch_id = ? GROUP BY problem
            ORDER BY n DESC, problem LIMIT {int(limit)}""",
        [batch_id],
    ).fetchall()
    return [(problem, n, _example(problem, example)) for problem, n, example in rows]


def _example(problem: str, example: str) -> str:
    """``row N: reason``, or just ``row N`` (and its line) when the reason adds nothing to the
    problem it exemplifies (a malformed line's reason is the problem plus its line number)."""
    row, _, reason = example.partition(": ")
    line = re.match(r"line [0-9]+: ", reason)
    if line and reason[line.end() :] == problem:
        return f"{row}, {line[0][:-2]}"
    return example


#: The words ending a data-quality warning whose values were kept.
KEPT = COUNTS_KEPT


def absent_columns(columns: Mapping[str, Sequence[str]], present: Container[str]) -> list[str]:
    """The fields of ``columns`` (field -> source columns) none of whose columns are
    ``present``, as "field ('Column')" (a field read from any of its columns is not absent)."""
    return [
        f"{name} ({', '.join(repr(c) for c in cols)})"
        for name, cols in columns.items()
        if not any(c in present for c in cols)
    ]


def describe_import(r: ImportResult) -> list[str]:
    """What an import did, in the lines `kpi import` prints and the Data page shows."""
    counts = (
        f"  rows read {r.rows_read:,} = imported {r.rows_imported:,} + "
        f"quarantined {r.rows_quarantined:,}"
    )
    if r.already_imported:
        return [
            f"{r.file_name}: already imported as batch {r.batch_id} ({r.layout}); nothing changed.",
            counts,
        ]
    lines = [
        f"{r.file_name}: layout {r.layout}, encoding {r.encoding}, batch {r.batch_id}",
        counts,
        f"  {r.kind}: {r.inserted:,} new, {r.updated:,} updated, {r.unchanged:,} unchanged"
        + (f"; {r.older:,} older than the stored rows, kept as stored" if r.older else "")
        + (f"; {r.rolled_up:,} event rows rolled up into their contact" if r.rolled_up else ""),
    ]
    if r.responses_linked:
        lines.append(f"  survey answers linked to contacts: {r.responses_linked:,}")
    if r.date_formats:
        formats = ", ".join(f"{k} {v}" for k, v in sorted(r.date_formats.items()))
        lines.append(f"  dates read as: {formats}")
    if r.skipped_lines:
        lines.append(f"  non-data lines skipped: {r.skipped_lines}")
    if r.absent_columns:
        lines.append(f"  not in the file, left empty: {', '.join(r.absent_columns)}")
    # A rate or count that disagrees with the others empties nothing (KEPT is in its words).
    kept = [w for w in r.top_warnings if KEPT in w[0]]
    emptied = [w for w in r.top_warnings if KEPT not in w[0]]
    for title, items in (
        ("top reasons quarantined", r.top_reasons),
        ("top reasons values emptied", emptied),
        ("data-quality warnings (the counts were kept)", kept),
    ):
        if items:
            lines.append(f"  {title}:")
            lines += [f"    {n:,} x {kind}  (e.g. {example})" for kind, n, example in items]
    lines += [f"  note: {note}" for note in r.notes]
    return lines


def undated_answers(cur: duckdb.DuckDBPyConnection, batch_id: int) -> str | None:
    """The note for a batch's survey answers without a date, if it has any."""
    n = cur.execute(
        "SELECT count(*) FROM responses WHERE batch_id = ? AND responded_at IS NULL", [batch_id]
    ).fetchall()[0][0]
    if not n:
        return None
    are = "answer has" if n == 1 else "answers have"
    them = "it counts" if n == 1 else "they count"
    return f"{n:,} {are} no date: {them} in all-time figures and in the 'undated' line"
