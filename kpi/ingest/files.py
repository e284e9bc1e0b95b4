"""Reading an export file (CSV or XLSX) into a DuckDB table of text columns.

Encodings and delimiters are decided here, explicitly: DuckDB's sniffer silently misreads some
real files (a wrong delimiter or encoding, with no error; ARCHITECTURE.md, Known pitfalls), so it
is given a decided dialect and never guesses.
Every physical row ends up either as a row of the raw table or as a rejected line with a reason.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from kpi.errors import ImportProblem
from kpi.ingest.limits import ImportLimits

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 256 * 1024
MAX_LINE_BYTES = 32 * 1024 * 1024


@dataclass
class RejectedLine:
    line: int  # physical line in the file, header = line 1
    reason: str
    raw: str
    row_number: int = 0  # position among data rows, set once all rejects are known


@dataclass
class RawTable:
    """A file read into DuckDB: ``table`` has text columns c0..cN plus ``_row`` (1-based)."""

    table: str
    headers: list[str]
    encoding: str
    delimiter: str | None
    rejected: list[RejectedLine] = field(default_factory=list)
    skipped_lines: int = 0

    @property
    def rows_read(self) -> int:
        return self._rows + len(self.rejected)

    def skip_lines_matching(self, pattern: str | None) -> None:
        """Drop rejected lines that are a layout's known non-data lines (report footers)."""
        if not pattern:
            return
        regex = re.compile(pattern)
        kept = [r for r in self.rejected if not regex.search(r.raw)]
        self.skipped_lines += len(self.rejected) - len(kept)
        self.rejected = kept

    def number_rows(self, con: duckdb.DuckDBPyConnection) -> None:
        """Interleave rejected lines with accepted rows, so row numbers follow the file."""
        _renumber(con, self.table, self.rejected)

    _rows: int = 0


def _display(path: Path | str) -> str:
    return Path(path).name


def sniff_kind(head: bytes) -> str:
    """'xlsx', 'csv', or raise for files that are neither."""
    name_hint = ""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        name_hint = "an old Excel .xls workbook: open it and save it as .xlsx or CSV"
    elif head.startswith(b"%PDF"):
        name_hint = "a PDF document, not a data export"
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        name_hint = "an image, not a data export"
    if name_hint:
        raise ImportProblem(f"the file is {name_hint}.")
    return "csv"


def detect_encoding(path: Path, head: bytes) -> str:
    """The file's text encoding, decided from its BOM or by trying strict decoders in order."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _utf16(path, "utf-16")
    sample = head[:4096]
    if sample and sample.count(b"\x00") > len(sample) // 4:
        # UTF-16 without a BOM: every other byte is NUL for ASCII text.
        even_nuls = sample[0::2].count(b"\x00")
        odd_nuls = sample[1::2].count(b"\x00")
        if odd_nuls > len(sample) // 3:
            return _utf16(path, "utf-16-le")
        if even_nuls > len(sample) // 3:
            return _utf16(path, "utf-16-be")
    if b"\x00" in sample:
        raise ImportProblem(BINARY)
    for encoding in ("utf-8", "cp1252"):
        if _decodes(path, encoding):
            return encoding
    return "latin-1"  # decodes any byte sequence; used for the rare mixed-encoding file


BINARY = "the file looks binary (it contains NUL bytes), not a CSV or XLSX export."


def _utf16(path: Path, encoding: str) -> str:
    """A UTF-16 guess holds only when the whole file decodes, to text without NULs."""
    if not _decodes(path, encoding):
        raise ImportProblem(
            f"the file is not valid {encoding.upper()} text (damaged or cut short?)."
        )
    with open(path, encoding=encoding, newline="") as handle:
        if "\x00" in handle.read(4096):
            raise ImportProblem(BINARY)
    return encoding


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most consistent number of fields."""
    end = max(text.rfind("\n"), text.rfind("\r"))
    if end > 0 and end < len(text) - 1:
        text = text[: end + 1]  # the sample may end mid-record
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        # Records, not lines: a quoted field may hold newlines (and other delimiters).
        counts = [len(row) for row in _records(text, delimiter, 50) if row]
        if not counts or counts[0] < 2:
            continue  # a delimiter that does not split the header is not the delimiter
        header = counts[0]
        # The share of records as wide as the header: record counts differ by delimiter.
        consistent = sum(1 for c in counts if c == header) / len(counts)
        score = (consistent, header)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _records(text: str, delimiter: str, limit: int) -> list[list[str]]:
    """Up to ``limit`` CSV records of ``text``; stops quietly where the sample breaks off."""
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            records.append(row)
            if len(records) >= limit:
                break
    except csv.Error:  # e.g. a field longer than the csv module's limit
        pass
    return records


def _header(text: str, delimiter: str) -> list[str]:
    # newline="": a bare CR (classic Mac line ends) ends a record instead of raising.
    first = next(iter(_records(text, delimiter, 1)), [])
    return _clean_headers(first)


def _clean_headers(raw: Sequence[object]) -> list[str]:
    headers = []
    for i, name in enumerate(raw):
        text = "" if name is None else str(name).replace("\ufeff", "").strip()
        headers.append(text or f"column {i + 1}")
    while len(headers) > 1 and headers[-1].startswith("column ") and not raw[-1]:
        headers.pop()  # trailing empty header cells (a trailing delimiter) are not columns
    return headers


def read_export(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    sheet: str | None = None,
    limits: ImportLimits | None = None,
) -> RawTable:
    """Read ``path`` into a new temporary table on ``con`` and return its description.

    ``limits`` bound what a workbook may declare or inflate to (``kpi.ingest.limits``)."""
    limits = limits or ImportLimits()
    path = Path(path)
    if not path.exists():
        raise ImportProblem(f"{_display(path)}: no such file.")
    if path.stat().st_size == 0:
        raise ImportProblem(f"{_display(path)}: the file is empty.")
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    try:
        kind = sniff_kind(head)
        if kind == "xlsx":
            return _read_xlsx(con, path, sheet)
        return _read_csv(con, path, head)
    except ImportProblem as problem:
        if problem.message.startswith(_display(path)):
            raise
        raise ImportProblem(f"{_display(path)}: {problem.message}", hint=problem.hint) from None


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, head: bytes) -> RawTable:
    encoding = detect_encoding(path, head)
    text = head.decode(encoding, errors="replace")
    if not text.strip().strip("\ufeff"):
        raise ImportProblem("the file is empty.")
    delimiter = sniff_delimiter(text)
    headers = _header(text, delimiter)
    source = path
    tmp: Path | None = None
    if encoding not in ("utf-8", "utf-8-sig"):
        tmp = _transcode(path, encoding)
        source = tmp
    try:
        table, rows, rejected = _duckdb_read(con, source, delimiter, len(headers))
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    raw = RawTable(table, headers, encoding, delimiter, rejected)
    raw._rows = rows
    return raw


def _transcode(path: Path, encoding: str) -> Path:
    """Write a UTF-8 copy, so that DuckDB reads exactly the characters we decoded."""
    handle, name = tempfile.mkstemp(suffix=".csv", prefix="kpi-import-")
    with (
        os.fdopen(handle, "w", encoding="utf-8", newline="") as out,
        open(path, encoding=encoding, newline="") as src,
    ):
        while chunk := src.read(1 << 20):
            out.write(chunk.lstrip("\ufeff") if out.tell() == 0 else chunk)
    return Path(name)


def _duckdb_read(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    delimiter: str,
    width: int,
) -> tuple[str, int, list[RejectedLine]]:
    table = f"raw_{uuid.uuid4().hex[:12]}"
    rejects, scans = f"{table}_rejects", f"{table}_scans"
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    # Every setting is decided: no sniffing of dialect, types or encoding by DuckDB.
    try:
        con.execute(
            f"""CREATE TEMP TABLE {table} AS
            SELECT row_number() OVER () AS _row, * FROM read_csv(?, delim = ?, quote = '"',
                escape = '"', header = true, columns = {columns}, auto_detect = false,
                strict_mode = true, null_padding = false, store_rejects = true,
                rejects_table = '{rejects}', rejects_scan = '{scans}',
                max_line_size = {MAX_LINE_BYTES})""",
            [str(source), delimiter],
        )
    except duckdb.Error as exc:
        # Some malformed files (stray quotes around line ends) stop the reader outright.
        first = str(exc).splitlines()[0].removeprefix("Invalid Input Error: ").rstrip(".")
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}[delimiter]
        raise ImportProblem(
            f"cannot be read as a {shown}-separated CSV file ({first}); "
            'check for unbalanced double quotes (") in the text.'
        ) from None
    found = con.execute(
        f"SELECT line, error_type, error_message, csv_line FROM {rejects} ORDER BY line"
    ).fetchall()
    con.execute(f"DROP TABLE IF EXISTS {rejects}")
    con.execute(f"DROP TABLE IF EXISTS {scans}")
    rejected: list[RejectedLine] = []
    seen_lines: set[int] = set()
    for line, error_type, message, csv_line in found:
        if line in seen_lines:
            continue  # one line can fail several checks; it is still one row
        seen_lines.add(line)
        reason = f"line {line}: malformed CSV ({error_type.lower()}: {message})"
        rejected.append(RejectedLine(int(line), reason, (csv_line or "")[:2000]))
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return table, rows, rejected


def _renumber(con: duckdb.DuckDBPyConnection, table: str, rejected: list[RejectedLine]) -> None:
    """Give rejected lines row numbers and shift accepted rows past them (file order)."""
    if not rejected:
        return
    rejected.sort(key=lambda r: r.line)
    # A rejected line L is data row L - 1 unless a quoted field spanned lines before it; the
    # reader reports lines only, so that is the best position there is.
    for r in rejected:
        r.row_number = r.line - 1
    # Accepted rows before the j-th reject: its position - 1 - j. Accepted row k moves past
    # every reject with fewer accepted rows before it than k.
    before = [r.row_number - 1 - j for j, r in enumerate(rejected)]
    cases = " ".join(f"WHEN _row > {b} THEN {j + 1}" for j, b in reversed(list(enumerate(before))))
    con.execute(f"UPDATE {table} SET _row = _row + (CASE {cases} ELSE 0 END)")


# --- XLSX -------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """A cell as text; dates in ISO form, which the date parser always accepts."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return f"{value.hour}:{value.minute:02d}:{value.second:02d}"
    if isinstance(value, dt.timedelta):
        total = int(round(value.total_seconds()))
        return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_workbook(path: Path):
    """The workbook in ``path``, whatever its name: openpyxl refuses names not ending in .xlsx,
    but here the bytes have already said it is one."""
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        raise ImportProblem(f"cannot open it as an XLSX workbook ({exc}).") from None


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, sheet: str | None) -> RawTable:
    workbook = _open_workbook(path)
    try:
        if sheet is not None and sheet in workbook.sheetnames:
            candidates = [workbook[sheet]]
        else:  # the first sheet with data: a blank 'Sheet1' or cover sheet is not the export
            candidates = list(workbook.worksheets)
        header: list[object] | None = None
        for worksheet in candidates:
            rows = worksheet.iter_rows(values_only=True)
            for row in rows:
                if any(v not in (None, "") for v in row):
                    header = list(row)
                    break
            if header is not None:
                break
        if header is None:
            raise ImportProblem("the workbook has no sheet with data (every sheet is empty).")
        headers = _clean_headers(header)
        width = len(headers)
        data = [
            [_cell_text(v) for v in row[:width]] + [""] * (width - len(row))
            for row in rows
            if any(v not in (None, "") for v in row)
        ]
    finally:
        workbook.close()
    frame = pd.DataFrame(data, columns=[f"c{i}" for i in range(width)], dtype="object")
    frame.insert(0, "_row", range(1, len(frame) + 1))
    table = f"raw_{uuid.uuid4().hex[:12]}"
    con.register(f"{table}_frame", frame)
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {table}_frame")
    con.unregister(f"{table}_frame")
    raw = RawTable(table, headers, "xlsx", None)
    raw._rows = len(frame)
    return raw


def peek_headers(path: Path) -> list[str]:
    """Just the header of an export, for the mapping editor (reads a few kilobytes)."""
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise ImportProblem(f"{_display(path)}: the file is empty.")
    if sniff_kind(head) == "xlsx":
        workbook = _open_workbook(path)
        try:
            for worksheet in workbook.worksheets:  # the first sheet with data, as on import
                for row in worksheet.iter_rows(values_only=True):
                    if any(v not in (None, "") for v in row):
                        return _clean_headers(list(row))
        finally:
            workbook.close()
        return []
    encoding = detect_encoding(path, head)
    text = head.decode(encoding, errors="replace")
    return _header(text, sniff_delimiter(text))
