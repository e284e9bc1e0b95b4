"""The independent count of a CSV file's records (kpi.ingest.records)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.ingest.records import scan_records


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
