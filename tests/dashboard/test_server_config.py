"""The served dashboard is safe by default: reachable from this machine only, XSRF protection
on, uploads bounded, error details and the tables' own CSV export off. Read by Streamlit itself
from the project's `.streamlit/config.toml` (what `make run` and `kpi dashboard` use)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.paths import ROOT

OPTIONS = (
    "server.address",
    "server.enableXsrfProtection",
    "server.maxUploadSize",
    "client.showErrorDetails",
    "client.disableDataExport",
)


def _as_streamlit_reads_them() -> dict[str, object]:
    probe = (
        "import json\n"
        "from streamlit import config\n"
        "config.get_config_options(force_reparse=True)\n"
        f"print(json.dumps({{o: config.get_option(o) for o in {OPTIONS!r}}}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_dashboard_listens_on_this_machine_only_with_xsrf_on_and_bounded_uploads():
    options = _as_streamlit_reads_them()
    assert options["server.address"] == "localhost"
    assert options["server.enableXsrfProtection"] is True
    assert options["server.maxUploadSize"] == 1024
    assert options["client.showErrorDetails"] == "none"
    assert options["client.disableDataExport"] is True
