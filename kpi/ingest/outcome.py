"""What an import did: its counts and top reasons, read back for a file imported before, and
described in the lines `kpi import` prints and the Data page shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb

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


def previous_import(store: Store, sha: str) -> ImportResult | None:
    """The batch that imported these exact bytes and is not undone, if any."""
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


def top_reasons(
    cur: duckdb.DuckDBPyConnection, table: str, column: str, batch_id: int, limit: int = 5
) -> list[tuple[str, int, str]]:
    """The most common problems of a batch, grouped by their kind, with an example row."""
    if table not in ("quarantine", "import_warnings") or column not in ("reason", "issue"):
        raise ValueError("unknown issue table")  # a programming error: callers pass constants
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
