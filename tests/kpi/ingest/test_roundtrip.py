"""Hypothesis: canonical contacts written in a layout's own words and imported come back equal.

Times are generated as Europe/London wall-clock times (what an export holds) and compared in UTC
(what the store holds), converted here with zoneinfo. Wall-clock times that do not exist or
happen twice at a daylight-saving change are kept out of the property and pinned down on their
own below.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.ingest.importer import import_file
from kpi.store.connection import Store, open_store
from kpi.store.schema import CHANNELS, PRIORITIES, STATUSES

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TRUE_WORDS = ("Y", "yes", "TRUE", "1", "True")
FALSE_WORDS = ("N", "no", "FALSE", "0", "False")


def unambiguous(local: dt.datetime) -> bool:
    """The wall-clock time exists once in London (not in a DST gap or overlap)."""
    first, second = local.replace(tzinfo=LONDON, fold=0), local.replace(tzinfo=LONDON, fold=1)
    return first.utcoffset() == second.utcoffset()


def to_utc(local: dt.datetime) -> dt.datetime:
    return local.replace(tzinfo=LONDON).astimezone(UTC).replace(tzinfo=None)


# Dates after the import time (plus a tolerance) are quarantined (kpi.ingest.limits): the
# generated ones end well before any day this suite runs.
LAST = dt.datetime(2026, 6, 30, 23, 59, 59)
local_times = st.datetimes(min_value=dt.datetime(2019, 1, 1), max_value=LAST).map(
    lambda t: t.replace(microsecond=0)
)

# Text the way people type it in team, agent and subject fields: accents, punctuation, quotes,
# delimiters, but no leading/trailing blanks (trimmed on import), single spaces between words
# (a name's run of spaces is one space once imported) and no digits (a run of them with spaces
# would rightly be scrubbed as a phone number).
words = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ éèñß£&,;|'\"-()!?."),
    min_size=1,
    max_size=24,
).map(lambda text: " ".join(text.split())).filter(bool)  # fmt: skip
ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-_", min_size=1, max_size=12)


@st.composite
def contacts(draw) -> dict:
    opened = draw(local_times.filter(unambiguous))
    resolved = None
    if draw(st.booleans()):
        later = dt.timedelta(seconds=draw(st.integers(0, 40 * 86400)))
        resolved = opened + later
        if not unambiguous(resolved) or resolved > LAST:
            resolved = None
    optional_int = st.none() | st.integers(0, 50)
    return {
        "contact_id": draw(ids),
        "opened_at": opened,
        "resolved_at": resolved,
        "status": draw(st.none() | st.sampled_from(STATUSES)),
        "priority": draw(st.none() | st.sampled_from(PRIORITIES)),
        "channel": draw(st.none() | st.sampled_from(CHANNELS)),
        "team": draw(st.none() | words),
        "agent": draw(st.none() | words),
        "category": draw(st.none() | words),
        "subject": draw(st.none() | words),
        "agent_replies": draw(optional_int),
        "reopens": draw(optional_int),
        "escalated": draw(st.none() | st.booleans()),
        "sla_met": draw(st.none() | st.booleans()),
        "wait_seconds": draw(st.none() | st.integers(0, 3 * 3600)),
        "handle_seconds": draw(st.none() | st.integers(0, 20 * 3600)),
        # How each value is spelt in the file (the same value, other words).
        "spelling": draw(st.integers(0, 4)),
        "clock": draw(st.booleans()),
    }


def no_agent_in_a_subject(rows: list[dict]) -> bool:
    """A subject that holds an agent's name (any row's) comes back with it scrubbed as
    "[name]", rightly (tests/kpi/ingest/test_privacy.py): such batches are not round trips."""
    agents = {r["agent"].lower() for r in rows if r["agent"]}
    return not any(a in (r["subject"] or "").lower() for a in agents for r in rows)


batches = st.lists(contacts(), min_size=1, max_size=15, unique_by=lambda c: c["contact_id"]).filter(
    no_agent_in_a_subject
)


def import_rows(header: list[str], lines: list[list[str]], layout: str) -> tuple[Store, Path]:
    folder = Path(tempfile.mkdtemp(prefix="kpi-roundtrip-"))
    export = folder / "export.csv"
    with open(export, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(lines)
    store = open_store(folder / "store.duckdb")
    try:
        result = import_file(store, export, layout=layout)
        assert result.rows_read == len(lines) == result.rows_imported
        assert result.rows_quarantined == 0 and result.warnings == 0
    except BaseException:
        close(store, folder)  # a failing example leaves nothing behind in the temp folder
        raise
    return store, folder


def stored(store: Store, columns: list[str]) -> dict[str, dict]:
    cur = store.cursor()
    found = cur.execute(f"SELECT contact_id, {', '.join(columns)} FROM contacts").fetchall()
    return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in found}


def close(store: Store, folder: Path) -> None:
    store.close()
    shutil.rmtree(folder)  # the store, its files and the scratch folder beside it


# --- generic contacts CSV ----------------------------------------------------------------------

GENERIC = [
    "contact_id", "opened_at", "resolved_at", "status", "priority", "channel", "team", "agent",
    "category", "subject", "agent_replies", "reopens", "escalated", "sla_met", "wait_seconds",
    "handle_seconds",
]  # fmt: skip


def spell_bool(value: bool | None, spelling: int) -> str:
    if value is None:
        return ""
    return (TRUE_WORDS if value else FALSE_WORDS)[spelling]


def spell_seconds(value: int | None, clock: bool) -> str:
    if value is None:
        return ""
    if clock:
        return f"{value // 3600}:{value % 3600 // 60:02d}:{value % 60:02d}"
    return str(value)


def spell_word(value: str | None, spelling: int) -> str:
    if value is None:
        return ""
    return (value, value.upper(), value.title(), value, value.capitalize())[spelling]


def generic_line(c: dict) -> list[str]:
    s = c["spelling"]
    return [
        c["contact_id"],
        c["opened_at"].strftime("%Y-%m-%d %H:%M:%S"),
        c["resolved_at"].strftime("%Y-%m-%d %H:%M:%S") if c["resolved_at"] else "",
        spell_word(c["status"], s),
        spell_word(c["priority"], s),
        spell_word(c["channel"], s),
        *(c[k] or "" for k in ("team", "agent", "category", "subject")),
        *("" if c[k] is None else str(c[k]) for k in ("agent_replies", "reopens")),
        spell_bool(c["escalated"], s),
        spell_bool(c["sla_met"], s),
        spell_seconds(c["wait_seconds"], c["clock"]),
        spell_seconds(c["handle_seconds"], not c["clock"]),
    ]


@SETTINGS
@given(batches)
def test_generic_contacts_come_back_equal(rows):
    store, folder = import_rows(GENERIC, [generic_line(c) for c in rows], "generic_contacts")
    try:
        columns = [*GENERIC[1:], "resolution_seconds"]
        found = stored(store, columns)
        assert set(found) == {c["contact_id"] for c in rows}
        for c in rows:
            opened, resolved = to_utc(c["opened_at"]), c["resolved_at"] and to_utc(c["resolved_at"])
            expected = {
                "opened_at": opened,
                "resolved_at": resolved,
                "resolution_seconds": (resolved - opened).total_seconds() if resolved else None,
                **{k: c[k] for k in GENERIC[3:] if k not in ("wait_seconds", "handle_seconds")},
                "wait_seconds": None if c["wait_seconds"] is None else float(c["wait_seconds"]),
                "handle_seconds": None
                if c["handle_seconds"] is None
                else float(c["handle_seconds"]),
            }
            assert found[c["contact_id"]] == expected
    finally:
        close(store, folder)


# --- Zendesk admin export ------------------------------------------------------------------------

ZENDESK = [
    "Summation column", "Id", "Created at", "Solved at", "First reply time in minutes", "Status",
    "Priority", "Via", "Group", "Assignee", "Contact reason [list]", "Requester id", "Replies",
    "Reopens", "Group stations", "Subject", "Tags", "Satisfaction Score",
]  # fmt: skip
ZENDESK_STATUS = {
    "open": ("Open", "New"), "pending": ("Pending",), "on_hold": ("Hold", "On-hold"),
    "resolved": ("Solved",), "closed": ("Closed",),
}  # fmt: skip
ZENDESK_VIA = {
    "email": ("Mail",), "web": ("Web Form",), "chat": ("Chat", "Web Widget"),
    "social": ("Twitter", "Facebook"), "phone": ("Voice",),
}  # fmt: skip
SATISFACTION = {"Good": 2.0, "Bad": 1.0, "Offered": None, "Not Offered": None, "": None}


@st.composite
def zendesk_tickets(draw) -> list[dict]:
    tickets = draw(batches)
    for t in tickets:
        t["channel"] = draw(st.none() | st.sampled_from(sorted(ZENDESK_VIA)))
        t["complaint"] = draw(st.booleans())
        t["first_reply_minutes"] = draw(st.none() | st.integers(0, 10_000))
        t["satisfaction"] = draw(st.sampled_from(sorted(SATISFACTION)))
        t["reassignments"] = draw(st.none() | st.integers(0, 9))
    return tickets


def zendesk_line(t: dict) -> list[str]:
    s = t["spelling"]
    status = ZENDESK_STATUS[t["status"]] if t["status"] else ("",)
    via = ZENDESK_VIA[t["channel"]] if t["channel"] else ("",)
    tags = [w for w, on in (("complaint", t["complaint"]), ("escalated", t["escalated"])) if on]
    return [
        "1",
        t["contact_id"],
        t["opened_at"].strftime("%Y-%m-%d %H:%M:%S"),
        t["resolved_at"].strftime("%Y-%m-%d %H:%M:%S") if t["resolved_at"] else "",
        "" if t["first_reply_minutes"] is None else str(t["first_reply_minutes"]),
        status[s % len(status)],
        (t["priority"] or "").capitalize(),
        via[s % len(via)],
        t["team"] or "",
        t["agent"] or "",
        t["category"] or "",
        "",
        *("" if t[k] is None else str(t[k]) for k in ("agent_replies", "reopens", "reassignments")),
        t["subject"] or "",
        " ".join(["billing", *tags]),
        t["satisfaction"],
    ]


@SETTINGS
@given(zendesk_tickets())
def test_zendesk_tickets_come_back_equal(tickets):
    store, folder = import_rows(ZENDESK, [zendesk_line(t) for t in tickets], "zendesk")
    try:
        columns = [
            "opened_at", "resolved_at", "first_response_seconds", "first_response_at", "status",
            "priority", "channel", "team", "agent", "category", "agent_replies", "reopens",
            "reassignments", "subject", "complaint", "escalated",
        ]  # fmt: skip
        found = stored(store, columns)
        assert set(found) == {t["contact_id"] for t in tickets}
        for t in tickets:
            opened = to_utc(t["opened_at"])
            seconds = None if t["first_reply_minutes"] is None else t["first_reply_minutes"] * 60.0
            expected = {
                "opened_at": opened,
                "resolved_at": t["resolved_at"] and to_utc(t["resolved_at"]),
                "first_response_seconds": seconds,
                "first_response_at": None if seconds is None else opened + dt.timedelta(seconds=seconds),
                "complaint": t["complaint"],
                "escalated": bool(t["escalated"]),
                **{k: t[k] for k in columns[4:14]},
            }  # fmt: skip
            assert found[t["contact_id"]] == expected
        answers = dict(store.cursor().execute("SELECT response_id, csat FROM responses").fetchall())
        assert answers == {
            t["contact_id"]: SATISFACTION[t["satisfaction"]]
            for t in tickets
            if SATISFACTION[t["satisfaction"]] is not None
        }
    finally:
        close(store, folder)


# --- daylight-saving edges, pinned -------------------------------------------------------------------


def test_wall_clock_times_at_the_daylight_saving_changes_are_read_as_gmt(tmp_path):
    """01:30 on 30 March 2025 never happened in London and 01:30 on 26 October happened twice;
    both are read as GMT (the reading after the change), which is one of the possible instants."""
    export = tmp_path / "dst.csv"
    export.write_text(
        "contact_id,opened_at\nGAP,2025-03-30 01:30:00\nTWICE,2025-10-26 01:30:00\n"
        "BEFORE,2025-10-26 00:59:00\nAFTER,2025-03-30 02:00:00\n",
        encoding="utf-8",
    )
    store = open_store(tmp_path / "store.duckdb")
    try:
        result = import_file(store, export)
        assert result.rows_imported == 4
        found = dict(
            store.cursor().execute("SELECT contact_id, opened_at FROM contacts").fetchall()
        )
    finally:
        store.close()
    twice = dt.datetime(2025, 10, 26, 1, 30)
    assert found["TWICE"] in {
        to_utc(twice),
        twice.replace(tzinfo=LONDON, fold=1).astimezone(UTC).replace(tzinfo=None),
    }
    assert found["TWICE"] == dt.datetime(2025, 10, 26, 1, 30)
    assert found["GAP"] == dt.datetime(2025, 3, 30, 1, 30)
    assert found["BEFORE"] == dt.datetime(2025, 10, 25, 23, 59)  # still BST
    assert found["AFTER"] == dt.datetime(2025, 3, 30, 1, 0)  # 02:00 BST
