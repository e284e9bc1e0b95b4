"""The last step of an import: checked rows loaded into the store as one batch, atomically.

Accepted rows are upserted as canonical rows (customer ids pseudonymised, free text scrubbed);
rows with a fatal issue and lines the reader rejected go to the quarantine, made as safe; the
other issues become warnings. All of it is one transaction: a failure leaves the store as it
was.
"""

from __future__ import annotations

import csv
import io
import json

import duckdb

from kpi.ingest.canonical import StagedRows, canonical_select
from kpi.ingest.checking import Checked
from kpi.ingest.outcome import ImportResult, top_reasons
from kpi.ingest.parsing import Params
from kpi.ingest.privacy import pseudonym, pseudonym_sql, scrub, scrub_sql
from kpi.ingest.staging import Staged
from kpi.store.batches import UpsertCounts, next_batch_id, upsert


def load(
    cur: duckdb.DuckDBPyConnection, checked: Checked, *, sha: str, pseudonym_key: str
) -> ImportResult:
    """Load ``checked`` as the next batch and record it; drop the run's temporary tables."""
    staged = checked.staged
    cur.execute("BEGIN TRANSACTION")
    try:
        batch_id = next_batch_id(cur)
        counts, linked = _upsert_rows(cur, checked, batch_id, pseudonym_key)
        quarantined = _quarantine(cur, checked, batch_id, pseudonym_key)
        _record_warnings(cur, checked, batch_id)
        result = _result(cur, checked, batch_id, counts, linked, quarantined)
        _record_batch(cur, staged, batch_id, sha, result)
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    finally:
        tables = (staged.table, checked.issues_table, checked.accepted_table, staged.raw.table)
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
    return result


# --- canonical rows ---------------------------------------------------------------------------


def _upsert_rows(
    cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int, key: str
) -> tuple[UpsertCounts, int]:
    """The accepted rows into their kind's table, and a contacts export's survey answers into
    responses; returns the counts and how many answers were linked."""
    staged = checked.staged
    kind = staged.layout.kind
    p = Params()
    select = f"SELECT {_canonical(staged, kind, batch_id, key, p)} FROM {checked.accepted_rows}"
    counts = upsert(cur, kind, select, p.values, batch_id)
    linked = 0
    if kind == "contacts" and staged.layout.scores:
        linked = _link_responses(cur, checked, batch_id, key)
    return counts, linked


def _link_responses(
    cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int, key: str
) -> int:
    """The survey answers a contacts export carries, as responses of their contacts."""
    staged = checked.staged
    scored = " OR ".join(f"{s} IS NOT NULL" for s in staged.layout.scores if s in staged.present)
    if not scored:
        return 0
    p = Params()
    columns = _canonical(staged, "responses", batch_id, key, p)
    select = f"SELECT {columns} FROM {checked.accepted_rows} AND ({scored})"
    counts = upsert(cur, "responses", select, p.values, batch_id)
    return counts.inserted + counts.updated + counts.unchanged


def _canonical(staged: Staged, kind: str, batch_id: int, key: str, p: Params) -> str:
    rows = StagedRows(staged.layout, staged.present, key)
    return canonical_select(kind, rows, batch_id, p)


# --- quarantine and warnings ------------------------------------------------------------------


def _quarantine(cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int, key: str) -> int:
    """Rows with a fatal issue and lines the reader rejected; returns the batch's count."""
    staged = checked.staged
    p = Params()
    cur.execute(
        f"""INSERT INTO quarantine
        SELECT {int(batch_id)}, {p(staged.layout.kind)}, i._row,
               string_agg(i.issue, '; ' ORDER BY i.field),
               first(i.field ORDER BY i.field), first(i.value ORDER BY i.field),
               first({_raw_json(staged, key, p)})
        FROM {checked.issues_table} i JOIN {staged.table} t USING (_row)
        WHERE i.fatal GROUP BY i._row""",
        p.values,
    )
    if staged.raw.rejected:
        cur.executemany(
            "INSERT INTO quarantine VALUES (?, ?, ?, ?, NULL, NULL, ?)",
            [
                (
                    batch_id,
                    staged.layout.kind,
                    r.row_number,
                    r.reason,
                    _rejected_json(staged, r.raw, key),
                )
                for r in staged.raw.rejected
            ],
        )
    return cur.execute("SELECT count(*) FROM quarantine WHERE batch_id = ?", [batch_id]).fetchall()[
        0
    ][0]


def _raw_json(staged: Staged, key: str, p: Params) -> str:
    """The quarantined row as JSON of the source columns the layout uses, made safe."""
    fields = staged.fields
    pairs = []
    for name in sorted(staged.present):
        value = staged.source_column(name)
        if name == "customer_id":
            value = pseudonym_sql(value, key, p)
        elif name in fields and fields[name].free_text:
            value = scrub_sql(value, p)
        pairs.append(f"{p(name)}, {value}")
    return f"CAST(json_object({', '.join(pairs)}) AS VARCHAR)"


def _rejected_json(staged: Staged, line: str, key: str) -> str:
    """A malformed line as JSON of the layout's fields, read by position and made safe:
    the columns a layout drops (names, emails) never reach the quarantine, and since a
    malformed line's positions may be off by one, every kept value is scrubbed."""
    try:
        cells = next(csv.reader(io.StringIO(line), delimiter=staged.raw.delimiter or ","), [])
    except csv.Error:
        cells = []
    layout, positions = staged.layout, staged.positions
    sources = {name: spec.columns for name, spec in layout.columns.items()}
    sources.update({name: (spec.column,) for name, spec in layout.scores.items()})
    kept: dict[str, str | None] = {}
    for name, columns in sorted(sources.items()):
        found = [positions[c] for c in columns if c in positions]
        parts = [cells[i].strip() for i in found if i < len(cells) and cells[i].strip()]
        value = " ".join(parts) or None
        if name == "customer_id":
            kept[name] = pseudonym(value, key)
        else:
            kept[name] = None if value is None else scrub(value)
    return json.dumps(kept, ensure_ascii=False)


def _record_warnings(cur: duckdb.DuckDBPyConnection, checked: Checked, batch_id: int) -> None:
    cur.execute(
        f"""INSERT INTO import_warnings
        SELECT {int(batch_id)}, ?, _row, field, value, issue FROM {checked.issues_table}
        WHERE NOT fatal""",
        [checked.staged.layout.kind],
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
    cur: duckdb.DuckDBPyConnection, staged: Staged, batch_id: int, sha: str, r: ImportResult
) -> None:
    cur.execute(
        """INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
            current_timestamp::TIMESTAMP, NULL)""",
        [
            batch_id, r.file_name, sha, r.layout, r.kind, r.source, r.encoding, r.rows_read,
            r.rows_imported, r.inserted, r.updated, r.unchanged, r.rows_quarantined,
            r.rolled_up, r.responses_linked, r.warnings, staged.layout.timezone,
            json.dumps(r.date_formats),
        ],
    )  # fmt: skip
