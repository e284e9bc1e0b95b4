"""What may leave the product in an export: colleagues anonymised, small cells suppressed.

DESIGN.md: exports carry aggregates only; colleagues other than the learner appear as
"Colleague 1..n"; cells under 5 answers are suppressed.
"""

from __future__ import annotations

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
