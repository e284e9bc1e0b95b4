"""Event logs roll up to one contact per case: events in timestamp order (never file order), each
[rollup] field's aggregate matching a plain-Python reference, the bookkeeping adding up, and
mapping mistakes refused in one line naming the key."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.errors import ImportProblem
from kpi.ingest.importer import import_file
from kpi.ingest.layouts import get_layout, load_mapping
from kpi.ingest.outcome import describe_import
from kpi.store.connection import Store, open_store
from tests.kpi.stores import rows

UCI = "uci_incident_event_log_head.csv"

# XES-style headers, colons and all.
CASE, ACTIVITY, RESOURCE, TIME, DUE, CATEGORY = (
    "case:concept:name",
    "concept:name",
    "org:resource",
    "time:timestamp",
    "Due",
    "Category",
)
ACTIVITIES = ("Take in charge ticket", "Resolve ticket", "Reopen", "Closed")
FORMAT = "%Y-%m-%d %H:%M:%S"

MAPPING = """
kind = "contacts"
timezone = "UTC"
[columns]
contact_id = "case:concept:name"
category = "Category"
[rollup]
order_by = "time:timestamp"
opened_at = { first = "time:timestamp" }
first_response_at = { first = "time:timestamp", where = { "concept:name" = "Take in charge ticket" } }
resolved_at = { last = "time:timestamp", where = { "concept:name" = ["Resolve ticket", "closed"] } }
closed_at = { max = "Due" }
updated_at = { min = "Due" }
agent = { first = "org:resource", where = { "concept:name" = "Take in charge ticket" } }
reopens = { count = "*", where = { "concept:name" = "Resolve ticket" }, minus = 1 }
reassignments = { count = "org:resource" }
"""
STORED = (
    "contact_id, opened_at, first_response_at, resolved_at, closed_at, updated_at, agent, "
    "reopens, reassignments, category"
)

Event = dict[str, str]


def event_log(cases: int, per_case: int, seed: int) -> list[Event]:
    """Events of ``cases`` cases in time order; each case opens, then does random things at
    distinct minutes; Due is a time unrelated to the order (for min and max)."""
    rnd = random.Random(seed)
    events = []
    start = dt.datetime(2024, 3, 1, 9, 0)
    for case in range(cases):
        minutes = sorted(rnd.sample(range(1, 10_000), per_case))
        for k, minute in enumerate(minutes):
            at = start + dt.timedelta(days=case, minutes=minute)
            due = at + dt.timedelta(minutes=rnd.randint(0, 5_000))
            events.append(
                {
                    CASE: f"C{case:04d}",
                    ACTIVITY: "Open" if k == 0 else rnd.choice(ACTIVITIES),
                    RESOURCE: rnd.choice(["", "Ann", "Bob"]),
                    TIME: at.strftime(FORMAT),
                    DUE: due.strftime(FORMAT),
                    CATEGORY: rnd.choice(["billing", "access", "outage"]),
                }
            )
    return events


def write(path: Path, events: list[Event]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(events[0]))
        writer.writeheader()
        writer.writerows(events)
    return path


def mapping(tmp_path: Path, text: str = MAPPING, name: str = "events.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def reference(events: list[Event]) -> list[tuple[Any, ...]]:
    """The contacts the mapping should give, computed in plain Python."""
    by_case: dict[str, list[tuple[int, Event]]] = {}
    for row, event in enumerate(events):
        by_case.setdefault(event[CASE], []).append((row, event))
    out = []
    for case, found in sorted(by_case.items()):
        ordered = [e for _, e in sorted(found, key=lambda p: (p[1][TIME], p[0]))]
        taken = [e for e in ordered if e[ACTIVITY] == "Take in charge ticket"]
        resolved = [e for e in ordered if e[ACTIVITY].lower() in ("resolve ticket", "closed")]
        resolves = sum(e[ACTIVITY] == "Resolve ticket" for e in ordered)
        dues = [e[DUE] for e in ordered]
        out.append(
            (
                case,
                _at(ordered[0][TIME]),
                _at(taken[0][TIME]) if taken else None,
                _at(resolved[-1][TIME]) if resolved else None,
                _at(max(dues)),
                _at(min(dues)),
                (taken[0][RESOURCE] or None) if taken else None,
                max(resolves - 1, 0),
                sum(bool(e[RESOURCE]) for e in ordered),
                ordered[-1][CATEGORY],
            )
        )
    return out


def _at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, FORMAT)


def contacts(store: Store) -> list[tuple[Any, ...]]:
    return rows(store, f"SELECT {STORED} FROM contacts ORDER BY contact_id")


# --- known answers ------------------------------------------------------------------------


def test_a_worked_example_rolls_up_by_hand(tmp_path, store):
    # Case A, in file order: closed, opened, resolved twice, taken in charge; by time it opens
    # at 09:00, is taken at 09:30, resolved at 10:00, reopened, resolved at 12:00, closed 13:00.
    def ev(activity: str, at: str, resource: str = "", due: str = "2024-01-02 00:00:00"):
        return {
            CASE: "A",
            ACTIVITY: activity,
            RESOURCE: resource,
            TIME: at,
            DUE: due,
            CATEGORY: activity,
        }

    events = [
        ev("Closed", "2024-01-01 13:00:00", "Bob", "2024-01-03 08:00:00"),
        ev("Open", "2024-01-01 09:00:00"),
        ev("Resolve ticket", "2024-01-01 12:00:00", "Ann"),
        ev("Resolve ticket", "2024-01-01 10:00:00", "Ann", "2024-01-01 23:00:00"),
        ev("Take in charge ticket", "2024-01-01 09:30:00", "Ann"),
        ev("Reopen", "2024-01-01 11:00:00", "Cy"),
    ]
    result = import_file(store, write(tmp_path / "a.csv", events), mapping=mapping(tmp_path))
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (6, 6, 0)
    assert result.rolled_up == 5
    assert contacts(store) == [
        (
            "A",
            dt.datetime(2024, 1, 1, 9, 0),  # first event by time, not the file's first row
            dt.datetime(2024, 1, 1, 9, 30),  # first take in charge
            dt.datetime(2024, 1, 1, 13, 0),  # last resolve-or-close (where is case-blind)
            dt.datetime(2024, 1, 3, 8, 0),  # max Due
            dt.datetime(2024, 1, 1, 23, 0),  # min Due
            "Ann",
            1,  # two resolves, minus one
            5,  # events with a resource (all but the opening)
            "Closed",  # a field not named: the last event's, by time
        )
    ]
    assert contacts(store) == reference(events)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_event_logs_match_a_plain_python_reference(tmp_path, store, seed):
    events = event_log(cases=40, per_case=5, seed=seed)
    random.Random(seed).shuffle(events)
    result = import_file(store, write(tmp_path / "log.csv", events), mapping=mapping(tmp_path))
    assert result.rows_read == 200 == result.rows_imported + result.rows_quarantined
    assert result.rows_quarantined == 0
    assert result.rolled_up == 160
    assert result.inserted == 40
    assert contacts(store) == reference(events)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cases=st.integers(1, 6),
    per_case=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    order=st.randoms(use_true_random=False),
)
def test_a_shuffled_event_log_rolls_up_to_the_same_contacts_as_the_ordered_one(
    tmp_path_factory, cases, per_case, seed, order
):
    folder = tmp_path_factory.mktemp("shuffled")
    events = event_log(cases, per_case, seed)
    shuffled = list(events)
    order.shuffle(shuffled)
    found = []
    for name, log in (("ordered.csv", events), ("shuffled.csv", shuffled)):
        store = open_store(":memory:")
        try:
            import_file(store, write(folder / name, log), mapping=mapping(folder))
            found.append(contacts(store))
        finally:
            store.close()
    assert found[0] == found[1] == reference(events)


def test_ties_in_time_are_broken_by_the_next_order_by_header_not_the_file(tmp_path, store):
    text = MAPPING.replace('order_by = "time:timestamp"', 'order_by = ["time:timestamp", "Seq"]')
    events = [
        {**e, "Seq": seq}
        for e, seq in (
            (event_log(1, 1, 0)[0], "1"),
            ({CASE: "C0000", ACTIVITY: "Closed", RESOURCE: "", DUE: "2024-03-01 09:00:00"}, "10"),
            ({CASE: "C0000", ACTIVITY: "Reopen", RESOURCE: "", DUE: "2024-03-01 09:00:00"}, "9"),
        )
    ]
    for e in events[1:]:
        e[TIME], e[CATEGORY] = "2024-03-09 09:00:00", e[ACTIVITY]
    import_file(store, write(tmp_path / "t.csv", events), mapping=mapping(tmp_path, text))
    # Seq 10 comes after Seq 9 (as numbers, though "10" < "9" as text), whatever the file says.
    assert rows(store, "SELECT category, resolved_at FROM contacts") == [
        ("Closed", dt.datetime(2024, 3, 9, 9, 0))
    ]


# --- bookkeeping ----------------------------------------------------------------------------


def test_a_case_whose_row_is_set_aside_sets_aside_all_its_events(tmp_path, store):
    events = event_log(cases=3, per_case=4, seed=7)
    events[5][DUE] = "2099-01-01 00:00:00"  # case 1's closed_at (max Due) is impossible
    result = import_file(store, write(tmp_path / "bad.csv", events), mapping=mapping(tmp_path))
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (12, 8, 4)
    assert result.rolled_up == 6
    assert [c for c, *_ in contacts(store)] == ["C0000", "C0002"]
    reasons = rows(store, "SELECT row_number, reason FROM quarantine ORDER BY row_number")
    assert [r for r, _ in reasons] == [5, 6, 7, 8]
    assert "closed_at '2099-01-01 00:00:00' is after the import time" in reasons[3][1]
    assert "event of C0001, rolled up into row 8, which was set aside" in reasons[0][1]


#: The mapping with its date format given (a value no format reads is then the row's problem).
DATED = MAPPING.replace('timezone = "UTC"', 'timezone = "UTC"\ndate_format = "%Y-%m-%d %H:%M:%S"')


def test_an_event_without_a_readable_time_sets_aside_its_whole_case(tmp_path, store):
    # C0000's second event has no readable time, so C0000's order (and last event) is unknown:
    # all three of its events are set aside, naming row 2; C0001 rolls up as usual.
    events = event_log(cases=2, per_case=3, seed=3)
    events[1][TIME] = "soon"
    result = import_file(store, write(tmp_path / "t.csv", events), mapping=mapping(tmp_path, DATED))
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (6, 3, 3)
    assert result.rolled_up == 2
    assert contacts(store) == reference(events[3:])
    found = rows(store, "SELECT row_number, column_name, value, reason FROM quarantine ORDER BY 1")
    assert [(r, c, v) for r, c, v, _ in found] == [
        (1, "[rollup] order_by", "C0000"),
        (2, "[rollup] order_by", "soon"),
        (3, "[rollup] order_by", "C0000"),
    ]
    assert found[1][3].startswith(
        "cannot read 'soon' as a date (time:timestamp, which orders the events), so the events "
        "of 'C0000' cannot be ordered and the whole case is set aside: fix this row and import "
        "again"
    )
    for _, _, _, reason in (found[0], found[2]):
        assert reason == (
            "event of 'C0000', whose events cannot be ordered: the time:timestamp of row 2 is "
            "'soon', not a readable date, so the whole case is set aside (fix that row and "
            "import again)"
        )


def test_an_empty_time_sets_aside_its_case_naming_the_first_unreadable_row(tmp_path, store):
    events = event_log(cases=2, per_case=4, seed=4)
    events[2][TIME], events[3][TIME] = "", "later"
    result = import_file(store, write(tmp_path / "e.csv", events), mapping=mapping(tmp_path, DATED))
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (8, 4, 4)
    assert result.rolled_up == 3
    reasons = [r for (r,) in rows(store, "SELECT reason FROM quarantine ORDER BY row_number")]
    assert reasons[2].startswith("time:timestamp is empty, so the events of 'C0000' cannot be")
    assert reasons[3].startswith("cannot read 'later' as a date")
    # The readable events name the first unreadable one in the file.
    assert all("the time:timestamp of row 3 is empty, so the whole case" in r for r in reasons[:2])


#: The reviewer's ServiceNow export, by hand: INC001's last two events tie on sys_updated_at and
#: sys_mod_count (the file's later row, Resolved, is taken, and said); INC002's Resolved event
#: (made_sla false) has no readable time, so INC002 must not be imported as open and in SLA.
SERVICENOW = """number,incident_state,opened_at,sys_updated_at,sys_mod_count,made_sla,priority,\
assigned_to,resolved_at,closed_at,contact_type,caller_id
INC001,New,01-03-2025 09:00,01-03-2025 09:00,0,true,3 - Moderate,Bob,?,?,Phone,Jane
INC001,Active,01-03-2025 09:00,01-03-2025 10:00,1,true,3 - Moderate,Bob,?,?,Phone,Jane
INC001,Resolved,01-03-2025 09:00,01-03-2025 10:00,1,true,3 - Moderate,Bob,01-03-2025 10:00,?,Phone,Jane
INC002,New,02-03-2025 09:00,02-03-2025 09:00,0,true,2 - High,Ann,?,?,Phone,John
INC002,Resolved,02-03-2025 09:00,not a date,1,false,2 - High,Ann,02-03-2025 11:00,?,Phone,John
INC003,New,03-03-2025 09:00,03-03-2025 09:30,0,true,2 - High,Ann,?,?,Phone,John
""".replace("\\\n", "")


def test_a_servicenow_case_with_an_unreadable_update_time_is_not_imported_in_a_wrong_state(
    tmp_path, store
):
    path = tmp_path / "sn.csv"
    path.write_text(SERVICENOW, encoding="utf-8")
    result = import_file(store, path)
    assert result.layout == "servicenow_incidents"
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (6, 4, 2)
    assert rows(store, "SELECT contact_id, status, sla_met FROM contacts ORDER BY 1") == [
        ("INC001", "resolved", True),
        ("INC003", "open", True),
    ]
    assert rows(store, "SELECT row_number FROM quarantine ORDER BY 1") == [(4,), (5,)]
    (note,) = [n for n in result.notes if "tied" in n]
    assert note == (
        "[rollup] 1 case has last events tied on 'sys_updated_at' and 'sys_mod_count', decided "
        "by file order: the row later in the file was taken (e.g. 'INC001': rows 2 and 3 tie, "
        "row 3 was taken); add a tie-breaker to order_by if the file's order is not the events' "
        "order"
    )


def test_tied_last_events_are_counted_in_a_note_and_the_later_row_is_taken(tmp_path, store):
    def ev(case: str, activity: str, at: str) -> Event:
        return {CASE: case, ACTIVITY: activity, RESOURCE: "", TIME: at, DUE: at, CATEGORY: activity}

    events = [
        ev("B", "Open", "2024-01-01 09:00:00"),
        ev("A", "Open", "2024-01-01 09:00:00"),
        ev("B", "Reopen", "2024-01-01 10:00:00"),  # B's last events tie: rows 3, 4 and 6
        ev("B", "Closed", "2024-01-01 10:00:00"),
        ev("A", "Closed", "2024-01-01 10:00:00"),  # A's last event is alone
        ev("B", "Resolve ticket", "2024-01-01 10:00:00"),
        ev("C", "Open", "2024-01-01 09:00:00"),
        ev("C", "Reopen", "2024-01-01 09:00:00"),  # C's only two events tie: rows 7 and 8
        ev("D", "Open", "2024-01-01 09:00:00"),  # D's first events tie, not its last
        ev("D", "Reopen", "2024-01-01 09:00:00"),
        ev("D", "Closed", "2024-01-01 11:00:00"),
    ]
    result = import_file(store, write(tmp_path / "tie.csv", events), mapping=mapping(tmp_path))
    assert rows(store, "SELECT contact_id, category FROM contacts ORDER BY 1") == [
        ("A", "Closed"),
        ("B", "Resolve ticket"),  # row 6, the latest in the file of the three
        ("C", "Reopen"),
        ("D", "Closed"),
    ]
    (note,) = [n for n in result.notes if "tied" in n]
    assert note.startswith(
        "[rollup] 2 cases have last events tied on 'time:timestamp', decided by file order: "
        "the row later in the file was taken (e.g. 'B': rows 3, 4 and 6 tie, row 6 was taken)"
    )
    assert contacts(store) == reference(events)  # the reference breaks ties by file row too


def test_a_tie_broken_by_the_next_order_by_header_is_not_a_tie(tmp_path, store):
    text = MAPPING.replace('order_by = "time:timestamp"', 'order_by = ["time:timestamp", "Seq"]')
    events = [{**e, "Seq": str(9 - i)} for i, e in enumerate(event_log(1, 3, 1))]
    for e in events:
        e[TIME] = "2024-03-02 09:00:00"
    result = import_file(store, write(tmp_path / "s.csv", events), mapping=mapping(tmp_path, text))
    assert not any("tied" in n for n in result.notes)
    assert rows(store, "SELECT category FROM contacts") == [(events[0][CATEGORY],)]


# --- without a rollup -------------------------------------------------------------------------


def test_keep_last_without_a_rollup_still_warns_when_repeated_ids_differ_in_date(tmp_path, store):
    text = """
kind = "contacts"
duplicates = "keep_last"
[columns]
contact_id = "case:concept:name"
opened_at = "time:timestamp"
"""
    events = event_log(cases=2, per_case=3, seed=5)
    result = import_file(store, write(tmp_path / "k.csv", events), mapping=mapping(tmp_path, text))
    assert result.rolled_up == 4
    printed = "\n".join(describe_import(result))
    assert "2 contact_ids appear on several rows with different dates" in printed
    assert "goes by file order, not by date" in printed


def test_a_rollup_says_nothing_of_file_order(tmp_path, store):
    events = event_log(cases=2, per_case=3, seed=5)
    result = import_file(store, write(tmp_path / "r.csv", events), mapping=mapping(tmp_path))
    assert not any("file order" in note for note in result.notes)


# --- the built-in ServiceNow layout and the real UCI event log ---------------------------------


def test_the_servicenow_layout_orders_by_update_time_and_takes_opened_at_from_the_first():
    layout = get_layout("servicenow_incidents")
    assert layout.rollup is not None
    assert layout.rollup.order_by == ("sys_updated_at", "sys_mod_count")
    assert layout.rollup.fields["opened_at"].aggregate == "first"
    assert "sla_met" not in layout.rollup.fields  # the last update's, like the state


@pytest.mark.real_samples
def test_the_uci_incident_log_rolls_up_with_the_first_opened_at_whatever_the_file_order(
    real_samples, tmp_path, store
):
    with open(real_samples / UCI, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, events = list(reader.fieldnames or []), list(reader)
    # opened_at is made to differ per update, and the file is turned upside down: the contact
    # must still open at the first update's opened_at, and keep the last update's state.
    for event in events:
        event["opened_at"] = event["sys_updated_at"]
    reversed_log = tmp_path / "uci_reversed.csv"
    with open(reversed_log, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(reversed(events))
    result = import_file(store, reversed_log)
    assert result.layout == "servicenow_incidents"
    assert (result.rows_read, result.rows_quarantined, result.inserted) == (5_998, 0, 890)
    assert result.rolled_up == 5_108

    def when(text: str) -> tuple[dt.datetime, int]:
        return dt.datetime.strptime(text, "%d-%m-%Y %H:%M"), 0

    def key(e: Event) -> tuple[dt.datetime, int]:
        return dt.datetime.strptime(e["sys_updated_at"], "%d-%m-%Y %H:%M"), int(e["sys_mod_count"])

    first: dict[str, Event] = {}
    last: dict[str, Event] = {}
    for event in events:
        number = event["number"]
        if number not in first or key(event) < key(first[number]):
            first[number] = event
        if number not in last or key(event) >= key(last[number]):
            last[number] = event
    stored = {
        c: (opened, sla)
        for c, opened, sla in rows(store, "SELECT contact_id, opened_at, sla_met FROM contacts")
    }
    # London in February and March 2016 is UTC (the clocks change on 27 March).
    expected = {
        number: (when(e["opened_at"])[0], last[number]["made_sla"] == "TRUE")
        for number, e in first.items()
        if when(e["opened_at"])[0] < dt.datetime(2016, 3, 27)
    }
    assert {n: stored[n] for n in expected} == expected
    assert len(expected) > 800
    statuses = dict(rows(store, "SELECT contact_id, status FROM contacts"))
    assert statuses["INC0000045"] == "closed"  # its last update, though first in this file


# --- mapping mistakes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rollup", "message"),
    [
        (
            'reopens = { avg = "*" }',
            "events.toml: [rollup] reopens has an unknown key avg",
        ),
        (
            'opened_at = { first = "time:timestamp", minus = 1 }',
            "events.toml: [rollup] opened_at minus is only for count, not first.",
        ),
        (
            'opened_at = { first = "time:timestamp", last = "Due" }',
            "events.toml: [rollup] opened_at gives first and last: keep one",
        ),
        (
            'opened_at = { count = "*" }',
            "events.toml: [rollup] opened_at = { count = ... } gives a number of events, but "
            "opened_at is a timestamp",
        ),
        (
            'happiness = { last = "Due" }',
            "events.toml: [rollup] happiness is not a contacts field",
        ),
        (
            'contact_id = { last = "Due" }',
            "events.toml: [rollup] contact_id is the case id the events are grouped by",
        ),
        (
            'category = { last = "Due" }',
            'events.toml: [rollup] category reads "Due" but [columns] category is "Category"',
        ),
        (
            'reopens = { count = "*", where = { "concept:name" = 3 } }',
            'events.toml: [rollup] reopens where "concept:name" must be a value or a list',
        ),
    ],
)
def test_a_rollup_mistake_is_one_line_naming_the_key(tmp_path, rollup, message):
    text = f"""
kind = "contacts"
[columns]
contact_id = "case:concept:name"
category = "Category"
opened_at = "time:timestamp"
[rollup]
order_by = "time:timestamp"
{rollup}
"""
    with pytest.raises(ImportProblem) as raised:
        load_mapping(mapping(tmp_path, text))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('order_by = "time:timestamp"', 'order_by = "When"'),
            "t.csv: [rollup] order_by names column 'When', which the file does not have",
        ),
        (
            ('"concept:name" = "Take in charge ticket" } }', '"Step" = "Take in charge" } }'),
            "t.csv: [rollup] first_response_at where names column 'Step'",
        ),
        (
            ('count = "org:resource"', 'count = "Owner"'),
            "t.csv: [rollup] reassignments count names column 'Owner'",
        ),
    ],
)
def test_a_rollup_column_the_file_lacks_is_named_with_its_key(tmp_path, store, change, message):
    text = MAPPING.replace(*change)
    log = write(tmp_path / "t.csv", event_log(2, 2, 1))
    with pytest.raises(ImportProblem) as raised:
        import_file(store, log, mapping=mapping(tmp_path, text))
    assert message in str(raised.value)
    assert store.count("contacts") == 0


# --- message threads ------------------------------------------------------------------------------

THREAD_MAPPING = """
kind = "contacts"
[columns]
contact_id = "tweet_id"
[constants]
channel = "social"
[rollup]
order_by = "created_at"
in_reply_to = "in_response_to_tweet_id"
started_by = { inbound = "True" }
opened_at = { first = "created_at" }
first_response_at = { first = "created_at", where = { inbound = "False" } }
updated_at = { last = "created_at" }
agent = { first = "author_id", where = { inbound = "False" } }
agent_replies = { count = "*", where = { inbound = "False" } }
"""
TWITTER = "%a %b %d %H:%M:%S +0000 %Y"  # Twitter/X's created_at, always in UTC
Message = dict[str, str]


def message_threads(threads: int, seed: int) -> list[Message]:
    """Customer-started threads of alternating customer and agent messages, each replying to
    the one before; plus a thread the company started, a reply to a tweet outside the file
    and two messages replying to each other (a loop)."""
    rnd = random.Random(seed)
    messages: list[Message] = []
    ids = iter(range(1000, 10**6))
    start = dt.datetime(2017, 10, 31, 22, 10, 47)

    def add(inbound: bool, at: dt.datetime, parent: str, author: str) -> str:
        tweet = str(next(ids))
        messages.append(
            {
                "tweet_id": tweet,
                "author_id": author,
                "inbound": "True" if inbound else "False",
                "created_at": at.strftime(TWITTER),
                "text": "hello",
                "in_response_to_tweet_id": parent,
            }
        )
        return tweet

    for thread in range(threads):
        at = start + dt.timedelta(hours=thread * 7)
        parent = add(True, at, "", f"cust{thread}")
        for k in range(rnd.randint(0, 5)):
            at += dt.timedelta(minutes=rnd.randint(1, 300))
            inbound = k % 2 == 1
            parent = add(
                inbound,
                at,
                parent,
                f"cust{thread}" if inbound else rnd.choice(["Acme", "AcmeHelp"]),
            )
    root = add(False, start, "", "Acme")  # the company's announcement: not a contact
    add(True, start + dt.timedelta(minutes=5), root, "cust_x")
    add(True, start + dt.timedelta(days=2), "999", "cust_y")  # replies to a tweet not exported
    messages += [
        {**messages[0], "tweet_id": "1", "in_response_to_tweet_id": "2"},
        {**messages[0], "tweet_id": "2", "in_response_to_tweet_id": "1"},
    ]
    return messages


def thread_reference(messages: list[Message]) -> tuple[list[tuple[Any, ...]], int]:
    """(contacts, messages set aside), in plain Python: follow each reply to its first message."""
    by_id = {m["tweet_id"]: m for m in messages}

    def root(m: Message) -> str | None:
        seen = set()
        while m["in_response_to_tweet_id"] in by_id:
            if m["tweet_id"] in seen:
                return None
            seen.add(m["tweet_id"])
            m = by_id[m["in_response_to_tweet_id"]]
        return m["tweet_id"]

    threads: dict[str, list[Message]] = {}
    aside = 0
    for m in messages:
        r = root(m)
        if r is None:
            aside += 1
        else:
            threads.setdefault(r, []).append(m)
    contacts = []
    for r, found in sorted(threads.items()):
        ordered = sorted(found, key=lambda m: dt.datetime.strptime(m["created_at"], TWITTER))
        if ordered[0]["inbound"] != "True":
            aside += len(found)
            continue
        agents = [m for m in ordered if m["inbound"] == "False"]
        at = [dt.datetime.strptime(m["created_at"], TWITTER) for m in ordered]
        contacts.append(
            (
                r,
                at[0],
                dt.datetime.strptime(agents[0]["created_at"], TWITTER) if agents else None,
                at[-1],
                agents[0]["author_id"] if agents else None,
                len(agents),
                "social",
            )
        )
    return contacts, aside


THREAD_STORED = (
    "contact_id, opened_at, first_response_at, updated_at, agent, agent_replies, channel"
)


@pytest.mark.parametrize("seed", [1, 2])
def test_message_threads_become_one_contact_per_customer_started_thread(tmp_path, store, seed):
    messages = message_threads(threads=30, seed=seed)
    random.Random(seed).shuffle(messages)
    log = write(tmp_path / "tweets.csv", messages)
    result = import_file(store, log, mapping=mapping(tmp_path, THREAD_MAPPING))
    expected, aside = thread_reference(messages)
    assert result.rows_read == len(messages) == result.rows_imported + result.rows_quarantined
    assert result.rows_quarantined == aside == 4  # the company's two, the loop's two
    assert result.inserted == len(expected) == 31
    assert result.rolled_up == len(messages) - aside - len(expected)
    assert result.date_formats["opened_at"].startswith("worded with an offset")
    found = rows(store, f"SELECT {THREAD_STORED} FROM contacts ORDER BY contact_id")
    assert found == sorted(expected, key=lambda c: c[0])


def test_a_worked_thread_by_hand(tmp_path, store):
    # A customer tweets at 22:10:47; the agent replies at 22:40:47; the customer thanks them at
    # 23:10:47. One contact: opened 22:10:47, first response 30 minutes later, last activity
    # 23:10:47, one agent reply.
    messages = [
        {
            "tweet_id": "3",
            "author_id": "cust",
            "inbound": "True",
            "created_at": "Tue Oct 31 23:10:47 +0000 2017",
            "text": "thanks",
            "in_response_to_tweet_id": "2",
        },
        {
            "tweet_id": "1",
            "author_id": "cust",
            "inbound": "True",
            "created_at": "Tue Oct 31 22:10:47 +0000 2017",
            "text": "help",
            "in_response_to_tweet_id": "",
        },
        {
            "tweet_id": "2",
            "author_id": "AcmeHelp",
            "inbound": "False",
            "created_at": "Tue Oct 31 22:40:47 +0000 2017",
            "text": "on it",
            "in_response_to_tweet_id": "1",
        },
    ]
    log = write(tmp_path / "t.csv", messages)
    result = import_file(store, log, mapping=mapping(tmp_path, THREAD_MAPPING))
    assert (result.rows_read, result.rows_imported, result.rolled_up) == (3, 3, 2)
    assert rows(store, f"SELECT {THREAD_STORED} FROM contacts") == [
        (
            "1",
            dt.datetime(2017, 10, 31, 22, 10, 47),
            dt.datetime(2017, 10, 31, 22, 40, 47),
            dt.datetime(2017, 10, 31, 23, 10, 47),
            "AcmeHelp",
            1,
            "social",
        )
    ]


def test_thread_messages_set_aside_say_why(tmp_path, store):
    messages = message_threads(threads=2, seed=3)
    import_file(
        store, write(tmp_path / "t.csv", messages), mapping=mapping(tmp_path, THREAD_MAPPING)
    )
    reasons = [r for (r,) in rows(store, "SELECT reason FROM quarantine ORDER BY row_number")]
    assert len(reasons) == 4
    assert sum("was not started by an event with inbound = True" in r for r in reasons) == 2
    assert sum("replies in a loop (its in_response_to_tweet_id chain" in r for r in reasons) == 2


TWCS = """tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id
1,sprintcare,False,Tue Oct 31 22:10:47 +0000 2017,@115712 please DM us,2,3.0
2,115712,True,Tue Oct 31 22:11:45 +0000 2017,@sprintcare how,,1.0
3,115712,True,Tue Oct 31 22:08:27 +0000 2017,@sprintcare still nothing,1,4.0
4,sprintcare,False,Tue Oct 31 21:54:49 +0000 2017,@115712 sorry to hear that,3,5.0
5,115712,True,Tue Oct 31 21:49:35 +0000 2017,@sprintcare my phone is dead,4,
6,sprintcare,False,Tue Oct 31 21:00:00 +0000 2017,@everyone new plans today,7,
7,115713,True,Tue Oct 31 21:05:00 +0000 2017,@sprintcare nice,,6.0
"""


def test_the_twitter_layout_is_detected_and_rolls_up_customer_started_threads(tmp_path, store):
    # Ids of replies written as decimals ("3.0") as a dataframe writes ids with gaps; thread 5
    # is the customer's (21:49:35, first reply 21:54:49 by sprintcare, last tweet 22:11:45);
    # thread 6 is the company's announcement, set aside with its reply.
    path = tmp_path / "twcs.csv"
    path.write_text(TWCS, encoding="utf-8")
    result = import_file(store, path)
    assert result.layout == "twitter_customer_support"
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (7, 5, 2)
    assert (result.inserted, result.rolled_up) == (1, 4)
    assert rows(
        store,
        "SELECT contact_id, opened_at, first_response_at, updated_at, team, agent_replies, "
        "channel FROM contacts",
    ) == [
        (
            "5",
            dt.datetime(2017, 10, 31, 21, 49, 35),
            dt.datetime(2017, 10, 31, 21, 54, 49),
            dt.datetime(2017, 10, 31, 22, 11, 45),
            "sprintcare",
            2,
            "social",
        )
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('in_reply_to = "in_response_to_tweet_id"', 'in_reply_to = "parent"'),
            "t.csv: [rollup] in_reply_to names column 'parent', which the file does not have",
        ),
        (
            ('started_by = { inbound = "True" }', 'started_by = { direction = "in" }'),
            "t.csv: [rollup] started_by names column 'direction'",
        ),
        (
            ('started_by = { inbound = "True" }', 'started_by = "True"'),
            'events.toml: [rollup] started_by must be a table of Column = "value" lines',
        ),
    ],
)
def test_a_thread_mapping_mistake_names_its_key(tmp_path, store, change, message):
    log = write(tmp_path / "t.csv", message_threads(threads=2, seed=1))
    with pytest.raises(ImportProblem) as raised:
        import_file(store, log, mapping=mapping(tmp_path, THREAD_MAPPING.replace(*change)))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_where_that_matches_no_event_is_said_not_left_empty_in_silence(tmp_path, store):
    text = MAPPING.replace(
        '"concept:name" = "Take in charge ticket" } }', '"concept:name" = "Take in charge" } }'
    )
    events = event_log(cases=3, per_case=4, seed=2)
    result = import_file(store, write(tmp_path / "w.csv", events), mapping=mapping(tmp_path, text))
    (note,) = [n for n in result.notes if "first_response_at" in n]
    assert note.startswith("[rollup] first_response_at: no event matches its where ('concept:name'")
    assert "so first_response_at is empty in every contact: check the value's spelling" in note
    assert "'Take in charge ticket'" in note  # the value it should have been
    assert "[rollup] agent:" in " ".join(result.notes)  # the same where, the same mistake
    assert rows(store, "SELECT count(first_response_at) FROM contacts") == [(0,)]


def test_an_order_by_column_no_field_reads_has_its_format_detected(tmp_path, store):
    # "Logged" is read only to order the events (day-first, detected); the file order is reversed.
    text = MAPPING.replace('order_by = "time:timestamp"', 'order_by = "Logged"')
    events = event_log(cases=15, per_case=3, seed=9)  # days past the 12th: day-first is clear
    for e in events:
        e["Logged"] = _at(e[TIME]).strftime("%d/%m/%Y %H:%M:%S")
    result = import_file(
        store, write(tmp_path / "l.csv", events[::-1]), mapping=mapping(tmp_path, text)
    )
    assert result.rolled_up == 30
    assert result.date_formats.get("opened_at") == "ISO 8601"  # the fields' own column
    assert "events ordered by 'Logged', read as day-first" in result.notes
    assert contacts(store) == reference(events)
