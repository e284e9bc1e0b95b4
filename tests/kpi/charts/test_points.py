"""A click on a chart's point or bar opens the rows behind exactly that number: the figure
carries what each point stands for, and the selection Streamlit hands back maps to a
drill-through whose rows number the point's n."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import plotly.graph_objects as go
import pytest

from kpi.charts import figures
from kpi.charts.points import Pick, decode, drill_request, picked, with_picks
from kpi.engine.change import mark_parts
from kpi.engine.drill import drill
from kpi.engine.filters import Filters
from kpi.engine.page_data import by_segment, counts, dated, plotted
from kpi.engine.report import report
from kpi.engine.tables import long_frame
from kpi.store.connection import Store, open_store

#: Starts mid-week and mid-month: the first points are part periods.
WINDOW = Filters(date(2026, 3, 4), date(2026, 5, 20))


@pytest.fixture(scope="module")
def store(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("points") / "store.duckdb"
    shutil.copy(seeded_template, path)
    s = open_store(path)
    yield s
    s.close()


def _clicks(fig: go.Figure) -> list[dict]:
    """A selection of each point as Streamlit returns it for a click (its curve, index and
    customdata as the figure gave them)."""
    out = []
    for curve, trace in enumerate(fig.data):
        for index, data in enumerate(trace.customdata if trace.customdata is not None else []):
            given = data if isinstance(data, str) else list(data)
            point = {"curve_number": curve, "point_index": index, "customdata": given}
            out.append({"points": [point], "point_indices": [index], "box": [], "lasso": []})
    return out


def _requests(fig: go.Figure, filters: Filters, grain: str | None):
    found = [drill_request(picked(s), filters, grain) for s in _clicks(fig)]
    return [r for r in found if r is not None]


def test_a_click_on_a_weekly_trend_point_drills_into_that_weeks_n(store: Store) -> None:
    weekly = report(store, WINDOW, grain="week", metrics=("csat",))
    frame = mark_parts(dated(long_frame(weekly, ("csat",))), weekly)
    fig = figures.trend(frame, "CSAT", "%", grain="week")
    requests = _requests(fig, weekly.filters, "week")
    # Every plotted week, the part week at each end included, once or more (a part week's
    # whole neighbour repeats in its dotted segment).
    assert {r.filters.date_from for r in requests} == {
        max(date.fromisoformat(str(p)), WINDOW.date_from) for p in frame.period
    }
    for request in {(r.filters, r.n): r for r in requests}.values():
        assert drill(store, "csat", request.filters, as_of=weekly.as_of).n == request.n
    first = min(requests, key=lambda r: r.filters.date_from)
    assert (first.filters.date_from, first.filters.date_to) == (date(2026, 3, 4), date(2026, 3, 8))


def test_a_click_on_a_split_series_drills_into_its_segment(store: Store) -> None:
    monthly = report(store, WINDOW, by=("channel",), grain="month", metrics=("sla",))
    frame = mark_parts(dated(long_frame(monthly, ("sla",), totals=False)), monthly)
    fig = figures.trend(frame, "SLA", "%", "channel", grain="month")
    requests = _requests(fig, monthly.filters, "month")
    # Every channel with SLA outcomes (calls have none: a point with n = 0 opens nothing).
    assert {r.segment["channel"] for r in requests} == set(frame[frame.n > 0].channel.dropna())
    for r in requests[:6]:
        assert drill(store, "sla", r.filters, r.segment, as_of=monthly.as_of).n == r.n


def test_a_click_on_a_breakdowns_dot_drills_into_that_segment(store: Store) -> None:
    breakdown = report(store, WINDOW, by=("priority",), metrics=("sla",))
    shown = plotted(by_segment(breakdown, ("sla",)), "sla")
    fig = figures.intervals(shown, "priority", "SLA by priority", "%")
    requests = _requests(fig, breakdown.filters, None)
    assert [r.segment["priority"] for r in requests] == list(shown.priority)
    for r in requests:
        assert r.filters == breakdown.filters
        assert drill(store, "sla", r.filters, r.segment, as_of=breakdown.as_of).n == r.n


def test_a_click_on_a_bar_of_complaints_drills_into_those_complaints(store: Store) -> None:
    months = report(store, WINDOW, grain="month", metrics=("complaint_rate",))
    frame = mark_parts(long_frame(months, ("complaint_rate",)), months)
    volume = with_picks(counts(frame), only="successes")
    fig = figures.period_bars(volume, "Complaints per month", "complaints", "month")
    requests = _requests(fig, months.filters, "month")
    assert [r.n for r in requests] == [int(v) for v in volume.value if v]
    for r in requests:
        found = drill(store, "complaint_rate", r.filters, as_of=months.as_of, only=r.only)
        assert found.n == r.n


def test_the_pooled_other_series_and_undrillable_marks_open_nothing() -> None:
    other = Pick(40, "2026-03-02", {"agent": "other"}, pooled=True)
    assert drill_request(other, WINDOW, "week") is None
    assert drill_request(Pick(0, "2026-03-02"), WINDOW, "week") is None  # no rows
    assert drill_request(Pick(3, segment={"who": "Me (Sam)"}), WINDOW, None) is None
    # A band, a target line or an empty selection carries no pick.
    assert picked({"points": [{"customdata": None}, {"x": 1}]}) is None
    assert picked({"points": []}) is None and picked(None) is None
    assert decode(["Mar 2026", 4, "", ""]) is None and decode("{not json") is None


def test_a_pick_survives_the_round_trip_through_customdata() -> None:
    pick = Pick(7, "2026-03-01", {"team": None}, only="failures")
    assert decode(["Mar 2026", 7, "", pick.encode()]) == pick
    assert decode(pick.encode()) == pick  # a bar's customdata may be the pick alone


def test_part_months_are_hollow_dotted_bars_the_legend_explains() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "period": ["2026-03-01", "2026-04-01", "2026-05-01"],
            "value": [3.0, 9.0, 2.0],
            "partial": [True, False, True],
            "covered_days": [28, 30, 20],
            "days": [31, 30, 31],
        }
    )
    fig = figures.period_bars(frame, "Complaints per month", "complaints", "month")
    bars = fig.data[0]
    assert list(bars.x) == ["Mar 2026", "Apr 2026", "May 2026"]
    assert list(bars.marker.pattern.shape) == [".", "", "."]
    assert bars.marker.color[0] == "rgba(0,0,0,0)" and bars.marker.color[1] != "rgba(0,0,0,0)"
    assert bars.customdata[2][0] == " - part month: 20 of 31 days covered"
    assert fig.data[1].name == "part month (hollow, dotted)" and fig.layout.showlegend


def test_a_click_on_the_detractors_or_promoters_opens_just_those_answers(store: Store) -> None:
    nps = report(store, WINDOW, metrics=("nps",)).totals()["nps"]
    fig = figures.nps_split_of(nps)
    requests = _requests(fig, WINDOW, None)  # passives have no drill-through
    assert [(r.only, r.n) for r in requests] == [
        ("failures", nps.extra["detractors"]),
        ("successes", nps.extra["promoters"]),
    ]
    for r in requests:
        assert drill(store, "nps", r.filters, only=r.only).n == r.n
