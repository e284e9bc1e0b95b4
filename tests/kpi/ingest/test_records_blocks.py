"""Counting a file's records a block at a time finds what counting it line by line finds
(kpi.ingest.records: the fast path of ``scan_records`` for files whose lines end in LF)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.ingest import records

PLAIN = "".join(f"{i},x,y\n" for i in range(1, 40))
TEXTS = {
    "plain": "a,b,c\n" + PLAIN,
    "empty-lines": "a,b,c\n" + PLAIN.replace("5,x,y\n", "5,x,y\n\n\n") + "\n",
    "crlf": "a,b,c\r\n" + PLAIN.replace("\n", "\r\n") + "\r\n",
    "mixed-ends": "a,b,c\n" + PLAIN + "7,x,y\r\n8,x,y\n",
    "stray-cr": "a,b,c\n" + PLAIN + "7,x\r,y\n" + PLAIN,
    "quoted-newlines": "a,b,c\n" + PLAIN + '7,x,"a\nb\n\nc"\n' + PLAIN,
    "unterminated": "a,b,c\n" + PLAIN + '7,x,"oops\n' + PLAIN,
    "not-utf8": "a,b,c\n" + PLAIN + "7,x,\xff\n" + PLAIN,
    "utf8": "a,b,c\n" + PLAIN + "7,x,Zoë\n" + PLAIN,
    "no-final-line-end": "a,b,c\n" + PLAIN + "7,x,y",
    "long-line": "a,b,c\n" + PLAIN + "7,x," + "y" * 300 + "\n" + PLAIN,
}


def scanned(path: Path, check_utf8: bool) -> tuple:
    scan = records.scan_records(path, ",", check_utf8=check_utf8)
    return _summary(scan)


def line_by_line(path: Path, check_utf8: bool, monkeypatch) -> tuple:
    """The scan with every line fed on its own (the reader before blocks)."""
    with monkeypatch.context() as m:
        m.setattr(records, "_pieces", records.physical_lines)
        return scanned(path, check_utf8)


def _summary(scan: records.Scan) -> tuple:
    aside = [(a.line, a.lines, a.reason, a.raw) for a in scan.set_aside]
    return scan.records, aside, scan.quoted_line_ends, scan.line_ends, scan.width


@pytest.mark.parametrize("name", list(TEXTS))
@pytest.mark.parametrize("check_utf8", [True, False])
def test_blocks_of_any_size_count_what_lines_do(tmp_path, monkeypatch, name, check_utf8):
    path = tmp_path / "export.csv"
    data = TEXTS[name]
    path.write_bytes(data.encode("utf-8") if name == "utf8" else data.encode("latin-1"))
    by_line = line_by_line(path, check_utf8, monkeypatch)
    for size in (1, 2, 5, 16, 64, 200):
        monkeypatch.setattr(records, "BLOCK_CHARS", size)
        assert scanned(path, check_utf8) == by_line, size


def test_a_line_longer_than_the_limit_is_set_aside_whatever_the_block(tmp_path, monkeypatch):
    path = tmp_path / "export.csv"
    path.write_bytes(("a,b,c\n" + PLAIN + "7,x," + "y" * 300 + "\n" + PLAIN).encode())
    monkeypatch.setattr(records, "MAX_LINE_BYTES", 100)
    by_line = line_by_line(path, True, monkeypatch)
    assert [aside[0] for aside in by_line[1]] == [41]
    for size in (1, 16, 64, 1000):
        monkeypatch.setattr(records, "BLOCK_CHARS", size)
        assert scanned(path, True) == by_line, size
