"""A Salesforce formatted report (issue 9, left over from stop 17): a title line spread over
two cells is not taken for the header (the header is the first row holding the layout's
expected columns), and a grouping column the layout declares under ``fill_down`` takes its
group's first row's value on the group's other rows, which the import says; no other column is
ever filled.

Every workbook is generated here with the standard Case report labels and the row kinds a
formatted export has (title lines, group headings with record counts, subtotals, grand totals)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from kpi.errors import ImportProblem
from kpi.ingest.importer import import_file
from kpi.ingest.layouts import get_layout
from kpi.ingest.report_groups import expected_columns, header_test
from kpi.store.connection import Store, open_store

HEADER = ["Case Owner", "Case Number", "Subject", "Date/Time Opened", "Status", "Priority"]
MARCH = dt.datetime(2025, 3, 14, 9, 5)


@pytest.fixture
def store():
    opened = open_store(":memory:")
    yield opened
    opened.close()


def workbook(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Cases by Owner"
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


#: Sheet rows: 1 a title over two cells, 2 "Filtered By:", 3 blank, 4 header, 5 heading,
#: 6-7 Jo Agent's cases (row 7 with the owner and priority empty), 8 subtotal, 9 heading,
#: 10 Sam Helper's case, 11 subtotal, 12 Grand Totals.
BY_OWNER = [
    ["Cases by Owner", "Acme Energy Ltd"],
    ["Filtered By:"],
    [],
    HEADER,
    ["Case Owner: Jo Agent (2 records)"],
    ["Jo Agent", "00001026", "Cannot log in", MARCH, "Closed", "High"],
    [None, "00001027", "Refund", MARCH + dt.timedelta(hours=1), "New", None],
    ["Subtotal", None, None, None, None, 2],
    ["Case Owner: Sam Helper (1 record)"],
    ["Sam Helper", "00001028", "VPN", MARCH + dt.timedelta(days=1), "Working", "Low"],
    ["Subtotal", None, None, None, None, 1],
    ["Grand Totals (3 records)"],
]


def cases(store: Store) -> list[tuple]:
    return store.con.execute(
        "SELECT contact_id, agent, status, priority FROM contacts ORDER BY contact_id"
    ).fetchall()


def test_a_title_over_two_cells_is_not_taken_for_the_header(tmp_path, store):
    result = import_file(store, workbook(tmp_path / "Cases by Owner.xlsx", BY_OWNER))
    assert result.layout == "salesforce_cases"
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (3, 3, 0)
    # 2 title lines, 2 group headings, 2 subtotals and the grand total are not cases.
    assert result.skipped_lines == 2 + 2 + 2 + 1
    assert [c[0] for c in cases(store)] == ["00001026", "00001027", "00001028"]


def test_a_title_over_two_cells_above_a_mappings_header_is_skipped_too(tmp_path, store):
    mapping = tmp_path / "cases.toml"
    mapping.write_text(
        'kind = "contacts"\n[columns]\ncontact_id = "Case Number"\n'
        'opened_at = "Date/Time Opened"\nagent = "Case Owner"\n',
        encoding="utf-8",
    )
    path = workbook(tmp_path / "Cases by Owner.xlsx", BY_OWNER)
    result = import_file(store, path, mapping=mapping)
    # The header is found; without the layout's ignore_lines the report's 5 heading and total
    # lines are set aside with their reason (counted, never imported).
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (8, 3, 5)
    assert result.skipped_lines == 2


def test_the_declared_grouping_column_is_filled_from_its_groups_first_row_and_said(tmp_path, store):
    result = import_file(store, workbook(tmp_path / "Cases by Owner.xlsx", BY_OWNER))
    # Row 7's owner comes from row 6, the first of Jo Agent's group; its empty priority, a
    # column the report is not grouped by, stays empty.
    assert cases(store) == [
        ("00001026", "Jo Agent", "closed", "high"),
        ("00001027", "Jo Agent", "open", None),
        ("00001028", "Sam Helper", "open", "low"),
    ]
    assert (
        "'Case Owner' filled down on 1 row from its group's first row (a formatted report "
        "shows a grouping column once per group; fill_down)"
    ) in result.notes


def test_a_report_without_group_headings_is_filled_where_each_group_shows_the_column_once(
    tmp_path, store
):
    # Lightning's formatted export: the group's value on its first row, subtotals between
    # groups, no heading lines.
    rows = [
        ["Cases by Owner", "Acme Energy Ltd"],
        HEADER,
        ["Jo Agent", "00001026", "Cannot log in", MARCH, "Closed", "High"],
        [None, "00001027", "Refund", MARCH, "New", "High"],
        [None, "00001029", "Password", MARCH, "New", "Low"],
        ["Subtotal", None, None, None, None, 3],
        ["Sam Helper", "00001028", "VPN", MARCH, "Working", "Low"],
        ["Subtotal", None, None, None, None, 1],
        ["Grand Totals (4 records)"],
    ]
    result = import_file(store, workbook(tmp_path / "lightning.xlsx", rows))
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (4, 4, 0)
    assert [(c[0], c[1]) for c in cases(store)] == [
        ("00001026", "Jo Agent"),
        ("00001027", "Jo Agent"),
        ("00001028", "Sam Helper"),
        ("00001029", "Jo Agent"),
    ]
    assert any(n.startswith("'Case Owner' filled down on 2 rows") for n in result.notes)


def test_a_column_empty_on_some_rows_that_is_not_shown_once_per_group_is_never_filled(
    tmp_path, store
):
    # No headings, and Case Owner is filled on a group's later row: it is not a grouping
    # column here, so the one empty owner stays empty.
    rows = [
        ["Open cases", "Acme Energy Ltd"],
        HEADER,
        ["Jo Agent", "00001026", "Cannot log in", MARCH, "Closed", "High"],
        [None, "00001027", "Refund", MARCH, "New", "High"],
        ["Sam Helper", "00001029", "Password", MARCH, "New", "Low"],
        ["Subtotal", None, None, None, None, 3],
    ]
    result = import_file(store, workbook(tmp_path / "open.xlsx", rows))
    assert [(c[0], c[1]) for c in cases(store)] == [
        ("00001026", "Jo Agent"),
        ("00001027", None),
        ("00001029", "Sam Helper"),
    ]
    assert not any("filled down" in n for n in result.notes)


def test_a_grouping_by_a_column_not_declared_is_said_and_left_empty(tmp_path, store):
    rows = [
        ["Cases by Subject", "Acme Energy Ltd"],
        ["Subject", "Case Number", "Case Owner", "Date/Time Opened", "Status"],
        ["Subject: Refund (2 records)"],
        ["Refund", "00001026", "Jo Agent", MARCH, "Closed"],
        [None, "00001027", "Jo Agent", MARCH, "New"],
        ["Subtotal", None, None, None, 2],
    ]
    result = import_file(store, workbook(tmp_path / "by subject.xlsx", rows))
    subjects = store.con.execute("SELECT subject FROM contacts ORDER BY contact_id").fetchall()
    assert subjects == [("Refund",), (None,)]
    (note,) = [n for n in result.notes if "grouped by" in n]
    assert note.startswith("the report is grouped by 'Subject', which this layout does not fill")


def test_a_details_only_workbook_is_never_filled_down(tmp_path, store):
    rows = [
        HEADER,
        ["Jo Agent", "00001026", "Cannot log in", MARCH, "Closed", "High"],
        [None, "00001027", "Refund", MARCH, "New", "High"],
    ]
    result = import_file(store, workbook(tmp_path / "details.xlsx", rows))
    assert [(c[0], c[1]) for c in cases(store)] == [("00001026", "Jo Agent"), ("00001027", None)]
    assert result.notes == [] and result.skipped_lines == 0


def test_a_sheet_whose_expected_header_never_comes_is_refused_as_before(tmp_path, store):
    rows = [["Cases by Owner", "Acme Energy Ltd"], ["Owner", "Number", "Opened"], ["Jo", "1", "x"]]
    with pytest.raises(ImportProblem) as raised:
        import_file(store, workbook(tmp_path / "other.xlsx", rows))
    assert "the layout was not recognised from its header (Cases by Owner, Acme Energy Ltd)" in (
        str(raised.value)
    )


def test_the_header_test_wants_a_layouts_detection_headers_or_its_required_columns():
    salesforce = get_layout("salesforce_cases")
    assert expected_columns(salesforce) == ("Case Number", "Date/Time Opened", "Status")
    test = header_test(None, "salesforce_cases")
    assert test(["case number", "Date/Time  Opened", "Status", "Subject"])
    assert not test(["Cases by Owner", "Acme Energy Ltd"])
    assert header_test(None, None)(HEADER)  # any built-in layout's headers


def test_a_report_whose_only_line_is_a_footer_is_not_taken_for_a_grouped_one(tmp_path, store):
    # Title lines and a total below, no line between cases: nothing groups them, so an empty
    # Case Owner (and above all an empty Contact Name: whom a case is about) stays empty.
    header = [*HEADER, "Contact Name"]
    rows = [
        ["Open cases", "Acme Energy Ltd"],
        header,
        ["Jo Agent", "00001001", "Bill", MARCH, "New", "High", "Ann Smith"],
        [None, "00001002", "Bill", MARCH, "New", "High", None],
        [None, "00001003", "Bill", MARCH, "New", "High", None],
        ["Grand Totals (3 records)"],
    ]
    result = import_file(store, workbook(tmp_path / "open cases.xlsx", rows))
    assert result.rows_imported == 3
    assert not any("filled down" in n for n in result.notes)
    owners = [c[1] for c in cases(store)]
    assert owners == ["Jo Agent", None, None]
    customers = (
        store.cursor()
        .execute("SELECT count(DISTINCT customer_key), count(customer_key) FROM contacts")
        .fetchall()[0]
    )
    assert customers == (1, 1)
