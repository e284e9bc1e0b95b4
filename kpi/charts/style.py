"""The one look every chart has, on a page or in an evidence pack.

The Okabe-Ito palette (distinguishable with every common colour-vision deficiency), a plain white
template, titles and axis names in words. Text that came from users or files (annotations,
category and agent names, titles) goes through ``plain``: Plotly reads a subset of HTML in labels,
and user text must never be rendered as markup.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
import plotly.io as pio

#: Okabe & Ito (2008): orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
BLUE, VERMILLION, GREEN, ORANGE, GREY = "#0072B2", "#D55E00", "#009E73", "#E69F00", "#999999"
#: Sequential, colour-blind safe.
HEAT_SCALE = "Cividis"

#: Size of a chart drawn as a file (PNG, SVG) for an export; pages size charts to the column.
WIDTH, HEIGHT = 900, 450
#: Room for the axis titles of a fixed-size image (a page's chart grows its own margins).
EXPORT_MARGIN = {"l": 60, "r": 30, "t": 60, "b": 60}

_UNIT_SUFFIX = {
    "%": "%",
    "points": "points",
    "hours": "hours",
    "seconds": "seconds",
    "score": "score",
}


def plain(text: object) -> str:
    """User or file text made safe for Plotly's HTML-like labels."""
    return html.escape(str(text), quote=False)


def axis_title(label: str, unit: str) -> str:
    """ "CSAT (%)": a value axis named in words with its unit (a count is its own unit)."""
    if unit == "index":
        return f"{label} (index)"
    suffix = _UNIT_SUFFIX.get(unit)
    return f"{label} ({suffix})" if suffix else label


def new_figure(title: str, x_title: str = "", y_title: str = "", height: int = 360) -> go.Figure:
    """An empty figure in the house style: escaped title and axis names, palette, legend below."""
    fig = go.Figure()
    _white(fig)
    fig.update_layout(
        title={"text": plain(title)},
        colorway=list(OKABE_ITO),
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(title_text=plain(x_title))
    fig.update_yaxes(title_text=plain(y_title))
    return fig


def _white(fig: go.Figure) -> None:
    """Give the figure Plotly's "plotly_white" template (a copy of it) without checking the
    template's every property again: its own, registered, template is valid, and checking it
    took 10-20 ms a figure, a tenth of a page with a dozen charts. This is what Plotly does for
    its default template (``BaseFigure._initialize_layout_template``); the figure's own
    properties are checked as ever. tests/kpi/charts/test_style.py checks the figure is the one
    ``update_layout(template="plotly_white")`` makes."""
    layout = fig.layout
    layout._validate = False
    try:
        layout.template = pio.templates["plotly_white"]
    finally:
        layout._validate = fig._validate


def sized_for_export(fig: go.Figure) -> go.Figure:
    """The figure at the fixed size images are drawn at, with room for its axis titles."""
    fig.update_layout(width=WIDTH, height=HEIGHT, margin=EXPORT_MARGIN)
    return fig
