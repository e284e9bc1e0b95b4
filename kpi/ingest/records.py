"""Counting a CSV file's records independently of DuckDB's reader, and the records to set aside.

DuckDB's reader, meeting a quote that never closes, reads the rest of the file as one field and
rejects it as one line: 9,998 rows vanished while the counts still added up (issue 14). So the
file is also read here line by line, with a quote rule of its own: a quoted field may span lines
only when it closes properly (its closing quote followed by a delimiter or the line end). A line
whose quote does not is set aside with its line number, and the lines after it are read as rows.
A quote that does close properly, but only after swallowing lines that each read as a whole
record of the header's width, or after more than MAX_QUOTED_LINES lines, is an unterminated
quote closed by chance (a later field ending in ``12"``): set aside the same way.
The same pass finds lines that are not valid UTF-8 in a UTF-8 file, lines too long to be records,
and mixed line ends; ``write_copy`` gives DuckDB the file without what was set aside.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kpi.errors import ImportProblem
from kpi.store import scratch

MAX_LINE_BYTES = 32 * 1024 * 1024
#: A quoted field spanning more lines than this is not a note: an unterminated quote.
MAX_QUOTED_LINES = 1_000
#: Below this header width a line of prose reads as a record too easily to judge by.
MIN_RECORD_LIKE_WIDTH = 3


@dataclass
class SetAside:
    """A record DuckDB is not given: quarantined with ``reason``; ``lines`` are left out."""

    line: int
    lines: range
    reason: str
    raw: str


@dataclass
class Scan:
    records: int = 0  # data records: the header and empty lines are not records
    set_aside: list[SetAside] = field(default_factory=list)
    quoted_line_ends: set[int] = field(default_factory=set)  # lines ending inside a quoted field
    line_ends: set[str] = field(default_factory=set)  # the line ends that end records
    header_seen: bool = False
    width: int = 0  # the header's number of fields

    @property
    def mixed_line_ends(self) -> bool:
        return len(self.line_ends) > 1


_Line = tuple[int, str, int]  # (physical line number, text with its line end, its length)


def physical_lines(handle: io.TextIOBase) -> Iterator[_Line]:
    """Lines with their numbers; a line longer than MAX_LINE_BYTES is not held in memory."""
    number = 0
    while piece := handle.readline(MAX_LINE_BYTES):
        number += 1
        yield _line(handle, number, piece)


def _line(handle: io.TextIOBase, number: int, piece: str) -> _Line:
    """Line ``number``, of which ``piece`` was read: whole, or (longer than MAX_LINE_BYTES)
    its start and its length, the rest read past and not held."""
    if len(piece) < MAX_LINE_BYTES or piece.endswith(("\n", "\r")):
        return number, piece, len(piece)
    size = len(piece)
    while rest := handle.readline(MAX_LINE_BYTES):
        size += len(rest)
        if rest.endswith(("\n", "\r")):
            break
    return number, piece[:2000], size  # a line this long is only ever set aside


def newline_of(source: Path) -> str:
    """How ``source`` ends its lines, as ``open(newline=...)`` takes it: ``"\n"`` when its first
    line ends in LF or CRLF, so that a bare CR later on is a character of its line (a stray one
    in a field, set aside with its line); ``""`` (any of CR, LF, CRLF) for a file that ends its
    lines with CR alone (classic Mac)."""
    with open(source, "rb") as handle:
        head = handle.read(1 << 16)
    cr, lf = head.find(b"\r"), head.find(b"\n")
    if cr >= 0 and (lf < 0 or cr < lf) and head[cr + 1 : cr + 2] != b"\n":
        return ""
    return "\n"


def stray_carriage_return(text: str, delimiter: str) -> bool:
    """Whether a record's text holds a CR outside a quoted field, other than in its line end:
    a CSV reader would end the record there and read the rest of the line as another."""
    end = _line_end(text)
    body = text[: len(text) - len(end)]
    if "\r" not in body:
        return False
    in_quote, start = False, True
    i = 0
    while i < len(body):
        ch = body[i]
        if in_quote:
            if ch == '"' and body.startswith('""', i):
                i += 2
                continue
            in_quote = ch != '"'
        elif ch == "\r":
            return True
        elif ch == '"' and start:
            in_quote = True
        if not in_quote:
            start = ch == delimiter or (start and ch == " ")
        i += 1
    return False


def _line_end(text: str) -> str:
    return "\r\n" if text.endswith("\r\n") else text[-1:] if text.endswith(("\n", "\r")) else ""


def _walk(text: str, delimiter: str, in_quote: bool) -> tuple[bool, bool]:
    """One line's quotes: (does the line end inside a quoted field, did a quoted field that came
    from an earlier line close improperly). A quote opens a field only at its start."""
    body = text.rstrip("\r\n")
    crossed = in_quote  # the open field began on an earlier line
    i = 0
    while True:
        if in_quote:
            j = body.find('"', i)
            if j < 0:
                return True, False
            if body.startswith('""', j):
                i = j + 2
                continue
            k = j + 1
            while k < len(body) and body[k] == " ":
                k += 1
            proper = k == len(body) or body[k] == delimiter
            if not proper and crossed:
                return False, True
            in_quote = crossed = False
            nxt = k if proper else body.find(delimiter, k)
            if nxt < 0 or nxt >= len(body):
                return False, False
            i = nxt + 1
        else:
            k = i
            while k < len(body) and body[k] == " ":
                k += 1
            if k < len(body) and body[k] == '"':
                in_quote, i = True, k + 1
                continue
            nxt = body.find(delimiter, i)
            if nxt < 0:
                return False, False
            i = nxt + 1


#: Characters read at a time by ``scan_records``' fast path (never more than MAX_LINE_BYTES, so
#: every line wholly inside a block is an ordinary line).
BLOCK_CHARS = 1 << 20


@dataclass(frozen=True)
class _Block:
    """Whole lines read at once (``text`` ends with its last line's LF): ``first`` is the
    number of its first line, ``parts`` the text split at each LF (the last part empty)."""

    first: int
    text: str
    parts: list[str]

    @property
    def count(self) -> int:
        return len(self.parts) - 1

    def lines(self) -> Iterator[_Line]:
        """Its lines as ``physical_lines`` yields them."""
        for number, line in enumerate(self.parts[:-1], self.first):
            yield number, line + "\n", len(line) + 1


def _pieces(handle: io.TextIOBase) -> Iterator[_Line | _Block]:
    """``physical_lines`` of a file whose lines end in LF (``newline="\n"``), read a block at
    a time: the whole lines of each block together, and a line a block cut (or one longer than
    a block) alone, exactly as ``physical_lines`` reads it. The lines are the same, in order."""
    number = 0
    while data := handle.read(min(BLOCK_CHARS, MAX_LINE_BYTES)):
        cut = data.rfind("\n") + 1
        if cut:
            text = data[:cut]
            block = _Block(number + 1, text, text.split("\n"))
            number += block.count
            yield block
        if cut == len(data):
            continue
        # The line the block cut: the rest of it read as ``physical_lines`` reads a line.
        partial = data[cut:]
        number += 1
        yield _line(handle, number, partial + handle.readline(MAX_LINE_BYTES - len(partial)))


def scan_records(source: Path, delimiter: str, *, check_utf8: bool) -> Scan:
    """Count the records of ``source`` (UTF-8) in one streaming pass; see the section comment.

    Bytes are read as Latin-1, so that one character is one byte whatever the text holds. A
    file whose lines end in LF is read a block at a time, and a block of plain lines (no quote,
    no stray CR, ASCII where UTF-8 is checked) counted at once: what ``_Scanner.feed`` would
    find line by line, without a Python step per line."""
    scanner = _Scanner(delimiter, check_utf8)
    newline = newline_of(source)
    with open(source, encoding="latin-1", newline=newline) as handle:
        pieces = _pieces(handle) if newline == "\n" else physical_lines(handle)
        for item in pieces:
            if isinstance(item, _Block):
                if not scanner.count_block(item):
                    for line in item.lines():
                        scanner.feed_all(line)
            else:
                scanner.feed_all(item)
        while scanner.end():  # lines set aside at the end are read again
            while scanner.again:
                scanner.feed(scanner.again.popleft())
    return scanner.scan


class _Scanner:
    """The state of ``scan_records``: the record being read and the lines to read again."""

    def __init__(self, delimiter: str, check_utf8: bool) -> None:
        self.scan = Scan()
        self.delimiter, self.check_utf8 = delimiter, check_utf8
        self.again: deque[_Line] = deque()  # lines to read once more, after a line set aside
        self.record: list[_Line] = []
        self.size, self.in_quote = 0, False
        # A line of whole fields, each plain or properly quoted: one record (fast, no walk).
        d = re.escape(delimiter)
        field = f'(?: *"[^"]*(?:""[^"]*)*" *|[^"{d}\\r\\n]*)'
        self.whole = re.compile(f"{field}(?:{d}{field})*\\r?\\n?")

    def feed_all(self, item: _Line) -> None:
        """Feed a line read from the file, then the lines it put back to be read again (they
        come before the file's next line)."""
        self.feed(item)
        while self.again:
            self.feed(self.again.popleft())

    def count_block(self, block: _Block) -> bool:
        """Count a block of whole lines (ending in LF) at once when every line of it takes
        ``feed``'s fast path (or is empty): no record open, the header seen, no quote, every CR
        part of a CRLF, ASCII where UTF-8 is checked. False (nothing counted) otherwise."""
        text = block.text
        if (
            self.record
            or self.again
            or not self.scan.header_seen
            or '"' in text
            or (self.check_utf8 and not text.isascii())
        ):
            return False
        crlf = 0
        if "\r" in text:
            crlf = text.count("\r\n")
            if text.count("\r") != crlf:
                return False
        parts = block.parts  # the last part is the empty text after the final LF
        empty = parts.count("") - 1 + (parts.count("\r") if crlf else 0)
        self.scan.records += block.count - empty
        if crlf:
            self.scan.line_ends.add("\r\n")
        if block.count > crlf:
            self.scan.line_ends.add("\n")
        return True

    def feed(self, item: _Line) -> None:
        number, text, length = item
        if not self.record:
            if text in ("\n", "\r\n", "\r"):
                # DuckDB skips empty lines: they are not records. Their line ends still count
                # toward a mix (an empty CRLF line among LF lines stops DuckDB's reader).
                self.scan.line_ends.add(text)
                return
            if (
                length == len(text)
                and (text.isascii() or not self.check_utf8)
                and ('"' not in text or self.whole.fullmatch(text))
                and "\r" not in text[:-2]
            ):
                self._one_line(text)  # the common case, kept fast
                return
        if length > len(text):
            self._too_long(item)
            return
        self.record.append(item)
        self.size += length
        if self.in_quote or '"' in text:
            self.in_quote, bad = _walk(text, self.delimiter, self.in_quote)
            too_long = self.size > MAX_LINE_BYTES or len(self.record) > MAX_QUOTED_LINES
            if bad or (self.in_quote and too_long):
                self._set_aside_quote()
                return
        if not self.in_quote:
            if len(self.record) > 2 and self._swallows_records():
                self._set_aside_quote()
                return
            if self.scan.header_seen and stray_carriage_return(
                "".join(t for _, t, _ in self.record), self.delimiter
            ):
                self._set_aside_stray_cr()
                return
            _finish(self.scan, self.record, self.check_utf8, self.delimiter)
            self.record, self.size = [], 0

    def _set_aside_stray_cr(self) -> None:
        """A record with a carriage return in an unquoted field: set aside whole, with the
        cause (a reader would split it and call the halves too short)."""
        first, last = self.record[0][0], self.record[-1][0]
        text = "".join(t for _, t, _ in self.record)
        reason = (
            f"line {first}: a carriage return (CR) inside an unquoted field splits the line; "
            "remove it from the field or quote the field"
        )
        _set(self.scan, SetAside(first, range(first, last + 1), reason, _utf8(text)))
        self.record, self.size = [], 0

    def _swallows_records(self) -> bool:
        """Whether a quoted field that closed lines later holds, after its opening line, only
        lines that each read alone as a whole record of the header's width (the inner ones not
        themselves inside a quote): rows swallowed by an unterminated quote, not a note's lines.
        At least two such lines are needed, so a note's one line of commas is not judged alone."""
        width = self.scan.width
        if width < MIN_RECORD_LIKE_WIDTH:
            return False
        *inner, (_, closing, _) = self.record[1:]
        return _fields(closing, self.delimiter) == width and all(
            _fields(text, self.delimiter) == width
            and _walk(text, self.delimiter, False) == (False, False)
            for _, text, _ in inner
        )

    def end(self) -> bool:
        """At the end of the file; True when lines were put back to be read again."""
        if len(self.record) > 1:  # a quote that opened lines ago never closed
            self._set_aside_quote()
            return True
        if self.record:  # a lone unterminated quote on the last line: DuckDB rejects it itself
            _finish(self.scan, self.record, self.check_utf8, self.delimiter)
            self.record = []
        return False

    def _one_line(self, text: str) -> None:
        scan = self.scan
        if not scan.header_seen:
            scan.width = _fields(text, self.delimiter)
        scan.records += scan.header_seen
        scan.header_seen = True
        if text[-1] == "\n":
            scan.line_ends.add("\r\n" if text[-2:-1] == "\r" else "\n")
        elif text[-1] == "\r":
            scan.line_ends.add("\r")

    def _too_long(self, item: _Line) -> None:
        number, text, _ = item
        if self.record:  # it ends a quoted field that ran on for MAX_LINE_BYTES: not a field
            self.again.appendleft(item)
            self._set_aside_quote()
            return
        reason = f"line {number}: longer than {MAX_LINE_BYTES >> 20} MB, not a record"
        _set(self.scan, SetAside(number, range(number, number + 1), reason, _utf8(text)))

    def _set_aside_quote(self) -> None:
        """Set the record's first line aside; its other lines are read again on their own."""
        number, text, _ = self.record[0]
        reason = (
            f'line {number}: unterminated quote (a field opens with " and does not close '
            "properly); the lines after it are read as rows"
        )
        _set(self.scan, SetAside(number, range(number, number + 1), reason, _utf8(text)))
        self.again.extendleft(reversed(self.record[1:]))
        self.record, self.size, self.in_quote = [], 0, False


def _set(scan: Scan, aside: SetAside) -> None:
    if not scan.header_seen:
        raise ImportProblem(f"the header row cannot be read: {aside.reason}.")
    scan.records += 1
    scan.set_aside.append(aside)


def _finish(scan: Scan, record: list[_Line], check_utf8: bool, delimiter: str) -> None:
    first, last = record[0][0], record[-1][0]
    scan.quoted_line_ends.update(n for n, _, _ in record[:-1])
    if end := _line_end(record[-1][1]):
        scan.line_ends.add(end)
    text = "".join(t for _, t, _ in record)
    if check_utf8 and not text.isascii():
        problem = _utf8_problem(record)
        if problem:
            _set(scan, SetAside(first, range(first, last + 1), problem, _utf8(text)))
            return
    if scan.header_seen:
        scan.records += 1
    else:
        scan.width = _fields(text, delimiter)
    scan.header_seen = True


def _fields(text: str, delimiter: str) -> int:
    """The number of fields ``text`` holds read alone as CSV (a stray quote taken literally)."""
    try:
        return sum(
            len(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        )
    except csv.Error:  # a field beyond the csv module's size limit
        return 0


def _utf8_problem(record: list[_Line]) -> str:
    """ "line N: not valid UTF-8 text (byte 0x.. at column ..)" for the record's first bad byte."""
    for number, text, _ in record:
        data = text.encode("latin-1")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(data[: exc.start].decode("utf-8", errors="replace")) + 1
            return (
                f"line {number}: not valid UTF-8 text "
                f"(byte 0x{data[exc.start]:02X} at column {column})"
            )
    return ""


def _utf8(text: str) -> str:
    """Latin-1-read bytes back to the UTF-8 text they hold (bad bytes as U+FFFD), kept short."""
    return text.encode("latin-1").decode("utf-8", errors="replace").rstrip("\r\n")[:2000]


def write_copy(source: Path, scan: Scan) -> Path:
    """A copy of ``source`` without the records set aside, and with one line end throughout when
    the file mixes them (DuckDB's reader stops on a mix of CRLF and LF), in the scratch folder."""
    left_out = {n for aside in scan.set_aside for n in aside.lines}
    target = scratch.new_path("records.csv")
    newline = newline_of(source)
    with open(source, encoding="latin-1", newline=newline) as src, open(target, "xb") as out:
        for number, text, _ in physical_lines(src):
            if number in left_out:
                continue
            if scan.mixed_line_ends and number not in scan.quoted_line_ends:
                text = text.rstrip("\r\n") + ("\n" if _line_end(text) else "")
            out.write(text.encode("latin-1"))
    return target


def lines_at(source: Path, positions: list[int]) -> list[int]:
    """The physical line (1-based) holding each byte position (sorted) of ``source``."""
    if not positions:
        return []
    found: list[int] = []
    pending = deque(positions)
    number = 1
    with open(source, encoding="latin-1", newline=newline_of(source)) as handle:
        offset = 0
        for number, _, length in physical_lines(handle):
            offset += length
            while pending and pending[0] < offset:
                pending.popleft()
                found.append(number)
            if not pending:
                break
    return found + [number] * len(pending)


def original_lines(lines: list[int], scan: Scan) -> list[int]:
    """Lines of the copy DuckDB read, as lines of the original file (set-aside lines removed)."""
    gone = sorted(n for aside in scan.set_aside for n in aside.lines)
    if not gone:
        return lines
    original = []
    for line in lines:
        guess = line
        while (shifted := line + bisect.bisect_right(gone, guess)) != guess:
            guess = shifted
        original.append(guess)
    return original
