"""The app and a `kpi import` on one store at once (issue 10, point 5): the import waits for
the app to let go and says so; the app shows the new data at its next run, without a restart;
pages keep serving while the command runs, and every row is counted once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kpi.store import sharing
from kpi.store.connection import open_store
from tests.paths import SAMPLE_DATA

PAGE = "views/data.py"
TICKETS = SAMPLE_DATA / "zendesk_tickets.csv"
KPI = Path(sys.executable).with_name("kpi")


def kpi_import(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(KPI), "import", str(TICKETS), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, sharing.WAIT_VAR: "120"},
    )


def imports_shown(at) -> list[str]:
    """The file names of the Data page's imports table (none before any import)."""
    return [str(name) for table in at.dataframe for name in table.value.get("File", [])]


def test_a_cli_import_waits_for_the_app_and_the_app_shows_it_without_a_restart(
    app_for, tmp_path: Path
) -> None:
    db = tmp_path / "team.duckdb"
    at = app_for(db, PAGE)
    assert not at.exception and imports_shown(at) == []
    command = kpi_import(db)
    out, err = command.communicate(timeout=300)
    assert command.returncode == 0, err
    assert f"the dashboard (PID {os.getpid()}) has the store {db} open; asked it to let go" in err
    at.run()  # the next run of the same app: no restart
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert imports_shown(at) == [TICKETS.name]


def test_pages_keep_serving_while_a_cli_import_runs_and_rows_are_counted_once(
    app_for, tmp_path: Path
) -> None:
    db = tmp_path / "team.duckdb"
    at = app_for(db, PAGE)
    command = kpi_import(db)
    runs = 0
    while command.poll() is None:  # the app keeps being used while the command runs
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        runs += 1
        time.sleep(0.2)
    _, err = command.communicate()
    assert command.returncode == 0, err
    assert runs >= 1
    at.run()
    assert imports_shown(at) == [TICKETS.name]
    # Counted once: what the batch says it read is what the store holds plus what it set aside.
    store = open_store(db, shared=True)
    try:
        with store.lease():
            read, imported, quarantined = (
                store.cursor()
                .execute("SELECT rows_read, rows_imported, rows_quarantined FROM imports")
                .fetchall()[0]
            )
            held = store.cursor().execute("SELECT count(*) FROM contacts").fetchall()[0][0]
    finally:
        store.close()
    assert imported + quarantined == read
    assert held == imported
