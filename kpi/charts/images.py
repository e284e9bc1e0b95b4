"""Figures turned into files: PNG and SVG through Kaleido and the system Chromium, HTML offline.

Starting a browser takes seconds, so ``ChartRenderer`` keeps ONE running (Kaleido 1.x's sync
server) for every chart of an export. Kaleido is imported only when an image is drawn: it is slow
to import, and only exports need it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import plotly.graph_objects as go

from kpi.charts.style import HEIGHT, WIDTH
from kpi.errors import ChromiumMissing

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """The Chromium Kaleido would drive: $BROWSER_PATH, else one on the PATH."""
    configured = os.environ.get("BROWSER_PATH")
    if configured and os.path.exists(configured):
        return configured
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def require_browser() -> str:
    found = find_browser()
    if found is None:
        raise ChromiumMissing(
            "Charts are drawn as images with Chromium, and none was found. Install it with "
            "`sudo apt-get install chromium` (or set BROWSER_PATH to a Chrome/Chromium binary), "
            "then export again."
        )
    return found


class ChartRenderer:
    """Renders figures to PNG or SVG through one Kaleido browser kept open until ``close``."""

    def __init__(self) -> None:
        self._open = False

    def start(self) -> ChartRenderer:
        import kaleido  # imported here: only exports need a browser

        require_browser()
        if not self._open:
            kaleido.start_sync_server(silence_warnings=True)
            self._open = True
        return self

    def close(self) -> None:
        import kaleido

        if self._open:
            kaleido.stop_sync_server(silence_warnings=True)
            self._open = False

    def image(self, fig: go.Figure, fmt: str = "png", scale: float = 1.5) -> bytes:
        import kaleido

        if fmt not in ("png", "svg"):
            raise ValueError(f"cannot draw a chart as {fmt!r}; choose png or svg")
        self.start()
        # A figure sized for export (a footer makes it taller) is drawn at its own size.
        width = fig.layout.width or WIDTH
        height = fig.layout.height or HEIGHT
        opts = {"format": fmt, "width": width, "height": height, "scale": scale}
        data = kaleido.calc_fig_sync(fig.to_dict(), opts=opts)
        return data if isinstance(data, bytes) else str(data).encode("utf-8")


@contextmanager
def renderer() -> Iterator[ChartRenderer]:
    """One browser for every chart drawn inside the block."""
    r = ChartRenderer().start()
    try:
        yield r
    finally:
        r.close()


def html_bytes(fig: go.Figure) -> bytes:
    """An interactive chart as one HTML file with plotly.js inline: it opens offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
