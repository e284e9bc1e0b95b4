"""Interval reports imported as the third canonical kind: counts and totals stored, averages and
percentages turned into totals with their weights, a supplied rate checked against its counts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kpi.errors import ImportProblem
from kpi.ingest.importer import import_file
from kpi.ingest.layouts import get_layout
from kpi.ingest.outcome import describe_import
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


# --- percentages that cannot be calls as written -----------------------------------------------

CONNECT_HEADER = (
    "StartInterval,Queue,Contacts queued,Contacts handled,Contacts abandoned,"
    "Average queue answer time,Average handle time,Service level 20 seconds\n"
)


def test_an_xlsx_percentage_cell_is_read_as_the_percentage_it_shows(tmp_path, store):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["StartInterval", "Queue", "Contacts queued", "Contacts handled",
                  "Contacts abandoned", "Average queue answer time", "Average handle time",
                  "Service level 20 seconds"])  # fmt: skip
    sheet.append(["2026-01-05 09:00", "Sales", 20, 18, 2, 20, 300, 0.85])
    sheet.cell(row=2, column=8).number_format = "0%"  # shown as 85%, stored as 0.85
    sheet.append(["2026-01-05 09:15", "Sales", 10, 9, 1, 20, 300, 0.625])
    sheet.cell(row=3, column=8).number_format = "0.0%"
    path = tmp_path / "connect.xlsx"
    book.save(path)
    result = import_file(store, path)
    assert result.layout == "amazon_connect_intervals" and result.warnings == 0
    # 85% of 20 = 17 calls (not 0.85% of 20 = 0); 62.5% of 10 = 6.25, rounded to 6.
    assert rows(store, "SELECT answered_within FROM intervals ORDER BY interval_start") == [
        (17,),
        (6,),
    ]


def test_a_percentage_column_written_as_fractions_is_refused_naming_it(tmp_path, store):
    text = CONNECT_HEADER + (
        "2026-01-05 09:00,Sales,10,9,1,20,300,0.9\n2026-01-05 09:15,Sales,10,8,2,20,300,0\n"
    )
    path = write(tmp_path, "fractions.csv", text)
    with pytest.raises(ImportProblem) as refused:
        import_file(store, path)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("fractions.csv: ")
    assert "'Service level 20 seconds'" in message and "'0.9'" in message
    assert "write them as percentages (85 or 85%)" in message
    assert rows(store, "SELECT count(*) FROM intervals") == [(0,)]


def test_a_lone_fraction_among_percentages_is_read_as_written_with_a_warning(tmp_path, store):
    text = CONNECT_HEADER + (
        "2026-01-05 09:00,Sales,10,8,2,20,300,80%\n2026-01-05 09:15,Sales,10,10,0,20,300,0.9\n"
    )
    import_file(store, write(tmp_path, "mixed.csv", text))
    # 80% of 10 = 8; 0.9% of 10 = 0.09, rounded to 0, as written, and said.
    assert rows(store, "SELECT answered_within FROM intervals ORDER BY interval_start") == [
        (8,),
        (0,),
    ]
    ((row, issue),) = rows(store, "SELECT row_number, issue FROM import_warnings")
    assert row == 2 and "0.9 is read as 0.9% of offered" in issue


def test_a_percentage_above_100_is_emptied_as_outside_0_to_100(tmp_path, store):
    text = CONNECT_HEADER + (
        "2026-01-05 09:00,Sales,10,8,2,20,300,80%\n2026-01-05 09:15,Sales,10,10,0,20,300,150\n"
    )
    import_file(store, write(tmp_path, "over.csv", text))
    assert rows(store, "SELECT answered_within FROM intervals ORDER BY interval_start") == [
        (8,),
        (None,),
    ]
    ((row, column, value, issue),) = rows(
        store, "SELECT row_number, column_name, value, issue FROM import_warnings"
    )
    assert (row, column, value) == (2, "answered_within", "150")
    assert "Service level 20 seconds '150' is outside 0-100%" in issue
    assert "whole number" not in issue


def test_more_calls_answered_than_offered_is_a_warning_and_the_counts_are_kept(tmp_path, store):
    text = (
        "interval_start,queue,offered,answered,abandoned,answered_within\n"
        "2026-01-05 09:00,Billing,10,8,2,6\n"
        "2026-01-05 09:30,Billing,5,6,0,7\n"  # 6 answered and 7 in time of 5 offered
        "2026-01-05 10:00,Billing,3,0,4,0\n"  # 4 abandoned of 3 offered
    )
    result = import_file(store, write(tmp_path, "counts.csv", text))
    assert (result.rows_imported, result.rows_quarantined) == (3, 0)
    warnings = rows(store, "SELECT row_number, value, issue FROM import_warnings ORDER BY 1, 3")
    assert warnings == [
        (2, "6", "answered 6 is more than offered 5; the counts were kept"),
        (2, "7", "answered_within 7 is more than offered 5; the counts were kept"),
        (3, "4", "abandoned 4 is more than offered 3; the counts were kept"),
    ]
    assert rows(
        store, "SELECT sum(answered), sum(abandoned), sum(answered_within) FROM intervals"
    ) == [(14, 6, 13)]
    printed = describe_import(result)
    assert "  data-quality warnings (the counts were kept):" in printed
    assert not any("values emptied" in line for line in printed)


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
