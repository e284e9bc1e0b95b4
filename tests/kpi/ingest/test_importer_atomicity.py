"""An import killed part-way (SIGKILL, no chance to clean up) leaves the store as it was."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kpi.ingest.importer import import_file
from kpi.store.connection import open_store
from tests.paths import BAD_INPUTS

KPI = Path(sys.executable).parent / "kpi"
SMALL = BAD_INPUTS / "pipe_delimited.csv"
ROWS = 150_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not hasattr(signal, "SIGKILL") or not Path("/proc/self/fd").is_dir(),
        reason="needs SIGKILL and /proc",
    ),
]


def write_export(path: Path, n: int) -> None:
    """A generic_contacts export of n rows with the usual mix of fields."""
    start = dt.datetime(2025, 1, 6, 8, 0)
    header = (
        "contact_id,opened_at,resolved_at,status,priority,channel,team,agent,category,"
        "customer_id,wait_seconds,handle_seconds,sla_met,subject,description\n"
    )
    with open(path, "w", encoding="utf-8") as out:
        out.write(header)
        for i in range(n):
            opened = start + dt.timedelta(minutes=i)
            resolved = opened + dt.timedelta(hours=3)
            out.write(
                f"C{i},{opened:%Y-%m-%d %H:%M},{resolved:%Y-%m-%d %H:%M},resolved,normal,email,"
                f"Team {i % 3},Agent {i % 12},Billing,cust-{i % 5000},{i % 90},{300 + i % 200},"
                f"yes,Subject {i},Contact {i} about a bill\n"
            )


def snapshot(db: Path) -> dict[str, object]:
    store = open_store(db)
    try:
        cur = store.cursor()
        return {
            "counts": {t: store.count(t) for t in ("contacts", "responses", "imports", "quarantine", "import_warnings")},
            "imports": cur.execute("SELECT * FROM imports ORDER BY batch_id").fetchall(),
            "contacts": cur.execute("SELECT * FROM contacts ORDER BY contact_id").fetchall(),
            "history": cur.execute("SELECT count(*) FROM contacts_history").fetchall(),
        }  # fmt: skip
    finally:
        store.close()


def start_import(export: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(KPI), "import", str(export), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_when_loading(process: subprocess.Popen, db: Path, baseline_size: int) -> bool:
    """SIGKILL once the store file grows (rows are being written, not yet committed)."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if db.stat().st_size > baseline_size:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.kill()
    process.wait()
    return False


def holds_open(pid: int, path: Path) -> bool:
    """The process has ``path`` open (Linux: /proc/PID/fd)."""
    try:
        return any(
            os.path.realpath(fd) == str(path.resolve()) for fd in Path(f"/proc/{pid}/fd").iterdir()
        )
    except OSError:
        return False


def kill_when_reading(process: subprocess.Popen, db: Path, export: Path) -> bool:
    """SIGKILL once the process has the store open and is reading the export."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if holds_open(process.pid, export) and holds_open(process.pid, db):
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.kill()
    process.wait()
    return False


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("atomicity") / "big_contacts.csv"
    write_export(path, ROWS)
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    """A store that already holds one small import."""
    path = tmp_path / "store.duckdb"
    store = open_store(path)
    import_file(store, SMALL)
    store.close()
    return path


def test_an_import_killed_while_reading_leaves_the_store_unchanged(export, db):
    before = snapshot(db)
    process = start_import(export, db)
    assert kill_when_reading(process, db, export), "the import finished before it was killed"
    assert process.returncode == -signal.SIGKILL
    assert snapshot(db) == before


def test_an_import_killed_while_writing_rows_leaves_the_store_unchanged_and_can_be_redone(
    export, db
):
    before = snapshot(db)
    process = start_import(export, db)
    killed = kill_when_loading(process, db, db.stat().st_size)
    assert killed, "the import finished before it could be killed; use a larger file"
    assert process.returncode == -signal.SIGKILL
    assert snapshot(db) == before
    # The file imports afterwards, and a second import is a no-op.
    store = open_store(db)
    try:
        result = import_file(store, export)
        assert not result.already_imported
        assert result.rows_read == ROWS == result.inserted
        assert store.count("contacts") == ROWS + 3
        again = import_file(store, export)
        assert again.already_imported
        assert store.count("contacts") == ROWS + 3
        assert store.count("imports") == 2
    finally:
        store.close()
