"""What a stored row is made of: typed staging columns, derived times and privacy rules.

The importer stages each field as a typed column named after it; this module writes the SELECT
list that turns those into a canonical table's stored columns, for a kind's own rows and for
the survey answers a contacts export carries (linked responses).
"""

from __future__ import annotations

from dataclasses import dataclass

from kpi.ingest.intervals import INTERVALS
from kpi.ingest.layouts import Layout
from kpi.ingest.parsing import Params
from kpi.ingest.privacy import People, pseudonym_sql, scrub_sql
from kpi.ingest.rates import stored_total
from kpi.store.schema import Field, field_map, stored_columns

#: Timestamp and duration pairs: an export may give either, and each derives the other.
TIME_PAIRS = {
    "first_response_at": "first_response_seconds",
    "resolved_at": "resolution_seconds",
}
SECONDS_OF = {seconds: at for at, seconds in TIME_PAIRS.items()}


@dataclass(frozen=True)
class StagedRows:
    """What the staging table holds: the layout it was read with and the fields present."""

    layout: Layout
    present: frozenset[str]
    pseudonym_key: str
    #: Whose names each row's free text loses (its own name cells, the export's agents).
    people: People | None = None


def canonical_select(kind: str, rows: StagedRows, batch_id: int, p: Params) -> str:
    """The stored columns of ``kind`` as one SELECT list over the staging table."""
    fields = field_map(kind)
    return ", ".join(
        f"{_stored_value(kind, column, fields, rows, batch_id, p)} AS {column}"
        for column in stored_columns(kind)
    )


def supplied_columns(kind: str, rows: StagedRows) -> frozenset[str]:
    """The stored columns of ``kind`` that the export gives values for. A re-import keeps the
    stored value of every other column: a column the file does not have erases nothing."""
    return frozenset(c for c in stored_columns(kind) if _supplies(kind, c, rows))


def _supplies(kind: str, column: str, rows: StagedRows) -> bool:
    layout, present = rows.layout, rows.present
    if column in ("source", "batch_id"):
        return True
    if column == "customer_key":
        return "customer_id" in present
    if column.endswith(("_scale_min", "_scale_max")):
        score = column.split("_")[0]
        return score in layout.scores and score in present
    if kind == "responses" and layout.kind == "contacts":
        return _linked_supplies(column, rows)
    pair = TIME_PAIRS.get(column) or SECONDS_OF.get(column)
    return column in present or (pair is not None and pair in present)


def _linked_supplies(column: str, rows: StagedRows) -> bool:
    """``_linked_response_value``'s columns that come from the file (the others are empty)."""
    if column in ("response_id", "contact_id"):
        return True
    if column == "responded_at":
        when = rows.layout.responded_at
        return when is not None and when in rows.present
    return column in ("nps", "csat", "ces", "channel", "team", "agent", "category") and (
        column in rows.present
    )


def _stored_value(
    kind: str, column: str, fields: dict[str, Field], rows: StagedRows, batch_id: int, p: Params
) -> str:
    layout, present = rows.layout, rows.present
    if column == "source":
        return p(layout.source)
    if column == "batch_id":
        return str(int(batch_id))
    if column == "customer_key":
        if "customer_id" not in present:
            return "NULL"
        return pseudonym_sql("customer_id", rows.pseudonym_key, p)
    if column.endswith(("_scale_min", "_scale_max")):
        score = column.split("_")[0]
        spec = layout.scores.get(score)
        if spec is None or score not in present:
            return "NULL"
        return f"CAST({p(spec.scale[0 if column.endswith('min') else 1])} AS DOUBLE)"
    if kind == "responses" and layout.kind == "contacts":
        return _linked_response_value(column, rows, p)
    return _field_value(column, fields, rows, p)


def _field_value(column: str, fields: dict[str, Field], rows: StagedRows, p: Params) -> str:
    f, present = fields[column], rows.present
    if column in TIME_PAIRS:
        return _derived_time(column, TIME_PAIRS[column], present)
    if column in SECONDS_OF:
        return _derived_seconds(column, SECONDS_OF[column], present)
    if column not in present:
        return f"CAST(NULL AS {f.sql_type})"
    ces = rows.layout.scores.get("ces")
    if column == "ces" and ces is not None and ces.low_is_good:
        low, high = ces.scale
        return f"({p(low + high)} - ces)"  # stored so that higher is easier
    if f.free_text:
        return scrub_sql(column, p, rows.people)
    if rows.layout.kind == INTERVALS:  # an average or a percentage becomes a total
        return stored_total(column, rows.layout.columns.get(column))
    return column


def _derived_time(at: str, seconds: str, present: frozenset[str]) -> str:
    # An export may give a duration where a timestamp is wanted (or the reverse); each
    # derives the other from opened_at so KPIs can use whichever they need.
    offset = f"opened_at + to_microseconds(CAST({seconds} * 1e6 AS BIGINT))"
    has_at, has_s = at in present, seconds in present
    if has_at and has_s:
        return f"coalesce({at}, {offset})"
    if has_s:
        return offset
    return at if has_at else "CAST(NULL AS TIMESTAMP)"


def _derived_seconds(seconds: str, at: str, present: frozenset[str]) -> str:
    has_at, has_s = at in present, seconds in present
    diff = f"(epoch({at}) - epoch(opened_at))"
    if has_at and has_s:
        return f"coalesce({seconds}, {diff})"
    if has_at:
        return diff
    return seconds if has_s else "CAST(NULL AS DOUBLE)"


def _linked_response_value(column: str, rows: StagedRows, p: Params) -> str:
    """A survey answer carried by a contacts export: it takes the contact's id and segment."""
    present = rows.present
    if column in ("response_id", "contact_id"):
        return "contact_id"
    if column == "responded_at":
        when = rows.layout.responded_at
        return when if when in present else "CAST(NULL AS TIMESTAMP)"
    if column in ("nps", "csat", "ces"):
        if column not in present:
            return "CAST(NULL AS DOUBLE)"
        return _field_value(column, field_map("responses"), rows, p)
    if column in ("channel", "team", "agent", "category") and column in present:
        return column
    return "CAST(NULL AS VARCHAR)"
