"""The canonical tables, declared once.

Every other part of the product (the store's DDL, the importer's parsers, the Pandera models,
the mapping-file reference in the README) is derived from the field lists below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["text", "timestamp", "duration", "integer", "boolean", "category", "score"]

STATUSES = ("open", "pending", "on_hold", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "phone", "chat", "social", "web", "in_person", "post", "other")

#: The DuckDB column type each field type is stored as.
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "timestamp": "TIMESTAMP",  # UTC, naive: the source time zone is applied at import
    "duration": "DOUBLE",  # seconds
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
    "category": "VARCHAR",
    "score": "DOUBLE",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    meaning: str
    required: bool = False
    choices: tuple[str, ...] = ()
    #: Free text scrubbed before storage (kpi.ingest.privacy: names, contact details, record numbers).
    free_text: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


CONTACT_FIELDS: tuple[Field, ...] = (
    Field("contact_id", "text", "the source's id; unique within a source", required=True),
    Field("opened_at", "timestamp", "when the customer made contact", required=True),
    Field("first_response_at", "timestamp", "first human reply"),
    Field("first_response_seconds", "duration", "time to first reply, when the export gives it"),
    Field("resolved_at", "timestamp", "when the contact was resolved"),
    Field("resolution_seconds", "duration", "time to resolution, when the export gives it"),
    Field("closed_at", "timestamp", "when the contact was closed"),
    Field("updated_at", "timestamp", "when the source last changed the contact"),
    Field("status", "category", "workflow state", choices=STATUSES),
    Field("priority", "category", "priority", choices=PRIORITIES),
    Field("channel", "category", "how the customer made contact", choices=CHANNELS),
    Field("team", "text", "team or group"),
    Field("agent", "text", "agent who handled the contact"),
    Field("category", "text", "contact reason, topic or ticket type"),
    Field("customer_id", "text", "customer; stored only as a keyed hash (customer_key)"),
    Field("agent_replies", "integer", "number of agent replies"),
    Field("reopens", "integer", "number of times reopened"),
    Field("reassignments", "integer", "number of reassignments"),
    Field("escalated", "boolean", "escalated"),
    Field("complaint", "boolean", "the contact is a complaint"),
    Field("answered", "boolean", "call answered by an agent"),
    Field("abandoned", "boolean", "call abandoned; defaults to not answered"),
    Field("wait_seconds", "duration", "queue time before answer"),
    Field("handle_seconds", "duration", "talk + hold + wrap time"),
    Field("first_contact_resolved", "boolean", "resolved at first contact, as the source says"),
    Field("sla_met", "boolean", "SLA met, as the source says"),
    Field("subject", "text", "subject line", free_text=True),
    Field("description", "text", "body or notes", free_text=True),
)

RESPONSE_FIELDS: tuple[Field, ...] = (
    Field("response_id", "text", "the survey tool's id; unique within a source", required=True),
    Field("contact_id", "text", "the contact the answer is about, when linked"),
    Field("responded_at", "timestamp", "when the customer answered (undated answers allowed)"),
    Field("nps", "score", "likelihood to recommend, 0-10"),
    Field("csat", "score", "satisfaction score on its scale"),
    Field("ces", "score", "customer effort score on its scale"),
    Field("comment", "text", "the customer's comment", free_text=True),
    Field("channel", "category", "channel of the contact", choices=CHANNELS),
    Field("team", "text", "team"),
    Field("agent", "text", "agent"),
    Field("category", "text", "contact reason"),
)

#: Contact-centre interval reports: one row per interval x queue (or agent), counts and totals
#: only. A supplied average or percentage is turned into a total with its weight at import
#: (``average_of`` / ``percent_of`` in a mapping), so figures pool by calls, never by rows.
INTERVAL_FIELDS: tuple[Field, ...] = (
    Field(
        "interval_id",
        "text",
        "the row's key: made by the importer from its start (as read), queue and agent, "
        "unless mapped",
        required=True,
    ),
    Field("interval_start", "timestamp", "when the interval starts", required=True),
    Field("interval_minutes", "integer", "the interval's length in minutes"),
    Field("queue", "text", "queue, split or skill; reports read it as the category"),
    Field("team", "text", "team"),
    Field("agent", "text", "agent, for an agent interval report"),
    Field("channel", "category", "channel of the queue", choices=CHANNELS),
    Field("offered", "integer", "calls offered to the queue"),
    Field("answered", "integer", "calls answered"),
    Field("abandoned", "integer", "calls abandoned, short abandons included"),
    Field("short_abandoned", "integer", "calls abandoned within the short-abandon time"),
    Field("flow_out", "integer", "calls that left the queue for another (flow-outs)"),
    Field("answered_within", "integer", "calls answered within threshold_seconds"),
    Field("threshold_seconds", "duration", "the service-level threshold of answered_within"),
    Field("wait_seconds_total", "duration", "total queue time of answered calls"),
    Field("handle_seconds_total", "duration", "total handle time (talk + hold + wrap)"),
    Field("talk_seconds_total", "duration", "total talk time"),
    Field("hold_seconds_total", "duration", "total hold time"),
    Field("wrap_seconds_total", "duration", "total wrap-up (after-call work) time"),
)

#: Columns each canonical table has in the store besides its fields.
CONTACT_STORE_EXTRA = {"source": "VARCHAR", "batch_id": "BIGINT", "customer_key": "VARCHAR"}
RESPONSE_STORE_EXTRA = {
    "source": "VARCHAR",
    "batch_id": "BIGINT",
    "csat_scale_min": "DOUBLE",
    "csat_scale_max": "DOUBLE",
    "ces_scale_min": "DOUBLE",
    "ces_scale_max": "DOUBLE",
}

INTERVAL_STORE_EXTRA = {"source": "VARCHAR", "batch_id": "BIGINT"}

KINDS = ("contacts", "responses", "intervals")
_FIELDS = {"contacts": CONTACT_FIELDS, "responses": RESPONSE_FIELDS, "intervals": INTERVAL_FIELDS}
_KEYS = {"contacts": "contact_id", "responses": "response_id", "intervals": "interval_id"}
_EXTRA = {
    "contacts": CONTACT_STORE_EXTRA,
    "responses": RESPONSE_STORE_EXTRA,
    "intervals": INTERVAL_STORE_EXTRA,
}

#: The source's own last-change time, which decides whether a re-imported row is newer than the
#: stored one where both versions have it (otherwise the exports' as-of instants decide; see
#: ``kpi.store.batches.recency_older``).
VERSION_FIELD = {"contacts": "updated_at"}


def fields_of(kind: str) -> tuple[Field, ...]:
    if kind not in _FIELDS:
        raise ValueError(f"unknown kind {kind!r}: use {', '.join(repr(k) for k in KINDS)}")
    return _FIELDS[kind]


def field_map(kind: str) -> dict[str, Field]:
    return {f.name: f for f in fields_of(kind)}


def key_field(kind: str) -> str:
    return _KEYS[kind]


def stored_columns(kind: str) -> dict[str, str]:
    """Column name -> SQL type of the table a kind is stored in (customer_id becomes a key)."""
    extra = _EXTRA[kind]
    columns = {"source": "VARCHAR"}
    for f in fields_of(kind):
        if f.name == "customer_id":
            continue
        columns[f.name] = f.sql_type
    columns.update({k: v for k, v in extra.items() if k not in columns})
    return columns


#: Tables the engine works out from the canonical ones and keeps in the store, so that a new
#: process does not work them out again (``kpi.engine.calendar``): the business calendar (one
#: row per working interval, with the working seconds of every earlier one) and every contact,
#: its row as stored followed by the working seconds clocked up to its opening, first response
#: and resolution on that calendar (a business-hours report reads that one table rather than
#: joining the readings back to the contacts). ``derived_tables`` says what each was built for
#: (business hours, the data's version, the columns); the engine rebuilds a table when that no
#: longer matches, and makes ``business_times`` anew each time, so its columns follow the
#: contacts' after a migration.
DERIVED_TABLES: dict[str, dict[str, str]] = {
    "derived_tables": {"name": "VARCHAR", "built_for": "VARCHAR", "built_at": "TIMESTAMP"},
    "business_calendar": {"start_utc": "TIMESTAMP", "end_utc": "TIMESTAMP", "cum_before": "DOUBLE"},
    "business_times": {
        **stored_columns("contacts"),
        "opened_cum": "DOUBLE",
        "first_response_cum": "DOUBLE",
        "resolved_cum": "DOUBLE",
    },
}
