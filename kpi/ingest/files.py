"""Reading an export file (CSV or XLSX) into a DuckDB table of text columns.

Encodings and delimiters are decided here, explicitly: DuckDB's sniffer silently misreads some
real files (a wrong delimiter or encoding, with no error; ARCHITECTURE.md, Known pitfalls), so it
is given a decided dialect and never guesses.
Every physical row ends up either as a row of the raw table or as a rejected line with a reason.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import os
import re
import stat
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kpi.errors import ImportProblem, printable
from kpi.ingest import records
from kpi.ingest.limits import ImportLimits, from_environment
from kpi.ingest.records import MAX_LINE_BYTES
from kpi.store import scratch

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 256 * 1024
#: A first line longer than this is not a header row (and could not be sniffed whole).
MAX_HEADER_BYTES = SNIFF_BYTES
#: A UTF-8 file with more than this share of its lines not decoding is refused, not read.
UTF8_MOST_BAD_SHARE = 0.5


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
    #: Rows (and rejected lines) already carry the sheet's row numbers (a formatted XLSX report).
    sheet_rows: bool = False
    #: A report's lines that are not records (group headings, subtotals, totals, footers): the
    #: sheet row and first filled cell of each, kept after ``skip_lines_matching`` drops the
    #: known ones, since they bound the report's groups (``kpi.ingest.report_groups``).
    report_lines: list[tuple[int, str]] = field(default_factory=list)
    #: What reading did to the rows that the import must say (a grouping column filled down).
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self._rows + len(self.rejected)

    def skip_lines_matching(self, pattern: str | None) -> None:
        """Drop rejected lines that are a layout's known non-data lines (report footers).

        The pattern comes from a mapping file, so it runs on DuckDB's RE2 engine, whose time is
        linear in the text: Python's backtracking ``re`` hangs on ``(x+x+)+y`` (issue 14)."""
        if not pattern or not self.rejected:
            return
        with duckdb.connect(":memory:") as con:
            try:
                matched = con.execute(
                    """SELECT i - 1 FROM (SELECT unnest(?) AS raw, generate_subscripts(?, 1) AS i)
                    WHERE regexp_matches(raw, ?)""",
                    [[r.raw for r in self.rejected], [r.raw for r in self.rejected], pattern],
                ).fetchall()
            except duckdb.Error as exc:
                first = str(exc).splitlines()[0].split("Error: ", 1)[-1]
                raise ImportProblem(
                    f"ignore_lines {_shown(pattern)} is not a valid regular expression ({first})."
                ) from None
        skipped = {i for (i,) in matched}
        self.skipped_lines += len(skipped)
        self.rejected = [r for i, r in enumerate(self.rejected) if i not in skipped]

    def number_rows(self, con: duckdb.DuckDBPyConnection) -> None:
        """Interleave rejected lines with accepted rows, so row numbers follow the file."""
        if self.sheet_rows:  # a report's rows are numbered as on its sheet: nothing to shift
            for r in self.rejected:
                r.row_number = r.line
            return
        _renumber(con, self.table, self.rejected)

    _rows: int = 0


def _shown(text: str) -> str:
    """User text for a one-line message: quoted, control characters as visible escapes."""
    return "'" + printable(text) + "'"


def display_name(path: Path | str) -> str:
    """A file's name for a message, with control characters shown as escapes (never raw)."""
    return printable(Path(path).name)


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def check_regular_file(path: Path, name: str | None = None) -> None:
    """Refuse anything but a regular file before opening it: reading a device or a FIFO
    (``/dev/zero``, a named pipe) never ends (issue 14)."""
    shown = name if name is not None else display_name(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImportProblem(f"{shown}: no such file.") from None
    except OSError as exc:
        raise ImportProblem(f"{shown}: cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise ImportProblem(f"{shown}: is a folder; give the export files inside it.")
    kind = next((what for test, what in _KINDS if test(mode)), "not a plain file")
    raise ImportProblem(
        f"{shown}: is not a regular file ({kind}); give an exported CSV or XLSX file."
    )


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
    if _decodes(path, "utf-8"):
        return "utf-8"
    if _mostly_utf8(path):
        return "utf-8"  # its lines with a bad byte are quarantined when it is read
    if _decodes(path, "cp1252"):
        return "cp1252"
    return "latin-1"  # decodes any byte sequence; used for the rare mixed-encoding file


def _mostly_utf8(path: Path) -> bool:
    """Whether a file that is not wholly valid UTF-8 is still UTF-8 with damaged lines.

    The whole file is the evidence (issue 14): one bad byte, or 2% of lines with one, must not
    turn every "é" into "Ã©". A line of multi-byte characters that decodes as UTF-8 is evidence
    Windows-1252 text almost never forms by chance, so such a file is UTF-8 whatever the share
    of bad lines (each is quarantined); only a file with none is read as Windows-1252/Latin-1.
    When most lines are bad, quarantining them would not be an import: it is refused."""
    lines = bad = 0
    multibyte = False
    with open(path, "rb") as handle:
        while line := handle.readline(1 << 20):  # bounded: a file may have no line ends
            lines += 1
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad += 1
            else:
                multibyte = True
    if multibyte and bad > lines * UTF8_MOST_BAD_SHARE:
        raise ImportProblem(
            f"the file mixes UTF-8 and another encoding on {bad:,} of {lines:,} lines; "
            "re-export it as UTF-8."
        )
    return multibyte


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
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:  # e.g. a field longer than the csv module's limit
        pass
    return rows


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
    is_header: HeaderTest | None = None,
) -> RawTable:
    """Read ``path`` into a new temporary table on ``con`` and return its description.

    ``limits`` bound what a workbook may declare or inflate to (``kpi.ingest.limits``).
    ``is_header`` says whether a row of a workbook holds the columns the import expects, so a
    report's title lines, however many cells they spread over, are not taken for its header."""
    limits = limits or ImportLimits()
    path = Path(path)
    check_regular_file(path)
    if path.stat().st_size == 0:
        raise ImportProblem(f"{display_name(path)}: the file is empty.")
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    try:
        kind = sniff_kind(head)
        if kind == "xlsx":
            return _read_xlsx(con, path, sheet, limits, is_header)
        return _read_csv(con, path, head)
    except ImportProblem as problem:
        if problem.message.startswith(display_name(path)):
            raise
        raise ImportProblem(f"{display_name(path)}: {problem.message}", hint=problem.hint) from None


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, head: bytes) -> RawTable:
    encoding = detect_encoding(path, head)
    text = head.decode(encoding, errors="replace")
    if not text.strip().strip("\ufeff"):
        raise ImportProblem("the file is empty.")
    _check_first_line(path, head)
    delimiter = sniff_delimiter(text)
    headers = _header(text, delimiter)
    copies: list[Path] = []
    try:
        source = path
        if encoding not in ("utf-8", "utf-8-sig"):
            source = _transcode(path, encoding)
            copies.append(source)
        # An independent count of the file's records, and the records DuckDB must not see.
        scan = records.scan_records(source, delimiter, check_utf8=encoding == "utf-8")
        if scan.set_aside or scan.mixed_line_ends:
            source = records.write_copy(source, scan)
            copies.append(source)
        table, rows, rejected = _duckdb_read(con, source, delimiter, len(headers), scan)
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)
    _check_count(rows + len(rejected), scan)
    raw = RawTable(table, headers, encoding, delimiter, rejected)
    raw._rows = rows
    return raw


def _check_first_line(path: Path, head: bytes) -> None:
    """A first line too long to be a header is said so (not "unbalanced double quotes")."""
    if len(head) < SNIFF_BYTES or re.search(rb"[\r\n]", head):
        return
    length = len(head)
    with open(path, "rb") as handle:
        handle.seek(length)
        while chunk := handle.read(1 << 20):
            cut = re.search(rb"[\r\n]", chunk)
            if cut:
                length += cut.start()
                break
            length += len(chunk)
    raise ImportProblem(
        f"the first line is {length:,} bytes long: not a header row "
        f"(a header is at most {MAX_HEADER_BYTES // 1024} KB); is this an export?"
    )


def _check_count(read: int, scan: records.Scan) -> None:
    """Every record of the file must be a row or a rejected line: never fewer (issue 14)."""
    if read == scan.records:
        return
    raise ImportProblem(
        f"the CSV reader found {read:,} records but the file holds {scan.records:,} "
        "(counted line by line); nothing was imported: check the quoting of the text fields."
    )


def _transcode(path: Path, encoding: str) -> Path:
    """Write a UTF-8 copy, so that DuckDB reads exactly the characters we decoded. It lives in
    the private scratch folder (swept if the process is killed), never the shared temp folder."""
    target = scratch.new_path("import.csv")
    with (
        open(target, "x", encoding="utf-8", newline="") as out,
        open(path, encoding=encoding, newline="") as src,
    ):
        while chunk := src.read(1 << 20):
            out.write(chunk.lstrip("\ufeff") if out.tell() == 0 else chunk)
    return target


def _duckdb_read(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    delimiter: str,
    width: int,
    scan: records.Scan,
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
    except duckdb.OutOfMemoryException:
        raise ImportProblem(
            "ran out of memory reading it; set KPI_MEMORY_LIMIT higher or split the file."
        ) from None
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0].split("Error: ", 1)[-1].rstrip(".")
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}[delimiter]
        raise ImportProblem(
            f"cannot be read as a {shown}-separated CSV file ({first}); {_advice(first)}"
        ) from None
    found = con.execute(
        f"""SELECT line_byte_position, first(error_type ORDER BY byte_position),
            first(error_message ORDER BY byte_position), first(csv_line)
        FROM {rejects} GROUP BY line_byte_position ORDER BY line_byte_position"""
    ).fetchall()  # one line can fail several checks; it is still one row
    con.execute(f"DROP TABLE IF EXISTS {rejects}")
    con.execute(f"DROP TABLE IF EXISTS {scans}")
    numbers = records.original_lines(records.lines_at(source, [int(f[0]) for f in found]), scan)
    rejected = [
        RejectedLine(
            line,
            f"line {line}: malformed CSV ({error_type.lower()}: {message})"
            + CAUSES.get(error_type.lower(), ""),
            (csv_line or "")[:2000],
        )
        for line, (_, error_type, message, csv_line) in zip(numbers, found, strict=True)
    ]
    rejected += [RejectedLine(a.line, a.reason, a.raw) for a in scan.set_aside]
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return table, rows, sorted(rejected, key=lambda r: r.line)


#: The real cause of a CSV reader error whose own words name none a person can act on.
CAUSES = {
    "unquoted value": (
        ': the quotes of a field are unbalanced (text after its closing quote, e.g. "Refund" '
        "requested, or a quote that never closes); quote the whole field and double the quotes "
        'inside it ("""Refund"" requested")'
    ),
}


def _advice(message: str) -> str:
    """What to do about a CSV reader error, whose own message ("The CSV Parser state machine
    reached an invalid state") names no cause a person can act on."""
    if "invalid state" in message.lower():
        return (
            'check the quoting of the text fields (a stray " or a line break inside one) '
            "or re-export the file."
        )
    return "check the file's quoting and line ends, or re-export it."


def _renumber(con: duckdb.DuckDBPyConnection, table: str, rejected: list[RejectedLine]) -> None:
    """Give rejected lines row numbers and shift accepted rows past them (file order).

    Set-wise: one join against a table of reject positions, not one CASE branch per rejected
    line (200k malformed lines took minutes that way; issue 14)."""
    if not rejected:
        return
    rejected.sort(key=lambda r: r.line)
    # A rejected line L is data row L - 1 unless a quoted field spanned lines before it; the
    # reader reports lines only, so that is the best position there is.
    for r in rejected:
        r.row_number = r.line - 1
    # Accepted rows before the j-th reject (0-based): its position - 1 - j. Accepted row k moves
    # past every reject with fewer accepted rows before it than k.
    before = [r.row_number - 1 - j for j, r in enumerate(rejected)]
    shifts = f"{table}_shifts"
    # (before, n): rows after ``before`` accepted ones move on by n; the as-of join finds, for
    # each accepted row, the last reject with fewer accepted rows before it.
    con.execute(
        f"""CREATE TEMP TABLE {shifts} AS SELECT b.before, max(b.n) AS n
        FROM (SELECT unnest(?::BIGINT[]) AS before, unnest(range(1, ? + 1)) AS n) b
        GROUP BY b.before""",
        [before, len(before)],
    )
    try:
        con.execute(
            f"""UPDATE {table} SET _row = {table}._row + s.n FROM (
                SELECT t._row AS k, b.n FROM {table} t ASOF JOIN {shifts} b ON t._row > b.before
            ) s WHERE {table}._row = s.k"""
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {shifts}")


# --- XLSX -------------------------------------------------------------------------------------


#: Parts of an Excel number format that are not codes: quoted text, escapes, [colours].
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def date_only_format(number_format: str) -> bool:
    """Whether an Excel number format shows a date without a time of day (``dd/mm/yyyy``,
    ``yyyy-mm-dd``): no hours, seconds or AM/PM among its codes."""
    codes = _FORMAT_LITERALS.sub("", number_format or "").lower()
    return not any(code in codes for code in ("h", "s", "am/pm", "a/p"))


def _cell_text(value: object, date_only: bool = False) -> str:
    """A cell as text; dates in ISO form, which the date parser always accepts. A date cell at
    midnight whose format shows no time is a date (so a Date column joins a Time column)."""
    if value is None:
        return ""
    # isoformat, not strftime: "%Y" writes the year 1 as "1", which reads as no date at all.
    if isinstance(value, dt.datetime):
        if date_only and value.time() == dt.time():
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
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


def _open_workbook(path: Path, limits: ImportLimits, *, peek: bool = False) -> Any:
    """The workbook in ``path``, whatever its name, once its declared sizes are within
    ``limits``: openpyxl refuses names not ending in .xlsx, but here the bytes have already
    said it is one; and it inflates shared strings whole when it opens a workbook, so their
    size is checked first. To ``peek`` at a header, only the strings it uses are read."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.utils.exceptions import InvalidFileException

    data = path.read_bytes()
    try:
        _check_inflated_size(data, limits)
        reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
        reader.read_manifest()
        part = _shared_strings_part(reader)
        if peek and part:  # only the strings the header uses, read as its cells ask for them
            reader.shared_strings = _FirstStrings(reader.archive.open(part))  # type: ignore[assignment]
            reader.read_strings = _no_strings  # type: ignore[method-assign]
        elif part:
            _check_strings_size(reader.archive.getinfo(part).file_size, limits)
        reader.read()
        return reader.wb
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as exc:
        raise ImportProblem(f"cannot open it as an XLSX workbook ({exc}).") from None
    except (SyntaxError, zlib.error, EOFError) as exc:  # broken XML or a damaged zip entry
        raise ImportProblem(
            f"cannot open it as an XLSX workbook ({type(exc).__name__}: {exc}); is it damaged? "
            "Save it again in Excel, or export a CSV."
        ) from None


@contextlib.contextmanager
def _damaged_workbook() -> Iterator[None]:
    """A workbook's parts are inflated and parsed as its rows are read: broken XML, a damaged
    zip entry or a cell naming a shared string that does not exist is one line, not a traceback."""
    try:
        yield
    except (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError, IndexError) as exc:
        raise ImportProblem(
            f"cannot read it as an XLSX workbook ({type(exc).__name__}: {exc}); is it damaged? "
            "Save it again in Excel, or export a CSV."
        ) from None


def _no_strings() -> None:
    """Stands in for openpyxl's reading of every shared string, when a header is peeked at."""


def _shared_strings_part(reader: Any) -> str:
    """The zip member openpyxl reads shared strings from (named by the workbook's manifest)."""
    from openpyxl.xml.constants import SHARED_STRINGS

    found = reader.package.find(SHARED_STRINGS)
    return str(found.PartName[1:]) if found is not None else ""


def _check_strings_size(size: int, limits: ImportLimits) -> None:
    """openpyxl holds every shared string in memory, at several times their inflated size (240
    MB of them took 95 s and 1.8 GB): a lower limit than the workbook's as a whole."""
    if size > limits.xlsx_max_strings_mb * 1024 * 1024:
        raise ImportProblem(
            f"the workbook's shared strings inflate to {size / 1024 / 1024:,.0f} MB, more than "
            f"the limit of {limits.xlsx_max_strings_mb:g} MB; if it is genuine, set "
            "KPI_XLSX_MAX_STRINGS_MB higher."
        )


#: A header peek reads at most this much of a workbook's shared strings: a header's strings
#: are among the first (Excel numbers them in the order it meets them, row by row).
PEEK_STRINGS_BYTES = 16 * 1024 * 1024


class _FirstStrings:
    """A workbook's shared strings, parsed only as far as the cells read so far need, and never
    beyond PEEK_STRINGS_BYTES: the Data page peeks at a header without inflating them all."""

    def __init__(self, source: Any) -> None:
        from openpyxl.xml.constants import SHEET_MAIN_NS
        from openpyxl.xml.functions import iterparse

        self._source = source
        self._read = 0
        self._tag = f"{{{SHEET_MAIN_NS}}}si"
        self._events = iterparse(self)
        self._strings: list[str] = []

    def read(self, size: int = -1) -> bytes:
        """The XML parser's reads, counted and bounded."""
        chunk: bytes = self._source.read(size)
        self._read += len(chunk)
        if self._read > PEEK_STRINGS_BYTES:
            raise ImportProblem(
                f"its header's text lies beyond the first {PEEK_STRINGS_BYTES >> 20} MB of the "
                "workbook's shared strings; save the workbook again in Excel, or export a CSV."
            )
        return chunk

    def __getitem__(self, index: int) -> str:
        from openpyxl.cell.text import Text

        while len(self._strings) <= index:
            for _, node in self._events:
                if node.tag == self._tag:
                    # As openpyxl's own reader does: the text, with Excel's escape removed.
                    text = Text.from_tree(node)
                    self._strings.append((text.content if text else "").replace("x005F_", ""))
                    node.clear()
                    break
            else:
                raise IndexError(index)
        return self._strings[index]


def _check_inflated_size(data: bytes, limits: ImportLimits) -> None:
    """Refuse a zip bomb before inflating anything: the zip's declared sizes bound what reading
    can produce (Python's zip reader stops at the declared size)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        total = sum(info.file_size for info in archive.infolist())
    limit = limits.xlsx_max_mb * 1024 * 1024
    if total > limit:
        raise ImportProblem(
            f"the workbook inflates to {total / 1024 / 1024:,.0f} MB, more than the limit of "
            f"{limits.xlsx_max_mb:g} MB; if it is genuine, set KPI_XLSX_MAX_MB higher."
        )


def _check_dimension(worksheet: Any, limits: ImportLimits) -> None:
    """Refuse a sheet whose declared size (its <dimension> element, e.g. a lone cell at
    XFD1048576) is beyond ``limits`` before reading a row of it."""
    rows, columns = worksheet.max_row or 0, worksheet.max_column or 0
    if rows * columns > limits.xlsx_max_cells:
        raise ImportProblem(
            f"sheet {_shown(worksheet.title)} declares {rows:,} rows x "
            f"{columns:,} columns, more than the limit of {limits.xlsx_max_cells:,} cells; if "
            "it is genuine, set KPI_XLSX_MAX_CELLS higher."
        )


def _candidate_sheets(workbook: Any, sheet: str | None) -> list[Any]:
    """The named sheet, or every sheet in order; a named sheet that does not exist is refused
    (it used to be the first sheet, silently)."""
    if sheet is None:  # the first sheet with data: a blank 'Sheet1' or cover sheet is not it
        return list(workbook.worksheets)
    if sheet not in workbook.sheetnames:
        names = ", ".join(_shown(n) for n in workbook.sheetnames)
        raise ImportProblem(
            f"the workbook has no sheet {_shown(sheet)} (its sheets: {names}); "
            "fix `sheet` in the mapping."
        )
    return [workbook[sheet]]


def _first_header(
    sheets: list[Any], limits: ImportLimits, max_rows: int | None = None
) -> tuple[Any, int, list[object]] | None:
    """(sheet, row index, header cells) of the first non-empty row of the first sheet with
    one; at most ``max_rows`` rows of each sheet are looked at."""
    for worksheet in sheets:
        _check_dimension(worksheet, limits)
        # Past the check, the declared size is not trusted: read-only openpyxl stops at the
        # declared last row (a sheet declaring A1:C2 over 20,000 rows gave 1 row). The cell
        # limit in _data_rows bounds what is read instead.
        worksheet.reset_dimensions()
        rows = worksheet.iter_rows(max_row=max_rows, values_only=True)
        for index, row in enumerate(rows, start=1):
            if any(v not in (None, "") for v in row):
                return worksheet, index, list(row)
    return None


def _read_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sheet: str | None,
    limits: ImportLimits,
    is_header: HeaderTest | None = None,
) -> RawTable:
    workbook = _open_workbook(path, limits)
    try:
        with _damaged_workbook():
            found = _first_header(_candidate_sheets(workbook, sheet), limits)
            if found is None:
                raise ImportProblem("the workbook has no sheet with data (every sheet is empty).")
            worksheet, index, header = found
            index, header, titles = past_title_block(worksheet, index, header, is_header=is_header)
            headers = _clean_headers(header)
            width = len(headers)
            data, sheet_rows = _data_rows(worksheet, index, width, limits)
    finally:
        workbook.close()
    # Only a report (a title block above its header) has group and total rows among its data;
    # its rows are numbered as on the sheet, since a data row's position there means nothing.
    rejected: list[RejectedLine] = []
    if titles:
        data, sheet_rows, rejected = report_rows(data, sheet_rows)
    frame = pd.DataFrame(data, columns=[f"c{i}" for i in range(width)], dtype="object")
    frame.insert(0, "_row", sheet_rows if titles else range(1, len(frame) + 1))
    table = f"raw_{uuid.uuid4().hex[:12]}"
    con.register(f"{table}_frame", frame)
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {table}_frame")
    con.unregister(f"{table}_frame")
    raw = RawTable(
        table, headers, "xlsx", None, rejected, skipped_lines=titles, sheet_rows=titles > 0
    )
    raw.report_lines = [(r.line, _first_cell(r.raw)) for r in rejected]
    raw._rows = len(frame)
    return raw


def _data_rows(
    worksheet: Any, header_row: int, width: int, limits: ImportLimits
) -> tuple[list[list], list[int]]:
    """The rows under the header and their sheet row numbers, only the header's width of them
    (a stray cell far to the right is not read), stopping at the cell limit even when no
    dimension was declared."""
    data: list[list] = []
    numbers: list[int] = []
    # Cells, not just values: a date cell's number format says whether it holds a time.
    rows = worksheet.iter_rows(min_row=header_row + 1, max_col=width)
    for seen, row in enumerate(rows, start=1):
        if seen * width > limits.xlsx_max_cells:
            raise ImportProblem(
                f"sheet {_shown(worksheet.title)} holds more than "
                f"{limits.xlsx_max_cells:,} cells; if it is genuine, set KPI_XLSX_MAX_CELLS higher."
            )
        if any(getattr(c, "value", None) not in (None, "") for c in row):
            data.append([_read_cell(c) for c in row] + [""] * (width - len(row)))
            numbers.append(header_row + seen)
    return data, numbers


def _read_cell(cell: Any) -> str:
    value = getattr(cell, "value", None)  # an empty cell of a read-only sheet has no format
    if isinstance(value, dt.datetime):
        return _cell_text(value, date_only_format(getattr(cell, "number_format", "")))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value, getattr(cell, "number_format", ""))
    return _cell_text(value)


def _number_text(value: float, number_format: str) -> str:
    if percent_format(number_format):
        # 0.85 shown as 85%: the text the sheet shows, so a percentage reads as one
        # (rounded to drop binary noise such as 85.00000000000001).
        return f"{_cell_text(round(value * 100, 9))}%"
    return _cell_text(value)


def percent_format(number_format: str) -> bool:
    """Whether an Excel number format shows its number as a percentage (``0%``, ``0.00%``)."""
    return "%" in _FORMAT_LITERALS.sub("", number_format or "")


#: The mapping editor looks for a header in this many rows of each sheet at most.
PEEK_ROWS = 50


# --- report-style workbooks --------------------------------------------------------------------
# A CRM's "formatted report" (Salesforce's Export > Formatted Report) puts a title block of
# one-cell lines (report name, "Filtered By:" lines, the run date) above its header, and group
# headings, subtotals, "Grand Totals (n records)" and a copyright footer among its data rows.

#: A report's title block is looked for in this many rows under its first line.
REPORT_TITLE_ROWS = 30
#: The first cell of a report's subtotal or total row is the label alone, perhaps with its
#: record count ("Subtotal", "Grand Totals (3 records)"), or a group heading with its count
#: ("Case Owner: Bob Smith (3 records)"). An account that starts with the word ("Total Gym
#: Ltd", "Subtotal Solutions") is not a label.
_SUMMARY_CELL = re.compile(
    r"^(grand\s*totals?|sub-?\s*totals?|totals?)\s*(\(\s*[0-9][0-9,.]*\s+records?\s*\))?$"
    r"|\(\s*[0-9][0-9,.]*\s+records?\s*\)",
    re.IGNORECASE,
)
#: A figure a summary row holds beside its label (a count, sum or average: "6", "1,234.50",
#: "£12", "USD 12", "45%", "Sum: 6"); a record has dates and text. A leading zero ("00001028")
#: is an id, not a figure.
_AGGREGATE = re.compile(
    r"^([a-z][a-z ]*:\s*)?([a-z]{3}\s*|[^\w\s]\s*)?-?(?!0[0-9])[0-9][0-9,.]*\s*%?$", re.IGNORECASE
)


def _filled(row: Sequence[object]) -> list[str]:
    """The non-empty cells of a row, as stripped text."""
    return [text for v in row if v is not None and (text := str(v).strip())]


#: Whether a row's cells (as headers) hold the columns an import expects.
HeaderTest = Callable[[list[str]], bool]


def past_title_block(
    worksheet: Any,
    index: int,
    header: list[object],
    max_rows: int = REPORT_TITLE_ROWS,
    is_header: HeaderTest | None = None,
) -> tuple[int, list[object], int]:
    """(header row index, header cells, title lines above it) of a sheet whose first line is
    ``header`` at ``index``. When ``is_header`` says the first line is not the header and a row
    under it is, the lines above that row are a report's title block, however many cells each
    spreads over ("Cases by Owner" | "Acme Ltd"). Otherwise a first line of one cell under which
    a row of two or more cells follows is a title block: the header is that wider row. A first
    line of two or more cells is the header, as for any table (and a one-column sheet stays
    one column)."""
    if is_header is not None and not is_header(_clean_headers(header)):
        found = _expected_header_below(worksheet, index, max_rows, is_header)
        if found is not None:
            return found
    if len(_filled(header)) != 1:
        return index, header, 0
    titles = 1
    rows = worksheet.iter_rows(min_row=index + 1, max_row=index + max_rows, values_only=True)
    for offset, row in enumerate(rows, start=1):
        filled = len(_filled(row))
        if filled >= 2:
            return index + offset, list(row), titles
        titles += filled == 1
    return index, header, 0


def _expected_header_below(
    worksheet: Any, index: int, max_rows: int, is_header: HeaderTest
) -> tuple[int, list[object], int] | None:
    """The first row under ``index`` that ``is_header`` accepts, with the number of filled
    lines above it (the first line included); None when no row within ``max_rows`` is one."""
    titles = 1
    rows = worksheet.iter_rows(min_row=index + 1, max_row=index + max_rows, values_only=True)
    for offset, row in enumerate(rows, start=1):
        if _filled(row) and is_header(_clean_headers(row)):
            return index + offset, list(row), titles
        titles += bool(_filled(row))
    return None


def _first_cell(line: str) -> str:
    """The first filled cell of a report line set aside (written as one CSV line)."""
    cells = next(csv.reader([line]), [])
    return next((c.strip() for c in cells if c.strip()), "")


def summary_row(row: Sequence[object]) -> str | None:
    """Why a report's data row is not a record (a group heading, a subtotal or total, a footer
    line), or None for a record. A total row is its label in the first cell and nothing but
    figures beside it: a case whose subject says "Total outage", or whose first cell is an
    account "Total Gym Ltd", fills its id, dates and status, and is still a case."""
    cells = _filled(row)
    if len(cells) == 1:
        return f"a report line of one cell ({_shown(cells[0][:80])}): a group heading or footer"
    if cells and _SUMMARY_CELL.search(cells[0]) and all(_AGGREGATE.match(c) for c in cells[1:]):
        return f"a report's subtotal or total row ({_shown(cells[0][:80])})"
    return None


def report_rows(
    data: list[list], sheet_rows: list[int]
) -> tuple[list[list], list[int], list[RejectedLine]]:
    """A report's data rows (on sheet rows ``sheet_rows``) split into records and their sheet
    rows, and the rows that are not records, each set aside with its reason and sheet row:
    never counted as a record, and never dropped unsaid (the layout's ``ignore_lines`` may name
    them as known non-data lines, which are then counted as such)."""
    kept: list[list] = []
    kept_rows: list[int] = []
    rejected: list[RejectedLine] = []
    for number, row in zip(sheet_rows, data, strict=True):
        why = summary_row(row)
        if why is None:
            kept.append(row)
            kept_rows.append(number)
            continue
        text = io.StringIO()
        csv.writer(text, lineterminator="").writerow(row)
        rejected.append(RejectedLine(number, f"{why}, not a record", text.getvalue()))
    return kept, kept_rows, rejected


def peek_headers(path: Path, limits: ImportLimits | None = None) -> list[str]:
    """Just the header of an export, for the mapping editor: a few kilobytes of a CSV, the
    first rows of a workbook, under the same limits as an import (so it never inflates a bomb)."""
    limits = limits or from_environment()
    path = Path(path)
    check_regular_file(path)
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise ImportProblem(f"{display_name(path)}: the file is empty.")
    try:
        if sniff_kind(head) == "xlsx":
            workbook = _open_workbook(path, limits, peek=True)
            try:
                with _damaged_workbook():
                    found = _first_header(list(workbook.worksheets), limits, PEEK_ROWS)
                    header = None if found is None else past_title_block(*found)[1]
            finally:
                workbook.close()
            return [] if header is None else _clean_headers(header)
        encoding = detect_encoding(path, head)
        text = head.decode(encoding, errors="replace")
        _check_first_line(path, head)
        return _header(text, sniff_delimiter(text))
    except ImportProblem as problem:
        if problem.message.startswith(display_name(path)):
            raise
        raise ImportProblem(f"{display_name(path)}: {problem.message}", hint=problem.hint) from None
