"""Reading hostile inputs too big (or too strange) for the corpus: no record vanishes, nothing
hangs, a workbook is bounded before it is inflated (issue 14). The files are generated here."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

from kpi.errors import ImportProblem
from kpi.ingest import files
from kpi.ingest.files import RawTable, _transcode, peek_headers, read_export
from kpi.ingest.importer import import_file
from kpi.ingest.limits import ImportLimits
from kpi.store import scratch
from tests.kpi.stores import rows

HEADER = "contact_id,opened_at,team,description\n"


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    yield connection
    connection.close()


def nothing_stored(store) -> bool:
    return store.count("imports") == store.count("contacts") == store.count("quarantine") == 0


# --- records ---------------------------------------------------------------------------------


def test_an_unterminated_quote_on_row_2_of_10000_sets_aside_one_line_and_imports_the_rest(
    store, tmp_path
):
    body = [f"T{i},2025-03-03 09:15,Billing,row {i}\n" for i in range(1, 10_001)]
    body[1] = 'T2,2025-03-03 09:15,Billing,"oops\n'
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(body), encoding="utf-8")
    result = import_file(store, path)
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (10_000, 9_999, 1)
    assert store.count("contacts") == 9_999
    assert rows(store, "SELECT row_number, reason FROM quarantine") == [
        (
            2,
            'line 3: unterminated quote (a field opens with " and does not close properly); '
            "the lines after it are read as rows",
        )
    ]
    assert rows(store, "SELECT description FROM contacts WHERE contact_id = 'T3'") == [("row 3",)]


def test_an_unterminated_quote_closed_by_a_line_end_quote_5000_rows_later_swallows_nothing(
    store, tmp_path
):
    # The quote on row 2 is closed by chance: row 5,000's description ends in 12". The lines
    # between used to become one description (rows read 5,002, nothing quarantined).
    body = [f"T{i},2025-03-03 09:15,Billing,row {i}\n" for i in range(1, 10_001)]
    body[1] = 'T2,2025-03-03 09:15,Billing,"oops\n'
    body[4_999] = 'T5000,2025-03-03 09:15,Billing,screen 12"\n'
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(body), encoding="utf-8")
    result = import_file(store, path)
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (10_000, 9_999, 1)
    assert rows(store, "SELECT row_number, reason FROM quarantine") == [
        (
            2,
            'line 3: unterminated quote (a field opens with " and does not close properly); '
            "the lines after it are read as rows",
        )
    ]
    assert rows(
        store, "SELECT contact_id, description FROM contacts WHERE contact_id IN ('T3', 'T5000')"
    ) == [("T3", "row 3"), ("T5000", 'screen 12"')]


def test_a_quote_closed_within_the_line_cap_after_whole_rows_is_still_set_aside(con, tmp_path):
    # 300 lines: under the 1,000-line cap, so the rows it would swallow are what give it away.
    body = [f"T{i},2025-03-03 09:15,Billing,row {i}\n" for i in range(1, 401)]
    body[1] = 'T2,2025-03-03 09:15,Billing,"oops\n'
    body[299] = 'T300,2025-03-03 09:15,Billing,screen 12"\n'
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(body), encoding="utf-8")
    raw = read_export(con, path)
    assert (raw.rows_read, len(raw.rejected)) == (400, 1)
    assert raw.rejected[0].line == 3


def test_a_note_spanning_lines_with_commas_in_them_is_still_one_field(con, tmp_path):
    note = "Called back:\nbilling, refund, and address\nall fixed, thanks\nok"
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER + f'T1,2025-03-03 09:15,Billing,"{note}"\nT2,2025-03-03 10:00,Care,plain\n',
        encoding="utf-8",
    )
    raw = read_export(con, path)
    assert (raw.rows_read, raw.rejected) == (2, [])
    assert con.execute(f"SELECT c3 FROM {raw.table} ORDER BY _row").fetchall() == [
        (note,),
        ("plain",),
    ]


def test_an_unterminated_quote_at_the_end_of_a_long_quoted_field_keeps_every_line(con, tmp_path):
    # The quote on line 3 never closes; a properly quoted field further down must not end it.
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + 'T1,2025-03-03 09:15,Billing,"open\n'
        + "".join(f"T{i},2025-03-03 09:15,Care,plain\n" for i in range(2, 50))
        + 'T50,2025-03-03 09:15,Care,"Smith, Jo"\n',
        encoding="utf-8",
    )
    raw = read_export(con, path)
    assert raw.rows_read == 50
    assert [r.line for r in raw.rejected] == [2]
    assert con.execute(f"SELECT count(*) FROM {raw.table}").fetchall() == [(49,)]


def test_twenty_thousand_malformed_lines_are_each_a_rejected_line_in_file_order(con, tmp_path):
    lines = [f"T{i},2025-03-03 09:15,Billing,x,extra\n" for i in range(20_000)]
    lines[10_000] = "T-ok,2025-03-03 09:15,Care,fine\n"
    path = tmp_path / "flood.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    raw = read_export(con, path)
    raw.number_rows(con)
    assert raw.rows_read == 20_000 and len(raw.rejected) == 19_999
    assert "too many columns" in raw.rejected[0].reason
    assert raw.rejected[-1].row_number == 20_000
    # The one good row keeps its place in the file, between the rejected lines around it.
    assert con.execute(f"SELECT _row, c0 FROM {raw.table}").fetchall() == [(10_001, "T-ok")]


def test_a_first_line_of_a_megabyte_is_not_a_header_row(store, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("x" * (1 << 20) + "\n1\n", encoding="utf-8")
    with pytest.raises(ImportProblem) as caught:
        import_file(store, path)
    assert str(caught.value) == (
        "wide.csv: the first line is 1,048,576 bytes long: not a header row "
        "(a header is at most 256 KB); is this an export?"
    )
    assert nothing_stored(store)


def test_running_out_of_memory_is_said_so_not_blamed_on_quotes(con, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER + "".join(f"T{i},2025-03-03,Billing,{'x' * 200}\n" for i in range(100_000))
    )
    con.execute("SET memory_limit = '2MB'")
    con.execute("SET threads = 1")
    with pytest.raises(ImportProblem) as caught:
        read_export(con, path)
    assert str(caught.value) == (
        "export.csv: ran out of memory reading it; set KPI_MEMORY_LIMIT higher or split the file."
    )


# --- encodings -------------------------------------------------------------------------------


def test_a_utf8_file_with_one_bad_byte_stays_utf8_and_quarantines_that_line(con, tmp_path):
    good = "".join(f"T{i},2025-03-03,Billing,Café n°{i}\n" for i in range(200))
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + good).encode() + b"T200,2025-03-03,Care,caf\xe9\n")
    raw = read_export(con, path)
    assert raw.encoding == "utf-8"
    assert [r.reason for r in raw.rejected] == [
        "line 202: not valid UTF-8 text (byte 0xE9 at column 25)"
    ]
    assert con.execute(f"SELECT c3 FROM {raw.table} WHERE c0 = 'T7'").fetchall() == [("Café n°7",)]


def utf8_with_latin1_lines(path: Path, every: int) -> Path:
    """10,000 UTF-8 lines holding "é", every ``every``-th of them in Latin-1 instead."""
    data = [
        f"T{i},2025-03-03,Billing,café {i}\n".encode("latin-1" if i % every == 0 else "utf-8")
        for i in range(1, 10_001)
    ]
    path.write_bytes(HEADER.encode() + b"".join(data))
    return path


def test_a_utf8_file_with_2_percent_bad_lines_stays_utf8_and_quarantines_each(con, tmp_path):
    path = utf8_with_latin1_lines(tmp_path / "export.csv", every=50)
    raw = read_export(con, path)
    assert raw.encoding == "utf-8"  # it used to be cp1252: every "é" became "Ã©"
    assert (raw.rows_read, len(raw.rejected)) == (10_000, 200)
    assert raw.rejected[0].reason == "line 51: not valid UTF-8 text (byte 0xE9 at column 27)"
    assert con.execute(f"SELECT c3 FROM {raw.table} WHERE c0 = 'T7'").fetchall() == [("café 7",)]
    assert con.execute(f"SELECT count(*) FROM {raw.table} WHERE c3 LIKE '%Ã%'").fetchall() == [(0,)]


def test_a_file_mostly_in_another_encoding_than_its_utf8_lines_is_refused(store, tmp_path):
    # 60% of lines in Latin-1: quarantining most of the file would not be an import.
    data = [
        f"T{i},2025-03-03,Billing,café {i}\n".encode("utf-8" if i % 5 < 2 else "latin-1")
        for i in range(10_000)
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(HEADER.encode() + b"".join(data))
    with pytest.raises(ImportProblem) as caught:
        import_file(store, path)
    assert str(caught.value) == (
        "export.csv: the file mixes UTF-8 and another encoding on 6,000 of 10,001 lines; "
        "re-export it as UTF-8."
    )
    assert nothing_stored(store)


def test_a_windows_1252_file_with_many_accents_is_still_windows_1252(con, tmp_path):
    path = tmp_path / "export.csv"
    text = HEADER + "".join(f"T{i},2025-03-03,Billing,Zoë paid £{i} – “ok”\n" for i in range(50))
    path.write_bytes(text.encode("cp1252"))
    raw = read_export(con, path)
    assert raw.encoding == "cp1252" and raw.rejected == []
    assert con.execute(f"SELECT c3 FROM {raw.table} WHERE c0 = 'T3'").fetchall() == [
        ("Zoë paid £3 – “ok”",)
    ]


def test_the_utf8_copy_of_another_encoding_lives_in_the_private_scratch_folder(con, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes((HEADER + "T1,2025-03-03,Billing,£5\n").encode("cp1252"))
    before = set(scratch.folder().iterdir())
    copy = _transcode(path, "cp1252")
    try:
        assert copy.parent == scratch.folder()
        assert copy.read_text(encoding="utf-8").endswith("£5\n")
    finally:
        copy.unlink()
    raw = read_export(con, path)
    assert raw.encoding == "cp1252" and raw.rows_read == 1
    assert set(scratch.folder().iterdir()) == before  # the copy is removed once read


# --- workbooks -------------------------------------------------------------------------------


def inflating_workbook(path: Path) -> Path:
    """A small workbook whose one text cell inflates to 3 MB (a real bomb, in its shared strings
    or a sheet: gigabytes). openpyxl writes text inline in the sheet, so the sheet grows."""
    book = Workbook()
    book.active.append(["contact_id", "opened_at", "description"])
    book.active.append(["C1", "2025-03-03 09:15", "short"])
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = sheet.replace("short", "x" * 3_000_000).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_a_workbook_inflating_beyond_the_limit_is_refused_before_it_is_read(store, tmp_path):
    path = inflating_workbook(tmp_path / "bomb.xlsx")
    assert path.stat().st_size < 100_000
    with zipfile.ZipFile(path) as archive:
        assert sum(i.file_size for i in archive.infolist()) > 2 * 1024 * 1024
    limits = ImportLimits(xlsx_max_mb=2)
    expected = (
        "bomb.xlsx: the workbook inflates to 3 MB, more than the limit of 2 MB; "
        "if it is genuine, set KPI_XLSX_MAX_MB higher."
    )
    with pytest.raises(ImportProblem) as caught:
        import_file(store, path, limits=limits)
    assert str(caught.value) == expected
    assert nothing_stored(store)
    # The Data page's header peek keeps the same limit: it never inflates the bomb either.
    with pytest.raises(ImportProblem) as caught:
        peek_headers(path, limits)
    assert str(caught.value) == expected


def test_a_declared_dimension_beyond_the_cell_limit_is_refused_by_import_and_peek(tmp_path, con):
    book = Workbook()
    sheet = book.active
    sheet.append(["contact_id", "opened_at"])
    sheet["Z5000"] = "far"
    path = tmp_path / "wide.xlsx"
    book.save(path)
    limits = ImportLimits(xlsx_max_cells=100_000)
    expected = (
        "wide.xlsx: sheet 'Sheet' declares 5,000 rows x 26 columns, more than the limit of "
        "100,000 cells; if it is genuine, set KPI_XLSX_MAX_CELLS higher."
    )
    for read in (lambda: read_export(con, path, limits=limits), lambda: peek_headers(path, limits)):
        with pytest.raises(ImportProblem) as caught:
            read()
        assert str(caught.value) == expected


SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)


def shared_strings_workbook(path: Path, header: list[str], padding: int) -> Path:
    """A workbook as Excel writes one (openpyxl writes text inline): its header cells point into
    xl/sharedStrings.xml, which also holds ``padding`` bytes of other strings after them."""
    book = Workbook()
    book.active.append(["placeholder"])
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    cells = "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(len(header)))
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start, end = sheet.index("<sheetData>"), sheet.index("</sheetData>")
    parts["xl/worksheets/sheet1.xml"] = (
        sheet[:start] + f'<sheetData><row r="1">{cells}</row>' + sheet[end:]
    ).encode()
    filler = "<si><t>" + "x" * 1_000 + "</t></si>"
    strings = "".join(f"<si><t>{name}</t></si>" for name in header) + filler * (padding // 1_000)
    parts["xl/sharedStrings.xml"] = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + strings
        + "</sst>"
    ).encode()
    types = parts["[Content_Types].xml"].decode()
    override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS_TYPE}"/>'
    parts["[Content_Types].xml"] = types.replace("</Types>", override + "</Types>").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_shared_strings_beyond_their_limit_are_refused_but_the_header_can_be_peeked(
    store, tmp_path
):
    # openpyxl inflates every shared string when it opens a workbook (240 MB of them took 95 s
    # and 1.8 GB), so they have a limit of their own, below the workbook's.
    path = shared_strings_workbook(tmp_path / "book.xlsx", ["contact_id", "opened_at"], 2 << 20)
    limits = ImportLimits(xlsx_max_strings_mb=1)
    with pytest.raises(ImportProblem) as caught:
        import_file(store, path, limits=limits)
    assert str(caught.value) == (
        "book.xlsx: the workbook's shared strings inflate to 2 MB, more than the limit of 1 MB; "
        "if it is genuine, set KPI_XLSX_MAX_STRINGS_MB higher."
    )
    assert nothing_stored(store)
    # The Data page reads only the strings its header uses, whatever the limit.
    assert peek_headers(path, limits) == ["contact_id", "opened_at"]


def test_a_header_whose_strings_lie_deep_in_the_shared_strings_is_not_peeked_at(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(files, "PEEK_STRINGS_BYTES", 1 << 20)
    path = shared_strings_workbook(tmp_path / "book.xlsx", ["contact_id"], 2 << 20)
    with zipfile.ZipFile(path) as archive:  # the header cell points past the padding
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>0</v>" in sheet
    rewritten = tmp_path / "deep.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(rewritten, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = sheet.replace("<v>0</v>", "<v>1500</v>").encode()
            out.writestr(name, data)
    with pytest.raises(ImportProblem) as caught:
        peek_headers(rewritten)
    assert str(caught.value) == (
        "deep.xlsx: its header's text lies beyond the first 1 MB of the workbook's shared "
        "strings; save the workbook again in Excel, or export a CSV."
    )


def test_broken_shared_strings_are_one_line_for_import_and_peek(store, tmp_path):
    path = shared_strings_workbook(tmp_path / "book.xlsx", ["contact_id", "opened_at"], 0)
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/sharedStrings.xml"] = b"<sst><si><t>contact_id</t><si>"  # cut short
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    problems = []
    for read in (lambda: import_file(store, path), lambda: peek_headers(path)):
        with pytest.raises(ImportProblem) as caught:
            read()
        problems.append(str(caught.value))
    assert nothing_stored(store)
    # (The parser's column depends on how it was fed: the rest of the line is fixed.)
    for message, verb in zip(problems, ("open", "read"), strict=True):
        assert message.startswith(
            f"book.xlsx: cannot {verb} it as an XLSX workbook (ParseError: no element found: "
        )
        assert message.endswith("); is it damaged? Save it again in Excel, or export a CSV.")
        assert "\n" not in message


def understated_workbook(path: Path, rows: int) -> Path:
    """A workbook of ``rows`` data rows whose <dimension> says it has one."""
    book = Workbook()
    book.active.append(["contact_id", "opened_at", "team"])
    for i in range(rows):
        book.active.append([f"C{i}", "2025-03-03 09:15", "Billing"])
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    declared = f'<dimension ref="A1:C{rows + 1}"/>'
    assert declared in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(declared, '<dimension ref="A1:C2"/>').encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_a_declared_dimension_smaller_than_the_sheet_does_not_hide_its_rows(con, tmp_path):
    path = understated_workbook(tmp_path / "book.xlsx", 2_000)
    raw = read_export(con, path)
    assert raw.rows_read == 2_000  # read-only openpyxl trusted A1:C2: 1 row, no word of the rest
    assert con.execute(f"SELECT _row, c0 FROM {raw.table} WHERE _row = 2000").fetchall() == [
        (2_000, "C1999")
    ]


def test_an_understated_sheet_is_still_bounded_by_the_cell_limit(con, tmp_path):
    path = understated_workbook(tmp_path / "book.xlsx", 2_000)
    with pytest.raises(ImportProblem) as caught:
        read_export(con, path, limits=ImportLimits(xlsx_max_cells=3_000))
    assert str(caught.value) == (
        "book.xlsx: sheet 'Sheet' holds more than 3,000 cells; if it is genuine, "
        "set KPI_XLSX_MAX_CELLS higher."
    )


def test_a_stray_cell_far_to_the_right_is_not_read(con, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["contact_id", "opened_at"])
    sheet.append(["C1", "2025-03-03 09:15"])
    sheet["CV2"] = "stray"
    path = tmp_path / "book.xlsx"
    book.save(path)
    raw = read_export(con, path)
    assert raw.headers == ["contact_id", "opened_at"] and raw.rows_read == 1
    assert con.execute(f"SELECT * FROM {raw.table}").fetchall() == [(1, "C1", "2025-03-03 09:15")]


def test_peek_headers_finds_the_header_in_the_first_rows(tmp_path):
    book = Workbook()
    book.active.title = "Cover"
    data = book.create_sheet("Calls")
    data.append([None])
    data.append(["contact_id", "opened_at", "team"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    assert peek_headers(path) == ["contact_id", "opened_at", "team"]


# --- not files, and names ----------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_before_it_is_opened(store, con):
    expected = (
        "zero: is not a regular file (a character device); give an exported CSV or XLSX file."
    )
    with pytest.raises(ImportProblem) as caught:
        import_file(store, "/dev/zero")
    assert str(caught.value) == expected
    with pytest.raises(ImportProblem) as caught:
        read_export(con, Path("/dev/zero"))
    assert str(caught.value) == expected
    assert nothing_stored(store)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_before_it_is_opened(store, tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(ImportProblem) as caught:
        import_file(store, fifo)  # opening it to read would wait for a writer forever
    assert str(caught.value) == (
        "pipe.csv: is not a regular file (a FIFO (named pipe)); give an exported CSV or XLSX file."
    )
    with pytest.raises(ImportProblem, match="not a regular file"):
        peek_headers(fifo)
    assert nothing_stored(store)


def test_a_file_name_with_an_ansi_escape_is_never_printed_raw(store, tmp_path):
    path = tmp_path / "evil\x1b[2Jname.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportProblem) as caught:
        import_file(store, path)
    assert str(caught.value) == "evil\\x1b[2Jname.csv: the file is empty."
    assert "\x1b" not in str(caught.value)


# --- a mapping's ignore_lines ------------------------------------------------------------------


def raw_with_rejects(*lines: str) -> RawTable:
    from kpi.ingest.files import RejectedLine

    rejected = [RejectedLine(n, f"line {n}: malformed", text) for n, text in enumerate(lines, 2)]
    return RawTable("t", ["a"], "utf-8", ",", rejected)


def test_a_catastrophic_ignore_lines_pattern_runs_in_linear_time():
    # (x+x+)+y against 40 x's: about 2^40 steps for a backtracking engine; RE2 does not backtrack.
    raw = raw_with_rejects("x" * 40, "Reporting period xxy")
    raw.skip_lines_matching("(x+x+)+y")
    assert raw.skipped_lines == 1
    assert [r.raw for r in raw.rejected] == ["x" * 40]


def test_an_ignore_lines_pattern_that_re2_cannot_read_is_one_line():
    raw = raw_with_rejects("Reporting period")
    with pytest.raises(ImportProblem) as caught:
        raw.skip_lines_matching("(unclosed")
    assert str(caught.value).startswith(
        "ignore_lines '(unclosed' is not a valid regular expression"
    )
    assert "\n" not in str(caught.value)
