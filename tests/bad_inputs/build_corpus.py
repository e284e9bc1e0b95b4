"""Writes the bad-input corpus in this folder (the files are committed; this documents them).

Run ``python tests/bad_inputs/build_corpus.py`` to rebuild them byte for byte. Each file is small
except ``huge_field.csv`` (one 2 MB description). ``README.md`` says what is wrong with each one
and what the importer must do about it; ``tests/kpi/ingest/test_bad_inputs.py`` checks it.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CONTACTS_HEADER = "contact_id,opened_at,status,priority,channel,team,agent,subject"
GOOD_CONTACTS = [
    "T1,2025-03-03 09:15,open,normal,email,Billing,Asha,Cannot log in",
    "T2,2025-03-03 10:40,resolved,high,phone,Billing,Ben,Refund request",
    "T3,2025-03-04 14:05,closed,low,chat,Care,Cara,Change of address",
]
SURVEY_HEADER = "response_id,responded_at,nps,csat,ces,comment"


def lines(*rows: str, end: str = "\n") -> str:
    return end.join(rows) + end


def write_text(name: str, text: str, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(text.encode(encoding))


def write_bytes(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def delimiters() -> None:
    semicolon = [r.replace(",", ";") for r in (CONTACTS_HEADER, *GOOD_CONTACTS)]
    write_text("semicolon_with_mapping.csv", lines(*semicolon))
    write_text(
        "semicolon_with_mapping.toml",
        lines(
            "# Written for a comma-delimited export; the delimiter is decided from the file.",
            'kind = "contacts"',
            "[columns]",
            'contact_id = "contact_id"',
            'opened_at = "opened_at"',
            'team = "team"',
            'subject = "subject"',
        ),
    )
    write_text(
        "pipe_delimited.csv",
        lines(*[r.replace(",", "|") for r in (CONTACTS_HEADER, *GOOD_CONTACTS)]),
    )
    write_text(
        "colon_delimited.csv",
        lines(
            *[
                r.replace(",", ":")
                .replace(" 09:15", " 09h15")
                .replace(" 10:40", " 10h40")
                .replace(" 14:05", " 14h05")
                for r in (CONTACTS_HEADER, *GOOD_CONTACTS)
            ]
        ),
    )
    write_text("crlf_line_endings.csv", lines(CONTACTS_HEADER, *GOOD_CONTACTS, end="\r\n"))
    write_text("cr_only_line_endings.csv", lines(CONTACTS_HEADER, *GOOD_CONTACTS, end="\r"))
    write_text(
        "trailing_delimiter.csv", lines(*[r + "," for r in (CONTACTS_HEADER, *GOOD_CONTACTS)])
    )
    write_text(
        "duplicate_header_names.csv",
        lines(
            "contact_id,opened_at,team,team,subject",
            "T1,2025-03-03 09:15,Billing,Care,first",
            "T2,2025-03-03 10:40,Billing,Care,second",
        ),
    )


def encodings() -> None:
    write_text("utf8_bom.csv", "\ufeff" + lines(CONTACTS_HEADER, *GOOD_CONTACTS))
    # What Excel writes as "Unicode Text": UTF-16 LE with a BOM, tab separated.
    tab = [r.replace(",", "\t") for r in (CONTACTS_HEADER, *GOOD_CONTACTS)]
    tab[1] = tab[1].replace("Cannot log in", "Café bill £12")
    write_bytes("utf16le_bom.csv", b"\xff\xfe" + lines(*tab, end="\r\n").encode("utf-16-le"))
    write_text(
        "windows1252.csv",
        lines(
            CONTACTS_HEADER,
            "T1,2025-03-03 09:15,open,normal,email,Billing,Zoë,Charged £49.99 twice",
            "T2,2025-03-03 10:40,open,normal,email,Billing,René,\u201cRefund\u201d for café visit \u2013 urgent",
        ),
        encoding="cp1252",
    )
    write_text(
        "latin1.csv",
        lines(
            CONTACTS_HEADER,
            "T1,2025-03-03 09:15,open,normal,email,Señales,José,Niño's account ¿locked?",
            "T2,2025-03-03 10:40,open,normal,email,Größe,Jürgen,Preis £5 ½ off",
        ),
        encoding="latin-1",
    )


def dates() -> None:
    write_text(
        "mixed_iso_and_uk_text_dates.csv",
        lines(
            "contact_id,opened_at,team",
            "T1,2025-03-03 09:15,Billing",
            "T2,14 Mar 2025 10:40,Billing",
            "T3,2025-03-20,Care",
        ),
    )
    write_text(
        "mixed_uk_and_us_dates.csv",
        lines(
            "contact_id,opened_at,team",
            "T1,25/03/2025 09:15,Billing",
            "T2,03/26/2025 10:40,Billing",
            "T3,27/03/2025 11:00,Care",
        ),
    )
    write_text(
        "ambiguous_dates.csv",
        lines(
            "contact_id,opened_at,team",
            "T1,03/04/2025 09:15,Billing",
            "T2,05/06/2025 10:40,Billing",
            "T3,07/08/2025 11:00,Care",
            "T4,12/11/2025 16:20,Care",
        ),
    )
    write_text(
        "impossible_dates.csv",
        lines(
            "Ref,Opened,Team",
            "A1,28/02/2025,Billing",
            "A2,31/02/2025,Billing",
            "A3,30/02/2024,Care",
            "A4,01/03/2025,Care",
        ),
    )
    write_text(
        "impossible_dates.toml",
        lines(
            'kind = "contacts"',
            'date_format = "%d/%m/%Y"',
            "[columns]",
            'contact_id = "Ref"',
            'opened_at = "Opened"',
            'team = "Team"',
        ),
    )
    write_text(
        "missing_opened_date.csv",
        lines(
            "contact_id,opened_at,team",
            "T1,2025-03-03 09:15,Billing",
            "T2,,Billing",
            "T3,2025-03-04 11:00,Care",
            "T4,   ,Care",
        ),
    )
    write_text(
        "resolution_before_opening.csv",
        lines(
            "contact_id,opened_at,resolved_at,status",
            "T1,2025-03-03 09:15,2025-03-03 12:00,resolved",
            "T2,2025-03-05 10:00,2025-03-04 10:00,resolved",
        ),
    )


def values() -> None:
    write_text(
        "out_of_range_scores.csv",
        lines(
            SURVEY_HEADER,
            "R1,2025-03-03 09:15,11,4,5,ok",
            "R2,2025-03-03 10:40,9,0,6,fine",
            "R3,2025-03-04 11:00,7,5,9,meh",
            "R4,2025-03-04 12:00,10,5,7,great",
        ),
    )
    write_text(
        "non_numeric_scores.csv",
        lines(
            SURVEY_HEADER,
            "R1,2025-03-03 09:15,ten,4,5,ok",
            "R2,2025-03-03 10:40,9,good,6,fine",
            "R3,2025-03-04 11:00,8,5,7,great",
        ),
    )
    write_text(
        "duplicate_ids.csv",
        lines(
            CONTACTS_HEADER,
            *GOOD_CONTACTS,
            "T2,2025-03-05 08:00,open,normal,email,Care,Dan,Same id again",
            "T2,2025-03-06 08:00,open,normal,email,Care,Dan,And again",
        ),
    )
    write_text(
        "missing_required_column.csv",
        lines("Ticket,Team,Subject", "1,Billing,Cannot log in", "2,Care,Refund"),
    )
    write_text(
        "missing_required_column.toml",
        lines(
            'kind = "contacts"',
            "[columns]",
            'contact_id = "Ticket"',
            'opened_at = "Created"',
            'team = "Team"',
        ),
    )
    write_text(
        "negative_durations.csv",
        lines(
            "contact_id,opened_at,wait_seconds,handle_seconds,first_response_seconds",
            "C1,2025-03-03 09:15,30,300,60",
            "C2,2025-03-03 09:20,-5,240,60",
            "C3,2025-03-03 09:25,12,-1:30,-60",
        ),
    )
    write_text(
        "huge_numbers.csv",
        lines(
            "contact_id,opened_at,agent_replies,first_response_seconds,handle_seconds",
            "C1,2025-03-03 09:15,3,60,300",
            "C2,2025-03-03 09:20,9999999999999999999999,9999999999999999999999,1e308",
        ),
    )
    write_text(
        "unknown_category_words.csv",
        lines(
            "contact_id,opened_at,status,priority,channel",
            "T1,2025-03-03 09:15,open,normal,email",
            "T2,2025-03-03 10:40,Escalated-ish,P1,carrier pigeon",
        ),
    )


def structure() -> None:
    write_bytes("empty.csv", b"")
    write_text("whitespace_only.csv", "  \n\t\n   \r\n\n")
    write_text("header_only.csv", lines(CONTACTS_HEADER))
    write_text(
        "ragged_rows.csv",
        lines(
            CONTACTS_HEADER,
            GOOD_CONTACTS[0],
            GOOD_CONTACTS[1] + ",extra,fields",
            "T3,2025-03-04 14:05,closed",
            "T4,2025-03-05 08:00,open,normal,email,Care,Cara,Fine row",
        ),
    )
    write_text(
        "quoted_newlines.csv",
        lines(
            "contact_id,opened_at,team,description",
            'T1,2025-03-03 09:15,Billing,"First line\nsecond line, with a comma\nthird; line | pipe"',
            'T2,2025-03-03 10:40,"Care, North","She said ""hello""\r\nthen left"',
            "T3,2025-03-04 11:00,Care,plain",
        ),
    )
    write_text(
        "huge_field.csv",
        lines(
            "contact_id,opened_at,team,description",
            "T1,2025-03-03 09:15,Billing,short",
            "T2,2025-03-03 10:40,Billing," + "All work and no play. " * 95_326,
            "T3,2025-03-04 11:00,Care,short",
        ),
    )
    # A stray quote before a CRLF line end stops DuckDB's CSV reader outright.
    write_bytes(
        "stray_quotes.csv",
        b"contact_id,opened_at,team,description\n"
        b'T1,2025-03-03 09:15,Billing,screen 5"\r\n'
        b'T2,2025-03-03 10:40,Care,said ""ok""\n'
        b"T3,2025-03-04 11:00,Care,fine\n",
    )
    write_text(
        "unterminated_quote.csv",
        lines(
            "contact_id,opened_at,team,description",
            "T1,2025-03-03 09:15,Billing,fine",
            'T2,2025-03-03 10:40,Care,"never closed',
            "T3,2025-03-04 11:00,Care,swallowed by the open quote",
        ),
    )
    write_text(
        "report_footer_line.csv",
        lines(
            "contact_id,opened_at,team",
            "T1,2025-03-03 09:15,Billing",
            "T2,2025-03-03 10:40,Care",
            "",
            "Reporting period 01/03/2025 - 31/03/2025",
        ),
    )


def chatwoot() -> None:
    write_text(
        "chatwoot_csat_reporting_period.csv",
        lines(
            "Agent Name,Rating,Feedback Comment,Contact Name,Contact Email Address,"
            "Contact Phone Number,Link to the conversation,Recorded date",
            "Asha Patel (asha@brightwater.example),5,Quick and kind,Jane Doe,jane.doe@example.com,"
            "+447700900123,https://app.chatwoot.com/app/accounts/1/conversations/101,"
            "2025-03-03 09:15:00",
            "Ben Ng (ben@brightwater.example),7,Out of scale,Sam Roe,sam.roe@example.com,"
            "+447700900124,https://app.chatwoot.com/app/accounts/1/conversations/102,"
            "2025-03-03 10:40:00",
            "Ben Ng (ben@brightwater.example),2,Slow; call me on 07700 900125,Kim Poe,"
            "kim.poe@example.com,,https://app.chatwoot.com/app/accounts/1/conversations/103,"
            "2025-03-04 11:00:00",
            "Reporting period 2025-03-01 to 2025-03-31",
        ),
    )


def not_text() -> None:
    rng = random.Random(20251125)
    data = bytes(rng.randrange(256) for _ in range(4096))
    write_bytes("binary_random.csv", b"\x00\x01" + data)
    png = (
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(200))
    )
    write_bytes("png_signature.csv", png)
    write_bytes("nul_bytes_only.csv", b"\x00" * 7)
    text = lines(*[r.replace(",", "\t") for r in (CONTACTS_HEADER, *GOOD_CONTACTS)])
    write_bytes("utf16_cut_short.csv", b"\xff\xfe" + text.encode("utf-16-le") + b"T")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    write_bytes("old_excel.xls", ole)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "this is a zip archive, not a workbook")
    write_bytes("zip_not_xlsx.xlsx", buffer.getvalue())


def injection() -> None:
    write_text(
        "formula_injection.csv",
        lines(
            "contact_id,opened_at,team,agent,subject,description",
            'T1,2025-03-03 09:15,=1+2,Asha,"=HYPERLINK(""http://evil.example/x"",""Click"")",+cmd|\' /C calc\'!A0',
            "T2,2025-03-03 10:40,Billing,@SUM(A1:A9),-2+3,=2*5",
            'T3,,Billing,Ben,"=HYPERLINK(""http://evil.example/q"",""Open"")",@evil',
            "T4,,-team,+agent,=cmd,-1",
            "@dup,2025-03-04 11:00,Care,Cara,first @dup,x",
            "@dup,2025-03-04 12:00,Care,Cara,second @dup,x",
        ),
    )
    write_text(
        "html_script.csv",
        lines(
            "contact_id,opened_at,team,subject,description",
            "T1,2025-03-03 09:15,<b>Billing</b>,<script>alert(1)</script>,"
            '"<img src=x onerror=""alert(2)""> and <a href=""javascript:alert(3)"">link</a>"',
            "T2,2025-03-03 10:40,Care,plain,</td></tr><tr><td>",
        ),
    )
    write_text(
        "personal_data_in_text.csv",
        lines(
            "contact_id,opened_at,customer_id,subject,description",
            "T1,2025-03-03 09:15,jane.doe@example.com,Call me on 07700 900123,"
            "Email jane.doe@example.com or ring +44 20 7946 0958",
            "T2,2025-03-03 10:40,CUST-778812,Card 4111 1111 1111 1111 charged twice,"
            "Used card 5500-0000-0000-0004; reply to b.smith+help@example.co.uk",
            "T3,2025-03-04 11:00,jane.doe@example.com,order 1234 late,"
            "Order 1234 for 2 items; mobile (07700) 900456",
            "T4,,CUST-999001,Missing date: contact m.jones@example.org,or 07700 900789 please",
        ),
    )
    # Malformed lines are quarantined whole; the columns the layout drops must not ride along.
    write_text(
        "malformed_lines_with_personal_data.csv",
        lines(
            "contact_id,opened_at,customer_id,customer_name,team",
            "T1,2025-03-03 09:15,CUST-4455667,Jane Doe,Billing",
            "T2,2025-03-03 10:40,CUST-4455668,Ravi Shah,Care,stray extra field",
            "T3,2025-03-04 11:00,CUST-4455669,Olu Ade",
            "T4,2025-03-04 12:00,CUST-4455670,Mia Wong,Care",
        ),
    )


def workbooks() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Calls"
    sheet.append(["contact_id", "opened_at", "team", "handle_seconds"])
    sheet.append(["C1", dt.datetime(2025, 3, 3, 9, 15), "Billing", 300])
    sheet.append(["C2", "25/03/2025 10:40", "Billing", "0:04:00"])
    sheet.append(["C3", dt.datetime(2025, 3, 26, 14, 5), "Care", dt.time(0, 5, 30)])
    sheet.append(["C4", "27/03/2025 16:20", "Care", 95])
    _save(book, "xlsx_mixed_text_and_date_cells.xlsx")

    book = Workbook()
    book.active.title = "Cover"
    data = book.create_sheet("Contacts")
    data.append(["contact_id", "opened_at", "team"])
    data.append(["C1", dt.datetime(2025, 3, 3, 9, 15), "Billing"])
    data.append(["C2", dt.datetime(2025, 3, 4, 10, 0), "Care"])
    _save(book, "xlsx_empty_first_sheet.xlsx")

    book = Workbook()
    book.active.title = "Sheet1"
    book.create_sheet("Sheet2")
    _save(book, "xlsx_all_sheets_empty.xlsx")


def hostile_reading() -> None:
    """Issue 14: records, encodings, workbooks, devices (files.py)."""
    # Big cases (10,000 rows behind an open quote, 200k malformed lines, a 1 MB header, a
    # shared-strings bomb, /dev/zero and FIFOs) are generated by tests/kpi/ingest/test_reading_limits.py.
    write_text(
        "unterminated_quote_mid_file.csv",
        lines(
            "contact_id,opened_at,team,description",
            "T1,2025-03-03 09:15,Billing,fine",
            'T2,2025-03-03 10:40,Care,"oops',
            "T3,2025-03-04 11:00,Care,read on its own",
            'T4,2025-03-04 12:00,Care,"Smith, Jo"',
            "T5,2025-03-05 08:00,Billing,last",
        ),
    )
    cafe = "T1,2025-03-03 09:15,Billing,Café crème for Zoë\n".encode()
    rest = "T2,2025-03-03 10:40,Care,Résumé sent\n".encode()
    write_bytes(
        "utf8_invalid_byte_at_end.csv",
        b"contact_id,opened_at,team,description\n"
        + cafe
        + rest
        + b"T3,2025-03-04 11:00,Care,cut short \xc3",
    )
    write_bytes(
        "utf8_invalid_byte_in_one_line.csv",
        b"contact_id,opened_at,team,description\n"
        + cafe
        + b"T2,2025-03-03 10:40,Care,na\xefve \xe9t\xe9\n"
        + rest.replace(b"T2", b"T3"),
    )
    write_bytes(
        "mixed_line_endings.csv",
        b"contact_id,opened_at,team,description\r\n"
        b"T1,2025-03-03 09:15,Billing,windows line\r\n"
        b"T2,2025-03-03 10:40,Care,unix line\n"
        b'T3,2025-03-04 11:00,Care,"quoted\r\nbreak"\n',
    )
    write_text(
        "redos_ignore_lines.csv",
        lines(
            "contact_id,opened_at,team",
            "T1,2025-03-03 09:15,Billing",
            "T2,2025-03-03 10:40,Care",
            "x" * 40,
        ),
    )
    write_text(
        "redos_ignore_lines.toml",
        lines(
            "# A catastrophic-backtracking pattern: linear in RE2, hours in Python's re.",
            'kind = "contacts"',
            'ignore_lines = "(x+x+)+y"',
            "[columns]",
            'contact_id = "contact_id"',
            'opened_at = "opened_at"',
            'team = "team"',
        ),
    )
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Cover"
    calls = book.create_sheet("Calls")
    calls.append(["contact_id", "opened_at", "team"])
    calls.append(["C1", dt.datetime(2025, 3, 3, 9, 15), "Billing"])
    _save(book, "xlsx_sheet_missing.xlsx")
    write_text(
        "xlsx_sheet_missing.toml",
        lines(
            "# The workbook's sheet is 'Calls'.",
            'kind = "contacts"',
            'sheet = "Callz"',
            "[columns]",
            'contact_id = "contact_id"',
            'opened_at = "opened_at"',
            'team = "team"',
        ),
    )
    book = Workbook()
    sheet = book.active
    sheet.append(["contact_id", "opened_at", "team"])
    sheet.append(["C1", "2025-03-03 09:15", "Billing"])
    sheet["XFD1048576"] = "far away"
    _save(book, "xlsx_cell_at_xfd1048576.xlsx")
    write_text(
        "unterminated_quote_closed_by_later_quote.csv",
        lines(
            "contact_id,opened_at,team,description",
            "T1,2025-03-03 09:15,Billing,fine",
            'T2,2025-03-03 10:40,Care,"oops',
            "T3,2025-03-04 11:00,Care,read on its own",
            "T4,2025-03-04 11:30,Care,also a row",
            'T5,2025-03-04 12:00,Billing,screen 12"',
            "T6,2025-03-05 08:00,Billing,last",
        ),
    )
    write_bytes(
        "utf8_mixed_with_latin1_on_most_lines.csv",
        b"contact_id,opened_at,team,description\n"
        + cafe
        + "".join(f"T{i},2025-03-0{i} 09:00,Care,caf\xe9 {i}\n" for i in (2, 3, 4)).encode(
            "latin-1"
        ),
    )
    write_bytes(
        "empty_crlf_line_among_lf_lines.csv",
        b"contact_id,opened_at,team\n"
        b"T1,2025-03-03 09:15,Billing\n"
        b"\r\n"
        b"T2,2025-03-03 10:40,Care\n"
        b"T3,2025-03-04 11:00,Care\n",
    )
    book = Workbook()
    sheet = book.active
    sheet.append(["contact_id", "opened_at", "team"])
    for i in range(1, 31):
        sheet.append([f"C{i}", f"2025-03-03 09:{i:02d}", "Billing"])
    _save(book, "xlsx_dimension_understated.xlsx")
    _rewrite_part(
        "xlsx_dimension_understated.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b'<dimension ref="A1:C31"/>', b'<dimension ref="A1:C2"/>'),
    )


def _rewrite_part(name: str, part: str, change) -> None:
    """Edit one part of a saved workbook in place, keeping every entry's zip metadata (so
    rebuilding gives the same bytes)."""
    import zipfile

    with zipfile.ZipFile(HERE / name) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(HERE / name, "w") as archive:
        for info, data in entries:
            new = change(data) if info.filename == part else data
            assert info.filename != part or new != data, f"{part} of {name} did not change"
            archive.writestr(info, new)


def hostile_mappings() -> None:
    """Issue 14: mapping files checked against their schema (layouts.py)."""
    # Each file would import (the CSV is fine); its mapping has one mistake that used to import
    # wrong data without a word, or end in "unexpected TypeError/ValueError".
    contacts = lines(
        "Ref,Opened,Team,Agent,Tags",
        "N1,03/03/2025 09:15,Nashville,Asha (asha@example.com),complaint",
        "N2,03/03/2025 10:40,NA,Ben (ben@example.com),",
        "N3,04/03/2025 14:05,Austin,Cara (cara@example.com),escalated",
    )
    header = ['kind = "contacts"', 'date_format = "%d/%m/%Y %H:%M"']
    columns = ["[columns]", 'contact_id = "Ref"', 'opened_at = "Opened"', 'team = "Team"']
    survey = lines(
        "Id,Answered,Effort,Satisfaction",
        "R1,2025-03-03,2,Good",
        "R2,2025-03-04,6,Bad",
    )
    survey_head = ['kind = "responses"', "[columns]", 'response_id = "Id"']
    cases = {
        # A string where a list belongs: every N or A cell of the file became empty.
        "mapping_null_values_as_string": (contacts, [*header, 'null_values = "NA"', *columns]),
        # Likewise read letter by letter: Y and A were both "true".
        "mapping_true_values_as_string": (
            contacts,
            [*header, *columns, 'complaint = { column = "Tags", true_values = "YA" }'],
        ),
        # A misspelt direction was read as high-is-good: every effort score reversed.
        "mapping_direction_typo": (
            survey,
            [*survey_head, "[scores.ces]", 'column = "Effort"', 'direction = "low_is_eassy"'],
        ),
        # A pattern with no group extracted nothing: every agent empty.
        "mapping_extract_without_group": (
            contacts,
            [*header, *columns, 'agent = { column = "Agent", extract = "^[^(]*" }'],
        ),
        # RE2 has no backreferences (and so runs in linear time).
        "mapping_extract_backreference": (
            contacts,
            [*header, *columns, 'agent = { column = "Agent", extract = "^(\\\\w)\\\\1" }'],
        ),
        # The answer words in order: used to end in "unexpected ValueError".
        "mapping_scale_as_words": (
            survey,
            [*survey_head, "[scores.csat]", 'column = "Satisfaction"', 'scale = ["Bad", "Good"]'],
        ),
        # A number where a word belongs: used to end in "unexpected TypeError".
        "mapping_contains_a_number": (
            contacts,
            [*header, *columns, 'complaint = { column = "Tags", contains = 5 }'],
        ),
        # [columns] written as one value: used to end in "unexpected TypeError".
        "mapping_columns_not_a_table": (contacts, [*header, 'columns = "Ref"']),
        # Three mistakes: the first is named and the others counted.
        "mapping_several_mistakes": (
            contacts,
            ['kind = "contact"', 'timezone = "Europe/Londn"', "null_values = 0", *columns],
        ),
    }
    for name, (csv_text, toml_lines) in cases.items():
        write_text(f"{name}.csv", csv_text)
        write_text(f"{name}.toml", lines(*toml_lines))


def hostile_values() -> None:
    """Issue 14: non-finite numbers, impossible dates, durations, names (parsing, checking)."""
    write_text(
        "non_finite_scores.csv",
        lines(
            SURVEY_HEADER,
            "R1,2025-03-03 09:15,NaN,4,5,ok",
            "R2,2025-03-03 10:40,9,nan,-Infinity,fine",
            "R3,2025-03-04 11:00,1e400,inf,6,meh",
            "R4,2025-03-04 12:00,10,5,7,great",
            "R5,2025-03-04 13:00,3,2,2,poor",
        ),
    )
    write_text(
        "non_finite_durations_and_counts.csv",
        lines(
            "contact_id,opened_at,wait_seconds,handle_seconds,agent_replies,reopens",
            "C1,2025-03-03 09:15,30,300,2,0",
            "C2,2025-03-03 09:20,nan,Infinity,NaN,-inf",
            "C3,2025-03-03 09:25,1e400,-Infinity,inf,1",
        ),
    )
    write_text(
        "clock_durations_out_of_range.csv",
        lines(
            "contact_id,opened_at,wait_seconds,handle_seconds,first_response_seconds",
            "C1,2025-03-03 09:15,0:45,12:34,1:02:03",
            "C2,2025-03-03 09:20,99:99,1:99:99,0:60",
            "C3,2025-03-03 09:25,0:59:59,1:60:00,2:00",
        ),
    )
    write_text(
        "dates_in_the_future.csv",
        lines(
            "contact_id,opened_at,first_response_at,resolved_at,closed_at,status",
            "T1,2025-03-03 09:15,2025-03-03 09:30,2025-03-03 12:00,2025-03-04 09:00,closed",
            "T2,2099-01-01 10:00,2099-01-01 10:30,,,open",
            "T3,2025-03-03 11:00,2025-03-03 11:20,2099-03-03 12:00,,resolved",
            "T4,2025-03-04 09:00,,,2099-12-31 23:59,closed",
            "T5,2025-03-04 10:00,,,,open",
        ),
    )
    write_text(
        "dates_before_1990.csv",
        lines(
            "contact_id,opened_at,first_response_at,status",
            "T1,2025-03-03 09:15,2025-03-03 09:30,open",
            "T2,1970-01-01 00:00,,open",
            "T3,2025-03-03 11:00,1900-01-01 00:00,open",
            "T4,1989-12-31 23:59,1990-01-01 00:30,open",
            "T5,1990-01-02 09:00,1990-01-02 09:05,open",
        ),
    )
    variants = ("Asha", "Asha\u200b", "\u202aAsha\u202c", "\uff21\uff53\uff48\uff41", "Asha\u00a0")
    write_text(
        "invisible_name_variants.csv",
        lines(
            "contact_id,opened_at,status,team,agent,category,subject",
            *(
                f"T{i},2025-03-03 09:{10 + i},{status},{team},{agent},Billing{sep}query,"
                f"Hello{sep}there"
                for i, (agent, status, team, sep) in enumerate(
                    zip(
                        variants,
                        ("open", "Open\u200b", "\ufeffopen", "\uff2f\uff50\uff45\uff4e", "open"),
                        ("Care", "Care\u00ad", "Care", "Care", "Care"),
                        (" ", "\u00a0", "  ", "\u2009", "\t"),
                        strict=True,
                    ),
                    start=1,
                )
            ),
        ),
    )


def hostile_reimports() -> None:
    """Issue 14: older re-imports and missing columns (store.batches, loading), and personal
    data typed into the wrong columns (what the quarantine and warnings may keep)."""
    header = "contact_id,opened_at,resolved_at,closed_at,status,team,agent,updated_at"
    # The same three tickets on Friday (newer) and on Tuesday (older): imported in that order,
    # the older rows must be kept out. T3 was reassigned without another timestamp: only
    # updated_at says which version is newer.
    write_text(
        "reimport_newer_snapshot.csv",
        lines(
            header,
            "T1,2025-03-03 09:15,2025-03-03 15:00,,resolved,Billing,Asha,2025-03-03 15:00",
            "T2,2025-03-03 10:40,2025-03-04 09:00,2025-03-06 09:00,closed,Care,Ben,2025-03-06 09:00",
            "T3,2025-03-04 14:05,,,open,Care,Cara,2025-03-05 11:00",
        ),
    )
    write_text(
        "reimport_older_snapshot.csv",
        lines(
            header,
            "T1,2025-03-03 09:15,,,open,Billing,,2025-03-03 09:15",
            "T2,2025-03-03 10:40,2025-03-04 09:00,,resolved,Care,Ben,2025-03-04 09:00",
            "T3,2025-03-04 14:05,,,open,Billing,Cara,2025-03-04 14:05",
        ),
    )
    # A later export whose columns were chosen without team: team must stay as stored.
    write_text(
        "reimport_without_team_column.csv",
        lines(
            "contact_id,opened_at,resolved_at,closed_at,status,agent,updated_at",
            "T1,2025-03-03 09:15,2025-03-03 15:00,2025-03-07 10:00,closed,Asha,2025-03-07 10:00",
            "T2,2025-03-03 10:40,2025-03-04 09:00,2025-03-06 09:00,closed,Ben,2025-03-06 09:00",
            "T3,2025-03-04 14:05,2025-03-07 12:00,,resolved,Cara,2025-03-07 12:00",
        ),
    )
    # The Tuesday snapshot again, from a report without updated_at: T3's reassignment back to
    # Billing has no timestamp of its own, but the export is as of Tuesday 14:05 and the newer
    # one of Thursday, so it is older all the same.
    write_text(
        "reimport_older_without_updated_at.csv",
        lines(
            "contact_id,opened_at,resolved_at,closed_at,status,team,agent",
            "T1,2025-03-03 09:15,,,open,Billing,",
            "T2,2025-03-03 10:40,2025-03-04 09:00,,resolved,Care,Ben",
            "T3,2025-03-04 14:05,,,open,Billing,Cara",
        ),
    )
    # A later export without updated_at in which T1 was reopened (its resolution cleared):
    # T1's own timestamps look older than the stored resolution, but T3's resolution on Friday
    # makes the export later than the stored one, so the reopening applies.
    write_text(
        "reimport_reopened_without_updated_at.csv",
        lines(
            "contact_id,opened_at,resolved_at,closed_at,status,team,agent",
            "T1,2025-03-03 09:15,,,open,Billing,Asha",
            "T2,2025-03-03 10:40,2025-03-04 09:00,2025-03-06 09:00,closed,Care,Ben",
            "T3,2025-03-04 14:05,2025-03-07 12:00,,resolved,Care,Cara",
        ),
    )
    # An email in a required date column (quarantined), an email in another date column, a
    # phone number in a duration and a card number in a score (emptied with warnings).
    write_text(
        "personal_data_in_wrong_columns.csv",
        lines(
            "Ref,Opened,Resolved,Wait,Customer,CSAT",
            "T1,jane.doe@example.com,2025-03-03 12:00,30,C-1001,4",
            "T2,2025-03-03 10:40,bob.smith@example.org,45,C-1002,5",
            "T3,2025-03-03 11:00,2025-03-03 13:00,07700 900456,C-1003,4",
            "T4,2025-03-03 11:30,2025-03-03 14:00,60,C-1004,4111 1111 1111 1111",
        ),
    )
    write_text(
        "personal_data_in_wrong_columns.toml",
        lines(
            'kind = "contacts"',
            'date_format = "%Y-%m-%d %H:%M"',
            "[columns]",
            'contact_id = "Ref"',
            'opened_at = "Opened"',
            'resolved_at = "Resolved"',
            'wait_seconds = "Wait"',
            'customer_id = "Customer"',
            "[scores.csat]",
            'column = "CSAT"',
            "scale = [1, 5]",
        ),
    )


def no_silent_guess() -> None:
    """Issue 9: dates in two formats, dates and times in two workbook columns, a stray carriage
    return, unbalanced quotes, repeated ids whose dates differ, a mapping that sets every row
    aside, a scale written as words, answers without a date (parsing, files, records,
    checking, importer)."""
    header = "contact_id,opened_at,team"
    # Text typed day-first beside dates a spreadsheet rewrote as m/d/yyyy: 4/8/2015 is either.
    write_text(
        "two_date_formats_one_unproved.csv",
        lines(
            header,
            "T1,22-04-2015 09:00,Care",
            "T2,4/8/2015 10:00,Care",
            "T3,23-04-2015 11:00,Care",
            "T4,5/9/2015 12:00,Care",
            "T5,6/10/2015 13:00,Care",
        ),
    )
    # Each shape proves its own order: 22-04-2015 is day-first, 4/18/2015 month-first.
    write_text(
        "two_date_formats_each_proved.csv",
        lines(
            header,
            "T1,22-04-2015 09:00,Care",
            "T2,4/18/2015 10:00,Care",
            "T3,23-04-2015 11:00,Care",
            "T4,5/19/2015 12:00,Care",
        ),
    )
    # The first file with the formats given as a list, tried in order.
    write_text(
        "two_date_formats_given_as_a_list.csv",
        lines(
            header,
            "T1,22-04-2015 09:00,Care",
            "T2,4/8/2015 10:00,Care",
            "T3,23-04-2015 11:00,Care",
        ),
    )
    write_text(
        "two_date_formats_given_as_a_list.toml",
        lines(
            'kind = "contacts"',
            'date_format = ["%d-%m-%Y %H:%M", "%m/%d/%Y %H:%M"]',
            "[columns]",
            'contact_id = "contact_id"',
            'opened_at = "opened_at"',
            'team = "team"',
        ),
    )
    # A month written as a word proves day-first only for itself: 4/8/2015 is still either.
    write_text(
        "two_date_formats_month_word.csv",
        lines(
            header,
            "T1,22 Apr 2015 09:00,Care",
            "T2,4/8/2015 10:00,Care",
            "T3,23 Apr 2015 11:00,Care",
            "T4,5/9/2015 12:00,Care",
        ),
    )
    # Each shape with and without a time, one joined by a T: the hint must cover every way.
    write_text(
        "two_date_formats_with_and_without_time.csv",
        lines(
            header,
            "T1,22-04-2015T09:00,Care",
            "T2,22-04-2015,Care",
            "T3,4/8/2015 10:00,Care",
            "T4,4/8/2015,Care",
        ),
    )
    write_text(
        "iso_slash_dates_with_milliseconds.csv",
        lines(header, "T1,2015/04/22 09:00:01.123,Care", "T2,2015/04/23 17:30:00.500,Care"),
    )
    # A bare CR inside an unquoted field of an LF file: a reader splits the line in two.
    write_text(
        "carriage_return_in_unquoted_field.csv",
        lines(
            "contact_id,opened_at,team,subject",
            "T1,2025-03-03 09:15,Care,Cannot log in",
            "T2,2025-03-03 10:40,Care,Refund\rrequest",
            "T3,2025-03-04 14:05,Care,Change of address",
        ),
    )
    write_text(
        "unbalanced_quote_text_after_closing.csv",
        lines(
            "contact_id,opened_at,team,subject",
            "T1,2025-03-03 09:15,Care,Cannot log in",
            'T2,2025-03-03 10:40,Care,"Refund" requested',
            "T3,2025-03-04 14:05,Care,Change of address",
            "T4,2025-03-04 15:00,Care,Password reset",
        ),
    )
    # An event log with keep_last but no ordering column: the file's last row is a guess.
    write_text(
        "repeated_ids_with_different_dates.csv",
        lines(
            "Case,Time,Team",
            "C1,2025-03-03 09:00,Care",
            "C1,2025-03-05 10:00,Care",
            "C2,2025-03-03 09:30,Care",
            "C2,2025-03-03 09:30,Billing",
            "C3,2025-03-04 11:00,Care",
            "C3,2025-03-04 09:00,Care",
        ),
    )
    write_text(
        "repeated_ids_with_different_dates.toml",
        lines(
            'kind = "contacts"',
            'duplicates = "keep_last"',
            "[columns]",
            'contact_id = "Case"',
            'opened_at = "Time"',
            'team = "Team"',
        ),
    )
    # The mapping's date_format reads none of the dates: every row would be quarantined.
    write_text(
        "every_row_set_aside_by_date_format.csv",
        lines(
            header,
            "T1,22-04-2015 09:00,Care",
            "T2,23-04-2015 10:00,Care",
            "T3,24-04-2015 11:00,Care",
        ),
    )
    write_text(
        "every_row_set_aside_by_date_format.toml",
        lines(
            'kind = "contacts"',
            'date_format = "%d/%m/%Y %H:%M"',
            "[columns]",
            'contact_id = "contact_id"',
            'opened_at = "opened_at"',
            'team = "team"',
        ),
    )
    write_text(
        "answers_without_a_date.csv",
        lines(SURVEY_HEADER, "R1,2025-03-03 09:15,9,4,2,ok", "R2,,10,5,1,great", "R3,,3,2,6,slow"),
    )
    _date_and_time_workbook()


def _date_and_time_workbook() -> None:
    """Date cells (midnight, a date-only format) beside time cells: joined as one opened_at."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Calls"
    sheet.append(["Ref", "Date", "Time", "Team"])
    sheet.append(["A1", dt.datetime(2021, 1, 1), dt.time(9, 12, 58), "Care"])
    sheet.append(["A2", dt.datetime(2021, 6, 2), dt.time(17, 5, 0), "Billing"])
    for row in (2, 3):
        sheet.cell(row, 2).number_format = "dd/mm/yyyy"
    _save(book, "xlsx_date_and_time_columns.xlsx")
    write_text(
        "xlsx_date_and_time_columns.toml",
        lines(
            'kind = "contacts"',
            "[columns]",
            'contact_id = "Ref"',
            'opened_at = ["Date", "Time"]',
            'team = "Team"',
        ),
    )


def _save(book, name: str) -> None:
    """A workbook with fixed timestamps, so rebuilding gives the same bytes."""
    fixed = dt.datetime(2025, 1, 1)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.save(HERE / name)


def main() -> None:
    delimiters()
    encodings()
    dates()
    values()
    structure()
    chatwoot()
    not_text()
    injection()
    workbooks()
    hostile_reading()
    hostile_mappings()
    hostile_values()
    hostile_reimports()
    no_silent_guess()


if __name__ == "__main__":
    main()
