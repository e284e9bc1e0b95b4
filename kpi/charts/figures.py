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
from plotly.subplots import make_subplots

from kpi.charts.marks import (
    add_annotations,
    add_control_limits,
    add_marker,
    add_references,
    add_signals,
    add_target,
    target_text,
)
from kpi.charts.points import Pick
from kpi.charts.spec import ChartSpec
from kpi.charts.style import (
    BLUE,
    EXPORT_MARGIN,
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
from kpi.engine.filters import SEGMENT_FIELDS
from kpi.engine.results import MetricResult
from kpi.engine.statistics import ControlChart
from kpi.engine.timeline import part_label, period_label
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
    "period_bars",
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


#: More series than this on one trend become the largest few plus "other" (or small multiples).
MOST_SERIES = 5
#: The name of the series pooling every segment beyond the largest ``MOST_SERIES``.
OTHER = "other"
#: The name of the segment with no value in the split's field (as the tables name it).
NONE = "(none)"
_HOVER = "%{customdata[0]}: %{y:.1f} (n = %{customdata[1]:,})%{customdata[2]}<extra></extra>"


def _grain_of(periods: pd.Series) -> str:
    """Month when every period starts on the 1st, week when on a Monday, else day."""
    if len(periods) > 1 and (periods.dt.day == 1).all():
        return "month"
    if len(periods) > 1 and (periods.dt.day_of_week == 0).all():
        return "week"
    return "day"


def _parts(frame: pd.DataFrame) -> pd.Series:
    """Which rows are part periods (``kpi.engine.change.mark_parts``); none when not marked."""
    if "partial" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["partial"].fillna(False).astype(bool)


def _hover_data(part: pd.DataFrame, grain: str) -> list[list[object]]:
    """[period label, n, " - part week: 4 of 7 days covered" or "", the point's pick (what a
    click on it drills into, ``kpi.charts.points``) or ""] for each point."""
    partial = _parts(part)
    picks = list(part["pick"]) if "pick" in part else [""] * len(part)
    rows = []
    for i, (period, n) in enumerate(zip(part.period, part.n, strict=True)):
        note = ""
        if partial.iloc[i]:
            note = " - " + part_label(grain, int(part.covered_days.iloc[i] or 0),
                                      int(part.days.iloc[i] or 0))  # fmt: skip
        count = int(n) if n == n and n is not None else 0
        rows.append([period_label(period.date().isoformat(), grain), count, note, picks[i]])
    return rows


def _with_picks(part: pd.DataFrame, split: str | None, name: object) -> pd.DataFrame:
    """A series' points with their picks: the period and n, and the segment the series is
    (none for the total; "other" pools several segments, so it has no rows of its own)."""
    segment = {} if split is None else {split: None if name == NONE else str(name)}
    picks = [
        Pick(int(n) if n == n and n is not None else 0, period.date().isoformat(), segment,
             pooled=split is not None and name == OTHER).encode()
        for period, n in zip(part.period, part.n, strict=True)
    ]  # fmt: skip
    return part.assign(pick=picks)


def _series(
    fig: go.Figure,
    part: pd.DataFrame,
    name: str,
    grain: str,
    colour: str,
    segment: bool = False,
    **where: object,
) -> None:
    """One line: whole periods joined and filled; part periods hollow, joined by a dotted
    segment and named in the hover, so a part week never reads as a whole one. A
    ``segment``'s part periods share one legend key (``_part_key``) rather than one each."""
    partial = _parts(part)
    fig.add_trace(
        go.Scatter(
            x=part.period,
            y=part.value.where(~partial),
            mode="lines+markers",
            customdata=_hover_data(part, grain),
            name=plain(name),
            legendgroup=plain(name),
            line={"color": colour},
            hovertemplate=_HOVER,
        ),
        **where,
    )
    if partial.any():
        _part_points(fig, part, partial, name, grain, colour, **where)
        if segment:
            fig.data[-1].showlegend = False


def _part_points(
    fig: go.Figure,
    part: pd.DataFrame,
    partial: pd.Series,
    name: str,
    grain: str,
    colour: str,
    **where: object,
) -> None:
    """Hollow markers at the part periods, each joined to its whole neighbour by a dotted line."""
    xs: list[object] = []
    ys: list[object] = []
    symbols: list[str] = []
    sizes: list[int] = []  # the whole neighbour is drawn by its own line: no second marker
    hover = _hover_data(part, grain)
    data: list[list[object]] = []
    for i in [j for j in range(len(part)) if partial.iloc[j]]:
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(part) and not partial.iloc[j]]
        for j in neighbours[:1]:
            xs += [part.period.iloc[j]]
            ys += [part.value.iloc[j]]
            symbols += ["circle"]
            sizes += [0]
            data += [hover[j]]
        xs += [part.period.iloc[i], None]
        ys += [part.value.iloc[i], None]
        symbols += ["circle-open", "circle"]
        sizes += [9, 0]
        data += [hover[i], ["", 0, "", ""]]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            name=f"{plain(name)} (part {grain})",
            legendgroup=plain(name),
            line={"dash": "dot", "color": colour},
            marker={"symbol": symbols, "size": sizes, "line": {"width": 2}},
            customdata=data,
            hovertemplate=_HOVER,
            connectgaps=False,
        ),
        **where,
    )


def _part_key(fig: go.Figure, grain: str) -> None:
    """One legend entry saying what a hollow point on a dotted line is."""
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="lines+markers",
            name=f"part {grain} (hollow, dotted)",
            line={"dash": "dot", "color": GREY},
            marker={"symbol": "circle-open", "size": 9},
        )
    )


def _ticks(fig: go.Figure, periods: pd.Series, grain: str) -> None:
    """Month ticks read "Aug 2026", week ticks "w/c 4 Aug 2026" (the year only on the first
    tick and where it changes, so that they fit a half-width chart), at most about eight."""
    shown = sorted(set(periods))
    if grain not in ("week", "month") or not shown:
        return
    step = max(1, -(-len(shown) // (8 if grain == "month" else 5)))
    ticks = shown[::step]
    texts = [period_label(t.date().isoformat(), grain) for t in ticks]
    if grain == "week":
        years = [None, *(t.year for t in ticks)]
        texts = [
            text if year != before else text.rsplit(" ", 1)[0]
            for text, year, before in zip(texts, years[1:], years[:-1], strict=True)
        ]
    fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=texts)


def top_and_other(
    frame: pd.DataFrame, split: str, unit: str, keep: int = MOST_SERIES
) -> pd.DataFrame | None:
    """The ``keep`` largest segments (by n over all periods) and one "other" series pooling the
    rest from counts: a rate as the numerators over the n's, a count as a sum; never an average
    of rates. None when the values cannot be pooled (medians, means, NPS): draw small multiples."""
    sizes = frame.groupby(split, dropna=False)["n"].sum()
    largest = list(sizes.sort_values(ascending=False, kind="stable").index[:keep])
    rest = frame[~frame[split].isin(largest)]
    # A rate's and NPS's value is 100 x numerator / n (NPS: promoters minus detractors).
    counted = rest[rest.n > 0]  # a segment with no answers that week has no numerator
    rate = unit in ("%", "points") and "numerator" in rest and bool(counted.numerator.notna().all())
    if not rate and unit != "count":
        return None
    grouped = rest.groupby("period", sort=True)
    other = grouped[["n"]].sum()
    if rate:
        other["numerator"] = grouped["numerator"].sum(min_count=0)
        other["value"] = (100.0 * other.numerator / other.n).where(other.n > 0)
    else:
        other["value"] = grouped["value"].sum()
    other = other.reset_index().assign(**{split: OTHER})
    carried = [c for c in ("partial", "covered_days", "days") if c in rest]
    if carried:
        periods = rest.drop_duplicates("period")[["period", *carried]]
        other = other.merge(periods, on="period", how="left")
    return pd.concat([frame[frame[split].isin(largest)], other], ignore_index=True)


def trend(
    frame: pd.DataFrame,
    label: str,
    unit: str,
    split: str | None = None,
    target: float | None = None,
    direction: str | None = None,
    chart: ControlChart | None = None,
    notes: Iterable[Annotation] = (),
    grain: str | None = None,
) -> go.Figure:
    """A KPI over time: ``frame`` has ``period`` (ISO dates), ``value``, ``ci_low``, ``ci_high``,
    ``n`` and, with ``split``, that field (and ``numerator``, ``unit`` to pool segments); part
    periods are drawn hollow and dotted when marked (``kpi.engine.change.mark_parts``). One line
    per segment (the largest five and "other" beyond that, or small multiples when the values
    cannot be pooled), or the total with its 95% band and XmR limits."""
    frame = frame.assign(period=pd.to_datetime(frame["period"]))
    if split:  # an empty field is a segment of its own, named as the tables name it
        frame[split] = frame[split].astype(object).where(frame[split].notna(), NONE)
    grain = grain or _grain_of(frame.period)
    if split and frame[split].nunique(dropna=False) > MOST_SERIES:
        pooled = top_and_other(frame, split, unit)
        if pooled is None:
            return _small_multiples(frame, label, unit, split, target, direction, grain)
        frame = pooled
    fig = new_figure(f"{label} over time", "", axis_title(label, unit))
    groups = [(None, frame)] if not split else list(_in_order(frame, split))
    for i, (name, part) in enumerate(groups):
        if split is None and part["ci_low"].notna().any():
            fig.add_trace(_band(part))
        # A segment's part periods share its colour, so hover and legend pair them up.
        colour = BLUE if name is None else OKABE_ITO[i % len(OKABE_ITO)]
        part = _with_picks(part, split, name)
        _series(fig, part, label if name is None else str(name), grain, colour, name is not None)
    if split and _parts(frame).any():
        _part_key(fig, grain)
    if split is None:
        add_control_limits(fig, list(frame.period), list(frame.value), chart)
    _ticks(fig, frame.period, grain)
    add_target(fig, target, direction)
    add_annotations(fig, notes)
    return fig


def _in_order(frame: pd.DataFrame, split: str) -> list[tuple[object, pd.DataFrame]]:
    """Segments by name, then "(none)", then "other"."""
    groups: list[tuple[object, pd.DataFrame]] = list(frame.groupby(split, dropna=False, sort=True))
    last = (NONE, OTHER)
    return [g for g in groups if g[0] not in last] + [g for k in last for g in groups if g[0] == k]


def _small_multiples(
    frame: pd.DataFrame,
    label: str,
    unit: str,
    split: str,
    target: float | None,
    direction: str | None,
    grain: str,
) -> go.Figure:
    """One small chart per segment, sharing the y axis, three to a row."""
    groups = list(_in_order(frame, split))
    columns = 3
    rows = -(-len(groups) // columns)
    fig = make_subplots(rows=rows, cols=columns, shared_yaxes=True, shared_xaxes=True,
                        subplot_titles=[plain(name) for name, _ in groups],
                        vertical_spacing=0.12 if rows > 1 else 0.2)  # fmt: skip
    for i, (name, part) in enumerate(groups):
        part = _with_picks(part, split, name)
        _series(fig, part, str(name), grain, BLUE, row=i // columns + 1, col=i % columns + 1)
    style = new_figure(f"{label} over time by {split}", "", axis_title(label, unit),
                       height=max(360, 190 * rows))  # fmt: skip
    fig.update_layout(style.layout, showlegend=False)
    fig.update_yaxes(title_text="")
    fig.update_yaxes(title_text=plain(axis_title(label, unit)), row=1, col=1)
    # The facets' titles fill the margin where a target's label goes: the title names it.
    add_target(fig, target, direction, label=False)
    if target is not None:
        title = f"{label} over time by {split}; green dots: {target_text(target, direction)}"
        fig.update_layout(title={"text": plain(title)})
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
            customdata=_segment_data(frame, label_column),
            error_x={"type": "data", "array": plus, "arrayminus": minus, "color": GREY},
            marker={
                "color": colours,
                "size": 11,
                "symbol": ["circle-open" if small else "circle" for _, small in pairs],
            },
            hovertemplate="%{y}: %{x:.1f} (n = %{customdata[0]:,})<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    add_target(fig, target, direction, across=True)
    return fig


def _segment_data(frame: pd.DataFrame, label_column: str) -> list[list[object]]:
    """[n, pick] per row; a row of a segment field (a breakdown's bar) picks that segment."""
    out: list[list[object]] = []
    for value, n in zip(frame[label_column], frame.n, strict=True):
        count = int(n) if n == n and n is not None else 0
        segment = {label_column: None if value is None or value != value else str(value)}
        pick = Pick(count, segment=segment).encode() if label_column in SEGMENT_FIELDS else ""
        out.append([count, pick])
    return out


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


def period_bars(
    frame: pd.DataFrame, title: str, y_title: str, grain: str, colour: str = BLUE
) -> go.Figure:
    """A count per period (``period``, ``value`` columns) as bars labelled "Aug 2026"; part
    periods (``kpi.engine.change.mark_parts``) hollow and dotted, said so in the hover and the
    legend, as ``trend`` draws them; a ``pick`` column is what a click on each bar drills into."""
    partial = _parts(frame)
    periods = [str(p)[:10] for p in frame.period]
    notes = ["" for _ in periods]
    for i in [j for j in range(len(frame)) if partial.iloc[j]]:
        covered, days = (int(frame[c].iloc[i] or 0) for c in ("covered_days", "days"))
        notes[i] = " - " + part_label(grain, covered, days)
    picks = list(frame["pick"]) if "pick" in frame else [""] * len(frame)
    fig = new_figure(title, "", y_title)
    fig.add_trace(
        go.Bar(
            x=[period_label(p, grain) for p in periods],
            y=frame.value,
            name=plain(y_title),
            marker={
                "color": ["rgba(0,0,0,0)" if p else colour for p in partial],
                "line": {"color": colour, "width": [2 if p else 0 for p in partial]},
                "pattern": {"shape": ["." if p else "" for p in partial], "fgcolor": colour},
            },
            customdata=[[note, pick] for note, pick in zip(notes, picks, strict=True)],
            hovertemplate="%{x}: %{y:,.0f}%{customdata[0]}<extra></extra>",
            showlegend=False,
        )
    )
    if partial.any():  # the legend says what a hollow, dotted bar is
        fig.add_trace(
            go.Bar(x=[None], y=[None], name=f"part {grain} (hollow, dotted)",
                   marker={"color": "rgba(0,0,0,0)", "line": {"color": GREY, "width": 2},
                           "pattern": {"shape": ".", "fgcolor": GREY}})
        )  # fmt: skip
    fig.update_layout(showlegend=bool(partial.any()))
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
    for name, count, colour, only in (
        ("Detractors (0-6)", detractors, VERMILLION, "failures"),
        ("Passives (7-8)", passives, GREY, None),
        ("Promoters (9-10)", promoters, BLUE, "successes"),
    ):
        share = 100.0 * count / total if total else 0.0
        # A click on detractors or promoters opens those answers (passives have no drill).
        pick = Pick(count, only=only).encode() if only else ""  # type: ignore[arg-type]
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
                customdata=[pick],
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
            # What a click on each bar drills into (``kpi.charts.points.pareto_picks``).
            customdata=list(frame["pick"]) if "pick" in frame else None,
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
            name="cumulative share (%)",
            yaxis="y2",
            mode="lines+markers",
            line={"color": ORANGE},
        )
    )
    fig.update_layout(
        yaxis2={
            "title": {"text": "Cumulative share of the total (%)"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "tickmode": "array",
            "tickvals": [0, 20, 40, 60, 80, 100],
            "ticktext": [f"{v}%" for v in (0, 20, 40, 60, 80, 100)],
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
    return _labelled(sized_for_export(fig), spec)


#: Room under an exported chart for its footer line (pixels), and the footer's grey.
FOOTER_ROOM, FOOTER_GREY = 34, "#555555"


def _labelled(fig: go.Figure, spec: ChartSpec) -> go.Figure:
    """A spec's own axis titles, second title line and footer, drawn on the figure so that an
    exported image read alone says what, whose, when and from where."""
    if spec.x_title:  # the first axes only: a Pareto's right axis keeps its own title
        fig.update_layout(xaxis_title_text=plain(spec.x_title))
    if spec.y_title:
        fig.update_layout(yaxis_title_text=plain(spec.y_title))
    if spec.z_title:
        colour_bar = {"title": {"text": plain(spec.z_title)}}
        fig.update_traces(colorbar=colour_bar, selector={"type": "heatmap"})
    lines = _title_lines(spec.title)
    # Pinned to the top of the image (not the middle of the margin), so that the subtitle and
    # the legend below it each get a band of their own however many lines the title takes.
    fig.update_layout(title={"text": "<br>".join(plain(line) for line in lines),
                             "yref": "container", "yanchor": "top"})  # fmt: skip
    top = EXPORT_MARGIN["t"] + 22 * (len(lines) - 1)
    if spec.subtitle:
        fig.update_layout(title={"subtitle": {"text": plain(spec.subtitle), "font": {"size": 12}}})
        top += 24
    fig.update_layout(margin={"t": top})
    if spec.footer:
        _footer(fig, spec)
    # Plotly anchors a title of several lines by its first line: the others push it up.
    drop = TITLE_FROM_TOP + TITLE_LINE * (len(lines) - 1)
    fig.update_layout(title={"y": 1 - drop / (fig.layout.height or HEIGHT)})
    return fig


def _footer(fig: go.Figure, spec: ChartSpec) -> None:
    """The footer at the foot of the image. The legend moves above the plot and the bottom
    margin is worked out from the x labels (not grown by Plotly after the fact), so the footer
    sits below the axis title and never on it."""
    fig.update_layout(legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0,
                              "yanchor": "bottom"})  # fmt: skip
    top = (fig.layout.margin.t or EXPORT_MARGIN["t"]) + (28 if _has_legend(fig) else 0)
    frame = spec.frame()
    labels = [str(v) for v in frame[spec.x]] if spec.x in frame else []
    longest = max(map(len, labels), default=0) if spec.kind in ("bars", "pareto") else 0
    ticks = 34
    if longest > 10 and len(labels) > 4:  # long category names: tilted, room for the longest
        fig.update_xaxes(tickangle=-30)
        ticks = 16 + int(3.3 * longest)
    bottom = ticks + 30 + FOOTER_ROOM
    height = (fig.layout.height or HEIGHT) + FOOTER_ROOM
    fig.update_layout(height=height, margin={"b": bottom, "t": top})
    fig.update_xaxes(automargin=False)
    plot = height - bottom - top
    fig.add_annotation(text=plain(spec.footer), xref="paper", yref="paper", x=0, xanchor="left",
                       y=-(bottom - 4) / plot, yanchor="bottom", showarrow=False,
                       font={"size": 10, "color": FOOTER_GREY}, align="left")  # fmt: skip


#: Pixels between the top of an exported chart and its title.
TITLE_FROM_TOP, TITLE_LINE = 14, 24
#: Characters of a title that fit across an exported chart on one line.
TITLE_FITS = 80


def _title_lines(title: str) -> list[str]:
    """A long title broken after a comma (else a space) so each line fits the image."""
    lines: list[str] = []
    rest = title
    while len(rest) > TITLE_FITS:
        cut = rest.rfind(", ", 0, TITLE_FITS)
        cut = cut + 1 if cut > 0 else rest.rfind(" ", 0, TITLE_FITS)
        if cut <= 0:
            break
        lines.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [*lines, rest]


def _has_legend(fig: go.Figure) -> bool:
    if fig.layout.showlegend is False:
        return False
    shown = [t for t in fig.data if t.showlegend is not False]
    return len(shown) > 1 or fig.layout.showlegend is True


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
            name=plain(spec.y_title or spec.y),
            line={"color": BLUE},
        )
    )
    if spec.x == "week" and len(frame):  # "w/c 2 Feb 2026" on the Mondays, not Plotly's Sundays
        _ticks(fig, pd.Series(pd.to_datetime(frame[spec.x])), "week")
    if "signal" in frame:
        marked = frame[frame.signal.fillna(False).astype(bool)]
        add_signals(fig, list(marked[spec.x]), list(marked[spec.y]))
    if spec.marker:
        add_marker(fig, spec.marker)
    return fig


def _spec_heatmap(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    return grid(frame, spec.x, spec.y, spec.z or "value", spec.title, spec.unit)


def _spec_pareto(spec: ChartSpec, frame: pd.DataFrame) -> go.Figure:
    fig = pareto(frame, spec.x, spec.title, count=spec.y)
    if spec.y_title:  # the bars' legend entry names what they count
        fig.data[0].name = plain(spec.y_title)
    return fig


_DRAW = {"bars": _spec_bars, "line": _spec_line, "heatmap": _spec_heatmap, "pareto": _spec_pareto}
