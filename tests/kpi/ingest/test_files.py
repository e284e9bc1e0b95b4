"""Reading export files: encodings and delimiters are decided, never guessed by DuckDB."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from kpi.errors import ImportProblem
from kpi.ingest import records
from kpi.ingest.files import (
    _duckdb_read,
    date_only_format,
    detect_encoding,
    peek_headers,
    read_export,
    sniff_delimiter,
    sniff_kind,
)
from tests.paths import SAMPLE_DATA

TEXT = "contact_id,opened_at,team\nT1,2025-03-03 09:15,Café £5 “quoted”\n"


def write(tmp_path: Path, data: bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def encoding_of(path: Path) -> str:
    return detect_encoding(path, path.read_bytes()[:4096])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("cp1252"), "cp1252"),
        # 0x81 is undefined in Windows-1252: only Latin-1 reads it.
        ("id,text\n1,Señor\n".encode("latin-1") + b"2,\x81\n", "latin-1"),
    ],
    ids=[
        "utf8",
        "utf8-bom",
        "utf16le-bom",
        "utf16be-bom",
        "utf16le",
        "utf16be",
        "cp1252",
        "latin1",
    ],
)
def test_the_encoding_is_decided_from_the_bom_or_by_strict_decoding(tmp_path, data, expected):
    assert encoding_of(write(tmp_path, data)) == expected


def test_one_windows_1252_byte_deep_in_a_file_makes_the_whole_file_windows_1252(tmp_path):
    body = b"id,text\n" + b"1,plain ascii line\n" * 100_000 + "2,£1\n".encode("cp1252")
    path = write(tmp_path, body)
    assert path.stat().st_size > 1 << 20  # beyond the sniffed head
    assert encoding_of(path) == "cp1252"


def test_nul_bytes_in_a_non_utf16_file_mean_binary(tmp_path):
    path = write(tmp_path, b"id,text\n1,abc\x00def\n")
    with pytest.raises(ImportProblem, match="binary"):
        encoding_of(path)


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel .xls"),
        (b"%PDF-1.7", "PDF"),
        (b"\x89PNG\r\n\x1a\n", "image"),
        (b"\xff\xd8\xff\xe0", "image"),
        (b"GIF89a", "image"),
    ],
)
def test_files_that_are_not_exports_are_named_for_what_they_are(head, words):
    with pytest.raises(ImportProblem, match=words):
        sniff_kind(head + b"\x00" * 64)


def test_a_zip_signature_is_read_as_xlsx_and_anything_else_as_csv():
    assert sniff_kind(b"PK\x03\x04rest") == "xlsx"
    assert sniff_kind(b"id,name\n") == "csv"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_one_that_splits_rows_consistently(delimiter):
    rows = [["id", "opened", "note"], ["1", "2025-03-03", "a, b; c | d"], ["2", "2025-03-04", "x"]]
    quoted = [[f'"{v}"' if any(d in v for d in ",;\t|") else v for v in r] for r in rows]
    text = "".join(delimiter.join(r) + "\n" for r in quoted)
    assert sniff_delimiter(text) == delimiter


def test_quoted_newlines_do_not_confuse_the_delimiter():
    text = 'id,opened,note\n1,2025-03-03,"line one\nline two; three\nfour"\n2,2025-03-04,x\n'
    assert sniff_delimiter(text) == ","


def test_a_sample_cut_mid_record_is_judged_on_its_complete_records():
    text = "id;opened;note\n1;2025-03-03;a\n2;2025-03-04;b\n3;2025-03-0"
    assert sniff_delimiter(text) == ";"


def test_decimal_commas_in_a_semicolon_file_do_not_make_it_comma_separated():
    text = "id;score;wait\n1;4,5;1,25\n2;3,0;2,5\n3;5;0\n"
    assert sniff_delimiter(text) == ";"


# --- read_export ---------------------------------------------------------------------------------


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def table(con, raw) -> list[tuple]:
    width = len(raw.headers)
    columns = ", ".join(f"c{i}" for i in range(width))
    return con.execute(f"SELECT _row, {columns} FROM {raw.table} ORDER BY _row").fetchall()


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"], ids=lambda e: e
)  # fmt: skip
def test_every_encoding_reaches_duckdb_as_the_same_characters(tmp_path, con, encoding):
    path = write(tmp_path, TEXT.encode(encoding))
    raw = read_export(con, path)
    assert raw.headers == ["contact_id", "opened_at", "team"]
    assert table(con, raw) == [(1, "T1", "2025-03-03 09:15", "Café £5 “quoted”")]
    assert raw.rows_read == 1


def test_a_trailing_delimiter_adds_no_column(tmp_path, con):
    path = write(tmp_path, b"a,b,\n1,2,\n3,4,\n")
    raw = read_export(con, path)
    assert raw.headers == ["a", "b"]
    # The trailing empty field of every data line must not shift or reject rows.
    assert raw.rows_read == 2
    assert [r[1:] for r in table(con, raw)] == [("1", "2"), ("3", "4")]


def test_blank_header_cells_get_a_name_and_bom_is_stripped(tmp_path, con):
    path = write(tmp_path, codecs.BOM_UTF8 + b"id,,note\n1,x,y\n")
    raw = read_export(con, path)
    assert raw.headers == ["id", "column 2", "note"]


def test_malformed_lines_are_rejected_with_their_line_and_reason_and_counted(tmp_path, con):
    path = write(tmp_path, b"a,b\n1,2\n3,4,5\n6\n7,8\n")
    raw = read_export(con, path)
    raw.number_rows(con)
    assert raw.rows_read == 4
    assert [(r.line, r.row_number) for r in raw.rejected] == [(3, 2), (4, 3)]
    assert "too many columns" in raw.rejected[0].reason
    assert "missing columns" in raw.rejected[1].reason
    assert [r[0] for r in table(con, raw)] == [1, 4]  # accepted rows keep their file positions


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"", "is empty"), (b" \n\r\n\t\n", "is empty"), (b"\xef\xbb\xbf\n", "is empty")],
)
def test_empty_files_are_refused_by_name(tmp_path, con, data, words):
    path = write(tmp_path, data, "nothing.csv")
    with pytest.raises(ImportProblem, match=f"^nothing.csv: the file {words}"):
        read_export(con, path)


def test_a_missing_file_is_refused_by_name(tmp_path, con):
    with pytest.raises(ImportProblem, match="gone.csv: no such file"):
        read_export(con, tmp_path / "gone.csv")


def test_xlsx_cells_become_text_dates_in_iso_times_as_clock_durations(tmp_path, con):
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["id", "when", "handle", "flag", "count"])
    sheet.append(["A", dt.datetime(2025, 3, 3, 9, 15), dt.time(0, 4, 30), True, 3.0])
    sheet.append(["B", dt.date(2025, 3, 4), "0:05:00", False, 2.5])
    sheet.append([None, None, None, None, None])  # blank rows are not rows
    path = tmp_path / "book.xlsx"
    book.save(path)
    raw = read_export(con, path)
    assert raw.encoding == "xlsx" and raw.rows_read == 2
    assert [r[1:] for r in table(con, raw)] == [
        ("A", "2025-03-03 09:15:00", "0:04:30", "TRUE", "3"),
        ("B", "2025-03-04", "0:05:00", "FALSE", "2.5"),  # a date-only cell is a date (issue 9)
    ]


def test_xlsx_date_cells_keep_a_four_digit_year_even_for_a_placeholder(tmp_path, con):
    """The year 1 as "0001-01-01 00:00:00" (strftime wrote "1-01-01"): a date the import reads
    and sets aside as implausible, not a value that reads as no date at all."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["id", "when"])
    sheet.append(["A", dt.datetime(1, 1, 1)])
    sheet.append(["B", dt.datetime(9999, 12, 31, 23, 59, 30, 500)])
    path = tmp_path / "book.xlsx"
    book.save(path)
    raw = read_export(con, path)
    assert [r[1:] for r in table(con, raw)] == [
        ("A", "0001-01-01 00:00:00"),
        ("B", "9999-12-31 23:59:30"),
    ]


def test_a_midnight_cell_is_a_date_only_when_its_format_shows_no_time(tmp_path, con):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["id", "when"])
    formats = ["dd/mm/yyyy", "yyyy-mm-dd h:mm", "d-mmm-yy", "mm/dd/yyyy hh:mm AM/PM", '"at" dd/mm']
    for i, number_format in enumerate(formats, start=1):
        sheet.append([f"R{i}", dt.datetime(2021, 1, i)])
        sheet.cell(i + 1, 2).number_format = number_format
    path = tmp_path / "book.xlsx"
    book.save(path)
    raw = read_export(con, path)
    assert [r[1:] for r in table(con, raw)] == [
        ("R1", "2021-01-01"),
        ("R2", "2021-01-02 00:00:00"),  # a time of day shown: midnight is a time
        ("R3", "2021-01-03"),
        ("R4", "2021-01-04 00:00:00"),
        ("R5", "2021-01-05"),  # quoted text ("at") is not a code
    ]


def report_workbook(path: Path, rows: list[list]) -> Path:
    """A report-style workbook: a title block of one-cell lines, a blank line, then ``rows``."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for line in (["Open cases"], ["Filtered By:"], ["  Status equals Open"], []):
        sheet.append(line)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_reports_title_block_is_skipped_and_counted_and_its_header_found(tmp_path, con):
    rows = [["Case Number", "Opened", "Subject"], ["00001026", "2025-03-03", "Refund"]]
    path = report_workbook(tmp_path / "report.xlsx", rows)
    raw = read_export(con, path)
    assert raw.headers == ["Case Number", "Opened", "Subject"]
    assert raw.skipped_lines == 3 and raw.rows_read == 1 and not raw.rejected
    assert [r[1:] for r in table(con, raw)] == [("00001026", "2025-03-03", "Refund")]
    assert peek_headers(path) == ["Case Number", "Opened", "Subject"]


def test_a_reports_group_total_and_footer_rows_are_set_aside_with_reasons_never_as_rows(
    tmp_path, con
):
    rows = [
        ["Case Number", "Opened", "Subject"],
        ["Status: New (2 records)"],
        ["00001026", "2025-03-03", "Total outage"],  # a subject may say "Total": still a case
        ["00001027", "2025-03-04", "Refund"],
        ["Subtotal", None, 2],
        ["Grand Totals (2 records)"],
        ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."],
    ]
    raw = read_export(con, report_workbook(tmp_path / "report.xlsx", rows))
    raw.number_rows(con)
    assert [r[1:] for r in table(con, raw)] == [
        ("00001026", "2025-03-03", "Total outage"),
        ("00001027", "2025-03-04", "Refund"),
    ]
    # Every data row is a row or a set-aside line, numbered as on the sheet (the title block,
    # a blank line and the header are its rows 1-5).
    assert raw.rows_read == 6
    assert [r[0] for r in table(con, raw)] == [7, 8]
    assert [(r.row_number, r.reason) for r in raw.rejected] == [
        (6, "a report line of one cell ('Status: New (2 records)'): a group heading or footer, "
            "not a record"),
        (9, "a report's subtotal or total row ('Subtotal'), not a record"),
        (10, "a report line of one cell ('Grand Totals (2 records)'): a group heading or footer, "
            "not a record"),
        (11, "a report line of one cell ('Copyright (c) 2000-2026 salesforce.com, inc. All "
            "rights reserved.'): a group heading or footer, not a record"),
    ]  # fmt: skip
    assert raw.rejected[1].raw == "Subtotal,,2"


def test_a_plain_workbook_and_a_one_column_one_are_read_as_before(tmp_path, con):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["id", "when"])
    book.active.append(["Total", "2025-03-03"])  # not a report: a row like any other
    book.save(tmp_path / "plain.xlsx")
    raw = read_export(con, tmp_path / "plain.xlsx")
    assert raw.headers == ["id", "when"] and raw.rows_read == 1 and raw.skipped_lines == 0
    book = Workbook()
    for value in ("id", "A1", "A2"):
        book.active.append([value])
    book.save(tmp_path / "one.xlsx")
    raw = read_export(con, tmp_path / "one.xlsx")
    assert raw.headers == ["id"] and raw.rows_read == 2 and not raw.rejected


@pytest.mark.parametrize(
    ("number_format", "date_only"),
    [("dd/mm/yyyy", True), ("[$-809]dd mmmm yyyy", True), ("h:mm", False),
     ("yyyy-mm-dd hh:mm:ss", False), ("m/d/yy h:mm AM/PM", False), ('"Shift" dd/mm', True),
     ("mm:ss", False), ("", True)],
)  # fmt: skip
def test_date_only_formats_are_those_without_hours_seconds_or_am_pm(number_format, date_only):
    assert date_only_format(number_format) is date_only


def test_classic_mac_line_ends_are_line_ends(tmp_path, con):
    path = write(tmp_path, b"id,team\r1,Billing\r2,Care\r")
    raw = read_export(con, path)
    assert raw.headers == ["id", "team"]
    assert [r[1:] for r in table(con, raw)] == [("1", "Billing"), ("2", "Care")]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00" * 8, "looks binary"),  # decodes as UTF-16, to NULs
        (b"\x00" * 7, "not valid UTF-16-LE text"),
        (codecs.BOM_UTF16_LE + "id,x\n".encode("utf-16-le") + b"!", "not valid UTF-16 text"),
    ],
    ids=["nuls", "odd-nuls", "cut-short"],
)
def test_a_utf16_guess_must_decode_to_text(tmp_path, data, words):
    with pytest.raises(ImportProblem, match=words):
        encoding_of(write(tmp_path, data))


def test_a_workbook_saved_with_a_csv_name_is_read_by_its_bytes(tmp_path) -> None:
    # openpyxl refuses names not ending in .xlsx; the bytes say what the file is.
    import duckdb

    from kpi.ingest.files import read_export

    misnamed = tmp_path / "calls.csv"
    misnamed.write_bytes((SAMPLE_DATA / "call_log.xlsx").read_bytes())
    raw = read_export(duckdb.connect(), misnamed)
    assert raw.encoding == "xlsx" and raw.rows_read == 15_812


# --- the independent count of records --------------------------------------------------------


def test_mixed_line_ends_are_read_and_a_line_end_inside_quotes_is_kept(tmp_path, con):
    path = write(tmp_path, b'id,note\r\n1,crlf\r\n2,lf\n3,"in\r\nquotes"\n')
    raw = read_export(con, path)
    assert [r[1:] for r in table(con, raw)] == [("1", "crlf"), ("2", "lf"), ("3", "in\r\nquotes")]
    assert raw.rows_read == 3 and raw.rejected == []


def test_an_empty_crlf_line_among_lf_lines_is_read(tmp_path, con):
    path = write(tmp_path, b"id,note\n1,a\n\r\n2,b\n")
    raw = read_export(con, path)
    assert [r[1:] for r in table(con, raw)] == [("1", "a"), ("2", "b")]
    assert raw.rows_read == 2 and raw.rejected == []


def test_the_csv_readers_invalid_state_comes_with_what_to_do(tmp_path, con):
    # Given the file as it is (not the copy read_export makes with one line end throughout),
    # DuckDB's reader says only that its state machine "reached an invalid state".
    path = write(tmp_path, b"id,note\n1,a\n\r\n2,b\n")
    scan = records.scan_records(path, ",", check_utf8=True)
    with pytest.raises(ImportProblem) as caught:
        _duckdb_read(con, path, ",", 2, scan)
    assert str(caught.value) == (
        "cannot be read as a comma-separated CSV file (The CSV Parser state machine reached an "
        'invalid state); check the quoting of the text fields (a stray " or a line break inside '
        "one) or re-export the file."
    )


@pytest.mark.parametrize(
    ("bad_every", "expected"),
    [(50, "utf-8"), (3, "utf-8"), (None, "cp1252")],
    ids=["2-percent", "a-third", "no-utf8-at-all"],
)
def test_utf8_evidence_decides_the_encoding_whatever_the_share_of_bad_lines(
    tmp_path, bad_every, expected
):
    lines = [f"{i},Zoë\n" for i in range(1, 301)]
    data = b"id,name\n" + b"".join(
        line.encode("cp1252" if bad_every is None or i % bad_every == 0 else "utf-8")
        for i, line in enumerate(lines, 1)
    )
    assert encoding_of(write(tmp_path, data)) == expected
