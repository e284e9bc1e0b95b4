"""Plotly figure builders: tables and engine results in, ``go.Figure`` out; no Streamlit here.

One look everywhere: the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency), a plain white template, titles and axis names in words. Text that came from users
or files (annotations, category and agent names) is HTML-escaped, because Plotly reads a subset of
HTML in labels.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from kpi.engine.statistics import ControlChart
from kpi.store.annotations import Annotation

#: Okabe & Ito (2008): orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
BLUE, VERMILLION, GREEN, ORANGE, GREY = "#0072B2", "#D55E00", "#009E73", "#E69F00", "#999999"
#: Sequential, colour-blind safe.
HEAT_SCALE = "Cividis"


def plain(text: object) -> str:
    """User or file text made safe for Plotly's HTML-like labels."""
    return html.escape(str(text), quote=False)


def _figure(title: str, x_title: str = "", y_title: str = "", height: int = 360) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": plain(title)},
        template="plotly_white",
        colorway=list(OKABE_ITO),
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def _axis_title(label: str, unit: str) -> str:
    return {
        "%": f"{label} (%)",
        "points": f"{label} (points)",
        "hours": f"{label} (hours)",
        "seconds": f"{label} (seconds)",
        "count": label,
    }.get(unit, label)


def add_target(fig: go.Figure, target: float | None, direction: str | None = None) -> None:
    if target is None:
        return
    better = {"higher": " (higher is better)", "lower": " (lower is better)"}.get(
        direction or "", ""
    )
    fig.add_hline(
        y=target,
        line={"color": GREEN, "dash": "dot", "width": 2},
        annotation_text=f"target {target:g}{better}",
        annotation_position="top left",
        name="target",
    )


def add_annotations(fig: go.Figure, notes: Iterable[Annotation]) -> None:
    """A dashed vertical line and its note at each annotation's date."""
    for note in notes:
        fig.add_vline(
            x=pd.Timestamp(note.on_date).timestamp() * 1000,
            line={"color": GREY, "dash": "dash"},
            annotation_text=plain(note.text),
            annotation_position="top right",
            annotation_font_size=11,
        )


def add_control_limits(
    fig: go.Figure, x: Sequence, values: Sequence, chart: ControlChart | None
) -> None:
    """XmR centre line, limits, and the points the run rules flag, highlighted."""
    if chart is None:
        return
    for y, name, dash in (
        (chart.centre, "centre (mean)", "solid"),
        (chart.upper, "upper limit", "dash"),
        (chart.lower, "lower limit", "dash"),
    ):
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
    flagged = sorted({s.index for s in chart.signals})
    if flagged:
        reasons = {
            i: "<br>".join(plain(s.description) for s in chart.signals if s.index == i)
            for i in flagged
        }
        fig.add_trace(
            go.Scatter(
                x=[x[i] for i in flagged],
                y=[values[i] for i in flagged],
                mode="markers",
                name="signal",
                marker={
                    "color": VERMILLION,
                    "size": 13,
                    "symbol": "diamond-open",
                    "line": {"width": 3},
                },
                hovertext=[reasons[i] for i in flagged],
                hoverinfo="text+x",
            )
        )


def trend(
    frame: pd.DataFrame,
    label: str,
    unit: str,
    split: str | None = None,
    target: float | None = None,
    direction: str | None = None,
    chart: ControlChart | None = None,
    notes: Iterable[Annotation] = (),
) -> go.Figure:
    """A KPI over time: ``frame`` has ``period`` (ISO dates), ``value``, ``ci_low``, ``ci_high``,
    ``n`` and, with ``split``, that field. One line per segment (with a split) or the total with
    its 95% band and XmR limits."""
    fig = _figure(f"{label} over time", "", _axis_title(label, unit))
    frame = frame.assign(period=pd.to_datetime(frame["period"]))
    groups = [(None, frame)] if not split else list(frame.groupby(split, dropna=False, sort=True))
    for name, part in groups:
        if split is None and part["ci_low"].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=list(part.period) + list(part.period[::-1]),
                    y=list(part.ci_high) + list(part.ci_low[::-1]),
                    fill="toself",
                    mode="lines",
                    fillcolor="rgba(0,114,178,0.12)",
                    line={"width": 0},
                    name="95% interval",
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=part.period,
                y=part.value,
                mode="lines+markers",
                customdata=part.n,
                name=label if name is None else plain(name),
                line={"color": BLUE} if name is None else None,
                hovertemplate="%{x|%d %b %Y}: %{y:.1f} (n = %{customdata:,})<extra></extra>",
            )
        )
    if split is None:
        add_control_limits(fig, list(frame.period), list(frame.value), chart)
    if len(frame) and (frame.period.dt.day == 1).all():  # monthly: one tick per month
        fig.update_xaxes(dtick="M1", tickformat="%b %Y")
    add_target(fig, target, direction)
    add_annotations(fig, notes)
    return fig


def intervals(
    frame: pd.DataFrame,
    label_column: str,
    title: str,
    unit: str,
    target: float | None = None,
    direction: str | None = None,
    highlight: str | None = None,
) -> go.Figure:
    """Dots with 95% intervals, one row per segment in the order given (never re-sorted by
    value). Small samples are hollow and grey, and their label says so."""
    frame = frame.reset_index(drop=True)
    labels = [
        plain(v) + ("  (small n)" if s else "")
        for v, s in zip(frame[label_column], frame.small_sample, strict=True)
    ]
    colours = [
        VERMILLION if v == highlight else (GREY if s else BLUE)
        for v, s in zip(frame[label_column], frame.small_sample, strict=True)
    ]
    fig = _figure(title, _axis_title(title, unit), "", height=max(220, 60 + 34 * len(frame)))
    plus = (frame.ci_high - frame.value).tolist()
    minus = (frame.value - frame.ci_low).tolist()
    fig.add_trace(
        go.Scatter(
            x=frame.value,
            y=labels,
            mode="markers",
            name=title,
            customdata=frame.n,
            error_x={"type": "data", "array": plus, "arrayminus": minus, "color": GREY},
            marker={
                "color": colours,
                "size": 11,
                "symbol": ["circle-open" if s else "circle" for s in frame.small_sample],
            },
            hovertemplate="%{y}: %{x:.1f} (n = %{customdata:,})<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    if target is not None:
        fig.add_vline(
            x=target,
            line={"color": GREEN, "dash": "dot", "width": 2},
            annotation_text=f"target {target:g}"
            + (f" ({direction} is better)" if direction else ""),
        )
    return fig


def bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    x_title: str = "",
    y_title: str = "",
    colour: str = BLUE,
) -> go.Figure:
    """Plain bars in the order given (buckets, ages, scores)."""
    fig = _figure(title, x_title or x, y_title or y)
    fig.add_trace(
        go.Bar(x=[plain(v) for v in frame[x]], y=frame[y], marker_color=colour, name=y_title or y)
    )
    fig.update_xaxes(type="category")
    return fig


def heatmap(frame: pd.DataFrame, title: str) -> go.Figure:
    """Weekday x hour grid of ``breached`` counts (``day``, ``hour``, ``outcomes`` columns)."""
    days = list(dict.fromkeys(frame.sort_values("weekday")["day"]))
    grid = frame.pivot(index="day", columns="hour", values="breached").reindex(days)
    outcomes = frame.pivot(index="day", columns="hour", values="outcomes").reindex(days)
    fig = _figure(title, "hour the contact was opened (local time)", "weekday", height=330)
    fig.add_trace(
        go.Heatmap(
            z=grid.values,
            x=list(grid.columns),
            y=days,
            colorscale=HEAT_SCALE,
            customdata=outcomes.values,
            colorbar={"title": {"text": "breaches"}},
            hovertemplate="%{y} %{x}:00: %{z} breaches of %{customdata} contacts<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(dtick=2)
    return fig


def nps_split(promoters: int, passives: int, detractors: int) -> go.Figure:
    """One stacked bar: detractors (0-6), passives (7-8), promoters (9-10), as % of answers."""
    total = promoters + passives + detractors
    fig = _figure("Promoters, passives and detractors", "% of NPS answers", "", height=200)
    for name, count, colour in (
        ("Detractors (0-6)", detractors, VERMILLION),
        ("Passives (7-8)", passives, GREY),
        ("Promoters (9-10)", promoters, BLUE),
    ):
        share = 100.0 * count / total if total else 0.0
        fig.add_trace(
            go.Bar(
                x=[share],
                y=["NPS"],
                orientation="h",
                name=name,
                marker_color=colour,
                text=[f"{name.split()[0]} {share:.0f}% ({count:,})"],
                textposition="inside",
                hovertemplate=f"{name}: {count:,} answers<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack", showlegend=False)  # each part is labelled in the bar
    fig.update_xaxes(range=[0, 100])
    return fig


def pareto(frame: pd.DataFrame, label: str, title: str, cut: float = 80.0) -> go.Figure:
    """Causes as bars, largest first, the cumulative share as a line on a second axis, and the
    ``cut`` (80%) line; the vital few in blue, the rest grey."""
    fig = _figure(title, label, "count", height=400)
    names = [plain(v) for v in frame[label]]
    fig.add_trace(
        go.Bar(
            x=names,
            y=frame["count"],
            name="count",
            marker_color=[BLUE if v else GREY for v in frame.vital_few],
        )
    )
    fig.add_trace(
        go.Scatter(
            x=names,
            y=frame.cumulative_share,
            name="cumulative %",
            yaxis="y2",
            mode="lines+markers",
            line={"color": ORANGE},
        )
    )
    fig.update_layout(
        yaxis2={
            "title": {"text": "cumulative % of all"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "tickvals": [0, 20, 40, 60, 80, 100],
            "showgrid": False,
        }
    )
    fig.add_hline(
        y=cut,
        yref="y2",
        line={"color": VERMILLION, "dash": "dot"},
        annotation_text=f"{cut:g}% line",
        annotation_position="bottom right",
    )
    fig.update_xaxes(type="category")
    return fig
