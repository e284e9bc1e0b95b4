"""The last step of an import: checked rows loaded into the store as one batch, atomically.

Accepted rows are upserted as canonical rows (customer ids pseudonymised, free text scrubbed);
rows with a fatal issue and lines the reader rejected go to the quarantine, made as safe; the
other issues become warnings, their values made safe the same way. A row older than the stored
one is kept out, and a column the export lacks keeps its stored values (``kpi.store.batches``).
All of it is one transaction: a failure leaves the store as it was, and says why.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import datetime

import duckdb
import pandas as pd

from kpi.errors import ImportProblem, disk_full
from kpi.ingest.canonical import StagedRows, canonical_select, supplied_columns
from kpi.ingest.checking import Checked
from kpi.ingest.outcome import ImportResult, top_reasons
from kpi.ingest.parsing import Params
from kpi.ingest.privacy import (
    MAX_COLLEAGUES,
    People,
    pseudonym_sql,
    scrub_sql,
)
from kpi.ingest.staging import Staged
from kpi.store import audit
from kpi.store.batches import (
    UpsertCounts,
    batch_as_of,
    forget_kept_rows,
    importer_name,
    next_batch_id,
    record_importer,
    upsert,
)
from kpi.store.scales import record_scale_labels


def load(
    cur: duckdb.DuckDBPyConnection,
    checked: Checked,
    *,
    sha: str,
    pseudonym_key: str,
    imported_by: str | None = None,
    identity: str | None = None,
) -> ImportResult:
    """Load ``checked`` as the next batch and record it (who made it, and the words of any
    ordinal scale, in the same transaction); drop the run's temporary tables. ``identity`` is
    the signed-in importer's ``issuer|subject`` for the audit log (None in local mode).

    A full disk is an ``ImportProblem``; any other failure propagates as it is, never hidden
    behind an error of the cleanup that follows it.
    """
    staged = checked.staged
    try:
        cur.execute("BEGIN TRANSACTION")
        batch_id = next_batch_id(cur)
        counts, linked, as_of = _upsert_rows(cur, checked, batch_id, pseudonym_key)
        quarantined = _quarantine(cur, checked, batch_id, pseudonym_key)
        _record_warnings(cur, checked, batch_id, pseudonym_key)
        result = _result(cur, checked, batch_id, counts, linked, quarantined)
        _record_batch(cur, staged, batch_id, sha, result, as_of)
        if staged.layout.kind == "contacts":
            forget_kept_rows(cur, prune=False)
        if imported_by is not None:
            record_importer(cur, batch_id, imported_by)
        detail = _audit_detail(result)
        audit.record(cur, importer_name(imported_by), "import", detail, identity=identity)
        _record_scales(cur, staged)
        cur.execute("COMMIT")
    except BaseException as exc:
        # A failed COMMIT has already ended the transaction, so ROLLBACK itself fails ("no
        # transaction is active"): that must not replace the error that says what went wrong.
        _quietly(cur, "ROLLBACK")
        full = disk_full(exc)
        if full is not None:
            raise ImportProblem(
                f"{staged.file_name}: the disk is full ({full}): free space and import again; "
                "the store is unchanged."
            ) from exc
        raise
    finally:
        tables = (staged.table, checked.issues_table, checked.accepted_table, staged.raw.table)
        for table in tables:
            # Temporary tables also go with the cursor, so a failed DROP loses nothing; after
            # a failure it would only hide the real error.
            _quietly(cur, f"DROP TABLE IF EXISTS {table}")
    return result


def _audit_detail(result: ImportResult) -> str:
    return (
        f"batch {result.batch_id} ({result.file_name}, {result.layout}): {result.rows_read:,} "
        f"read, {result.rows_imported:,} imported, {result.rows_quarantined:,} set aside"
    )


def _record_scales(cur: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """The words of the mapping's ordinal scales, so that pages can show them."""
    layout = staged.layout
    for score, spec in layout.scores.items():
        if spec.words:
            record_scale_labels(cur, layout.source, score, spec.words)


def _quietly(cur: duckdb.DuckDBPyConnection, sql: str) -> None:
    """A cleanup statement whose own failure is of no interest."""
    with contextlib.suppress(duckdb.Error):
        cur.execute(sql)


# --- canonical rows ---------------------------------------------------------------------------


def _upsert_rows(
    cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int, key: str
) -> tuple[UpsertCounts, int, datetime | None]:
    """The accepted rows into their kind's table, and a contacts export's survey answers into
    responses; returns the counts, how many answers were linked and the export's as-of."""
    staged = checked.staged
    kind = staged.layout.kind
    p = Params()
    rows = StagedRows(staged.layout, staged.present, key, _people(cur, staged))
    select = f"SELECT {canonical_select(kind, rows, batch_id, p)} FROM {checked.accepted_rows}"
    # Of the accepted rows only: a quarantined row's date (one in 2099) says nothing of when
    # the export was taken. The linked answers are of the same export, so of the same instant.
    as_of = batch_as_of(cur, kind, select, p.values)
    supplied = supplied_columns(kind, rows)
    counts = upsert(cur, kind, select, p.values, batch_id, supplied, as_of=as_of)
    linked = 0
    if kind == "contacts" and staged.layout.scores:
        linked = _link_responses(cur, checked, batch_id, key, as_of)
    return counts, linked, as_of


def _people(cur: duckdb.DuckDBPyConnection, staged: Staged) -> People:
    """Whose names the rows' free text must lose: each row's own name cells, and every agent
    of the export, in every row's text."""
    row_names = _row_names(staged)
    if not row_names:
        return People()
    colleagues: tuple[str, ...] = ()
    if "agent" in staged.present:
        found = cur.execute(
            f"SELECT DISTINCT agent FROM {staged.table} WHERE agent IS NOT NULL "
            "ORDER BY agent LIMIT ?",
            [MAX_COLLEAGUES],
        ).fetchall()
        colleagues = tuple(str(a) for (a,) in found)
    return People(row_names=row_names, colleagues=colleagues)


def _row_names(staged: Staged, alias: str = "") -> tuple[str, ...]:
    """The row's own name cells (the columns whose header says they hold a name, which are
    never imported themselves, and its agent). ``alias`` qualifies the staging columns."""
    cells = [f"{alias}{cell}" for cell in staged.name_cells]
    if "agent" in staged.present:
        cells.append(f"{alias}agent")
    return tuple(cells)


def _link_responses(
    cur: duckdb.DuckDBPyConnection,
    checked: Checked,
    batch_id: int,
    key: str,
    as_of: datetime | None,
) -> int:
    """The survey answers a contacts export carries, as responses of their contacts."""
    staged = checked.staged
    scored = " OR ".join(f"{s} IS NOT NULL" for s in staged.layout.scores if s in staged.present)
    if not scored:
        return 0
    p = Params()
    rows = StagedRows(staged.layout, staged.present, key)
    columns = canonical_select("responses", rows, batch_id, p)
    select = f"SELECT {columns} FROM {checked.accepted_rows} AND ({scored})"
    supplied = supplied_columns("responses", rows)
    counts = upsert(cur, "responses", select, p.values, batch_id, supplied, as_of=as_of)
    return counts.inserted + counts.updated + counts.unchanged + counts.older


# --- quarantine and warnings ------------------------------------------------------------------


def _quarantine(cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int, key: str) -> int:
    """Rows with a fatal issue and lines the reader rejected; returns the batch's count."""
    staged = checked.staged
    if _has_issues(cur, checked, fatal=True):
        _quarantine_issues(cur, checked, batch_id, key)
    if staged.raw.rejected:
        _quarantine_rejected(cur, staged, batch_id, key)
    return cur.execute("SELECT count(*) FROM quarantine WHERE batch_id = ?", [batch_id]).fetchall()[
        0
    ][0]


def _has_issues(cur: duckdb.DuckDBPyConnection, checked: Checked, *, fatal: bool) -> bool:
    """Whether any row has a fatal issue (or a warning): the statements that record them make
    every value safe, which costs their planning even for no rows, so a clean export skips them."""
    found = cur.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {checked.issues_table} WHERE fatal = ? LIMIT 1)",
        [fatal],
    ).fetchall()
    return bool(found[0][0])


def _quarantine_issues(
    cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int, key: str
) -> None:
    """The rows with a fatal issue, one quarantine row each, every value made safe."""
    staged = checked.staged
    p = Params()
    read = _read_as_date(staged, "i", "t")
    value, issue = _safe_value("i", key, p, read), _safe_issue("i", key, p, read)
    cur.execute(
        f"""INSERT INTO quarantine
            (batch_id, kind, row_number, reason, column_name, value, raw)
        SELECT {int(batch_id)}, {p(staged.layout.kind)}, i._row,
               string_agg({issue}, '; ' ORDER BY i.field),
               first(i.field ORDER BY i.field), first({value} ORDER BY i.field),
               first({_raw_json(staged, key, p)})
        FROM {checked.issues_table} i JOIN {staged.table} t USING (_row)
        WHERE i.fatal GROUP BY i._row""",
        p.values,
    )


def _raw_json(staged: Staged, key: str, p: Params) -> str:
    """The quarantined row as JSON of the source columns the layout uses, made safe: a
    quarantined row is often one whose values are in the wrong columns (an email in a date
    column), so every value is scrubbed like free text, except a date and time that was read as
    one (whatever its format, it holds nothing personal)."""
    fields = staged.fields
    pairs = []
    for name in sorted(staged.present):
        value = staged.source_column(name)
        if name == "customer_id":
            value = pseudonym_sql(value, key, p)
        elif name in fields and fields[name].type == "timestamp":
            value = f"CASE WHEN t.{name} IS NOT NULL THEN {value} ELSE {scrub_sql(value, p)} END"
        elif name in fields and fields[name].free_text:  # the row's own names too
            value = scrub_sql(value, p, People(row_names=_row_names(staged, "t.")))
        else:
            value = scrub_sql(value, p)
        pairs.append(f"{p(name)}, {value}")
    return f"CAST(json_object({', '.join(pairs)}) AS VARCHAR)"


def _read_as_date(staged: Staged, alias: str, row: str) -> str:
    """SQL: the issue ``alias`` is about a timestamp that was read as one (in the staged row
    ``row``), e.g. a date before the earliest plausible one: it holds nothing personal, and
    scrubbing would take a date outside 19xx-20xx for a phone number ("0001-01-01 00")."""
    read = [
        f"({alias}.field = '{name}' AND {row}.{name} IS NOT NULL)"
        for name in sorted(staged.date_parses)
        if name.isidentifier()
    ]
    return f"({' OR '.join(read)})" if read else "false"


#: Stands for a date's text while the rest of an issue is scrubbed (no pattern matches it).
_DATE_MARK = "\x05"


def _safe_value(alias: str, key: str, p: Params, read: str = "false") -> str:
    """An issue's value as it may be kept: a customer id as its keyed hash, a date that was
    read as one (``read``) as it is, anything else scrubbed like free text (a value that could
    not be read is often personal data typed into the wrong column; scrubbing keeps dates
    whole)."""
    value = f"{alias}.value"
    return (
        f"CASE WHEN {alias}.field = 'customer_id' THEN {pseudonym_sql(value, key, p)} "
        f"WHEN {read} THEN {value} ELSE {scrub_sql(value, p)} END"
    )


def _safe_issue(alias: str, key: str, p: Params, read: str = "false") -> str:
    """An issue's text, which quotes its value, made safe the same way: the value inside it is
    replaced by its safe form first (so the quotes around it stay), then the rest scrubbed."""
    issue, value = f"{alias}.issue", f"{alias}.value"
    hashed = f"replace({issue}, {value}, {pseudonym_sql(value, key, p)})"
    scrubbed = scrub_sql(f"replace({issue}, {value}, {scrub_sql(value, p)})", p)
    mark = p(_DATE_MARK)
    kept = f"replace({scrub_sql(f'replace({issue}, {value}, {mark})', p)}, {mark}, {value})"
    return (
        f"CASE WHEN {value} IS NULL THEN {scrub_sql(issue, p)} "
        f"WHEN {alias}.field = 'customer_id' THEN {hashed} WHEN {read} THEN {kept} "
        f"ELSE {scrubbed} END"
    )


def _quarantine_rejected(
    cur: duckdb.DuckDBPyConnection, staged: Staged, batch_id: int, key: str
) -> None:
    """Lines the reader rejected, in one statement however many there are (a flood of 200k
    malformed lines must not become 200k inserts): each becomes JSON of the layout's fields,
    read by position and made safe in SQL, like a quarantined row."""
    table = f"rejected_{staged.tag}"
    frame = _rejected_frame(staged)
    cur.register(f"{table}_frame", frame)
    try:
        cur.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {table}_frame")
    finally:
        cur.unregister(f"{table}_frame")
    p = Params()
    pairs = []
    for name in frame.columns[2:]:
        value = f"r.{name}"
        # Positions may be off by one on a malformed line: everything else is scrubbed.
        safe = pseudonym_sql(value, key, p) if name == "customer_id" else scrub_sql(value, p)
        pairs.append(f"{p(name)}, {safe}")
    raw = f"CAST(json_object({', '.join(pairs)}) AS VARCHAR)" if pairs else "'{}'"
    try:
        cur.execute(
            f"""INSERT INTO quarantine (batch_id, kind, row_number, reason, raw)
            SELECT {int(batch_id)}, {p(staged.layout.kind)}, r.row_number,
                   {scrub_sql("r.reason", p)}, {raw}
            FROM {table} r""",
            p.values,
        )
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {table}")


def _rejected_frame(staged: Staged) -> pd.DataFrame:
    """Row number, reason and each layout field's text (by position) of every rejected line:
    the columns a layout drops (names, emails) are never taken."""
    layout, positions = staged.layout, staged.positions
    sources = {name: spec.columns for name, spec in layout.columns.items()}
    sources.update({name: (spec.column,) for name, spec in layout.scores.items()})
    wanted = {
        name: [positions[c] for c in columns if c in positions]
        for name, columns in sorted(sources.items())
    }
    data: dict[str, list] = {"row_number": [], "reason": [], **{n: [] for n in wanted}}
    delimiter = staged.raw.delimiter or ","
    for r in staged.raw.rejected:
        cells = _cells(r.raw, delimiter)
        data["row_number"].append(r.row_number)
        data["reason"].append(r.reason)
        for name, found in wanted.items():
            parts = [cells[i].strip() for i in found if i < len(cells) and cells[i].strip()]
            data[name].append(" ".join(parts) or None)
    return pd.DataFrame(data, dtype="object").astype({"row_number": "int64"})


def _cells(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    except csv.Error:
        return []


def _record_warnings(
    cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int, key: str
) -> None:
    """The values emptied at import, with their reasons, made safe like the quarantine's. A
    quarantined row's other problems are not warnings: none of its values were imported."""
    if not _has_issues(cur, checked, fatal=False):
        return
    p = Params()
    cur.execute(
        f"""INSERT INTO import_warnings (batch_id, kind, row_number, column_name, value, issue)
        SELECT {int(batch_id)}, {p(checked.staged.layout.kind)}, i._row, i.field,
               {_safe_value("i", key, p)}, {_safe_issue("i", key, p)}
        FROM {checked.issues_table} i WHERE NOT i.fatal
          AND i._row NOT IN (SELECT _row FROM {checked.issues_table} WHERE fatal)""",
        p.values,
    )


# --- the batch's record -----------------------------------------------------------------------


def _result(
    cur: duckdb.DuckDBPyConnection,
    checked: Checked,
    batch_id: int,
    counts: UpsertCounts,
    linked: int,
    quarantined: int,
) -> ImportResult:
    staged = checked.staged
    read = staged.raw.rows_read
    warnings = cur.execute(
        "SELECT count(*) FROM import_warnings WHERE batch_id = ?", [batch_id]
    ).fetchall()[0][0]
    return ImportResult(
        file_name=staged.file_name,
        layout=staged.layout.name,
        kind=staged.layout.kind,
        source=staged.layout.source,
        batch_id=batch_id,
        rows_read=read,
        rows_imported=read - quarantined,
        rows_quarantined=quarantined,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        older=counts.older,
        rolled_up=checked.rolled_up,
        responses_linked=linked,
        warnings=warnings,
        encoding=staged.raw.encoding,
        date_formats={k: v.label for k, v in staged.date_parses.items()},
        top_reasons=top_reasons(cur, "quarantine", "reason", batch_id),
        top_warnings=top_reasons(cur, "import_warnings", "issue", batch_id),
        skipped_lines=staged.raw.skipped_lines,
    )


def _record_batch(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    batch_id: int,
    sha: str,
    r: ImportResult,
    as_of: datetime | None,
) -> None:
    cur.execute(
        """INSERT INTO imports (batch_id, file_name, sha256, layout, kind, source, encoding,
            rows_read, rows_imported, rows_inserted, rows_updated, rows_unchanged,
            rows_quarantined, rows_rolled_up, responses_linked, warnings, timezone,
            date_formats, rows_older, as_of, imported_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
            current_timestamp::TIMESTAMP)""",
        [
            batch_id, r.file_name, sha, r.layout, r.kind, r.source, r.encoding, r.rows_read,
            r.rows_imported, r.inserted, r.updated, r.unchanged, r.rows_quarantined,
            r.rolled_up, r.responses_linked, r.warnings, staged.layout.timezone,
            json.dumps(r.date_formats), r.older, as_of,
        ],
    )  # fmt: skip
