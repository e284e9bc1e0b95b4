"""Figure builders: the traces, axes, target and control lines, signals and annotations each
chart promises, in the colour-blind-safe palette, with file text escaped."""

from __future__ import annotations

from datetime import date

import pandas as pd

from kpi.charts import figures
from kpi.charts.spec import ChartSpec
from kpi.engine.statistics import xmr_limits
from kpi.store.annotations import Annotation

WEEKS = ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02", "2026-02-09"]


def series(values, segment=None):
    frame = pd.DataFrame({"period": WEEKS[: len(values)], "value": values, "n": 100,
                          "ci_low": [v - 3 for v in values], "ci_high": [v + 3 for v in values]})  # fmt: skip
    return frame.assign(channel=segment) if segment else frame


def names(fig):
    return [t.name for t in fig.data]


def test_trend_has_band_line_limits_target_and_annotations() -> None:
    values = [80, 81, 79, 80, 81, 99]
    chart = xmr_limits(values)
    notes = [Annotation(1, date(2026, 1, 12), "Knowledge base <relaunched>")]
    fig = figures.trend(series(values), "CSAT", "%", target=85, direction="higher",
                       chart=chart, notes=notes)  # fmt: skip
    assert names(fig) == [
        "95% interval",
        "CSAT",
        "centre (mean)",
        "upper limit",
        "lower limit",
        "signal",
    ]
    assert fig.layout.yaxis.title.text == "CSAT (%)"
    assert fig.layout.title.text == "CSAT over time"
    centre = fig.data[2]
    assert set(centre.y) == {chart.centre}
    signal = fig.data[-1]
    assert list(signal.y) == [99]  # the point outside the limits is highlighted
    assert signal.marker.color == figures.VERMILLION
    target = [s for s in fig.layout.shapes if s.y0 == 85]
    assert target and target[0].line.dash == "dot"
    texts = [a.text for a in fig.layout.annotations]
    assert "target 85 (higher is better)" in texts
    assert "Knowledge base &lt;relaunched&gt;" in texts  # plain text, not HTML
    assert any(s.x0 == pd.Timestamp("2026-01-12").timestamp() * 1000 for s in fig.layout.shapes)


def test_a_split_trend_has_a_line_per_segment_and_no_limits() -> None:
    frame = pd.concat([series([80, 82, 81], "email"), series([70, 71, 72], "phone")])
    fig = figures.trend(frame, "CSAT", "%", split="channel", chart=xmr_limits([1, 2, 3]))
    assert names(fig) == ["email", "phone"]


def test_intervals_keep_the_given_order_and_mark_small_samples() -> None:
    frame = pd.DataFrame({"agent": ["Amelia", "Bethan", "Carys"], "value": [80.0, 100.0, 75.0],
                          "n": [300, 6, 250], "ci_low": [75.0, 61.0, 70.0],
                          "ci_high": [84.0, 100.0, 80.0], "small_sample": [False, True, False]})  # fmt: skip
    fig = figures.intervals(frame, "agent", "CSAT", "%", target=85, direction="higher")
    dots = fig.data[0]
    assert list(dots.y) == ["Amelia", "Bethan  (small n)", "Carys"]  # not re-sorted by value
    assert list(dots.error_x.array) == [4.0, 0.0, 5.0]
    assert list(dots.error_x.arrayminus) == [5.0, 39.0, 5.0]
    assert list(dots.marker.symbol) == ["circle", "circle-open", "circle"]
    assert any(s.x0 == 85 for s in fig.layout.shapes)


def test_heatmap_is_weekday_by_hour() -> None:
    grid = pd.DataFrame([(d, h) for d in range(7) for h in range(24)], columns=["weekday", "hour"])
    grid = grid.assign(day=[("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d] for d in grid.weekday],
                       breached=[5 if (d, h) == (0, 9) else 0 for d, h in zip(grid.weekday, grid.hour, strict=True)],
                       outcomes=10)  # fmt: skip
    heat = figures.heatmap(grid, "Breaches").data[0]
    assert list(heat.y) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert len(heat.x) == 24 and heat.z[0][9] == 5
    assert heat.colorscale[0][1] != heat.colorscale[-1][1]


def test_pareto_has_bars_a_cumulative_line_and_the_80_percent_line() -> None:
    ranked = pd.DataFrame({"category": ["Billing", "Faults <x>"], "count": [8, 2],
                           "cumulative_share": [80.0, 100.0], "vital_few": [True, False]})  # fmt: skip
    fig = figures.pareto(ranked, "category", "Complaints by category")
    bars, line = fig.data
    assert list(bars.x) == ["Billing", "Faults &lt;x&gt;"]
    assert list(bars.marker.color) == [figures.BLUE, figures.GREY]
    assert line.yaxis == "y2" and list(line.y) == [80.0, 100.0]
    assert any(s.y0 == 80 and s.yref == "y2" for s in fig.layout.shapes)


def test_nps_split_is_three_shares_of_one_bar() -> None:
    fig = figures.nps_split(promoters=50, passives=30, detractors=20)
    assert names(fig) == ["Detractors (0-6)", "Passives (7-8)", "Promoters (9-10)"]
    assert [t.x[0] for t in fig.data] == [20.0, 30.0, 50.0]
    assert fig.layout.barmode == "stack"


def test_every_figure_uses_the_okabe_ito_palette() -> None:
    fig = figures.bars(pd.DataFrame({"age": ["<1 day"], "contacts": [3]}), "age", "contacts", "Age")
    assert tuple(fig.layout.colorway) == figures.OKABE_ITO
    assert fig.data[0].x == ("&lt;1 day",)


def test_a_monthly_trend_has_a_tick_per_month() -> None:
    frame = series([80, 81, 82]).assign(period=["2026-01-01", "2026-02-01", "2026-03-01"])
    fig = figures.trend(frame, "CSAT", "%")
    assert fig.layout.xaxis.dtick == "M1" and fig.layout.xaxis.tickformat == "%b %Y"
    assert figures.trend(series([80, 81]), "CSAT", "%").layout.xaxis.dtick is None


def test_a_spec_is_drawn_in_the_page_style_at_export_size() -> None:
    spec = ChartSpec("bars", "CSAT <b>now</b>", "period", "value",
                     ({"period": "Jan", "value": 80.0, "ci_low": 75.0, "ci_high": 85.0, "n": 40},
                      {"period": "Feb", "value": None, "ci_low": None, "ci_high": None, "n": None}),
                     unit="%", lines={"target": 85.0}, ci=("ci_low", "ci_high"))  # fmt: skip
    fig = figures.figure(spec)
    assert tuple(fig.layout.colorway) == figures.OKABE_ITO
    assert (fig.layout.width, fig.layout.height) == (figures.WIDTH, figures.HEIGHT)
    assert fig.layout.title.text == "CSAT &lt;b&gt;now&lt;/b&gt;"
    assert fig.layout.yaxis.title.text == "value (%)"
    assert list(fig.data[0].text) == ["n = 40", "n < 5"]  # the suppressed cell stays a gap
    assert fig.data[0].error_y.array[0] == 5.0 and fig.data[0].error_y.arrayminus[0] == 5.0
    assert "target 85" in [a.text for a in fig.layout.annotations]  # the pages' target line
    assert any(s.y0 == 85 and s.line.dash == "dot" for s in fig.layout.shapes)


def test_a_spec_line_draws_control_limits_and_signals_like_a_trend() -> None:
    rows = tuple({"week": w, "value": v, "n": 50, "signal": v > 90}
                 for w, v in zip(WEEKS, [80, 81, 79, 80, 81, 99], strict=True))  # fmt: skip
    spec = ChartSpec("line", "CSAT by week", "week", "value", rows, unit="%",
                     lines={"centre": 83.0, "upper limit": 95.0, "lower limit": 71.0})  # fmt: skip
    fig = figures.figure(spec)
    assert names(fig) == ["value", "signal", "centre (mean)", "upper limit", "lower limit"]
    assert list(fig.data[1].y) == [99]
    assert fig.data[1].marker.color == figures.VERMILLION


def test_a_spec_heatmap_and_pareto_use_the_shared_builders() -> None:
    cells = tuple({"day": d, "hour": h, "value": 1.0} for d in ("Tue", "Mon") for h in (9, 10))
    heat = figures.figure(ChartSpec("heatmap", "Breaches", "hour", "day", cells, z="value"))
    page = figures.heatmap(
        pd.DataFrame(
            {"weekday": [0], "day": ["Mon"], "hour": [9], "breached": [1], "outcomes": [2]}
        ),
        "Breaches",
    )
    assert list(heat.data[0].y) == ["Mon", "Tue"]  # calendar order, not the rows' order
    assert heat.data[0].colorscale == page.data[0].colorscale  # one colour scale everywhere
    ranked = ({"category": "<i>Billing</i>", "count": 8, "cumulative_share": 80.0, "n": 8},)
    fig = figures.figure(ChartSpec("pareto", "Pareto", "category", "count", ranked))
    assert list(fig.data[0].x) == ["&lt;i&gt;Billing&lt;/i&gt;"]
    assert fig.data[1].yaxis == "y2"


def test_an_empty_spec_is_an_empty_figure_with_its_title() -> None:
    fig = figures.figure(ChartSpec("line", "Nothing yet", "week", "value", ()))
    assert not fig.data and fig.layout.title.text == "Nothing yet"
