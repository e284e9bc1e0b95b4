"""Chart specs drawn as Plotly figures.

Text placed in a figure is escaped: Plotly reads a few HTML tags in titles and labels, and user
text (an annotation, a category name) must never be rendered as markup.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from kpi.charts.spec import ChartSpec

WIDTH, HEIGHT = 900, 450

LINE_COLOURS = {"target": "#2e7d32", "centre": "#555555"}


def _plain(text: object) -> str:
    return html.escape(str(text), quote=False)


def _unit_suffix(spec: ChartSpec) -> str:
    if spec.indexed:
        return " (index)"
    return f" ({spec.unit})" if spec.unit and spec.unit != "count" else ""


def figure(spec: ChartSpec) -> go.Figure:
    """A Plotly figure for a spec; gaps (suppressed cells) stay gaps."""
    frame = spec.frame()
    builders = {"bars": _bars, "line": _line, "heatmap": _heatmap, "pareto": _pareto}
    fig = go.Figure() if frame.empty else builders[spec.kind](spec, frame)
    for name, value in spec.lines.items():
        fig.add_hline(
            y=value,
            line_dash="dash",
            line_color=LINE_COLOURS.get(name, "#c62828"),
            annotation_text=_plain(name),
            annotation_position="top left",
        )
    fig.update_layout(
        title=_plain(spec.title),
        template="plotly_white",
        width=WIDTH,
        height=HEIGHT,
        margin={"l": 60, "r": 30, "t": 60, "b": 60},
        yaxis_title=_plain(spec.y if spec.kind == "heatmap" else "value" + _unit_suffix(spec)),
        xaxis_title=_plain(spec.x),
    )
    return fig


def _error(spec: ChartSpec, frame: pd.DataFrame) -> dict[str, Any] | None:
    if not spec.ci or not set(spec.ci) <= set(frame):
        return None
    value = pd.to_numeric(frame[spec.y], errors="coerce")
    low = pd.to_numeric(frame[spec.ci[0]], errors="coerce")
    high = pd.to_numeric(frame[spec.ci[1]], errors="coerce")
    return {"type": "data", "array": high - value, "arrayminus": value - low, "visible": True}


def _bars(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    groups = frame.groupby(spec.color, sort=False) if spec.color else [(None, frame)]
    for name, part in groups:
        fig.add_bar(
            x=[_plain(v) for v in part[spec.x]],
            y=part[spec.y],
            name=_plain(name) if name is not None else "",
            error_y=_error(spec, part),
            text=[f"n = {n}" if n is not None and n == n else "n < 5" for n in part.get("n", [])]
            if "n" in part
            else None,
        )
    fig.update_layout(barmode="group", showlegend=spec.color is not None)
    return fig


def _line(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=frame[spec.x], y=frame[spec.y], mode="lines+markers", name=_plain(spec.y))
    if "signal" in frame:
        marked = frame[frame.signal.fillna(False).astype(bool)]
        fig.add_scatter(
            x=marked[spec.x],
            y=marked[spec.y],
            mode="markers",
            marker={"size": 12, "color": "#c62828", "symbol": "diamond"},
            name="signal",
        )
    if spec.marker:
        fig.add_vline(x=spec.marker, line_dash="dot")
    fig.update_layout(showlegend="signal" in frame)
    return fig


def _heatmap(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    grid = frame.pivot_table(
        index=spec.y, columns=spec.x, values=spec.z or "value", aggfunc="first"
    )
    order = [d for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun") if d in grid.index]
    grid = grid.reindex(order or list(grid.index))
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=float),
            x=[_plain(c) for c in grid.columns],
            y=[_plain(i) for i in grid.index],
            colorscale="Reds",
            colorbar={"title": _plain(spec.unit or "value")},
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def _pareto(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=[_plain(v) for v in frame[spec.x]], y=frame[spec.y], name=_plain(spec.y))
    if "cumulative_share" in frame:
        fig.add_scatter(
            x=[_plain(v) for v in frame[spec.x]],
            y=frame.cumulative_share,
            yaxis="y2",
            mode="lines+markers",
            name="cumulative %",
        )
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, 105]})
    return fig
