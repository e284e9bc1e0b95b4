"""Figure builders: the traces, axes, target and control lines, signals and annotations each
chart promises, in the colour-blind-safe palette, with file text escaped."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kpi.charts import figures
from kpi.charts.spec import ChartSpec
from kpi.engine.change import mark_parts, whole_periods
from kpi.engine.report import report
from kpi.engine.statistics import xmr_limits
from kpi.engine.tables import long_frame
from kpi.store.annotations import Annotation
from tests.kpi.engine.test_report import CAL, WHOLE_WEEKS, part_period_store

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


def test_month_ticks_read_aug_2026_and_week_ticks_name_the_monday() -> None:
    frame = series([80, 81, 82]).assign(period=["2026-06-01", "2026-07-01", "2026-08-01"])
    fig = figures.trend(frame, "CSAT", "%", grain="month")
    assert list(fig.layout.xaxis.ticktext) == ["Jun 2026", "Jul 2026", "Aug 2026"]
    weekly = figures.trend(series([80, 81, 82]), "CSAT", "%", grain="week")
    # The year on the first tick and where it changes: the ticks fit a half-width chart.
    assert list(weekly.layout.xaxis.ticktext) == ["w/c 5 Jan 2026", "w/c 12 Jan", "w/c 19 Jan"]
    turn = series([80, 81, 82]).assign(period=["2025-12-22", "2025-12-29", "2026-01-05"])
    ticks = figures.trend(turn, "CSAT", "%", grain="week").layout.xaxis.ticktext
    assert list(ticks) == ["w/c 22 Dec 2025", "w/c 29 Dec", "w/c 5 Jan 2026"]
    assert weekly.data[1].customdata[0][0] == "w/c 5 Jan 2026"  # the hover names the week


def test_part_weeks_are_drawn_hollow_and_dotted_and_kept_out_of_the_line() -> None:
    store = part_period_store()
    weekly = report(store, grain="week", settings=CAL, metrics=["csat"])
    frame = mark_parts(long_frame(weekly, ("csat",)), weekly)
    chart = xmr_limits(list(whole_periods(frame).value))
    fig = figures.trend(frame, "CSAT", "%", chart=chart, grain="week")
    line = next(t for t in fig.data if t.name == "CSAT")
    assert pd.isna(line.y[0]) and pd.isna(line.y[-1])  # the whole weeks' line skips both ends
    assert list(line.y[1:-1]) == pytest.approx(WHOLE_WEEKS)
    part = next(t for t in fig.data if t.name == "CSAT (part week)")
    assert part.line.dash == "dot"
    hollow = [(x, y) for x, y, m in zip(part.x, part.y, part.marker.symbol, strict=True)
              if m == "circle-open"]  # fmt: skip
    assert [(pd.Timestamp(x).date().isoformat(), y) for x, y in hollow] == [
        ("2026-06-29", 0.0),
        ("2026-08-17", 0.0),
    ]
    notes = [d[2] for d in part.customdata if d[2]]
    assert notes == [" - part week: 4 of 7 days covered", " - part week: 3 of 7 days covered"]
    assert chart.centre == pytest.approx(75.0)  # the limits drawn are the whole weeks' alone
    centre = next(t for t in fig.data if t.name == "centre (mean)")
    assert list(centre.y) == pytest.approx([75.0] * 8)


def _eight_channels() -> pd.DataFrame:
    """Two weeks of a rate split nine ways: channel "c1" largest ... "c8" smallest, "c9" empty."""
    rows = []
    for i in range(1, 9):
        for week, successes in (("2026-08-03", 10 * i), ("2026-08-10", 5 * i)):
            n = 100 - 10 * i
            rows.append({"channel": f"c{i}", "period": week, "value": 100.0 * successes / n,
                         "n": n, "numerator": successes, "ci_low": None, "ci_high": None})  # fmt: skip
    # A segment with no answers one week has no numerator: it adds nothing to "other".
    rows.append({"channel": "c9", "period": "2026-08-03", "value": None, "n": 0,
                 "numerator": None, "ci_low": None, "ci_high": None})  # fmt: skip
    return pd.DataFrame(rows)


def test_a_split_into_nine_shows_the_five_largest_and_other_pooled_from_counts() -> None:
    frame = _eight_channels()
    fig = figures.trend(frame, "SLA met", "%", split="channel")
    assert names(fig) == ["c1", "c2", "c3", "c4", "c5", "other"]
    other = fig.data[-1]
    rest = frame[frame.channel.isin(["c6", "c7", "c8", "c9"])]
    for week, value in zip(["2026-08-03", "2026-08-10"], other.y, strict=True):
        part = rest[rest.period == week]
        assert value == pytest.approx(100.0 * part.numerator.sum() / part.n.sum())
        assert value != pytest.approx(part.value.dropna().mean())  # not an average of rates
    assert other.customdata[0][1] == 40 + 30 + 20  # its n is the three segments'


def test_a_split_that_cannot_be_pooled_becomes_small_multiples() -> None:
    frame = _eight_channels().drop(columns="numerator")  # a median has no counts to pool
    fig = figures.trend(frame, "Resolution time", "hours", split="channel", target=8.0)
    titles = [a.text for a in fig.layout.annotations]
    assert [f"c{i}" for i in range(1, 10)] == [t for t in titles if t.startswith("c")]
    assert len({t.xaxis for t in fig.data}) == 9  # one small chart per channel
    # The facets' titles fill the top margin: the target is named in the chart's title.
    assert fig.layout.title.text.endswith("green dots: target 8")
    assert not [t for t in titles if t.startswith("target")]


def test_target_labels_sit_in_the_margin_above_every_point_and_whisker() -> None:
    values = [84.0, 85.0, 86.0]  # right on the target
    fig = figures.trend(series(values), "CSAT", "%", target=85, direction="higher")
    label = next(a for a in fig.layout.annotations if a.text.startswith("target"))
    assert (label.xref, label.yref, label.yanchor) == ("paper", "paper", "bottom")
    assert label.y >= 1.0  # above the plot area: no point or band can be under it
    frame = pd.DataFrame({"channel": ["email", "phone"], "value": [85.0, 84.0], "n": [50, 60],
                          "ci_low": [80.0, 79.0], "ci_high": [90.0, 89.0],
                          "small_sample": [False, False]})  # fmt: skip
    dots = figures.intervals(frame, "channel", "SLA", "%", target=85, direction="higher")
    label = next(a for a in dots.layout.annotations if a.text.startswith("target"))
    assert (label.xref, label.yref, label.y, label.yanchor) == ("paper", "paper", 1.0, "bottom")


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


def test_a_segment_s_part_weeks_share_its_colour_and_one_legend_key() -> None:
    channels = ["chat", "email", "phone", "social", "web"]  # "web" takes the palette's blue
    frame = pd.concat([series([80, 82, 81], c) for c in channels])
    frame = frame.assign(partial=frame.period == WEEKS[2], covered_days=3, days=7)
    fig = figures.trend(frame, "CSAT", "%", split="channel")
    lines = {t.name: t for t in fig.data}
    for c in channels:
        assert lines[f"{c} (part week)"].line.color == lines[c].line.color
    assert len({lines[c].line.color for c in channels}) == 5
    shown = [t.name for t in fig.data if t.showlegend is not False]
    assert shown == [*channels, "part week (hollow, dotted)"]


def test_a_segment_with_no_value_is_named_as_the_tables_name_it_and_comes_last() -> None:
    frame = pd.concat([series([80, 82], "email"), series([70, 71], None).assign(channel=None),
                       series([60, 61], "chat")])  # fmt: skip
    fig = figures.trend(frame, "CSAT", "%", split="channel")
    assert names(fig) == ["chat", "email", "(none)"]
