"""Pandera models of the canonical tables, derived from ``kpi.store.schema``, and their verdicts.

A failed check on a required field sends the row to quarantine; on any other field the value
is set empty and recorded as a data-quality warning, and the rest of the row still counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from kpi.store.schema import Field, fields_of

# Dates are bounded by the import's own limits (``kpi.ingest.limits``), checked set-wise in SQL
# before Pandera sees the rows (``kpi.ingest.checking``): a row with an impossible date is
# quarantined whole, which a per-value check here cannot do.
#: The longest plausible duration (ten years): a longer one is a misread unit or a typo, and
#: would overflow the timestamps derived from it.
LONGEST_SECONDS = 10 * 365.25 * 86400

#: Cross-field rules: (check name, field that is emptied, field it is compared with).
ORDER_RULES = (
    ("first_response_after_opening", "first_response_at", "opened_at"),
    ("resolution_after_opening", "resolved_at", "opened_at"),
    ("closure_after_opening", "closed_at", "opened_at"),
)


@dataclass(frozen=True)
class Failure:
    row: int
    field: str
    value: object
    issue: str
    required: bool


def _column(f: Field, scales: dict[str, tuple[float, float]]) -> pa.Column:
    checks: list[pa.Check] = []
    if f.choices:
        checks.append(pa.Check.isin(f.choices, error=f"is not one of {', '.join(f.choices)}"))
    if f.type in ("integer", "duration", "score"):
        checks.append(pa.Check(_finite, error="is not a finite number"))
    if f.type in ("integer", "duration"):
        checks.append(pa.Check.ge(0, error="is negative"))
    if f.type == "duration":
        checks.append(pa.Check.le(LONGEST_SECONDS, error="is longer than ten years"))
    if f.type == "score" and f.name in scales:
        low, high = scales[f.name]
        checks.append(pa.Check.in_range(low, high, error=f"is outside the scale {low:g}-{high:g}"))
    return pa.Column(None, checks=checks, nullable=not f.required, required=False)


def _finite(values: pd.Series) -> pd.Series:
    """Never an infinity. (A NaN is already empty to pandas; ``checking`` finds it in SQL.)"""
    return pd.Series(np.isfinite(pd.to_numeric(values, errors="coerce")), index=values.index)


def _order_check(name: str, later: str, earlier: str) -> pa.Check:
    def rule(frame: pd.DataFrame) -> pd.Series:
        if later not in frame or earlier not in frame:
            return pd.Series(True, index=frame.index)
        return frame[later].isna() | frame[earlier].isna() | (frame[later] >= frame[earlier])

    return pa.Check(rule, name=name, error=f"{later} is before {earlier}")


def model(kind: str, scales: dict[str, tuple[float, float]] | None = None) -> pa.DataFrameSchema:
    """The Pandera schema a kind's canonical rows must satisfy (score scales per layout)."""
    scales = scales or {}
    fields = fields_of(kind)
    rules = [_order_check(*rule) for rule in ORDER_RULES] if kind == "contacts" else []
    return pa.DataFrameSchema(
        {f.name: _column(f, scales) for f in fields if f.type != "text" or f.required},
        checks=rules,
        strict=False,
        name=kind,
    )


def failures(kind: str, frame: pd.DataFrame, scales=None) -> list[Failure]:
    """Every failed check as a ``Failure``; an empty list when the frame is valid."""
    schema = model(kind, scales)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return _interpret(kind, errors.failure_cases, frame)
    return []


def _interpret(kind: str, cases: pd.DataFrame, frame: pd.DataFrame) -> list[Failure]:
    required = {f.name for f in fields_of(kind) if f.required}
    # Pandera names a failed check by its error text when it has one, else by its name, and
    # reports a frame-level check once per column of the failing row: one failure per row.
    order: dict[str, tuple[str, str]] = {}
    for name, later, earlier in ORDER_RULES:
        order[name] = order[f"{later} is before {earlier}"] = (
            later,
            f"{later} is before {earlier}",
        )
    found: list[Failure] = []
    ordered: set[tuple[int, str]] = set()
    columns = cases[["index", "check", "column", "failure_case"]]
    for index, check_name, column, failure_case in columns.itertuples(index=False, name=None):
        if index is None or pd.isna(index):
            continue  # a column-level problem (e.g. missing column), not a row's
        row = int(index)
        check = str(check_name)
        if check in order:
            name, message = order[check]
            if (row, name) not in ordered:
                ordered.add((row, name))
                found.append(Failure(row, name, frame.at[row, name], message, False))
            continue
        name = str(column)
        issue = "is empty" if check == "not_nullable" else _issue(check)
        found.append(Failure(row, name, failure_case, issue, name in required))
    return found


def _issue(check: str) -> str:
    # Pandera reports a check by its error text when one was given, else by its name.
    return check if check.startswith(("is ", "outside")) else f"fails {check}"
