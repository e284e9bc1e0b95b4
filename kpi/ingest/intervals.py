"""What an interval report's rows need beyond the common import steps: their key.

An interval report has no id column: a row is its interval's start, its queue and (in an agent
report) its agent. The mapping's ``interval_id`` is made of those columns (``interval_key``),
and once the start is read it is rewritten from the values read (``key_from_values``), so the
same interval written two ways ("05/01/2026 09:00" and "2026-01-05 09:00") is one row, and the
hour a clock change repeats is two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:  # layouts and staging import this module's users
    from kpi.ingest.layouts import ColumnSpec
    from kpi.ingest.staging import Staged

INTERVALS = "intervals"
#: The fields an interval row's key is made of, in order.
KEY_PARTS = ("interval_start", "queue", "agent")


def interval_key(columns: Mapping[str, ColumnSpec]) -> tuple[str, ...]:
    """The headers an intervals row's key (``interval_id``) is made of when the mapping does
    not name one: its start, queue and agent as the export writes them (those the file has)."""
    parts = [c for name in KEY_PARTS if name in columns for c in columns[name].columns]
    return tuple(dict.fromkeys(parts))


def key_from_values(cur: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Rewrite a made ``interval_id`` from the start as read (UTC), the queue and the agent,
    before repeated keys are looked for. A mapping's own ``interval_id`` column is kept."""
    layout = staged.layout
    spec = layout.columns.get("interval_id")
    if layout.kind != INTERVALS or spec is None or spec.columns != interval_key(layout.columns):
        return
    parts = ["strftime(interval_start, '%Y-%m-%d %H:%M:%S')"]
    parts += [name for name in KEY_PARTS[1:] if name in staged.present]
    cur.execute(
        f"""UPDATE {staged.table} SET interval_id = concat_ws(' ', {", ".join(parts)})
        WHERE interval_start IS NOT NULL"""
    )


def duplicate_reason_sql(staged: Staged, repeat: str, first: str) -> tuple[str, str] | None:
    """SQL of (the reason, the value) a repeated interval is set aside with, over the staging
    rows ``repeat`` and ``first`` (aliases) and ``a`` (the duplicates table, with ``_row`` and
    ``kept``): both rows, the queue and agent, and the start as the file writes it on each,
    never the UTC key (09:00 in London summer time is 08:00 UTC). None when the key is not made
    here (a mapping's own ``interval_id`` column is the file's text already)."""
    layout = staged.layout
    spec = layout.columns.get("interval_id")
    if layout.kind != INTERVALS or spec is None or spec.columns != interval_key(layout.columns):
        return None
    columns = {n: staged.source_column(n) for n in KEY_PARTS[1:] if n in staged.present}
    named = [
        f"CASE WHEN {repeat}.{column} IS NOT NULL "
        f"THEN printf('{name} ''%s''', left({repeat}.{column}, 60)) END"
        for name, column in columns.items()
    ]
    who = "'the interval'"
    if named:
        who = f"coalesce(nullif(concat_ws(', ', {', '.join(named)}), ''), {who})"
    start = staged.source_column("interval_start")
    written, first_written = f"left({repeat}.{start}, 60)", f"left({first}.{start}, 60)"
    reason = f"""printf('duplicate interval_id: rows %d and %d are both %s %s', a.kept, a._row,
        {who}, CASE WHEN {first_written} = {written}
                    THEN printf('at ''%s'' (as the file writes it)', {written})
                    ELSE printf('at the same start, written ''%s'' and ''%s''',
                                {first_written}, {written}) END)"""
    value = ", ".join([f"{repeat}.{start}", *(f"{repeat}.{c}" for c in columns.values())])
    return reason, f"concat_ws(' ', {value})"
