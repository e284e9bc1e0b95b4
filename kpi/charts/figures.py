"""The figure builder the pages and the evidence packs share: tables and chart specs in,
``go.Figure`` out, in the one style of ``kpi.charts.style`` with the marks of
``kpi.charts.marks``. No Streamlit here.

Page builders take the engine's tables (``trend``, ``intervals``, ``bars``, ``heatmap``,
``nps_split``, ``pareto``); ``figure`` draws a ``ChartSpec`` (an insight's or a reflection's chart)
with the same builders, at the fixed size images are exported at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from kpi.charts.marks import (
    add_annotations,
    add_control_limits,
    add_marker,
    add_references,
    add_signals,
    add_target,
)
from kpi.charts.spec import ChartSpec
from kpi.charts.style import (
    BLUE,
    GREY,
    HEAT_SCALE,
    HEIGHT,
    OKABE_ITO,
    ORANGE,
    VERMILLION,
    WIDTH,
    axis_title,
    new_figure,
    plain,
    sized_for_export,
)
from kpi.engine.results import MetricResult
from kpi.engine.statistics import ControlChart
from kpi.store.annotations import Annotation

__all__ = [
    "BLUE",
    "GREY",
    "HEIGHT",
    "OKABE_ITO",
    "VERMILLION",
    "WIDTH",
    "bars",
    "figure",
    "heatmap",
    "intervals",
    "nps_split",
    "nps_split_of",
    "pareto",
    "trend",
]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _band(part: pd.DataFrame) -> go.Scatter:
    """The 95% interval around a line, as a shaded area."""
    return go.Scatter(
        x=list(part.period) + list(part.period[::-1]),
        y=list(part.ci_high) + list(part.ci_low[::-1]),
        fill="toself",
        mode="lines",
        fillcolor="rgba(0,114,178,0.12)",
        line={"width": 0},
        name="95% interval",
        hoverinfo="skip",
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
    fig = new_figure(f"{label} over time", "", axis_title(label, unit))
    frame = frame.assign(period=pd.to_datetime(frame["period"]))
    groups = [(None, frame)] if not split else list(frame.groupby(split, dropna=False, sort=True))
    for name, part in groups:
        if split is None and part["ci_low"].notna().any():
            fig.add_trace(_band(part))
        fig.add_trace(
            go.Scatter(
                x=part.period,
                y=part.value,
                mode="lines+markers",
                customdata=part.n,
                name=plain(label) if name is None else plain(name),
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
    pairs = list(zip(frame[label_column], frame.small_sample, strict=True))
    labels = [plain(v) + ("  (small n)" if small else "") for v, small in pairs]
    colours = [VERMILLION if v == highlight else (GREY if small else BLUE) for v, small in pairs]
    fig = new_figure(title, axis_title(title, unit), "", height=max(220, 60 + 34 * len(frame)))
    plus = (frame.ci_high - frame.value).tolist()
    minus = (frame.value - frame.ci_low).tolist()
    fig.add_trace(
        go.Scatter(
            x=frame.value,
            y=labels,
            mode="markers",
            name=plain(title),
            customdata=frame.n,
            error_x={"type": "data", "array": plus, "arrayminus": minus, "color": GREY},
            marker={
                "color": colours,
                "size": 11,
                "symbol": ["circle-open" if small else "circle" for _, small in pairs],
            },
            hovertemplate="%{y}: %{x:.1f} (n = %{customdata:,})<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    add_target(fig, target, direction, across=True)
    return fig


def _error_bars(frame: pd.DataFrame, y: str, ci: tuple[str, str] | None) -> dict | None:
    if not ci or not set(ci) <= set(frame):
        return None
    value = pd.to_numeric(frame[y], errors="coerce")
    low = pd.to_numeric(frame[ci[0]], errors="coerce")
    high = pd.to_numeric(frame[ci[1]], errors="coerce")
    return {"type": "data", "array": high - value, "arrayminus": value - low, "visible": True}


def _n_labels(frame: pd.DataFrame, n: str | None) -> list[str] | None:
    """ "n = 40" on each bar; a suppressed cell (no n) says it was under 5."""
    if not n or n not in frame:
        return None
    return [f"n = {int(v):,}" if v is not None and v == v else "n < 5" for v in frame[n]]


def bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    x_title: str = "",
    y_title: str = "",
    colour: str = BLUE,
    group: str | None = None,
    ci: tuple[str, str] | None = None,
    n: str | None = None,
) -> go.Figure:
    """Bars in the order given (buckets, ages, scores, periods); with ``group``, one series per
    value of that column in the palette's colours; ``ci`` columns become error bars and the
    ``n`` column a label on each bar."""
    fig = new_figure(title, x_title or x, y_title or y)
    parts = [(None, frame)] if group is None else list(frame.groupby(group, sort=False))
    for name, part in parts:
        fig.add_trace(
            go.Bar(
                x=[plain(v) for v in part[x]],
                y=part[y],
                marker_color=colour if group is None else None,
                name=plain(y_title or y) if name is None else plain(name),
                error_y=_error_bars(part, y, ci),
                text=_n_labels(part, n),
            )
        )
    fig.update_layout(barmode="group", showlegend=group is not None)
    fig.update_xaxes(type="category")
    return fig


def heatmap(frame: pd.DataFrame, title: str) -> go.Figure:
    """Weekday x hour grid of ``breached`` counts (``day``, ``hour``, ``outcomes`` columns)."""
    days = list(dict.fromkeys(frame.sort_values("weekday")["day"]))
    grid = frame.pivot(index="day", columns="hour", values="breached").reindex(days)
    outcomes = frame.pivot(index="day", columns="hour", values="outcomes").reindex(days)
    fig = new_figure(title, "hour the contact was opened (local time)", "weekday", height=330)
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


def grid(frame: pd.DataFrame, x: str, y: str, z: str, title: str, unit: str) -> go.Figure:
    """Any two-way grid as a heat map (weekdays in calendar order, first at the top)."""
    table = frame.pivot_table(index=y, columns=x, values=z, aggfunc="first")
    order = [d for d in WEEKDAYS if d in table.index]
    table = table.reindex(order or list(table.index))
    fig = new_figure(title, x, y)
    fig.add_trace(
        go.Heatmap(
            z=table.to_numpy(dtype=float),
            x=[plain(c) for c in table.columns],
            y=[plain(i) for i in table.index],
            colorscale=HEAT_SCALE,
            colorbar={"title": {"text": plain(unit or "value")}},
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def nps_split(promoters: int, passives: int, detractors: int) -> go.Figure:
    """One stacked bar: detractors (0-6), passives (7-8), promoters (9-10), as % of answers."""
    total = promoters + passives + detractors
    fig = new_figure("Promoters, passives and detractors", "% of NPS answers", "", height=200)
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


def nps_split_of(nps: MetricResult) -> go.Figure:
    """``nps_split`` of an NPS result: the answers neither promoters nor detractors are passives."""
    promoters, detractors = nps.extra.get("promoters", 0), nps.extra.get("detractors", 0)
    return nps_split(promoters, nps.n - promoters - detractors, detractors)


def pareto(
    frame: pd.DataFrame, label: str, title: str, cut: float = 80.0, count: str = "count"
) -> go.Figure:
    """Causes as bars, largest first, the cumulative share as a line on a second axis, and the
    ``cut`` (80%) line; the vital few (a ``vital_few`` column) in blue, the rest grey."""
    fig = new_figure(title, label, count, height=400)
    names = [plain(v) for v in frame[label]]
    vital = frame.vital_few if "vital_few" in frame else [True] * len(frame)
    fig.add_trace(
        go.Bar(
            x=names,
            y=frame[count],
            name=plain(count),
            marker_color=[BLUE if v else GREY for v in vital],
        )
    )
    if "cumulative_share" in frame:
        _cumulative(fig, names, frame.cumulative_share, cut)
    fig.update_xaxes(type="category")
    return fig


def _cumulative(fig: go.Figure, names: Sequence[str], share: pd.Series, cut: float) -> None:
    fig.add_trace(
        go.Scatter(
            x=names,
            y=share,
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


# --- chart specs (insights, reflections, evidence packs) ----------------------------------------


def figure(spec: ChartSpec) -> go.Figure:
    """A spec drawn by the builders above at export size; gaps (suppressed cells) stay gaps."""
    frame = spec.frame()
    if frame.empty:
        fig = new_figure(spec.title, spec.x, _value_title(spec))
    else:
        fig = _DRAW[spec.kind](spec, frame)
    x = list(frame[spec.x]) if spec.x in frame else []
    add_references(fig, x, spec.lines)
    return sized_for_export(fig)


def _value_title(spec: ChartSpec) -> str:
    return axis_title("value", "index" if spec.indexed else spec.unit)


def _spec_bars(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    return bars(frame, spec.x, spec.y, spec.title, spec.x, _value_title(spec),
                group=spec.color, ci=spec.ci, n=spec.n)  # fmt: skip


def _spec_line(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    fig = new_figure(spec.title, spec.x, _value_title(spec))
    fig.add_trace(
        go.Scatter(
            x=frame[spec.x],
            y=frame[spec.y],
            mode="lines+markers",
            name=plain(spec.y),
            line={"color": BLUE},
        )
    )
    if "signal" in frame:
        marked = frame[frame.signal.fillna(False).astype(bool)]
        add_signals(fig, list(marked[spec.x]), list(marked[spec.y]))
    if spec.marker:
        add_marker(fig, spec.marker)
    return fig


def _spec_heatmap(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    return grid(frame, spec.x, spec.y, spec.z or "value", spec.title, spec.unit)


def _spec_pareto(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    return pareto(frame, spec.x, spec.title, count=spec.y)


_DRAW = {"bars": _spec_bars, "line": _spec_line, "heatmap": _spec_heatmap, "pareto": _spec_pareto}
