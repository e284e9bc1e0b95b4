"""What a CRM's formatted report (Salesforce's Export > Formatted Report) needs from its layout.

Two things are decided by the columns a layout expects, which reading alone cannot know:

- **Which row is the header.** A report puts title lines above its header; a title may spread
  over two cells ("Cases by Owner" | "Acme Energy Ltd"), so "the first row of two cells" is not
  enough. The header is the first row holding the layout's expected columns (``header_test``).
- **A grouping column's value.** A grouped report shows the grouping column's value on a group's
  first row only; its other rows leave it empty. Only the columns the layout declares under
  ``fill_down`` are filled from the group's first row, the import says how many cells it
  filled, and a report grouped by a column the layout does not declare is said, never filled
  (``fill_down``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from kpi.errors import printable
from kpi.ingest.files import HeaderTest, RawTable
from kpi.ingest.layouts import ColumnSpec, Layout, builtin_layouts, get_layout, norm_header
from kpi.store.schema import field_map

#: A report's group heading: "Case Owner: Jo Agent (2 records)" names its grouping column.
GROUP_HEADING = re.compile(
    r"^(?P<column>[^:]+):\s*(?P<value>.*?)\s*\(\s*[0-9][0-9,.]*\s+records?\s*\)$"
)


# --- the header row ------------------------------------------------------------------------------


def expected_columns(layout: Layout) -> tuple[str, ...]:
    """The headers a layout's header row must hold: its detection headers, else the columns of
    its required fields (a mapping file seldom lists detection headers)."""
    if layout.detect:
        return layout.detect
    fields = field_map(layout.kind)
    return tuple(
        column
        for name, spec in layout.columns.items()
        if name in fields and fields[name].required and not spec.optional
        for column in spec.columns
    )


def header_test(mapping: Layout | None, layout: str | None) -> HeaderTest:
    """Whether a row holds the expected columns of the mapping, the named built-in layout, or
    (neither given) any built-in layout; a layout that expects nothing accepts no row."""
    if mapping is not None:
        wanted = [expected_columns(mapping)]
    elif layout:
        wanted = [expected_columns(get_layout(layout))]
    else:
        wanted = [expected_columns(found) for found in builtin_layouts().values()]
    needs = [{norm_header(c) for c in columns} for columns in wanted if columns]

    def holds(row: list[str]) -> bool:
        present = {norm_header(cell) for cell in row}
        return any(need <= present for need in needs)

    return holds


# --- grouping columns filled down ----------------------------------------------------------------


def fill_down(con: duckdb.DuckDBPyConnection, raw: RawTable, layout: Layout) -> None:
    """In a formatted report, fill each declared grouping column's empty cells from its group's
    first row, and say so in ``raw.notes``; say too when the report is grouped by a column the
    layout does not declare (left as it is). A column is grouped when a group heading names it,
    or, in a report without headings, when every group shows it on its first row only."""
    if not raw.sheet_rows or not raw.report_lines:
        return  # not a report with groups: an empty cell is an empty value
    positions: dict[str, int] = {}
    for i, header in enumerate(raw.headers):
        positions.setdefault(norm_header(header), i)
    headings = _headings(raw.report_lines)
    declared = [h for h in layout.fill_down if norm_header(h) in positions]
    person = layout.columns.get("customer_id", ColumnSpec(()))
    people = {norm_header(c) for c in person.columns}
    for header in declared:
        column = f"c{positions[norm_header(header)]}"
        named = headings.get(norm_header(header))
        if headings:
            if named is None:
                continue
            bounds = named  # its own headings bound its groups (an inner grouping's do not)
        else:
            # No headings: groups are only inferred between data rows (a title above or a
            # total or footer below bounds no group), never for whom a case is about.
            bounds = _interior(con, raw.table, [row for row, _ in raw.report_lines])
            if norm_header(header) in people or not bounds:
                continue
            if not _shown_once_per_group(con, raw.table, column, bounds):
                continue
        filled = _fill(con, raw.table, column, bounds)
        if filled:
            raw.notes.append(
                f"{printable(header)!r} filled down on {filled:,} row{'s' * (filled != 1)} from "
                "its group's first row (a formatted report shows a grouping column once per "
                "group; fill_down)"
            )
    # A grouping column the layout reads but does not fill down: left as it is, and said.
    used = {norm_header(h) for h in layout.source_columns()}
    undeclared = sorted(set(headings) - {norm_header(h) for h in layout.fill_down})
    for column in undeclared:
        if column in positions and column in used:
            shown = printable(raw.headers[positions[column]])
            raw.notes.append(
                f"the report is grouped by {shown!r}, which this layout does not fill down: "
                "its value is on each group's first row only, empty on the others (export "
                "'Details Only', or add it to fill_down in a mapping)"
            )


def _headings(lines: Sequence[tuple[int, str]]) -> dict[str, list[int]]:
    """The sheet rows of the group headings naming each column (normalised header)."""
    found: dict[str, list[int]] = {}
    for row, text in lines:
        match = GROUP_HEADING.match(text)
        if match:
            found.setdefault(norm_header(match["column"]), []).append(row)
    return found


def _grouped(table: str, column: str) -> str:
    """Each row of ``table`` with its value of ``column`` (empty as NULL), its group (how many
    bounds come before it) and its place in the group."""
    return f"""(SELECT _row, v, grp, row_number() OVER (PARTITION BY grp ORDER BY _row) AS k,
                   count(*) OVER (PARTITION BY grp) AS n,
                   first_value(v) OVER (PARTITION BY grp ORDER BY _row) AS head
            FROM (SELECT _row, nullif(trim({column}), '') AS v,
                         (SELECT count(*) FROM (SELECT unnest($bounds) AS b) WHERE b < _row) AS grp
                  FROM {table}))"""


def _interior(con: duckdb.DuckDBPyConnection, table: str, lines: list[int]) -> list[int]:
    """The report lines that lie between data rows: the only ones that can part two groups."""
    first, last = con.execute(f"SELECT min(_row), max(_row) FROM {table}").fetchall()[0]
    if first is None:
        return []
    return [row for row in lines if first < row < last]


def _shown_once_per_group(
    con: duckdb.DuckDBPyConnection, table: str, column: str, bounds: list[int]
) -> bool:
    """Every group of two rows or more shows ``column`` on its first row and on no other (the
    bounds are lines between data rows, so there are two groups at least)."""
    several, first_empty, later_filled = con.execute(
        f"""SELECT count(*) FILTER (WHERE n > 1 AND k = 1),
                   count(*) FILTER (WHERE n > 1 AND k = 1 AND v IS NULL),
                   count(*) FILTER (WHERE k > 1 AND v IS NOT NULL)
            FROM {_grouped(table, column)}""",
        {"bounds": bounds},
    ).fetchall()[0]
    return several > 0 and first_empty == 0 and later_filled == 0


def _fill(con: duckdb.DuckDBPyConnection, table: str, column: str, bounds: list[int]) -> int:
    """Fill the empty cells of ``column`` from their group's first row; how many were."""
    (filled,) = con.execute(
        f"""UPDATE {table} SET {column} = g.head FROM {_grouped(table, column)} g
            WHERE {table}._row = g._row AND g.k > 1 AND g.v IS NULL AND g.head IS NOT NULL""",
        {"bounds": bounds},
    ).fetchall()[0]
    return int(filled)
