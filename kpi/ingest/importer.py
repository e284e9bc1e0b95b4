"""Importing one export: read, recognise, parse, validate, pseudonymise, load atomically.

``import_file`` reads the file (``files``), chooses its layout (``layouts``) and runs three
steps on one cursor, each taking and returning a frozen dataclass: ``staging.stage`` -> ``Staged``
(typed staging table, fields present), ``checking.check`` -> ``Checked`` (issues, quarantine
and warnings decided, duplicates marked), ``loading.load`` -> ``ImportResult`` (one batch in one
transaction).

Every row read ends up imported or quarantined with a reason, and the counts add up:
``rows_read == rows_imported + rows_quarantined``. A failure leaves the store as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import duckdb

from kpi.errors import ImportProblem
from kpi.ingest.checking import check, refuse_if_mostly_set_aside
from kpi.ingest.files import RawTable, check_regular_file, display_name, read_export
from kpi.ingest.layouts import Layout, detect_layout, get_layout, load_mapping
from kpi.ingest.limits import ImportLimits, from_environment
from kpi.ingest.loading import load
from kpi.ingest.outcome import (
    ImportResult,
    absent_columns,
    describe_import,
    previous_import,
    top_reasons,
    undated_answers,
)
from kpi.ingest.report_groups import fill_down, header_test
from kpi.ingest.staging import source_positions, stage
from kpi.store.connection import Store

__all__ = ["ImportResult", "Progress", "describe_import", "import_file", "top_reasons"]

Progress = Callable[[str, float], None]


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
    limits: ImportLimits | None = None,
    imported_by: str | None = None,
    identity: str | None = None,
) -> ImportResult:
    """Import one export into the store; raise ``ImportProblem`` when it cannot be used.

    ``limits`` bound what the file may do (dates, workbook sizes); by default they come from
    the environment (``kpi.ingest.limits``). ``imported_by`` is who the batch is recorded as
    made by (``kpi.store.batches.importer_name``); None records nobody. ``identity`` is the
    signed-in importer's ``issuer|subject`` for the audit log (None in local mode).
    """
    limits = limits or from_environment()
    path = Path(path)
    # A name is printed in messages and listings: control characters (ANSI escapes) as escapes.
    name = display_name(file_name or path.name)
    report = progress or (lambda _stage, _fraction: None)
    # Before hashing: reading a device or a FIFO (/dev/zero, a named pipe) never ends.
    check_regular_file(path, name)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise ImportProblem(f"{name}: cannot be read ({exc.strerror or exc}).") from None
    previous = previous_import(store, sha)
    if previous is not None:
        return previous
    mapping_layout = load_mapping(Path(mapping)) if mapping is not None else None
    with store.write_lock:
        cur = store.con.cursor()
        try:
            report("reading", 0.05)
            # A report's header is the first row with the expected columns, under any title.
            expected = header_test(mapping_layout, layout)
            sheet = _sheet(mapping_layout, layout)
            raw = read_export(cur, path, sheet=sheet, limits=limits, is_header=expected)
            chosen = mapping_layout or choose_layout(raw.headers, name, layout, None)
            fill_down(cur, raw, chosen)  # a formatted report's grouping columns
            raw.skip_lines_matching(chosen.ignore_lines)
            raw.number_rows(cur)
            return _import_table(
                cur, store, raw, chosen, name, sha, report, limits, imported_by, identity
            )
        finally:
            cur.close()


def _sheet(mapping: Layout | None, name: str | None) -> str | None:
    """The workbook sheet to read, which must be known before the header is seen."""
    if mapping is not None:
        return mapping.sheet
    if name:
        return get_layout(name).sheet
    return None


def _import_table(
    cur: duckdb.DuckDBPyConnection,
    store: Store,
    raw: RawTable,
    layout: Layout,
    file_name: str,
    sha: str,
    report: Progress,
    limits: ImportLimits,
    imported_by: str | None = None,
    identity: str | None = None,
) -> ImportResult:
    """The steps after reading, on one cursor (temporary tables are private to a cursor)."""
    positions = source_positions(raw, layout, file_name)
    report("parsing", 0.2)
    staged = stage(cur, raw, layout, file_name, positions)
    report("validating", 0.45)
    checked = check(cur, staged, limits)
    refuse_if_mostly_set_aside(cur, checked, limits)
    report("loading", 0.7)
    result = load(
        cur,
        checked,
        sha=sha,
        pseudonym_key=store.pseudonym_key,
        imported_by=imported_by,
        identity=identity,
    )
    undated = undated_answers(cur, result.batch_id) if result.batch_id is not None else None
    result.notes = [*raw.notes, *checked.notes, *([undated] if undated else [])]
    if layout.missing_columns == "ignore":  # an absent column is not an error: say so instead
        specs = {name: spec.columns for name, spec in layout.columns.items()}
        result.absent_columns = absent_columns(specs, positions)
    report("done", 1.0)
    return result
