"""The independent count of a CSV file's records (kpi.ingest.records)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.ingest.records import (
    MAX_QUOTED_LINES,
    newline_of,
    scan_records,
    stray_carriage_return,
)


def write(folder: Path, data: bytes) -> Path:
    path = folder / "export.csv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("text", "records", "set_aside"),
    [
        ("a,b\n1,2\n\n3,4\n", 2, []),  # empty lines are not records (DuckDB skips them too)
        ('a,b\n1,"x\n\ny"\n3,4\n', 2, []),  # a properly quoted field spans lines
        ('a,b\n1,"oops\n3,4\n5,6\n', 3, [2]),  # never closes: line 2 aside, the rest are rows
        ('a,b\n1,"oops\n3,4\n5,"Smith, J"\n', 3, [2]),  # a later quote does not close it
        ('a,b\n1,"x\ny"z\n3,4\n', 3, [2]),  # closes improperly after spanning a line
        ('a,b\n1,"ab"c\n3,4\n', 2, []),  # improper on one line: the reader rejects that line
        ('a,b\r1,"x\ry"\r3,4\r', 2, []),  # classic-Mac line ends
    ],
    ids=["blank", "quoted-newlines", "unterminated", "later-quote", "improper", "one-line", "cr"],
)
def test_records_are_counted_line_by_line_apart_from_the_reader(tmp_path, text, records, set_aside):
    scan = scan_records(write(tmp_path, text.encode()), ",", check_utf8=False)
    assert scan.records == records
    assert [a.line for a in scan.set_aside] == set_aside


ROWS = "".join(f"T{i},x,y\n" for i in range(3, 7))  # four whole records of the header's width


@pytest.mark.parametrize(
    ("text", "records", "set_aside"),
    [
        # An unterminated quote that a later field ending in a quote closes at a line end.
        ('a,b,c\n1,x,"oops\n' + ROWS + 'T7,x,screen 12"\n8,x,y\n', 7, [2]),
        # A note whose lines hold commas, but not the header's number of fields each.
        ('a,b,c\n1,x,"Called back:\nbilling, refund, address\nfixed, thanks"\n2,x,y\n', 2, []),
        # A note with one line that could be a record: two are needed to judge it.
        ('a,b,c\n1,x,"Address:\n1 Main St, Springfield, IL"\n2,x,y\n', 2, []),
        # Too few columns to tell a line of prose from a record: a quote closing is believed.
        ('a,b\n1,"oops\n3,4\n5,6"\n7,8\n', 2, []),
    ],
    ids=["closed-by-chance", "note-with-commas", "one-record-like-line", "two-columns"],
)
def test_a_quote_closing_after_whole_records_is_an_unterminated_quote(
    tmp_path, text, records, set_aside
):
    scan = scan_records(write(tmp_path, text.encode()), ",", check_utf8=False)
    assert (scan.records, [a.line for a in scan.set_aside]) == (records, set_aside)


def test_a_quoted_field_spanning_more_than_the_line_cap_is_set_aside(tmp_path):
    # Lines of one field each (not records of the header's width): only the cap catches it.
    inner = "".join(f"line {i}\n" for i in range(MAX_QUOTED_LINES + 5))
    text = f'a,b,c\n1,x,"long\n{inner}end"\n2,x,y\n'
    scan = scan_records(write(tmp_path, text.encode()), ",", check_utf8=False)
    assert [a.line for a in scan.set_aside] == [2]
    assert scan.records == 1 + len(inner.splitlines()) + 2  # the lines after it are rows
    short = "".join(f"line {i}\n" for i in range(900))
    under = f'a,b,c\n1,x,"long\n{short}end"\n2,x,y\n'
    assert scan_records(write(tmp_path, under.encode()), ",", check_utf8=False).set_aside == []


def test_an_empty_crlf_line_among_lf_lines_is_a_mix_of_line_ends(tmp_path):
    # DuckDB's reader stops on it ("state machine reached an invalid state"), so it is a mix.
    scan = scan_records(write(tmp_path, b"a,b\n1,2\n\r\n3,4\n"), ",", check_utf8=False)
    assert (scan.records, scan.mixed_line_ends) == (2, True)


@pytest.mark.parametrize(
    ("text", "records", "set_aside"),
    [
        ("a,b\n1,x\ry\n3,4\n", 2, [2]),  # a CR in an unquoted field of an LF file
        ("a,b\r\n1,x\ry\r\n3,4\r\n", 2, [2]),  # ... of a CRLF file
        ("a,b\n1,x\r,y\n3,4\n", 2, [2]),  # ... at the end of a field
        ('a,b\n1,"x\ry"\n3,4\n', 2, []),  # quoted: a character of the field
        ('a,b\n1,"x\n\ry"\n3,4\n', 2, []),  # quoted across lines
        ("a,b\r1,x\r3,4\r", 2, []),  # a CR-only file: CR is its line end
        ("a,b\n1,x\r\n3,4\n", 2, []),  # one CRLF line end among LF ones is a line end
    ],
    ids=["lf", "crlf", "end-of-field", "quoted", "quoted-lines", "cr-file", "one-crlf"],
)
def test_a_stray_carriage_return_sets_aside_its_line_with_the_cause(
    tmp_path, text, records, set_aside
):
    scan = scan_records(write(tmp_path, text.encode()), ",", check_utf8=False)
    assert scan.records == records
    assert [a.line for a in scan.set_aside] == set_aside
    for aside in scan.set_aside:
        assert aside.reason == (
            f"line {aside.line}: a carriage return (CR) inside an unquoted field splits the "
            "line; remove it from the field or quote the field"
        )


@pytest.mark.parametrize(
    ("text", "stray"),
    [("1,x\ry\n", True), ("1,x\r\n", False), ('1,"x\ry"\n', False), ('1,"a""\r"\n', False),
     ('1, "x\ry"\n', False), ('1,x"\ry"\n', True)],
)  # fmt: skip
def test_a_stray_carriage_return_is_one_outside_quoted_fields(text, stray):
    assert stray_carriage_return(text, ",") is stray


@pytest.mark.parametrize(
    ("data", "newline"), [(b"a\nb\r\n", "\n"), (b"a\r\nb\n", "\n"), (b"a\rb\r", ""), (b"ab", "\n")]
)
def test_a_file_ends_its_lines_as_its_first_line_does(tmp_path, data, newline):
    assert newline_of(write(tmp_path, data)) == newline
