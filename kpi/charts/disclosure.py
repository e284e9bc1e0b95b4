"""What may leave the product in an export: colleagues anonymised, small cells suppressed,
spreadsheet cells that cannot run as formulas.

ARCHITECTURE.md (privacy): exports carry aggregates only; colleagues other than the learner
appear as "Colleague 1..n", numbered by a hash of their names (never by rank); cells under
5 answers are suppressed. A cell that starts with
= + - @ (or a tab or carriage return) would run as a formula in Excel or LibreOffice, and so
would one where blanks or control characters come before them (spreadsheets skip those), so
such cells are prefixed with an apostrophe before they leave the product (OWASP's CSV injection
advice). User text shown on a page is escaped for Markdown (``escape_markdown``): a team called
``[x](http://...)`` is shown as typed, never as a link or an image.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable

import pandas as pd

SMALLEST_CELL = 5


def colleague_order(names: Iterable[object], key: str = "") -> list[object]:
    """``names`` in the order of a keyed hash of each: stable for the same key and names, and
    unrelated to the order they came in (a table sorted by value would otherwise make
    "Colleague 1" the best or the worst, which says who they are)."""
    unique = list(dict.fromkeys(names))
    return sorted(unique, key=lambda name: hashlib.sha256(f"{key}|{name}".encode()).hexdigest())


def anonymise(
    frame: pd.DataFrame, column: str = "agent", me: str | None = None, key: str = ""
) -> pd.DataFrame:
    """A copy where every name in ``column`` but ``me`` becomes "Colleague 1..n", numbered in
    the order of a keyed hash of the names (``colleague_order``), never by their rows' order."""
    out = frame.copy()
    if column not in out:
        return out
    others = [n for n in out[column] if n != me and n is not None and n == n]
    aliases = {name: f"Colleague {i}" for i, name in enumerate(colleague_order(others, key), 1)}
    out[column] = [aliases.get(name, name) for name in out[column]]
    return out


def suppress_small(
    frame: pd.DataFrame, n_column: str = "n", minimum: int = SMALLEST_CELL
) -> pd.DataFrame:
    """A copy where every figure of a row with ``n_column`` under ``minimum`` is emptied, and
    the n itself shown as "<5"; text columns (the row's labels) stay."""
    out = frame.copy().astype(object)
    small = pd.to_numeric(frame[n_column], errors="coerce").fillna(0) < minimum
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    for column in numeric:
        out.loc[small, column] = None
    out.loc[small, n_column] = f"<{minimum}"
    return out


DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _blank(character: str) -> bool:
    """Whitespace or an invisible control/format character (Unicode categories Z and C):
    what a spreadsheet may skip before it decides whether a cell is a formula."""
    return character.isspace() or unicodedata.category(character)[0] in "ZC"


def safe_cell(value: object) -> object:
    """``value`` with an apostrophe in front when a spreadsheet could run it as a formula: it
    starts with = + - @ tab or carriage return, or with blanks and then one of those."""
    if not isinstance(value, str) or not value:
        return value
    first_seen = next((c for c in value if not _blank(c)), "")
    if value[0] in DANGEROUS_STARTS or first_seen in DANGEROUS_STARTS:
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell (and header) neutralised."""
    out = frame.copy()
    out.columns = [safe_cell(str(c)) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads accents), injection-safe.

    Rows end in CRLF (RFC 4180), so a cell holding a carriage return is quoted: with pandas'
    default "\n" a bare "\r" is written unquoted, and a spreadsheet reading it as a row break
    would start a new cell at whatever follows (such as "=HYPERLINK(...)")."""
    buffer = io.StringIO()
    safe_frame(frame).to_csv(buffer, index=False, lineterminator="\r\n")
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


#: Every character Streamlit's Markdown (CommonMark, GitHub extensions, LaTeX, ``:red[...]``
#: colours) or HTML gives a meaning to; each is backslash-escaped (CommonMark lets any ASCII
#: punctuation be escaped, so the escaped text shows exactly as typed).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&@])")
#: Line breaks would start a new block (a heading, a list, a code block): shown as spaces.
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
#: Where GitHub's "autolink literal" extension would turn plain text into a link (it looks at
#: the text after escapes are read, so escaping cannot stop it): "http:", "www.", "a@b".
_AUTOLINK_STARTS = re.compile(r"(?i)(https?|ftp|mailto|xmpp)(?=:)|(www)(?=\.)|(@)")
#: An invisible WORD JOINER breaks such a pattern without changing what is shown.
WORD_JOINER = "\u2060"


def escape_markdown(text: object) -> str:
    """``text`` as it was typed when Streamlit renders it as Markdown (st.markdown, st.caption,
    st.write, alerts, labels and help): no links, images, emphasis, HTML or maths come from a
    name, a file name or a comment, and a bare address is not made a link. One line: line
    breaks become spaces."""
    one_line = _LINE_BREAKS.sub(" ", str(text))
    unlinked = _AUTOLINK_STARTS.sub(lambda m: m.group(0) + WORD_JOINER, one_line)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked)
