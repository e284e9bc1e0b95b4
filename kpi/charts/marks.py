"""What is drawn on top of a chart's data, the same way on every chart: the target line, the XmR
centre line and limits with the points the run rules flag, dated annotations, and named
reference lines carried by a chart spec."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from kpi.charts.style import GREEN, GREY, VERMILLION, plain
from kpi.engine.statistics import ControlChart
from kpi.store.annotations import Annotation

#: Names of the reference lines an XmR chart draws, in drawing order.
CONTROL_LINES = (("centre (mean)", "solid"), ("upper limit", "dash"), ("lower limit", "dash"))
#: Reference-line names a spec may carry and the control line each is drawn as.
_SPEC_CONTROL_NAMES = {"centre": "centre (mean)", "upper limit": "upper limit",
                       "lower limit": "lower limit"}  # fmt: skip

SIGNAL_MARKER = {"color": VERMILLION, "size": 13, "symbol": "diamond-open", "line": {"width": 3}}


def target_text(target: float, direction: str | None = None) -> str:
    better = {"higher": " (higher is better)", "lower": " (lower is better)"}.get(
        direction or "", ""
    )
    return f"target {target:g}{better}"


#: The target line on every chart: dotted, green.
TARGET_LINE = {"color": GREEN, "dash": "dot", "width": 2}


def add_target(
    fig: go.Figure,
    target: float | None,
    direction: str | None = None,
    across: bool = False,
    label: bool = True,
) -> None:
    """The target as a dotted green line, saying which side is better; ``across`` draws it
    vertically (for charts whose values run along the x axis). Its label sits in the margin
    above the plot's right corner, where it can never cover a point or a whisker (without
    ``label`` the caller names it elsewhere, e.g. in the title)."""
    if target is None:
        return
    if across:
        fig.add_vline(x=target, line=TARGET_LINE)
    else:
        fig.add_hline(y=target, line=TARGET_LINE, name="target")
    if not label:
        return
    fig.add_annotation(
        text=target_text(target, direction),
        xref="paper",
        yref="paper",
        x=1.0,
        y=1.0,
        xanchor="right",
        yanchor="bottom",
        showarrow=False,
        font={"color": GREEN, "size": 12},
        name="target",
    )


def add_annotations(fig: go.Figure, notes: Iterable[Annotation]) -> None:
    """A dashed vertical line and its note at each annotation's date."""
    for note in notes:
        add_marker(fig, pd.Timestamp(note.on_date).timestamp() * 1000, note.text)


def add_marker(fig: go.Figure, x: Any, text: str = "") -> None:
    """A dashed grey vertical line at ``x`` (a date on a time axis, or a category), noted."""
    fig.add_vline(
        x=x,
        line={"color": GREY, "dash": "dash"},
        annotation_text=plain(text),
        annotation_position="top right",
        annotation_font_size=11,
    )


def _flat_line(fig: go.Figure, x: Sequence, y: float, name: str, dash: str) -> None:
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=[y] * len(x),
            mode="lines",
            name=name,
            line={"color": GREY, "dash": dash, "width": 1},
            hoverinfo="skip",
        )
    )


def add_signals(
    fig: go.Figure, x: Sequence, y: Sequence, reasons: Sequence[str] | None = None
) -> None:
    """Highlight flagged points (vermillion open diamonds), with why in the hover text."""
    if not len(x):
        return
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=list(y),
            mode="markers",
            name="signal",
            marker=SIGNAL_MARKER,
            hovertext=list(reasons) if reasons is not None else None,
            hoverinfo="text+x" if reasons is not None else None,
        )
    )


def add_control_limits(
    fig: go.Figure, x: Sequence, values: Sequence, chart: ControlChart | None
) -> None:
    """XmR centre line, limits, and the points the run rules flag, highlighted."""
    if chart is None:
        return
    for y, (name, dash) in zip(
        (chart.centre, chart.upper, chart.lower), CONTROL_LINES, strict=True
    ):
        _flat_line(fig, x, y, name, dash)
    flagged = sorted({s.index for s in chart.signals})
    reasons = [
        "<br>".join(plain(s.description) for s in chart.signals if s.index == i) for i in flagged
    ]
    add_signals(fig, [x[i] for i in flagged], [values[i] for i in flagged], reasons)


def add_references(fig: go.Figure, x: Sequence, lines: Mapping[str, float]) -> None:
    """A spec's named lines: "target" as the target, "centre" and the limits as control lines,
    anything else as a labelled dashed line."""
    for name, value in lines.items():
        if name == "target":
            add_target(fig, value)
        elif name in _SPEC_CONTROL_NAMES and len(x):
            label = _SPEC_CONTROL_NAMES[name]
            _flat_line(fig, x, value, label, dict(CONTROL_LINES)[label])
        else:
            fig.add_hline(
                y=value,
                line={"color": GREY, "dash": "dash"},
                annotation_text=plain(name),
                annotation_position="top left",
            )
