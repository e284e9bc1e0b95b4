"""A chart as data: what an insight or reflection shows, before it becomes a Plotly figure.

Insights carry a ``ChartSpec`` (rows of aggregates plus a few reference lines) rather than a
figure, so the same numbers can be stored with a reflection as JSON, drawn on a page, exported as
PNG/SVG/HTML and written out as CSV. ``shareable`` makes the safe-to-share copy every export uses:
colleagues renamed, small cells suppressed, and optionally indexed to a baseline of 100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from kpi.charts.disclosure import SMALLEST_CELL, anonymise

ChartKind = Literal["bars", "line", "heatmap", "pareto"]

#: Columns that name a person; in an export everyone but the learner becomes "Colleague n".
PERSON_COLUMNS = ("agent",)


@dataclass(frozen=True)
class ChartSpec:
    """Rows of aggregates and how to draw them.

    ``x`` and ``y`` name columns of ``rows``; ``n`` the column holding each row's sample size
    (used to suppress small cells); ``lines`` are horizontal references (target, centre, limits);
    ``marker`` an x value to mark (an annotation's date); ``z`` the value of a heat map.
    """

    kind: ChartKind
    title: str
    x: str
    y: str
    rows: tuple[Mapping[str, Any], ...]
    unit: str = ""
    n: str | None = "n"
    lines: Mapping[str, float] = field(default_factory=dict)
    marker: str | None = None
    z: str | None = None
    color: str | None = None
    #: Columns holding intervals for ``y`` (drawn as error bars).
    ci: tuple[str, str] | None = None
    indexed: bool = False
    #: Axis titles in words with units ("Week starting", "Complaint rate (%)") and a heat map's
    #: colour-bar title; empty ones are derived from the columns.
    x_title: str = ""
    y_title: str = ""
    z_title: str = ""
    #: A second title line (what was left out) and a footer drawn on the image itself
    #: (learner, evidence reference, data cut-off, source), so a file read alone says what it is.
    subtitle: str = ""
    footer: str = ""

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = [dict(r) for r in self.rows]
        data["lines"] = dict(self.lines)
        data["ci"] = list(self.ci) if self.ci else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChartSpec:
        values = dict(data)
        values["rows"] = tuple(dict(r) for r in values.get("rows", ()))
        values["lines"] = dict(values.get("lines") or {})
        values["ci"] = tuple(values["ci"]) if values.get("ci") else None
        return cls(**values)


def _value_columns(spec: ChartSpec) -> list[str]:
    columns = [spec.z or spec.y]
    if spec.ci:
        columns += list(spec.ci)
    return columns


def shareable(
    spec: ChartSpec,
    me: str | None = None,
    indexed: bool = False,
    minimum: int = SMALLEST_CELL,
    key: str = "",
) -> ChartSpec:
    """The copy of a chart that may leave the product.

    Every agent but ``me`` becomes "Colleague 1..n" (numbered by a hash keyed with ``key``, the
    store's pseudonym key, so the numbering follows neither rank nor anything a reader can
    recompute); a row whose n is under ``minimum`` loses its
    figures (kept as a gap, so the chart does not pretend the row was zero); with ``indexed`` the
    values become an index where the first shown value is 100, hiding absolute volumes.
    """
    frame = spec.frame()
    if frame.empty:
        return replace(spec, indexed=indexed)
    for column in PERSON_COLUMNS:
        frame = anonymise(frame, column, me, key)
    values = [c for c in _value_columns(spec) if c in frame]
    if spec.n and spec.n in frame:
        small = pd.to_numeric(frame[spec.n], errors="coerce").fillna(0) < minimum
        frame = frame.astype(object)
        frame.loc[small, values] = None
        frame.loc[small, spec.n] = None
    lines = dict(spec.lines)
    title = spec.title
    if indexed:
        frame, lines = _indexed(frame, values, lines)
        title = f"{spec.title} (index, first value = 100)"
    rows = tuple(_clean(r) for r in frame.to_dict("records"))
    return replace(spec, rows=rows, lines=lines, title=title, indexed=indexed)


def _indexed(
    frame: pd.DataFrame, values: Sequence[str], lines: Mapping[str, float]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Values (and references) divided by the first non-empty value, times 100."""
    series = pd.to_numeric(frame[values[0]], errors="coerce") if values else pd.Series()
    present = series.dropna()
    base = float(present.iloc[0]) if len(present) and present.iloc[0] else None
    out = frame.copy()
    if base is None:
        for column in values:
            out[column] = None
        return out, {}
    for column in values:
        out[column] = pd.to_numeric(out[column], errors="coerce") * 100.0 / base
    return out, {k: v * 100.0 / base for k, v in lines.items()}


def _clean(record: Mapping[Any, Any]) -> dict[str, Any]:
    """NaN -> None so rows survive JSON and render as gaps."""
    out = {}
    for key, value in record.items():
        if isinstance(value, float) and value != value:
            value = None
        out[str(key)] = value
    return out


def table(spec: ChartSpec) -> pd.DataFrame:
    """The chart's numbers as a table (for CSV): its rows, plus reference lines as columns."""
    frame = spec.frame()
    for name, value in spec.lines.items():
        frame[name] = value
    return frame
