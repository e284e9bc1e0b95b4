"""Start the dashboard server with the libraries its pages run on already loaded.

    python -m dashboard.serve [options of `streamlit run`]

`streamlit run dashboard/app.py` loads nothing before the first visitor opens a page, so that
visitor waits for every library the pages import (pandas, Ibis and its SQL compilers, SciPy,
Plotly, the engine): about a second on a two-core laptop, longer than the page itself. Loaded
here, before the server starts, the first page costs what every later one does. `make run`,
`make serve` and `kpi dashboard` start the server this way; the app itself is unchanged.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")

#: What the pages' first run would otherwise import. The `kpi` library only (it never imports
#: Streamlit): the dashboard's own modules expect a running script.
PRELOAD = (
    "ibis.backends.duckdb",
    "kpi.charts.figures",
    "kpi.engine.breakdowns",
    "kpi.engine.page_data",
    "kpi.engine.report",
    "kpi.insights",
)


def preload() -> None:
    """Import what ``PRELOAD`` names."""
    for name in PRELOAD:
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> None:
    """``streamlit run`` of the app in this process, after ``preload``."""
    preload()
    from streamlit.web import cli

    options = sys.argv[1:] if argv is None else argv
    sys.argv = ["streamlit", "run", str(APP), *options]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
