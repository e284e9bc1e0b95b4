"""`python -m dashboard.serve`: the server `make run` starts loads the pages' libraries first.
The browser tests serve the app this way; here, what it loads."""

from __future__ import annotations

import subprocess
import sys

from dashboard.serve import PRELOAD
from tests.paths import ROOT

_LOADED = """
import sys
from dashboard.serve import preload
preload()
print(",".join(sorted(m for m in ("streamlit", *sys.argv[1:]) if m in sys.modules)))
"""


def test_the_server_loads_the_engine_before_its_first_visitor_without_streamlit() -> None:
    # The kpi library and what it stands on only: the dashboard's own modules (and Streamlit's
    # caches) expect a running script, and would log warnings loaded any earlier.
    wanted = ["pandas", "ibis", "kpi.engine.report", "kpi.insights"]
    found = subprocess.run(
        [sys.executable, "-c", _LOADED, *wanted],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert found.stdout.strip() == ",".join(sorted(wanted))
    assert all(not name.startswith("dashboard") for name in PRELOAD)
