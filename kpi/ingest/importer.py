"""Importing one export: read, recognise, parse, validate, pseudonymise, load atomically.

Every row read ends up imported or quarantined with a reason, and the counts add up:
``rows_read == rows_imported + rows_quarantined``. A failure leaves the store as it was.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from kpi.errors import ImportProblem
from kpi.ingest import validation
from kpi.ingest.canonical import StagedRows, canonical_select
from kpi.ingest.files import RawTable, read_export
from kpi.ingest.layouts import Layout, detect_layout, get_layout, load_mapping, resolve_headers
from kpi.ingest.parsing import (
    SAMPLE_ROWS,
    DateDetection,
    DateParse,
    Params,
    boolean_sql,
    category_sql,
    complete_dates,
    contains_sql,
    detect_dates,
    duration_sql,
    explicit_dates,
    integer_sql,
    score_sql,
    text_value,
)
from kpi.ingest.privacy import pseudonym, pseudonym_sql, scrub, scrub_sql
from kpi.store.batches import UpsertCounts, next_batch_id, upsert
from kpi.store.connection import Store
from kpi.store.schema import Field, field_map, key_field

Progress = Callable[[str, float], None]
VALIDATION_CHUNK = 500_000  # rows handed to Pandera at a time


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
    rolled_up: int = 0
    responses_linked: int = 0
    warnings: int = 0
    encoding: str = ""
    date_formats: dict[str, str] = field(default_factory=dict)
    top_reasons: list[tuple[str, int, str]] = field(default_factory=list)
    top_warnings: list[tuple[str, int, str]] = field(default_factory=list)
    skipped_lines: int = 0
    already_imported: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def choose_layout(
    headers: list[str], file_name: str, layout: str | None, mapping: Path | None
) -> Layout:
    if mapping is not None:
        return load_mapping(mapping)
    if layout:
        return get_layout(layout)
    return detect_layout(headers, file_name)


def import_file(
    store: Store,
    path: Path | str,
    *,
    layout: str | None = None,
    mapping: Path | str | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one export into the store; raise ``ImportProblem`` when it cannot be used."""
    path = Path(path)
    name = file_name or path.name
    report = progress or (lambda _stage, _fraction: None)
    if not path.exists():
        raise ImportProblem(f"{name}: no such file.")
    if path.is_dir():
        raise ImportProblem(f"{name}: is a folder; give the export files inside it.")
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise ImportProblem(f"{name}: cannot be read ({exc.strerror or exc}).") from None
    previous = _previous_import(store, sha)
    if previous is not None:
        return previous
    mapping_layout = load_mapping(Path(mapping)) if mapping is not None else None
    with store.write_lock:
        cur = store.con.cursor()
        try:
            report("reading", 0.05)
            raw = read_export(cur, path, sheet=_peek(mapping_layout, layout, "sheet"))
            chosen = mapping_layout or choose_layout(raw.headers, name, layout, None)
            raw.skip_lines_matching(chosen.ignore_lines)
            raw.number_rows(cur)
            run = _Import(cur, store, raw, chosen, name, report)
            return run.execute(sha)
        finally:
            cur.close()


def _peek(mapping: Layout | None, name: str | None, attribute: str):
    """Reader options that must be known before the header is seen."""
    if mapping is not None:
        return getattr(mapping, attribute)
    if name:
        return getattr(get_layout(name), attribute)
    return None


def _previous_import(store: Store, sha: str) -> ImportResult | None:
    rows = (
        store.cursor()
        .execute(
            """SELECT batch_id, file_name, layout, kind, source, rows_read, rows_imported,
                  rows_quarantined, rows_unchanged, rows_inserted, rows_updated, encoding
           FROM imports WHERE sha256 = ? AND undone_at IS NULL ORDER BY batch_id LIMIT 1""",
            [sha],
        )
        .fetchall()
    )
    if not rows:
        return None
    b, file_name, layout, kind, source, read, imported, quarantined, _u, _i, _up, enc = rows[0]
    # Re-importing the same bytes changes nothing: every imported row is unchanged.
    return ImportResult(
        file_name, layout, kind, source, b, read, imported, quarantined,
        unchanged=imported, encoding=enc, already_imported=True,
    )  # fmt: skip


class _Import:
    """One import run on one cursor (temporary tables are private to a cursor)."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        store: Store,
        raw: RawTable,
        layout: Layout,
        file_name: str,
        report: Progress,
    ) -> None:
        self.cur, self.store, self.raw, self.layout = cur, store, raw, layout
        self.file_name, self.report = file_name, report
        self.fields: dict[str, Field] = field_map(layout.kind)
        self.key = key_field(layout.kind)
        self.tag = uuid.uuid4().hex[:10]
        self.date_parses: dict[str, DateParse] = {}
        self.issues: list[tuple[int, str, str, str, bool]] = []  # row, field, value, issue, fatal

    # --- the pipeline --------------------------------------------------------------------------

    def execute(self, sha: str) -> ImportResult:
        if self.raw.rows_read == 0:
            raise ImportProblem(f"{self.file_name}: the file has a header but no data rows.")
        positions = resolve_headers(self.layout, self.raw.headers, self.file_name)
        self.positions = positions
        self.report("parsing", 0.2)
        self._stage_text(positions)
        self._stage_typed()
        self.report("validating", 0.45)
        self._collect_parse_issues()
        self._collect_validation_issues()
        self._apply_warnings()
        self._mark_duplicates()
        self.report("loading", 0.7)
        return self._load(sha)

    def _stage_text(self, positions: dict[str, int]) -> None:
        """The source text of every mapped field, trimmed, empty as NULL (a subquery)."""
        p = Params("t")
        selects = ["_row"]
        layout = self.layout
        for name, spec in layout.columns.items():
            cols = [f"c{positions[c]}" for c in spec.columns if c in positions]
            if cols:
                value = text_value(cols, p, layout.null_values, spec.extract)
                selects.append(f"{value} AS {name}__raw")
        for name, value in layout.constants.items():
            if name in self.fields and name not in layout.columns:
                selects.append(f"CAST({p(str(value))} AS VARCHAR) AS {name}__raw")
        for name, spec in layout.scores.items():
            if spec.column in positions:
                value = text_value([f"c{positions[spec.column]}"], p, layout.null_values, None)
                selects.append(f"{value} AS {name}__raw")
        # Not materialised: the typed stage reads it once, so no second copy of every string.
        self.text = f"(SELECT {', '.join(selects)} FROM {self.raw.table})"
        # The same over a sample of rows, for detecting date formats without a full pass.
        sample = f"(SELECT * FROM {self.raw.table} USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (42))"
        self.text_sample = f"(SELECT {', '.join(selects)} FROM {sample})"
        self.text_params = p
        self.present = {s.split(" AS ")[-1][: -len("__raw")] for s in selects[1:]}

    def _stage_typed(self) -> None:
        """Canonical typed values beside their source text."""
        p = Params("y", self.text_params.values)
        selects = ["_row"]
        for name in self.present:
            if self._verbatim(name):
                selects.append(f"{name}__raw AS {name}")  # text kept as is: one copy suffices
                continue
            selects.append(f"{name}__raw")
            selects.append(f"{self._typed(name, f'{name}__raw', p)} AS {name}")
        self.typed = f"stage_{self.tag}"
        self.cur.execute(
            f"CREATE TEMP TABLE {self.typed} AS SELECT {', '.join(selects)} FROM {self.text}",
            p.values,
        )
        for name, parse in self.date_parses.items():
            spec = self.layout.columns.get(name)
            column = " + ".join(spec.columns) if spec else name
            where = DateDetection(column, name)
            self.date_parses[name] = complete_dates(
                self.cur, self.typed, name, parse, self.layout.timezone, where, self.file_name
            )

    def _verbatim(self, name: str) -> bool:
        """A text field taken as it is: it cannot be unreadable, so needs no source copy."""
        f = self.fields.get(name)
        return (
            f is not None
            and f.type == "text"
            and name not in self.layout.scores
            and name not in self.layout.values
        )

    def _raw(self, name: str) -> str:
        return name if self._verbatim(name) else f"{name}__raw"

    def _typed(self, name: str, value: str, p: Params) -> str:
        if name in self.layout.scores:
            return score_sql(value, self.layout.scores[name].labels, p)
        f = self.fields[name]
        spec = self.layout.columns.get(name)
        if f.type == "timestamp":
            parse = self._date_parse(name, value)
            return parse.sql(value, self.layout.timezone, p)
        if f.type == "duration":
            return duration_sql(value, spec.unit if spec else None, p)
        if f.type == "integer":
            return integer_sql(value)
        if f.type == "boolean":
            if spec and spec.contains:
                return contains_sql(value, spec.contains, p)
            return boolean_sql(
                value, p, spec.true_values if spec else (), spec.false_values if spec else ()
            )
        if f.type == "category":
            return category_sql(value, name, self.layout.values.get(name, {}), p)
        if name in self.layout.values:  # free text renamed word for word; others kept
            return f"coalesce({category_sql(value, name, self.layout.values[name], p)}, {value})"
        return value

    def _date_parse(self, name: str, value: str) -> DateParse:
        spec = self.layout.columns.get(name)
        explicit = (spec.date_format if spec else None) or self.layout.date_format
        if explicit:
            parse = explicit_dates(explicit)
        else:
            column = " + ".join(spec.columns) if spec else name
            parse = detect_dates(
                self.cur,
                self.text,
                value,
                DateDetection(column, name),
                self.file_name,
                self.text_params.values,
                sampled=self.text_sample,
            )
        self.date_parses[name] = parse
        return parse

    # --- issues ---------------------------------------------------------------------------------

    def _collect_parse_issues(self) -> None:
        """Source text that could not be read as its field's type."""
        p = Params()
        parts = []
        for name in sorted(n for n in self.present if not self._verbatim(n)):
            no_answer = self._no_answer_words(name)
            skip = f" AND lower({name}__raw) NOT IN ({', '.join(p(w) for w in no_answer)})"
            parts.append(
                f"SELECT _row, {p(name)} AS f, {name}__raw AS v FROM {self.typed} "
                f"WHERE {name}__raw IS NOT NULL AND {name} IS NULL{skip if no_answer else ''}"
            )
        if not parts:
            return
        rows = self.cur.execute(" UNION ALL ".join(parts), p.values).fetchall()
        for row, name, value in rows:
            self.issues.append((row, name, value, self._unreadable(name, value), self._fatal(name)))

    def _no_answer_words(self, name: str) -> list[str]:
        spec = self.layout.scores.get(name)
        return [w for w, v in spec.labels.items() if v is None] if spec else []

    def _unreadable(self, name: str, value: str) -> str:
        if name in self.layout.scores:
            return f"cannot read {value!r} as a {name} score"
        f = self.fields[name]
        if f.type == "timestamp":
            return f"cannot read {value!r} as a date ({self.date_parses[name].label})"
        if f.type == "category":
            return f"{value!r} is not a known {name} (use [values.{name}] in a mapping)"
        kinds = {"duration": "a duration", "integer": "a whole number", "boolean": "yes/no"}
        return f"cannot read {value!r} as {kinds.get(f.type, f.type)}"

    def _fatal(self, name: str) -> bool:
        return name in self.fields and self.fields[name].required

    def _collect_validation_issues(self) -> None:
        """Pandera's verdict on the typed values (ranges, scales, order of timestamps)."""
        columns = [n for n in self.present if n in self.layout.scores or self._checked(n)]
        for required in (f.name for f in self.fields.values() if f.required):
            if required not in columns:
                columns.append(required)
        present = [c for c in columns if c in self.present]
        missing_required = [c for c in columns if c not in self.present]
        if missing_required:
            raise ImportProblem(
                f"{self.file_name}: the layout gives no column for {', '.join(missing_required)}."
            )
        scales = {name: spec.scale for name, spec in self.layout.scores.items()}
        seen = {(row, name) for row, name, *_ in self.issues}
        for failure in self._validated(present, scales):
            if (failure.row, failure.field) in seen:
                continue  # already reported as unreadable
            issue = f"{failure.field} {_show(failure.value)} {failure.issue}"
            if failure.issue.startswith(failure.field):
                issue = failure.issue
            if failure.issue == "is empty":
                issue = f"{failure.field} is empty"
            self.issues.append(
                (failure.row, failure.field, _show(failure.value), issue, failure.required)
            )

    def _validated(self, columns: list[str], scales) -> Iterator[validation.Failure]:
        """Pandera over the typed rows in chunks, so memory stays flat however big the file."""
        query = f"SELECT _row, {', '.join(columns)} FROM {self.typed}"
        batches = self.cur.sql(query).to_arrow_reader(VALIDATION_CHUNK)
        for batch in batches:
            frame = batch.to_pandas().set_index("_row")
            yield from validation.failures(self.layout.kind, frame, scales)

    def _checked(self, name: str) -> bool:
        f = self.fields.get(name)
        return f is not None and (f.type != "text" or f.required)

    def _apply_warnings(self) -> None:
        """Non-fatal issues empty their field; fatal ones send the row to quarantine."""
        self.issue_table = f"issues_{self.tag}"
        self.cur.execute(
            f"""CREATE TEMP TABLE {self.issue_table} (_row BIGINT, field VARCHAR, value VARCHAR,
                issue VARCHAR, fatal BOOLEAN)"""
        )
        if self.issues:
            self.cur.executemany(
                f"INSERT INTO {self.issue_table} VALUES (?, ?, ?, ?, ?)",
                [
                    (r, f, None if v is None else str(v)[:500], i, fatal)
                    for r, f, v, i, fatal in self.issues
                ],
            )
        for name in {f for _, f, _, _, fatal in self.issues if not fatal}:
            self.cur.execute(
                f"""UPDATE {self.typed} SET {name} = NULL WHERE _row IN
                    (SELECT _row FROM {self.issue_table} WHERE field = ? AND NOT fatal)""",
                [name],
            )

    def _mark_duplicates(self) -> None:
        """A repeated id: quarantined, or for event logs rolled up into its last row."""
        keep = "DESC" if self.layout.duplicates == "keep_last" else "ASC"
        self.cur.execute(
            f"""CREATE TEMP TABLE dup_{self.tag} AS
            SELECT _row, {self.key} AS id,
                   row_number() OVER (PARTITION BY {self.key} ORDER BY _row {keep}) AS rank,
                   first(_row) OVER (PARTITION BY {self.key} ORDER BY _row {keep}) AS kept
            FROM {self.typed}
            WHERE {self.key} IS NOT NULL
              AND _row NOT IN (SELECT _row FROM {self.issue_table} WHERE fatal)"""
        )
        if self.layout.duplicates == "quarantine":
            self.cur.execute(
                f"""INSERT INTO {self.issue_table}
                SELECT _row, ?, id, printf('duplicate {self.key} %s (first at row %d)', id, kept),
                       true
                FROM dup_{self.tag} WHERE rank > 1""",
                [self.key],
            )
        self.rolled_up = 0
        if self.layout.duplicates == "keep_last":
            self.rolled_up = self.cur.execute(
                f"SELECT count(*) FROM dup_{self.tag} WHERE rank > 1"
            ).fetchall()[0][0]
        self.cur.execute(f"DELETE FROM dup_{self.tag} WHERE rank > 1")

    # --- loading ----------------------------------------------------------------------------------

    def _canonical_select(self, kind: str, batch_id: int, p: Params) -> str:
        rows = StagedRows(self.layout, frozenset(self.present), self.store.pseudonym_key)
        return canonical_select(kind, rows, batch_id, p)

    def _load(self, sha: str) -> ImportResult:
        cur = self.cur
        cur.execute("BEGIN TRANSACTION")
        try:
            batch_id = next_batch_id(cur)
            counts, linked = self._upsert_all(batch_id)
            quarantined = self._store_issues(batch_id)
            result = self._result(batch_id, counts, linked, quarantined)
            self._record_batch(batch_id, sha, result)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            for table in (self.typed, self.issue_table, f"dup_{self.tag}", self.raw.table):
                cur.execute(f"DROP TABLE IF EXISTS {table}")
        self.report("done", 1.0)
        return result

    def _upsert_all(self, batch_id: int) -> tuple[UpsertCounts, int]:
        kind = self.layout.kind
        p = Params()
        accepted = f"{self.typed} WHERE _row IN (SELECT _row FROM dup_{self.tag})"
        select = f"SELECT {self._canonical_select(kind, batch_id, p)} FROM {accepted}"
        counts = upsert(self.cur, kind, select, p.values, batch_id)
        linked = 0
        if kind == "contacts" and self.layout.scores:
            p = Params()
            scored = " OR ".join(
                f"{s} IS NOT NULL" for s in self.layout.scores if s in self.present
            )
            if scored:
                columns = self._canonical_select("responses", batch_id, p)
                select = f"SELECT {columns} FROM {accepted} AND ({scored})"
                linked_counts = upsert(self.cur, "responses", select, p.values, batch_id)
                linked = linked_counts.inserted + linked_counts.updated + linked_counts.unchanged
        return counts, linked

    def _raw_json(self, p: Params) -> str:
        """The quarantined row as JSON of the source columns the layout uses, made safe."""
        pairs = []
        for name in sorted(self.present):
            value = self._raw(name)
            if name == "customer_id":
                value = pseudonym_sql(value, self.store.pseudonym_key, p)
            elif name in self.fields and self.fields[name].free_text:
                value = scrub_sql(value, p)
            pairs.append(f"{p(name)}, {value}")
        return f"CAST(json_object({', '.join(pairs)}) AS VARCHAR)"

    def _rejected_json(self, line: str) -> str:
        """A malformed line as JSON of the layout's fields, read by position and made safe:
        the columns a layout drops (names, emails) never reach the quarantine, and since a
        malformed line's positions may be off by one, every kept value is scrubbed."""
        try:
            cells = next(csv.reader(io.StringIO(line), delimiter=self.raw.delimiter or ","), [])
        except csv.Error:
            cells = []
        sources = {name: spec.columns for name, spec in self.layout.columns.items()}
        sources.update({name: (spec.column,) for name, spec in self.layout.scores.items()})
        kept: dict[str, str | None] = {}
        for name, columns in sorted(sources.items()):
            found = [self.positions[c] for c in columns if c in self.positions]
            parts = [cells[i].strip() for i in found if i < len(cells) and cells[i].strip()]
            value = " ".join(parts) or None
            if name == "customer_id":
                kept[name] = pseudonym(value, self.store.pseudonym_key)
            else:
                kept[name] = None if value is None else scrub(value)
        return json.dumps(kept, ensure_ascii=False)

    def _store_issues(self, batch_id: int) -> int:
        kind, cur = self.layout.kind, self.cur
        p = Params()
        cur.execute(
            f"""INSERT INTO quarantine
            SELECT {int(batch_id)}, {p(kind)}, i._row, string_agg(i.issue, '; ' ORDER BY i.field),
                   first(i.field ORDER BY i.field), first(i.value ORDER BY i.field),
                   first({self._raw_json(p)})
            FROM {self.issue_table} i JOIN {self.typed} t USING (_row)
            WHERE i.fatal GROUP BY i._row""",
            p.values,
        )
        if self.raw.rejected:
            cur.executemany(
                "INSERT INTO quarantine VALUES (?, ?, ?, ?, NULL, NULL, ?)",
                [
                    (batch_id, kind, r.row_number, r.reason, self._rejected_json(r.raw))
                    for r in self.raw.rejected
                ],
            )
        cur.execute(
            f"""INSERT INTO import_warnings
            SELECT {int(batch_id)}, ?, _row, field, value, issue FROM {self.issue_table}
            WHERE NOT fatal""",
            [kind],
        )
        return cur.execute(
            "SELECT count(*) FROM quarantine WHERE batch_id = ?", [batch_id]
        ).fetchall()[0][0]

    def _result(
        self, batch_id: int, counts: UpsertCounts, linked: int, quarantined: int
    ) -> ImportResult:
        read = self.raw.rows_read
        warnings = self.cur.execute(
            "SELECT count(*) FROM import_warnings WHERE batch_id = ?", [batch_id]
        ).fetchall()[0][0]
        return ImportResult(
            file_name=self.file_name,
            layout=self.layout.name,
            kind=self.layout.kind,
            source=self.layout.source,
            batch_id=batch_id,
            rows_read=read,
            rows_imported=read - quarantined,
            rows_quarantined=quarantined,
            inserted=counts.inserted,
            updated=counts.updated,
            unchanged=counts.unchanged,
            rolled_up=self.rolled_up,
            responses_linked=linked,
            warnings=warnings,
            encoding=self.raw.encoding,
            date_formats={k: v.label for k, v in self.date_parses.items()},
            top_reasons=top_reasons(self.cur, "quarantine", "reason", batch_id),
            top_warnings=top_reasons(self.cur, "import_warnings", "issue", batch_id),
            skipped_lines=self.raw.skipped_lines,
        )

    def _record_batch(self, batch_id: int, sha: str, r: ImportResult) -> None:
        self.cur.execute(
            """INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                current_timestamp::TIMESTAMP, NULL)""",
            [
                batch_id, r.file_name, sha, r.layout, r.kind, r.source, r.encoding, r.rows_read,
                r.rows_imported, r.inserted, r.updated, r.unchanged, r.rows_quarantined,
                r.rolled_up, r.responses_linked, r.warnings, self.layout.timezone,
                json.dumps(r.date_formats),
            ],
        )  # fmt: skip


def _show(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def top_reasons(
    cur: duckdb.DuckDBPyConnection, table: str, column: str, batch_id: int, limit: int = 5
) -> list[tuple[str, int, str]]:
    """The most common problems of a batch, grouped by their kind, with an example row."""
    if table not in ("quarantine", "import_warnings") or column not in ("reason", "issue"):
        raise ValueError("unknown issue table")
    # Group by the text before the first quoted value, so 'cannot read '31/02' ...' groups.
    rows = cur.execute(
        f"""SELECT regexp_replace({column}, '''[^'']*''', '…', 'g') AS problem, count(*) AS n,
                   min(printf('row %d: %s', row_number, {column})) AS example
            FROM {table} WHERE batch_id = ? GROUP BY problem ORDER BY n DESC, problem LIMIT {int(limit)}""",
        [batch_id],
    ).fetchall()
    return [(problem, n, example) for problem, n, example in rows]


def describe_import(r: ImportResult) -> list[str]:
    """What an import did, in the lines `kpi import` prints and the Data page shows."""
    if r.already_imported:
        return [
            f"{r.file_name}: already imported as batch {r.batch_id} ({r.layout}); nothing changed.",
            f"  rows read {r.rows_read:,} = imported {r.rows_imported:,} + "
            f"quarantined {r.rows_quarantined:,}",
        ]
    lines = [
        f"{r.file_name}: layout {r.layout}, encoding {r.encoding}, batch {r.batch_id}",
        f"  rows read {r.rows_read:,} = imported {r.rows_imported:,} + "
        f"quarantined {r.rows_quarantined:,}",
        f"  {r.kind}: {r.inserted:,} new, {r.updated:,} updated, {r.unchanged:,} unchanged"
        + (f"; {r.rolled_up:,} event rows rolled up into their contact" if r.rolled_up else ""),
    ]
    if r.responses_linked:
        lines.append(f"  survey answers linked to contacts: {r.responses_linked:,}")
    if r.date_formats:
        formats = ", ".join(f"{k} {v}" for k, v in sorted(r.date_formats.items()))
        lines.append(f"  dates read as: {formats}")
    if r.skipped_lines:
        lines.append(f"  non-data lines skipped: {r.skipped_lines}")
    for title, items in (("quarantined", r.top_reasons), ("values emptied", r.top_warnings)):
        if items:
            lines.append(f"  top reasons {title}:")
            lines += [f"    {n:,} x {kind}  (e.g. {example})" for kind, n, example in items]
    return lines
