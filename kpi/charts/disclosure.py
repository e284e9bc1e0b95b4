"""What may leave the product in an export: colleagues anonymised, small cells suppressed,
spreadsheet cells that cannot run as formulas.

ARCHITECTURE.md (privacy): exports carry aggregates only; colleagues other than the learner
appear as "Colleague 1..n"; cells under 5 answers are suppressed. A cell that starts with
= + - @ (or a tab or carriage return) would run as a formula in Excel or LibreOffice, so such
cells are prefixed with an apostrophe before they leave the product.
"""

from __future__ import annotations

import io

import pandas as pd

SMALLEST_CELL = 5


def anonymise(frame: pd.DataFrame, column: str = "agent", me: str | None = None) -> pd.DataFrame:
    """A copy where every name in ``column`` but ``me`` becomes "Colleague 1..n" (numbered in
    order of first appearance, so the numbering says nothing about the names)."""
    out = frame.copy()
    if column not in out:
        return out
    aliases: dict[object, str] = {}
    for name in out[column]:
        if name != me and name is not None and name == name and name not in aliases:
            aliases[name] = f"Colleague {len(aliases) + 1}"
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


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(DANGEROUS_STARTS):
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
    """UTF-8 CSV with a BOM (so Excel reads accents), injection-safe."""
    buffer = io.StringIO()
    safe_frame(frame).to_csv(buffer, index=False)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
