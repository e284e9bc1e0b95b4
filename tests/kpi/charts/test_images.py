"""Charts drawn as files through Kaleido: a chart with a footer is drawn at its own, taller size,
with the footer and the title on the image itself."""

from __future__ import annotations

import struct

import pytest

from kpi.charts import images
from kpi.charts.figures import FOOTER_ROOM, figure
from kpi.charts.spec import ChartSpec
from kpi.charts.style import HEIGHT, WIDTH

FOOTER = "Amelia Booth · evidence EV-0001 · data cut-off 31 Mar 2026 17:00 UTC · source: calls.csv"


def _spec(footer: str = FOOTER) -> ChartSpec:
    rows = tuple(
        {"week": f"2026-03-{d:02d}", "value": v, "n": 40} for d, v in ((2, 80.0), (9, 82.5))
    )
    return ChartSpec("line", "CSAT by week, channel email, phone, w/c 2 Mar 2026 to w/c 9 Mar 2026, n = 80 answers",
                     "week", "value", rows, unit="%", x_title="Week starting (Monday)",
                     y_title="CSAT (%)", subtitle="Whole weeks only", footer=footer)  # fmt: skip


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


@pytest.mark.chromium
def test_a_chart_with_a_footer_is_drawn_taller_with_footer_and_title_on_it() -> None:
    with images.renderer() as renderer:
        png = renderer.image(figure(_spec()), "png", scale=1)
        plain_png = renderer.image(figure(_spec(footer="")), "png", scale=1)
        svg = renderer.image(figure(_spec()), "svg").decode()
    assert _png_size(png) == (WIDTH, HEIGHT + FOOTER_ROOM)
    assert _png_size(plain_png) == (WIDTH, HEIGHT)
    assert "Amelia Booth · evidence EV-0001 · data cut-off 31 Mar 2026 17:00 UTC" in svg
    assert "CSAT (%)" in svg and "Week starting (Monday)" in svg and "w/c 2 Mar 2026" in svg
    assert "n = 80 answers" in svg


def test_a_long_title_is_broken_after_a_comma_to_fit_the_image() -> None:
    fig = figure(_spec())
    assert fig.layout.title.text.split("<br>") == [
        "CSAT by week, channel email, phone, w/c 2 Mar 2026 to w/c 9 Mar 2026,",
        "n = 80 answers",
    ]
    assert fig.layout.title.subtitle.text == "Whole weeks only"
    assert fig.layout.xaxis.title.text == "Week starting (Monday)"
    assert fig.layout.yaxis.title.text == "CSAT (%)"
