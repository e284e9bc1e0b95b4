"""The app on a team server's store (issue 11, point 4): served from PostgreSQL, it shows what a
DuckDB file of the same store shows, and shows a `kpi import` run beside it at its next run.
(Writes from pages and their races: tests/kpi/store/test_remote.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kpi.store.connection import open_store
from kpi.store.copying import copy_store
from kpi.store.remote import remote
from tests.dashboard.test_store_sharing import imports_shown
from tests.paths import SAMPLE_DATA

pytestmark = pytest.mark.backends

KPI = Path(sys.executable).with_name("kpi")
TICKETS = SAMPLE_DATA / "zendesk_tickets.csv"


def tiles(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_overview_of_a_postgresql_store_is_the_overview_of_its_file(
    app_for, seeded_db: Path, postgres_store: str
) -> None:
    source = open_store(seeded_db)
    copy_store(source, postgres_store)
    source.close()
    on_file = tiles(app_for(seeded_db, "views/overview.py"))
    at = app_for(postgres_store, "views/overview.py")
    assert not at.exception and not at.error
    assert tiles(at) == on_file and len(on_file) >= 10


def test_a_cli_import_into_the_server_shows_at_the_apps_next_run(
    app_for, postgres_store: str
) -> None:
    at = app_for(postgres_store, "views/data.py")
    assert not at.exception and imports_shown(at) == []
    done = subprocess.run(
        [str(KPI), "import", str(TICKETS), "--db", postgres_store],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    at.run()  # no restart: the app's next run finds the server's store moved on
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert imports_shown(at) == [TICKETS.name]
    counts = remote(postgres_store).row_counts()
    assert counts["imports"] == 1 and counts["contacts"] > 20_000
