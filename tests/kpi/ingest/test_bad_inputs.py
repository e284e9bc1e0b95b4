"""The bad-input corpus (tests/bad_inputs/): each file gets its clear error or its counted quarantine.

A refused file raises one ``ImportProblem`` whose single line names the file and says what is
wrong; an accepted one imports with counts that add up exactly. Nothing ever ends in a traceback.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.errors import ImportProblem
from kpi.ingest.importer import ImportResult, import_file
from kpi.store.connection import Store, open_store
from tests.kpi.stores import rows
from tests.paths import BAD_INPUTS

CORPUS = BAD_INPUTS
KPI = Path(sys.executable).parent / "kpi"
NOT_INPUTS = {"README.md", "build_corpus.py"}


@dataclass(frozen=True)
class Refused:
    """The file cannot be used: one line naming the file, with these words in it."""

    words: tuple[str, ...]
    names: str = ""  # the file the line starts with when it is not the input: its mapping file


@dataclass(frozen=True)
class Counted:
    """The file imports; exact counts, and words expected in the reasons and warnings."""

    read: int
    quarantined: int = 0
    warnings: int = 0
    layout: str = "generic_contacts"
    reasons: tuple[str, ...] = ()
    warning_words: tuple[str, ...] = ()
    skipped: int = 0
    notes: tuple[str, ...] = ()  # words expected in what the import says beside its counts


EXPECTED: dict[str, Refused | Counted] = {
    # Delimiters and line structure
    "semicolon_with_mapping.csv": Counted(3, layout="semicolon_with_mapping"),
    "pipe_delimited.csv": Counted(3),
    "colon_delimited.csv": Refused(("not recognised", "one column only", "delimiter")),
    "crlf_line_endings.csv": Counted(3),
    "cr_only_line_endings.csv": Counted(3),
    "trailing_delimiter.csv": Counted(3),
    "duplicate_header_names.csv": Counted(2),
    "quoted_newlines.csv": Counted(3),
    "ragged_rows.csv": Counted(
        4, quarantined=2, reasons=("malformed csv", "too many columns", "missing columns")
    ),
    "report_footer_line.csv": Counted(3, quarantined=1, reasons=("line 5", "missing columns")),
    "stray_quotes.csv": Counted(3),  # its CRLF among LF line ends stopped DuckDB (issue 14)
    "unterminated_quote.csv": Counted(
        3, quarantined=1, reasons=("line 3: unterminated quote", "lines after it are read")
    ),
    "chatwoot_csat_reporting_period.csv": Counted(
        3,
        warnings=1,
        layout="chatwoot_csat",
        warning_words=("csat", "outside the scale 1-5"),
        skipped=1,
    ),  # fmt: skip
    # Encodings
    "utf8_bom.csv": Counted(3),
    "utf16le_bom.csv": Counted(3),
    "windows1252.csv": Counted(2),
    "latin1.csv": Counted(2),
    # Dates
    "mixed_iso_and_uk_text_dates.csv": Counted(3),
    "mixed_uk_and_us_dates.csv": Refused(
        ("'opened_at'", "no single date format", "03/26/2025", "date_format")
    ),
    "ambiguous_dates.csv": Refused(
        ("'opened_at'", "day-first and month-first", "03/04/2025", "date_format")
    ),
    "impossible_dates.csv": Counted(
        4, quarantined=2, layout="impossible_dates", reasons=("31/02/2025", "30/02/2024", "date")
    ),
    "missing_opened_date.csv": Counted(4, quarantined=2, reasons=("opened_at is empty",)),
    "resolution_before_opening.csv": Counted(
        2, warnings=1, warning_words=("resolved_at is before opened_at",)
    ),
    # Values
    "out_of_range_scores.csv": Counted(
        4,
        warnings=3,
        layout="generic_survey",
        warning_words=("nps", "outside the scale 0-10", "csat", "1-5", "ces", "1-7"),
    ),  # fmt: skip
    "non_numeric_scores.csv": Counted(
        3, warnings=2, layout="generic_survey", warning_words=("'ten'", "nps", "'good'", "csat")
    ),
    "duplicate_ids.csv": Counted(5, quarantined=2, reasons=("duplicate contact_id t2",)),
    "missing_required_column.csv": Refused(("missing required column", "'created'", "opened_at")),
    "negative_durations.csv": Counted(
        3, warnings=3, warning_words=("wait_seconds", "is negative", "'-1:30'", "duration")
    ),
    "huge_numbers.csv": Counted(
        2, warnings=3, warning_words=("whole number", "longer than ten years", "'1e308'")
    ),
    "unknown_category_words.csv": Counted(
        2, warnings=3, warning_words=("'escalated-ish'", "status", "'p1'", "'carrier pigeon'")
    ),
    "huge_field.csv": Counted(3),
    # Not a usable file at all
    "empty.csv": Refused(("empty",)),
    "whitespace_only.csv": Refused(("empty",)),
    "header_only.csv": Refused(("header but no data rows",)),
    "binary_random.csv": Refused(("binary", "nul")),
    "png_signature.csv": Refused(("image",)),
    "nul_bytes_only.csv": Refused(("not valid utf-16",)),
    "utf16_cut_short.csv": Refused(("not valid utf-16 text", "cut short")),
    "old_excel.xls": Refused(("old excel", ".xls", "save it as .xlsx or csv")),
    "zip_not_xlsx.xlsx": Refused(("cannot open it as an xlsx workbook",)),
    "xlsx_all_sheets_empty.xlsx": Refused(("no sheet with data",)),
    # Workbooks
    "xlsx_mixed_text_and_date_cells.xlsx": Counted(4),
    "xlsx_empty_first_sheet.xlsx": Counted(2),
    # Injection and personal data
    "formula_injection.csv": Counted(
        6, quarantined=3, reasons=("opened_at is empty", "duplicate contact_id @dup")
    ),
    "html_script.csv": Counted(2),
    "personal_data_in_text.csv": Counted(4, quarantined=1, reasons=("opened_at is empty",)),
    "malformed_lines_with_personal_data.csv": Counted(
        4, quarantined=2, reasons=("too many columns", "missing columns")
    ),
    # Issue 14: reading (records, encodings, workbooks)
    "unterminated_quote_mid_file.csv": Counted(
        5, quarantined=1, reasons=("line 3: unterminated quote", "lines after it are read")
    ),
    "utf8_invalid_byte_at_end.csv": Counted(
        3, quarantined=1, reasons=("line 4: not valid utf-8 text (byte 0xc3 at column 36)",)
    ),
    "utf8_invalid_byte_in_one_line.csv": Counted(
        3, quarantined=1, reasons=("line 3: not valid utf-8 text (byte 0xef at column 28)",)
    ),
    "mixed_line_endings.csv": Counted(3),
    "redos_ignore_lines.csv": Counted(
        3, quarantined=1, layout="redos_ignore_lines", reasons=("line 4", "missing columns")
    ),
    "xlsx_sheet_missing.xlsx": Refused(("no sheet 'callz'", "its sheets: 'cover', 'calls'")),
    "xlsx_cell_at_xfd1048576.xlsx": Refused(
        ("declares 1,048,576 rows x 16,384 columns", "100,000,000 cells", "kpi_xlsx_max_cells")
    ),
    "unterminated_quote_closed_by_later_quote.csv": Counted(
        6, quarantined=1, reasons=("line 3: unterminated quote", "lines after it are read")
    ),
    "utf8_mixed_with_latin1_on_most_lines.csv": Refused(
        ("mixes utf-8 and another encoding on 3 of 5 lines", "re-export it as utf-8")
    ),
    "empty_crlf_line_among_lf_lines.csv": Counted(3),
    "xlsx_dimension_understated.xlsx": Counted(30),
    # Issue 14: mapping files
    "mapping_null_values_as_string.csv": Refused(
        ("null_values must be a list of strings", '["na", "-"]', 'not the string "na"'),
        names="mapping_null_values_as_string.toml",
    ),
    "mapping_true_values_as_string.csv": Refused(
        ("[columns] complaint true_values must be a list of words", 'not the string "ya"'),
        names="mapping_true_values_as_string.toml",
    ),
    "mapping_direction_typo.csv": Refused(
        ("[scores.ces] direction must be one of", '"low_is_eassy"', "did you mean low_is_easy"),
        names="mapping_direction_typo.toml",
    ),
    "mapping_extract_without_group.csv": Refused(
        ("[columns] agent extract", "has no capture group", "parentheses"),
        names="mapping_extract_without_group.toml",
    ),
    "mapping_extract_backreference.csv": Refused(
        ("[columns] agent extract", "not a valid re2 regular expression", "invalid escape"),
        names="mapping_extract_backreference.toml",
    ),
    "mapping_contains_a_number.csv": Refused(
        ("[columns] complaint contains must be a word", "not the number 5"),
        names="mapping_contains_a_number.toml",
    ),
    "mapping_columns_not_a_table.csv": Refused(
        ("columns must be a table", 'not the string "ref"'),
        names="mapping_columns_not_a_table.toml",
    ),
    "mapping_several_mistakes.csv": Refused(
        ("kind must be one of contacts, responses", '"contact"', "(and 2 more)"),
        names="mapping_several_mistakes.toml",
    ),
    # Issue 14: values (non-finite numbers, impossible dates, durations, names)
    "non_finite_scores.csv": Counted(
        5,
        warnings=5,
        layout="generic_survey",
        warning_words=(
            "cannot read 'nan' as a nps score",
            "'-infinity' as a ces score",
            "'inf' as a csat score",
            "'1e400' as a nps score",
        ),
    ),  # fmt: skip
    "non_finite_durations_and_counts.csv": Counted(
        3,
        warnings=7,
        warning_words=(
            "cannot read 'nan' as a duration",
            "'1e400' as a duration",
            "cannot read 'nan' as a whole number",
            "'-inf' as a whole number",
        ),
    ),  # fmt: skip
    "clock_durations_out_of_range.csv": Counted(
        3,
        warnings=4,
        warning_words=(
            "cannot read '99:99' as a duration",
            "cannot read '1:99:99' as a duration",
            "'0:60'",
            "'1:60:00'",
        ),
    ),  # fmt: skip
    "dates_in_the_future.csv": Counted(
        5,
        quarantined=3,
        reasons=(
            "opened_at '",
            "resolved_at '",
            "closed_at '",
            "is after the import time",
            "+ 2 days: a date that has not happened yet",
            "the whole row is set aside",
            "kpi_max_future_days",
        ),
    ),  # fmt: skip
    "dates_before_1990.csv": Counted(
        5,
        quarantined=3,
        reasons=(
            "opened_at '",
            "first_response_at '",
            "is before 1990-01-01, the earliest plausible date",
            "the whole row is set aside",
            "set kpi_earliest_date to change it",
        ),
    ),  # fmt: skip
    "invisible_name_variants.csv": Counted(5),
    # Issue 14: re-imports
    "reimport_newer_snapshot.csv": Counted(3),
    "reimport_older_snapshot.csv": Counted(3),
    "reimport_without_team_column.csv": Counted(3),
    "reimport_older_without_updated_at.csv": Counted(3),
    "reimport_reopened_without_updated_at.csv": Counted(3),
    "personal_data_in_wrong_columns.csv": Counted(
        4,
        quarantined=1,
        warnings=3,
        layout="personal_data_in_wrong_columns",
        reasons=("cannot read '[email removed]' as a date",),
        warning_words=("[email removed]", "[phone removed]", "[number removed]"),
        notes=("2 answers have no date",),  # its scores are answers; no responded_at mapped
    ),  # fmt: skip
    # Issue 9: no silent guess
    "two_date_formats_one_unproved.csv": Refused(
        (
            "'opened_at'",
            "holds two date formats",
            "2 values written like '22-04-2015 09:00'",
            "day-first",
            "3 like '4/8/2015 10:00'",
            "read either way round",
            'date_format = ["%d-%m-%y %h:%m", "%d/%m/%y %h:%m"] if it is 4 august 2015',
            '["%d-%m-%y %h:%m", "%m/%d/%y %h:%m"] if it is 8 april 2015',
        )
    ),  # fmt: skip
    "two_date_formats_month_word.csv": Refused(
        (
            "holds two date formats",
            "2 values written like '22 apr 2015 09:00' (the month as a word, read day-first)",
            "2 like '4/8/2015 10:00'",
            '["%d %b %y %h:%m", "%d/%m/%y %h:%m"] if it is 4 august 2015',
        )
    ),
    "two_date_formats_with_and_without_time.csv": Refused(
        (
            "holds two date formats",
            "2 like '4/8/2015'",
            '["%d-%m-%y", "%d-%m-%yt%h:%m", "%d/%m/%y", "%d/%m/%y %h:%m"] if it is 4 august 2015',
        )
    ),
    "two_date_formats_each_proved.csv": Counted(4),
    "two_date_formats_given_as_a_list.csv": Counted(3, layout="two_date_formats_given_as_a_list"),
    "iso_slash_dates_with_milliseconds.csv": Counted(2),
    "xlsx_date_and_time_columns.xlsx": Counted(2, layout="xlsx_date_and_time_columns"),
    "carriage_return_in_unquoted_field.csv": Counted(
        3,
        quarantined=1,
        reasons=("line 3: a carriage return (cr) inside an unquoted field splits the line",),
    ),  # fmt: skip
    "unbalanced_quote_text_after_closing.csv": Counted(
        4, quarantined=1, reasons=("the quotes of a field are unbalanced", "text after its closing")
    ),
    "repeated_ids_with_different_dates.csv": Counted(
        6,
        layout="repeated_ids_with_different_dates",
        notes=("2 contact_ids appear on several rows with different dates", "'c1'", "file order"),
    ),  # fmt: skip
    "every_row_set_aside_by_date_format.csv": Refused(
        (
            "every row (3) would be set aside",
            "3 x cannot read '22-04-2015 09:00' as a date",
            "(%d/%m/%y %h:%m)",
            "fix date_format in the mapping",
            "nothing was imported",
        ),
    ),  # fmt: skip
    "mapping_scale_as_words.csv": Counted(
        2, layout="mapping_scale_as_words", notes=("2 answers have no date",)
    ),
    "answers_without_a_date.csv": Counted(
        3,
        layout="generic_survey",
        notes=("2 answers have no date: they count in all-time figures and in the 'undated' line",),
    ),  # fmt: skip
}


def corpus_files() -> list[str]:
    return sorted(
        p.name for p in CORPUS.iterdir() if p.name not in NOT_INPUTS and p.suffix != ".toml"
    )


def mapping_for(name: str) -> Path | None:
    mapping = (CORPUS / name).with_suffix(".toml")
    return mapping if mapping.exists() else None


def run_import(store: Store, name: str) -> ImportResult:
    return import_file(store, CORPUS / name, mapping=mapping_for(name))


def test_the_corpus_has_thirty_files_each_with_an_expected_outcome():
    assert len(corpus_files()) >= 30
    assert set(corpus_files()) == set(EXPECTED)
    documented = (CORPUS / "README.md").read_text(encoding="utf-8")
    for name in corpus_files():
        assert f"`{name}`" in documented, f"{name} is not in tests/bad_inputs/README.md"


REFUSED = [n for n, e in EXPECTED.items() if isinstance(e, Refused)]
COUNTED = [n for n, e in EXPECTED.items() if isinstance(e, Counted)]


@pytest.mark.parametrize("name", REFUSED)
def test_an_unusable_file_gets_one_line_naming_the_file_and_the_problem(store, name):
    expected = EXPECTED[name]
    with pytest.raises(ImportProblem) as caught:
        run_import(store, name)
    message = str(caught.value)
    assert message.startswith(f"{expected.names or name}: ")
    assert "\n" not in message and "\r" not in message
    assert "Traceback" not in message and "Error:" not in message.split("(")[0]
    for word in expected.words:
        assert word in message.lower(), f"{word!r} not in {message!r}"
    # Nothing was written: no batch, no rows, no quarantine.
    assert store.count("imports") == 0
    assert store.count("contacts") == store.count("responses") == store.count("quarantine") == 0


@pytest.mark.parametrize("name", COUNTED)
def test_an_awkward_file_imports_with_counts_that_add_up(store, name):
    expected = EXPECTED[name]
    result = run_import(store, name)
    assert result.layout == expected.layout
    assert result.rows_read == expected.read
    assert result.rows_read == result.rows_imported + result.rows_quarantined
    assert result.rows_quarantined == expected.quarantined
    assert result.warnings == expected.warnings
    assert result.skipped_lines == expected.skipped
    # The store agrees with the result, row for row.
    kind = result.kind
    # Rows rolled up into their contact (keep_last) are imported as part of it.
    assert store.count(kind) == result.rows_imported - result.rolled_up == result.inserted
    assert store.count("quarantine") == expected.quarantined
    assert store.count("import_warnings") == expected.warnings
    reasons = " | ".join(r for (r,) in rows(store, "SELECT reason FROM quarantine")).lower()
    for word in expected.reasons:
        assert word in reasons, f"{word!r} not in {reasons!r}"
    issues = " | ".join(
        f"{f} {v} {i}"
        for f, v, i in rows(store, "SELECT column_name, value, issue FROM import_warnings")
    ).lower()
    for word in expected.warning_words:
        assert word in issues, f"{word!r} not in {issues!r}"
    said = " | ".join(result.notes).lower()
    for word in expected.notes:
        assert word in said, f"{word!r} not in {said!r}"
    if not expected.notes:
        assert result.notes == []
    # Each quarantined row is there once, with a row number (malformed lines are numbered
    # from their physical line, so a blank line before one shifts it: see the README).
    numbers = [n for (n,) in rows(store, "SELECT row_number FROM quarantine")]
    assert len(set(numbers)) == len(numbers)
    assert all(n >= 1 for n in numbers)


# --- what the accepted files hold ------------------------------------------------------------


def contacts(store: Store, columns: str) -> dict[str, tuple]:
    found = rows(store, f"SELECT contact_id, {columns} FROM contacts ORDER BY contact_id")
    return {r[0]: r[1:] for r in found}


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("windows1252.csv", {"T1": ("Zoë", "Charged £49.99 twice"),
                             "T2": ("René", "\u201cRefund\u201d for café visit \u2013 urgent")}),
        ("latin1.csv", {"T1": ("José", "Niño's account ¿locked?"),
                        "T2": ("Jürgen", "Preis £5 ½ off")}),
        ("utf16le_bom.csv", {"T1": ("Asha", "Café bill £12"), "T2": ("Ben", "Refund request"),
                             "T3": ("Cara", "Change of address")}),
        ("utf8_bom.csv", {"T1": ("Asha", "Cannot log in"), "T2": ("Ben", "Refund request"),
                          "T3": ("Cara", "Change of address")}),
        ("trailing_delimiter.csv", {"T1": ("Asha", "Cannot log in"),
                                    "T2": ("Ben", "Refund request"),
                                    "T3": ("Cara", "Change of address")}),
        ("pipe_delimited.csv", {"T1": ("Asha", "Cannot log in"), "T2": ("Ben", "Refund request"),
                                "T3": ("Cara", "Change of address")}),
    ],
)  # fmt: skip
def test_text_comes_back_exactly_whatever_the_encoding_or_dialect(store, name, expected):
    run_import(store, name)
    assert contacts(store, "agent, subject") == expected


def test_a_semicolon_file_works_with_a_mapping_written_for_commas(store):
    run_import(store, "semicolon_with_mapping.csv")
    assert contacts(store, "team, subject") == {
        "T1": ("Billing", "Cannot log in"),
        "T2": ("Billing", "Refund request"),
        "T3": ("Care", "Change of address"),
    }


def test_quoted_fields_keep_their_newlines_delimiters_and_quotes(store):
    run_import(store, "quoted_newlines.csv")
    assert contacts(store, "team, description") == {
        "T1": ("Billing", "First line\nsecond line, with a comma\nthird; line | pipe"),
        "T2": ("Care, North", 'She said "hello"\r\nthen left'),
        "T3": ("Care", "plain"),
    }


def test_a_repeated_header_uses_its_first_column(store):
    run_import(store, "duplicate_header_names.csv")
    assert contacts(store, "team, subject") == {
        "T1": ("Billing", "first"),
        "T2": ("Billing", "second"),
    }


def test_a_two_megabyte_field_is_stored_whole(store):
    run_import(store, "huge_field.csv")
    stored = contacts(store, "length(description)")
    assert stored["T2"][0] == len("All work and no play. " * 95_326) - 1  # trimmed
    assert stored["T1"] == (5,)


def test_iso_and_uk_text_dates_in_one_column_are_read_as_london_time(store):
    result = run_import(store, "mixed_iso_and_uk_text_dates.csv")
    assert result.date_formats == {"opened_at": "day-first"}
    assert contacts(store, "opened_at") == {
        "T1": (utc(2025, 3, 3, 9, 15),),
        "T2": (utc(2025, 3, 14, 10, 40),),
        "T3": (utc(2025, 3, 20),),
    }


def test_an_xlsx_column_mixing_date_cells_and_uk_text_is_read(store):
    run_import(store, "xlsx_mixed_text_and_date_cells.xlsx")
    assert contacts(store, "opened_at, handle_seconds") == {
        "C1": (utc(2025, 3, 3, 9, 15), 300.0),
        "C2": (utc(2025, 3, 25, 10, 40), 240.0),
        "C3": (utc(2025, 3, 26, 14, 5), 330.0),  # British Summer Time began on 30 March
        "C4": (utc(2025, 3, 27, 16, 20), 95.0),
    }


def test_an_xlsx_whose_first_sheet_is_blank_is_read_from_the_sheet_with_data(store):
    run_import(store, "xlsx_empty_first_sheet.xlsx")
    assert contacts(store, "team") == {"C1": ("Billing",), "C2": ("Care",)}


def test_impossible_dates_are_quarantined_with_the_value_and_the_format(store):
    run_import(store, "impossible_dates.csv")
    quarantined = rows(
        store, "SELECT row_number, column_name, value, reason FROM quarantine ORDER BY 1"
    )
    assert [(r[0], r[1], r[2]) for r in quarantined] == [
        (2, "opened_at", "31/02/2025"),
        (3, "opened_at", "30/02/2024"),
    ]
    assert all("%d/%m/%Y" in r[3] for r in quarantined)
    assert set(contacts(store, "opened_at")) == {"A1", "A4"}


def test_the_first_of_duplicate_ids_is_kept_and_the_repeats_quarantined(store):
    run_import(store, "duplicate_ids.csv")
    assert contacts(store, "agent, subject")["T2"] == ("Ben", "Refund request")
    found = rows(store, "SELECT row_number, value, reason FROM quarantine ORDER BY 1")
    assert [(r[0], r[1]) for r in found] == [(4, "T2"), (5, "T2")]
    assert all("first at row 2" in r[2] for r in found)


def test_malformed_lines_are_quarantined_in_file_order_and_the_rest_imported(store):
    run_import(store, "ragged_rows.csv")
    assert [r for (r,) in rows(store, "SELECT row_number FROM quarantine ORDER BY 1")] == [2, 3]
    assert contacts(store, "subject") == {"T1": ("Cannot log in",), "T4": ("Fine row",)}


def test_impossible_field_values_are_emptied_and_the_rest_of_the_row_kept(store):
    run_import(store, "resolution_before_opening.csv")
    assert contacts(store, "resolved_at, resolution_seconds, status") == {
        "T1": (utc(2025, 3, 3, 12), 9900.0, "resolved"),
        "T2": (None, None, "resolved"),
    }


def test_negative_or_unreadable_durations_are_emptied(store):
    run_import(store, "negative_durations.csv")
    assert contacts(store, "wait_seconds, handle_seconds, first_response_seconds") == {
        "C1": (30.0, 300.0, 60.0),
        "C2": (None, 240.0, 60.0),
        "C3": (12.0, None, None),
    }


def test_numbers_too_big_to_be_true_are_emptied_and_the_row_kept(store):
    run_import(store, "huge_numbers.csv")
    columns = "agent_replies, first_response_seconds, first_response_at, handle_seconds"
    assert contacts(store, columns) == {
        "C1": (3, 60.0, utc(2025, 3, 3, 9, 16), 300.0),
        "C2": (None, None, None, None),
    }


def test_unknown_category_words_are_emptied_not_guessed(store):
    run_import(store, "unknown_category_words.csv")
    assert contacts(store, "status, priority, channel") == {
        "T1": ("open", "normal", "email"),
        "T2": (None, None, None),
    }


@pytest.mark.parametrize("name", ["out_of_range_scores.csv", "non_numeric_scores.csv"])
def test_bad_scores_are_emptied_and_the_good_ones_kept(store, name):
    run_import(store, name)
    found = rows(store, "SELECT response_id, nps, csat, ces FROM responses ORDER BY 1")
    expected = {
        "out_of_range_scores.csv": [
            ("R1", None, 4.0, 5.0), ("R2", 9.0, None, 6.0), ("R3", 7.0, 5.0, None),
            ("R4", 10.0, 5.0, 7.0),
        ],
        "non_numeric_scores.csv": [
            ("R1", None, 4.0, 5.0), ("R2", 9.0, None, 6.0), ("R3", 8.0, 5.0, 7.0),
        ],
    }  # fmt: skip
    assert found == expected[name]


def test_html_is_stored_as_text_never_interpreted(store):
    run_import(store, "html_script.csv")
    stored = contacts(store, "team, subject, description")
    assert stored["T1"] == (
        "<b>Billing</b>",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(2)"> and <a href="javascript:alert(3)">link</a>',
    )
    assert stored["T2"][2] == "</td></tr><tr><td>"


def test_a_chatwoot_download_skips_its_reporting_period_line_and_drops_contact_details(store):
    run_import(store, "chatwoot_csat_reporting_period.csv")
    found = rows(store, "SELECT contact_id, agent, csat, comment FROM responses ORDER BY 1")
    assert found == [
        ("101", "Asha Patel", 5.0, "Quick and kind"),
        ("102", "Ben Ng", None, "Out of scale"),
        ("103", "Ben Ng", 2.0, "Slow; call me on [phone removed]"),
    ]
    dump = store_text(store)
    for secret in ("jane.doe@example.com", "Jane Doe", "+447700900123", "07700 900125",
                   "asha@brightwater.example"):  # fmt: skip
        assert secret not in dump


# --- issue 9: no silent guess ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Each shape proves its order: 22-04 is day-first, 4/18 month-first (London, BST).
        ("two_date_formats_each_proved.csv", {
            "T1": (utc(2015, 4, 22, 8),), "T2": (utc(2015, 4, 18, 9),),
            "T3": (utc(2015, 4, 23, 10),), "T4": (utc(2015, 5, 19, 11),)}),
        # The mapping's list, in order: 4/8/2015 is read month-first, as the user said.
        ("two_date_formats_given_as_a_list.csv", {
            "T1": (utc(2015, 4, 22, 8),), "T2": (utc(2015, 4, 8, 9),),
            "T3": (utc(2015, 4, 23, 10),)}),
        ("iso_slash_dates_with_milliseconds.csv", {
            "T1": (utc(2015, 4, 22, 8, 0, 1, 123000),), "T2": (utc(2015, 4, 23, 16, 30, 0, 500000),)}),
        # A date cell at midnight with a date-only format is a date: it joins its time cell.
        ("xlsx_date_and_time_columns.xlsx", {
            "A1": (utc(2021, 1, 1, 9, 12, 58),), "A2": (utc(2021, 6, 2, 16, 5),)}),
    ],
)  # fmt: skip
def test_dates_in_two_shapes_or_two_cells_are_read_as_written(store, name, expected):
    run_import(store, name)
    assert contacts(store, "opened_at") == expected


def test_two_date_shapes_are_said_and_each_read_in_its_own_order(store):
    result = run_import(store, "two_date_formats_each_proved.csv")
    assert result.date_formats == {
        "opened_at": "day-first ('22-04-2015 09:00'), month-first ('4/18/2015 10:00')"
    }


def test_a_carriage_return_in_a_field_sets_aside_its_line_and_nothing_else(store):
    run_import(store, "carriage_return_in_unquoted_field.csv")
    assert contacts(store, "subject") == {
        "T1": ("Cannot log in",),
        "T3": ("Change of address",),
    }
    assert rows(store, "SELECT row_number FROM quarantine") == [(2,)]


def test_repeated_ids_keep_the_files_last_row_and_say_so(store):
    result = run_import(store, "repeated_ids_with_different_dates.csv")
    assert result.rolled_up == 3
    assert contacts(store, "opened_at, team") == {
        "C1": (utc(2025, 3, 5, 10), "Care"),
        "C2": (utc(2025, 3, 3, 9, 30), "Billing"),  # same date: nothing to say about C2
        "C3": (utc(2025, 3, 4, 9), "Care"),  # the file's last row, although it is earlier
    }
    (note,) = result.notes
    assert note.startswith("2 contact_ids appear on several rows with different dates (e.g. 'C1'")


def test_a_scale_written_as_words_is_an_ordinal_scale_with_its_words_kept(store):
    run_import(store, "mapping_scale_as_words.csv")
    assert rows(
        store, "SELECT response_id, csat, csat_scale_min, csat_scale_max FROM responses ORDER BY 1"
    ) == [("R1", 2.0, 1.0, 2.0), ("R2", 1.0, 1.0, 2.0)]
    assert rows(store, "SELECT score, value, label FROM scale_labels ORDER BY value") == [
        ("csat", 1.0, "Bad"),
        ("csat", 2.0, "Good"),
    ]


@pytest.mark.parametrize(("limit", "imports"), [(10.0, False), (50.0, True)])
def test_a_lower_quarantine_bar_refuses_an_import_above_it_and_keeps_the_store(
    store, limit, imports
):
    from kpi.ingest.limits import ImportLimits

    # ragged_rows.csv sets aside 2 of its 4 rows: 50%.
    if imports:
        result = import_file(
            store, CORPUS / "ragged_rows.csv", limits=ImportLimits(max_quarantine=limit)
        )
        assert (result.rows_imported, result.rows_quarantined) == (2, 2)
        return
    with pytest.raises(ImportProblem) as caught:
        import_file(store, CORPUS / "ragged_rows.csv", limits=ImportLimits(max_quarantine=limit))
    assert str(caught.value).startswith(
        "ragged_rows.csv: 2 of 4 rows (50%) would be set aside, more than the limit of 10% "
        "(--max-quarantine or KPI_MAX_QUARANTINE): 1 x malformed CSV"
    )
    # Both reasons, each with its count: one named alone would hide the other.
    assert "1 x malformed CSV (too many columns" in str(caught.value)
    assert "1 x malformed CSV (missing columns" in str(caught.value)
    assert store.count("imports") == store.count("contacts") == store.count("quarantine") == 0


def test_the_cli_refuses_a_mapping_that_sets_every_row_aside_with_exit_2(tmp_path):
    db = tmp_path / "cli.duckdb"
    name = "every_row_set_aside_by_date_format"
    done = kpi("import", CORPUS / f"{name}.csv", "--mapping", CORPUS / f"{name}.toml", "--db", db)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"kpi: {name}.csv: every row (3) would be set aside: 3 x cannot read")
    done = kpi("imports", "--db", db)
    assert "no imports yet." in done.stdout
    # A lower bar, from the command line.
    done = kpi("import", CORPUS / "ragged_rows.csv", "--max-quarantine", "25", "--db", db)
    assert done.returncode == 2 and "more than the limit of 25%" in done.stderr


# --- privacy -----------------------------------------------------------------------------------


def store_text(store: Store) -> str:
    """Every value in every table of the store, as one text."""
    tables = rows(
        store,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE'",
    )
    out = io.StringIO()
    for (table,) in tables:
        for row in rows(store, f'SELECT * FROM "{table}"'):
            out.write(" | ".join("" if v is None else str(v) for v in row) + "\n")
    return out.getvalue()


PERSONAL = (
    "jane.doe@example.com", "b.smith+help@example.co.uk", "m.jones@example.org",
    "07700 900123", "+44 20 7946 0958", "4111 1111 1111 1111", "5500-0000-0000-0004",
    "(07700) 900456", "07700 900456", "07700 900789", "CUST-778812", "CUST-999001",
)  # fmt: skip


def test_no_email_phone_card_or_raw_customer_id_reaches_the_store(store):
    result = run_import(store, "personal_data_in_text.csv")
    assert result.rows_quarantined == 1  # the quarantined row's raw text is scrubbed too
    dump = store_text(store)
    for secret in PERSONAL:
        assert secret not in dump, secret
    stored = contacts(store, "customer_key, subject, description")
    assert stored["T1"][1:] == (
        "Call me on [phone removed]",
        "Email [email removed] or ring [phone removed]",
    )
    assert stored["T2"][1] == "Card [number removed] charged twice"
    assert stored["T3"][1] == "[order number] late"  # it points at a customer's records
    # The same customer gets the same key; different customers different keys.
    assert stored["T1"][0] == stored["T3"][0] != stored["T2"][0]
    assert len(stored["T1"][0]) == 16


def test_a_quarantined_malformed_line_keeps_no_dropped_column_or_raw_customer_id(store):
    run_import(store, "malformed_lines_with_personal_data.csv")
    dump = store_text(store)
    for secret in ("Jane Doe", "Ravi Shah", "Olu Ade", "Mia Wong", "CUST-4455667", "CUST-4455668",
                   "CUST-4455669", "CUST-4455670"):  # fmt: skip
        assert secret not in dump, secret
    # What is kept of a malformed line: the layout's fields, read by position, made safe.
    raws = [json.loads(r) for (r,) in rows(store, "SELECT raw FROM quarantine ORDER BY row_number")]
    assert [r["contact_id"] for r in raws] == ["T2", "T3"]
    assert raws[0]["team"] == "Care"
    keys = {k for (k,) in rows(store, "SELECT customer_key FROM contacts")}
    assert len(keys) == 2 and all(len(k) == 16 for k in keys)
    assert len(raws[0]["customer_id"]) == 16  # the same keyed hash as a stored row's


# --- through the real command line ---------------------------------------------------------------


def kpi(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(KPI), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cli_refuses_an_unusable_file_with_exit_2_and_one_line(tmp_path):
    done = kpi("import", CORPUS / "ambiguous_dates.csv", "--db", tmp_path / "cli.duckdb")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("kpi: ambiguous_dates.csv: column 'opened_at'")
    assert "day-first and month-first" in lines[0]
    assert "Traceback" not in done.stderr


def test_the_cli_gives_each_unusable_file_one_line_and_still_imports_the_good_one(tmp_path):
    # One process for several files (each CLI start costs seconds): one line per bad file.
    names = {
        "empty.csv": "the file is empty",
        "binary_random.csv": "binary",
        "xlsx_cell_at_xfd1048576.xlsx": "kpi_xlsx_max_cells",
        "zip_not_xlsx.xlsx": "xlsx workbook",
        "png_signature.csv": "image",
    }
    files = [CORPUS / n for n in names] + [CORPUS / "pipe_delimited.csv"]
    done = kpi("import", *files, "--db", tmp_path / "cli.duckdb")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == len(names), done.stderr
    for line, (name, words) in zip(lines, names.items(), strict=True):
        assert line.startswith(f"kpi: {name}: ") and words in line.lower()
    assert "pipe_delimited.csv: layout generic_contacts" in done.stdout
    assert "rows read 3 = imported 3 + quarantined 0" in done.stdout


def test_the_cli_imports_with_quarantine_and_exports_it_with_formula_cells_neutralised(tmp_path):
    db = tmp_path / "cli.duckdb"
    # A file name is a cell of the export too.
    hostile = tmp_path / "=HYPERLINK(1).csv"
    shutil.copy(CORPUS / "formula_injection.csv", hostile)
    done = kpi("import", hostile, "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "rows read 6 = imported 3 + quarantined 3" in done.stdout
    assert "opened_at is empty" in done.stdout
    out = tmp_path / "quarantine.csv"
    done = kpi("quarantine", "--db", db, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "wrote 3 quarantined rows" in done.stdout
    text = out.read_text(encoding="utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 3
    cells = [cell for row in table for cell in row.values() if cell]
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert {row["file_name"] for row in table} == {"'=HYPERLINK(1).csv"}
    assert "'@dup" in {row["value"] for row in table}
    # The formulas of the quarantined rows are in the raw JSON, never at a cell's start.
    assert any("=HYPERLINK" in row["raw"] for row in table)


# --- anything at all -----------------------------------------------------------------------------

PIECES = [
    b"", b"T1", b"2025-03-03 09:15", b"03/04/2025", b"25/03/2025", b'"', b'""', b",", b";",
    b"\n", b"\r\n", b"\r", b"11", b"-1", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"=1+1",
    b"\xe9", b"\t", b"|", b"NaN", b"PK\x03\x04",
]  # fmt: skip
HEADERS = [
    b"contact_id,opened_at,team,description\n", b"response_id,responded_at,nps,csat,comment\n",
    b"contact_id;opened_at;status\n", b"",
]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    header=st.sampled_from(HEADERS),
    body=st.lists(st.sampled_from(PIECES) | st.binary(max_size=6), max_size=40).map(b"".join),
    suffix=st.sampled_from([".csv", ".xlsx"]),
)
def test_any_bytes_end_in_a_counted_import_or_one_line(header, body, suffix):
    folder = Path(tempfile.mkdtemp(prefix="kpi-fuzz-"))
    path = folder / f"fuzz{suffix}"
    path.write_bytes(header + body)
    store = open_store(":memory:")
    try:
        result = import_file(store, path)
        assert result.rows_read == result.rows_imported + result.rows_quarantined
    except ImportProblem as problem:
        assert str(problem).startswith(f"{path.name}: ")
        assert "\n" not in str(problem)
    finally:
        store.close()
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    "name", ["two_date_formats_month_word.csv", "two_date_formats_with_and_without_time.csv"]
)
def test_each_date_format_list_a_refusal_offers_imports_the_file(store, tmp_path, name):
    import re

    with pytest.raises(ImportProblem) as caught:
        import_file(store, CORPUS / name)
    offered = re.findall(r"(\[[^\]]*\]) if it is", str(caught.value))
    assert len(offered) == 2
    days = []
    for i, formats in enumerate(offered):
        mapping = tmp_path / f"m{i}.toml"
        mapping.write_text(
            f'kind = "contacts"\ndate_format = {formats}\n[columns]\ncontact_id = "contact_id"\n'
            'opened_at = "opened_at"\nteam = "team"\n'
        )
        fresh = open_store(tmp_path / f"s{i}.duckdb")
        try:
            result = import_file(fresh, CORPUS / name, mapping=mapping)
            assert (result.rows_read, result.rows_imported) == (4, 4)
            days.append(rows(fresh, "SELECT month(opened_at) FROM contacts ORDER BY contact_id"))
        finally:
            fresh.close()
    assert days[0] != days[1]  # August one way, April the other


def test_a_number_answered_on_a_word_scale_is_emptied_with_a_warning(store, tmp_path):
    source = tmp_path / "answers.csv"
    source.write_text("Id,Answered,Satisfaction\nR1,2025-03-03,Good\nR2,2025-03-04,3\n")
    mapping = tmp_path / "words.toml"
    mapping.write_text(
        'kind = "responses"\n[columns]\nresponse_id = "Id"\nresponded_at = "Answered"\n'
        '[scores.csat]\ncolumn = "Satisfaction"\nscale = ["Bad", "OK", "Good", "Great"]\n'
    )
    result = import_file(store, source, mapping=mapping)
    assert (result.rows_imported, result.rows_quarantined, result.warnings) == (2, 0, 1)
    assert rows(store, "SELECT response_id, csat FROM responses ORDER BY 1") == [
        ("R1", 3.0),
        ("R2", None),  # never taken as the third word
    ]
    ((reason, count, _),) = result.top_warnings
    assert count == 1 and "is not one of the csat scale's words (Bad, OK, Good, Great)" in reason
