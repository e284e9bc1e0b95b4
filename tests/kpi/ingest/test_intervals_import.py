"""Interval reports imported as the third canonical kind: counts and totals stored, averages and
percentages turned into totals with their weights, a supplied rate checked against its counts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kpi.errors import ImportProblem
from kpi.ingest.importer import import_file
from kpi.ingest.layouts import get_layout
from kpi.store.batches import undo
from kpi.store.connection import SCHEMA_VERSION, open_store
from tests.kpi.stores import rows

GENERIC = """interval_start,interval_minutes,queue,agent,offered,answered,abandoned,short_abandoned,answered_within,threshold_seconds,wait_seconds_total,handle_seconds_total
2026-01-05 09:00,30,Billing,,10,8,2,1,6,20,160,2400
2026-01-05 09:30,30,Billing,,50,45,5,0,40,20,900,13500
2026-01-05 09:00,30,Tech,,4,4,0,0,4,20,20,1000
"""

CONNECT = """StartInterval,EndInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,Average queue answer time,Average handle time,Service level 20 seconds
2026-01-05 09:00,2026-01-05 09:15,BasicQueue,10,8,2,00:00:20,00:05:00,60.00%
2026-01-05 09:15,2026-01-05 09:30,BasicQueue,50,45,5,00:00:25,00:04:00,80.00%
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def store():
    opened = open_store(":memory:")
    yield opened
    opened.close()


def test_a_generic_interval_csv_stores_its_counts_and_totals_per_interval_and_queue(
    tmp_path, store
):
    result = import_file(store, write(tmp_path, "intervals.csv", GENERIC))
    assert result.layout == "generic_intervals" and result.kind == "intervals"
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (3, 3, 0)
    stored = rows(
        store,
        "SELECT queue, offered, answered, abandoned, short_abandoned, answered_within, "
        "wait_seconds_total, handle_seconds_total FROM intervals ORDER BY interval_start, queue",
    )
    assert stored == [
        ("Billing", 10, 8, 2, 1, 6, 160.0, 2400.0),
        ("Tech", 4, 4, 0, 0, 4, 20.0, 1000.0),
        ("Billing", 50, 45, 5, 0, 40, 900.0, 13500.0),
    ]


def test_an_amazon_connect_report_turns_its_averages_and_percentages_into_totals(tmp_path, store):
    result = import_file(store, write(tmp_path, "connect.csv", CONNECT))
    assert result.layout == "amazon_connect_intervals"
    stored = rows(
        store,
        "SELECT offered, answered, answered_within, threshold_seconds, wait_seconds_total, "
        "handle_seconds_total FROM intervals ORDER BY interval_start",
    )
    # ASA 20 s x 8 answered = 160 s of wait; AHT 5 min x 8 = 2400 s; 60% of 10 offered = 6.
    # ASA 25 s x 45 = 1125 s; AHT 4 min x 45 = 10800 s; 80% of 50 = 40.
    assert stored == [(10, 8, 6, 20.0, 160.0, 2400.0), (50, 45, 40, 20.0, 1125.0, 10800.0)]


def test_agent_rows_of_one_interval_and_queue_are_separate_rows(tmp_path, store):
    text = (
        "interval_start,queue,agent,offered,answered\n"
        "2026-01-05 09:00,Billing,Ann,5,5\n"
        "2026-01-05 09:00,Billing,Bob,3,2\n"
    )
    result = import_file(store, write(tmp_path, "agents.csv", text))
    assert (result.rows_imported, result.rows_quarantined) == (2, 0)


def test_a_repeated_interval_and_queue_is_quarantined_as_a_duplicate(tmp_path, store):
    text = (
        "interval_start,queue,offered,answered\n"
        "2026-01-05 09:00,Billing,5,5\n"
        "2026-01-05 09:00,Billing,3,2\n"
    )
    result = import_file(store, write(tmp_path, "twice.csv", text))
    assert (result.rows_imported, result.rows_quarantined) == (1, 1)
    assert "duplicate interval_id" in rows(store, "SELECT reason FROM quarantine")[0][0]


def test_a_corrected_report_updates_its_intervals_and_undo_restores_them(tmp_path, store):
    import_file(store, write(tmp_path, "first.csv", GENERIC))
    corrected = GENERIC.replace("Tech,,4,4,0", "Tech,,5,4,1")
    second = import_file(store, write(tmp_path, "second.csv", corrected))
    assert second.updated == 1
    assert rows(store, "SELECT offered FROM intervals WHERE queue = 'Tech'") == [(5,)]
    undo(store, second.batch_id)
    assert rows(store, "SELECT offered FROM intervals WHERE queue = 'Tech'") == [(4,)]


def test_one_interval_written_two_ways_in_two_exports_is_one_row(tmp_path, store):
    header = "interval_start,queue,offered,answered\n"
    import_file(store, write(tmp_path, "iso.csv", header + "2026-01-13 09:00,Billing,5,5\n"))
    again = import_file(store, write(tmp_path, "uk.csv", header + "13/01/2026 09:00,Billing,6,5\n"))
    assert (again.inserted, again.updated) == (0, 1)
    assert rows(store, "SELECT interval_id, offered FROM intervals") == [
        ("2026-01-13 09:00:00 Billing", 6)
    ]


# --- a supplied rate against its counts ---------------------------------------------------------


def test_a_rate_that_disagrees_with_its_counts_is_a_warning_and_the_counts_are_kept(
    tmp_path, store
):
    text = (
        "interval_start,queue,offered,answered,abandoned,wait_seconds_total,abandon_rate,asa_seconds\n"
        "2026-01-05 09:00,Billing,10,8,2,160,20.0,20\n"  # both agree
        "2026-01-05 09:30,Billing,50,45,5,900,12.5,20\n"  # 5 of 50 is 10.0%, not 12.5%
        "2026-01-05 10:00,Billing,40,39,1,975,2.5,26\n"  # 975 / 39 = 25 s, not 26
        "2026-01-05 10:30,Billing,3,3,0,70,0,23\n"  # 70 / 3 = 23.3: 23 is within rounding
    )
    result = import_file(store, write(tmp_path, "rates.csv", text))
    assert (result.rows_imported, result.rows_quarantined) == (4, 0)
    warnings = rows(
        store, "SELECT row_number, column_name, value, issue FROM import_warnings ORDER BY 1"
    )
    assert [(w[0], w[1], w[2]) for w in warnings] == [
        (2, "abandon_rate", "12.5"),
        (3, "asa_seconds", "26"),
    ]
    assert "abandon_rate says 12.5 but abandoned / offered is 10.00%" in warnings[0][3]
    assert "counts were kept" in warnings[0][3]
    assert rows(store, "SELECT sum(abandoned), sum(wait_seconds_total) FROM intervals") == [
        (8, 2105.0)
    ]


def test_a_rate_written_to_fewer_places_is_checked_only_to_its_own_rounding(tmp_path, store):
    text = (
        "interval_start,queue,offered,abandoned,abandon_rate\n"
        "2026-01-05 09:00,Billing,3,1,33%\n"  # 33.33%: "33" is right to the percent
        "2026-01-05 09:30,Billing,3,1,33.0%\n"  # but "33.0" claims a tenth it does not have
    )
    import_file(store, write(tmp_path, "rounded.csv", text), layout="generic_intervals")
    assert rows(store, "SELECT row_number FROM import_warnings") == [(2,)]


# --- mappings --------------------------------------------------------------------------------------


def test_a_users_mapping_declares_averages_and_percentages_with_their_weights(tmp_path, store):
    mapping = write(
        tmp_path,
        "queue_report.toml",
        """kind = "intervals"
date_format = "%d/%m/%Y %H:%M"
[columns]
interval_start = "Interval"
queue = "Split"
offered = "Calls Offered"
answered = "ACD Calls"
abandoned = "Aband Calls"
wait_seconds_total = { column = "Avg Speed Ans", average_of = "answered" }
handle_seconds_total = { column = "Avg ACD Time", average_of = "answered", unit = "minutes" }
answered_within = { column = "% Within Service Level", percent_of = "offered" }
[constants]
threshold_seconds = 30
""",
    )
    export = write(
        tmp_path,
        "split.csv",
        "Interval,Split,Calls Offered,ACD Calls,Aband Calls,Avg Speed Ans,Avg ACD Time,"
        "% Within Service Level\n13/01/2026 09:00,Sales,40,36,4,15,4.5,75\n",
    )
    import_file(store, export, mapping=mapping)
    assert rows(
        store,
        "SELECT wait_seconds_total, handle_seconds_total, answered_within, threshold_seconds "
        "FROM intervals",
    ) == [(540.0, 36 * 4.5 * 60, 30, 30.0)]  # 15 s x 36; 4.5 min x 36; 75% of 40


def test_an_average_in_a_contacts_mapping_is_refused_in_one_line(tmp_path):
    mapping = write(
        tmp_path,
        "calls.toml",
        '[columns]\ncontact_id = "Id"\nopened_at = "Start"\n'
        'wait_seconds = { column = "ASA", average_of = "answered" }\n',
    )
    with pytest.raises(ImportProblem, match='only kind = "intervals" reads') as caught:
        import_file(
            open_store(":memory:"),
            write(tmp_path, "x.csv", "Id,Start,ASA\n1,2026-01-05,3\n"),
            mapping=mapping,
        )
    assert str(caught.value).startswith("calls.toml: [columns] wait_seconds")


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        ('wait_seconds_total = { column = "ASA", average_of = "offered" }\n',
         "needs offered mapped from a count column"),
        ('wait_seconds_total = { column = "ASA", average_of = "queue" }\n',
         "average_of must be a count field"),
        ('offered = "Offered"\nanswered = { column = "ASA", average_of = "offered" }\n',
         "average_of is for a total of seconds"),
        ('offered = "Offered"\nwait_seconds_total = { column = "SL", percent_of = "offered" }\n',
         "percent_of is for a count of calls"),
    ],
    ids=["weight-not-mapped", "weight-not-a-count", "average-into-count", "percent-into-total"],
)  # fmt: skip
def test_a_weight_that_cannot_be_used_is_refused_naming_the_key(tmp_path, columns, words):
    mapping = write(
        tmp_path, "m.toml", f'kind = "intervals"\n[columns]\ninterval_start = "Start"\n{columns}'
    )
    with pytest.raises(ImportProblem, match=words):
        import_file(
            open_store(":memory:"), write(tmp_path, "x.csv", "Start\n2026-01-05\n"), mapping=mapping
        )


def test_an_intervals_mapping_without_a_start_is_told_to_map_it(tmp_path):
    mapping = write(tmp_path, "m.toml", 'kind = "intervals"\n[columns]\noffered = "Offered"\n')
    export = write(tmp_path, "x.csv", "Offered\n3\n")
    with pytest.raises(ImportProblem, match=r"m.toml: \[columns\] must map interval_start"):
        import_file(open_store(":memory:"), export, mapping=mapping)


def test_a_contacts_mapping_that_reads_an_average_into_a_per_contact_field_is_warned(
    tmp_path, store
):
    mapping = write(
        tmp_path,
        "calls.toml",
        '[columns]\ncontact_id = "Id"\nopened_at = "Start"\nwait_seconds = "ASA"\n'
        'handle_seconds = "Avg Handle Time"\n',
    )
    export = write(tmp_path, "calls.csv", "Id,Start,ASA,Avg Handle Time\n1,2026-01-05,20,300\n")
    result = import_file(store, export, mapping=mapping)
    assert result.rows_imported == 1
    note = next(n for n in result.notes if "look like averages or rates" in n)
    assert "'ASA' (wait_seconds)" in note and "'Avg Handle Time' (handle_seconds)" in note
    assert 'kind = "intervals"' in note


def test_the_builtin_interval_layouts_are_recognised_from_their_headers():
    assert get_layout("generic_intervals").kind == "intervals"
    connect = get_layout("amazon_connect_intervals")
    assert connect.columns["answered_within"].percent_of == "offered"
    assert connect.columns["interval_id"].columns == ("StartInterval", "Queue")


# --- the store ---------------------------------------------------------------------------------


def test_a_store_from_before_intervals_gains_the_table_when_opened(tmp_path):
    path = tmp_path / "old.duckdb"
    open_store(path).close()
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE intervals")
    con.execute("DROP TABLE intervals_history")
    con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    con.close()
    reopened = open_store(path)
    try:
        assert reopened.schema_version == SCHEMA_VERSION
        assert rows(reopened, "SELECT count(*) FROM intervals") == [(0,)]
        assert rows(reopened, "SELECT count(*) FROM intervals_history") == [(0,)]
    finally:
        reopened.close()
