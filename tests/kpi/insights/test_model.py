"""What an insight shows a reader: the heading of its kind and the table of its figures."""

from __future__ import annotations

from kpi.charts.spec import ChartSpec
from kpi.engine.filters import Filters
from kpi.insights.model import KIND_LABELS, KINDS, Figure, Insight, kind_label


def _insight(kind: str, *figures: Figure) -> Insight:
    return Insight(
        id=f"{kind}-0123456789",
        kind=kind,
        title="CSAT below its target",
        summary="test",
        figures=figures,
        chart=ChartSpec("bars", "CSAT", "period", "value", ()),
        metrics=("csat",),
        filters=Filters(),
    )


def test_every_kind_of_insight_has_a_heading() -> None:
    assert set(KIND_LABELS) == set(KINDS)
    assert all(kind_label(k) for k in KINDS)
    assert kind_label("target") == "Target missed"


def test_an_insight_is_headed_by_its_kind_then_its_title() -> None:
    assert _insight("target").heading == "Target missed: CSAT below its target"


def test_an_insights_figures_read_as_label_value_in_its_unit_and_n() -> None:
    table = _insight(
        "target",
        Figure("CSAT", 72.0, 410, "%", "CSAT: satisfied / answers"),
        Figure("Target", None, 0, "%", "the team's target"),
    ).figures_table()
    assert list(table.columns) == ["figure", "value", "n"]
    assert table.to_dict("records") == [
        {"figure": "CSAT", "value": "72.0%", "n": 410},
        {"figure": "Target", "value": "—", "n": 0},
    ]


def test_an_insight_without_figures_has_an_empty_table_with_its_columns() -> None:
    table = _insight("signal").figures_table()
    assert table.empty and list(table.columns) == ["figure", "value", "n"]
