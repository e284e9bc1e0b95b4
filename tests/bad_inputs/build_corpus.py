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
    # (section filled in by its owner)


def hostile_mappings() -> None:
    """Issue 14: mapping files checked against their schema (layouts.py)."""
    # (section filled in by its owner)


def hostile_values() -> None:
    """Issue 14: non-finite numbers, impossible dates, durations, names (parsing, checking)."""
    # (section filled in by its owner)


def hostile_reimports() -> None:
    """Issue 14: older re-imports and missing columns (store.batches, loading)."""
    # (section filled in by its owner)


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


if __name__ == "__main__":
    main()
