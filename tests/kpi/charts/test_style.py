"""The house style: every figure starts from Plotly's white template, set without checking the
template again, and is exactly the figure the public way of setting it makes."""

from __future__ import annotations

import json

import plotly
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from kpi.charts.style import OKABE_ITO, new_figure


def _content(fig: go.Figure) -> str:
    return json.dumps(fig.to_plotly_json(), sort_keys=True, cls=plotly.utils.PlotlyJSONEncoder)


def test_a_new_figure_is_the_one_the_public_template_setting_makes() -> None:
    made = new_figure("CSAT by week", "Week", "CSAT (%)")
    made.add_trace(go.Bar(x=["a", "b"], y=[1, 2]))
    expected = go.Figure()
    expected.update_layout(
        title={"text": "CSAT by week"},
        template="plotly_white",
        colorway=list(OKABE_ITO),
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    expected.update_xaxes(title_text="Week")
    expected.update_yaxes(title_text="CSAT (%)")
    expected.add_trace(go.Bar(x=["a", "b"], y=[1, 2]))
    assert _content(made) == _content(expected)


def test_a_figures_template_is_its_own_copy_and_its_properties_are_still_checked() -> None:
    fig = new_figure("A")
    fig.layout.template.layout.font.size = 99  # the figure's copy, not the registered one
    assert pio.templates["plotly_white"].layout.font.size is None
    assert new_figure("B").layout.template.layout.font.size is None
    with pytest.raises(ValueError):
        fig.update_layout(not_a_property=1)
