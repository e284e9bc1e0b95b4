"""The bounds an import keeps to, so that a hostile or careless file cannot hang it, exhaust
memory, or move every figure with one impossible value.

Each limit has a default that suits a laptop and can be changed without code: an environment
variable (for the app and scripts), or the ``kpi import`` option of the same name.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, replace
from typing import Any

from kpi.errors import FIRST_YEAR, LAST_YEAR, ImportProblem

#: The first and last instants a store may hold (``kpi.errors.FIRST_YEAR``, ``LAST_YEAR``): the
#: date limits cannot reach past them, so an import never stores what a report refuses.
FIRST_DATE = dt.date(FIRST_YEAR, 1, 1)
LAST_INSTANT = dt.datetime(LAST_YEAR, 12, 31, 23, 59, 59, 999999)

#: Environment variable -> (field, what it means). Values are plain numbers or an ISO date.
ENVIRONMENT = {
    "KPI_MAX_FUTURE_DAYS": ("max_future_days", "days after the import a date may lie"),
    "KPI_EARLIEST_DATE": ("earliest_date", "the earliest plausible date (YYYY-MM-DD)"),
    "KPI_XLSX_MAX_CELLS": ("xlsx_max_cells", "cells a workbook sheet may declare"),
    "KPI_XLSX_MAX_MB": ("xlsx_max_mb", "megabytes a workbook may inflate to"),
    "KPI_XLSX_MAX_STRINGS_MB": (
        "xlsx_max_strings_mb",
        "megabytes a workbook's shared strings may inflate to",
    ),
    "KPI_MAX_QUARANTINE": (
        "max_quarantine",
        "the percentage of rows an import may set aside (0 to 100)",
    ),
}


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on one import. ``now`` is the import's own clock (tests fix it)."""

    #: A date later than the import plus this many days cannot have happened yet: quarantined.
    max_future_days: float = 2.0
    #: A date before this is not a plausible service contact (a typo or a spreadsheet's 1900).
    earliest_date: dt.date = dt.date(1990, 1, 1)
    #: A workbook sheet declaring more cells than this (e.g. a lone cell at XFD1048576) is
    #: refused before any row is read.
    xlsx_max_cells: int = 100_000_000
    #: A workbook whose parts inflate beyond this many megabytes (a zip bomb) is refused.
    xlsx_max_mb: float = 1024.0
    #: A workbook whose shared strings (xl/sharedStrings.xml, which openpyxl holds whole in
    #: memory, at several times their size) inflate beyond this many megabytes is refused. A
    #: 1M-row export with ids and a short text column holds about 150 MB of them.
    xlsx_max_strings_mb: float = 256.0
    #: An import that would set aside more than this percentage of its rows is refused and
    #: the store left as it was. One that would set aside every row is always refused: a
    #: wrong date_format or column quarantines them all, and an empty batch helps no one.
    max_quarantine: float = 100.0
    now: dt.datetime | None = None  # UTC, naive; None means the time the import runs

    def current(self) -> dt.datetime:
        """The import's time (naive UTC)."""
        return self.now or dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def latest(self) -> dt.datetime:
        """The latest plausible instant (naive UTC, like stored timestamps); never past the
        last year a report covers (``kpi.errors.LAST_YEAR``), however long the tolerance."""
        now = self.current()
        if self.max_future_days >= (LAST_INSTANT - now) / dt.timedelta(days=1):
            return LAST_INSTANT
        return now + dt.timedelta(days=self.max_future_days)

    def earliest(self) -> dt.datetime:
        return dt.datetime.combine(self.earliest_date, dt.time())

    def with_changes(self, **changes: Any) -> ImportLimits:
        """These limits with some replaced (None values are left as they are). A number that
        is not finite or is negative would switch a limit off or make every date impossible:
        it is refused, naming the limit."""
        given = {k: v for k, v in changes.items() if v is not None}
        for name, value in given.items():
            if isinstance(value, int | float) and not (math.isfinite(value) and value >= 0):
                raise ImportProblem(
                    f"the import limit {name.replace('_', ' ')} cannot be {value!r}: give a "
                    "finite number, 0 or more."
                )
            if name == "earliest_date" and value < FIRST_DATE:
                raise ImportProblem(
                    f"the import limit earliest date cannot be {value.isoformat()}: reports cover "
                    f"dates from {FIRST_DATE:%Y-%m-%d}, so give that or a later date."
                )
            if name == "max_quarantine" and value > 100:
                raise ImportProblem(
                    f"the import limit max quarantine cannot be {value!r}: give a percentage "
                    "from 0 to 100."
                )
        return replace(self, **given) if given else self


def _parse(field: str, text: str) -> object:
    if field == "earliest_date":
        return dt.date.fromisoformat(text)
    if field == "xlsx_max_cells":
        return int(float(text))
    return float(text)


def from_environment(environ: dict[str, str] | None = None) -> ImportLimits:
    """The default limits, changed by whichever KPI_* variables are set; a bad value is named."""
    env = os.environ if environ is None else environ
    changes: dict[str, Any] = {}
    for variable, (field, meaning) in ENVIRONMENT.items():
        text = env.get(variable, "").strip()
        if not text:
            continue
        try:
            value = _parse(field, text)
        except (ValueError, OverflowError):
            raise ImportProblem(
                f"{variable}={text!r} is not valid: it should be {meaning}."
            ) from None
        if isinstance(value, int | float) and not math.isfinite(value):
            raise ImportProblem(f"{variable}={text!r} is not valid: it must be a finite number.")
        if isinstance(value, int | float) and value < 0:
            raise ImportProblem(f"{variable}={text!r} is not valid: it cannot be negative.")
        if field == "max_quarantine" and isinstance(value, float) and value > 100:
            raise ImportProblem(f"{variable}={text!r} is not valid: it should be {meaning}.")
        changes[field] = value
    return ImportLimits().with_changes(**changes)
