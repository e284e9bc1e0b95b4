"""A store the app cannot open (locked by a `kpi` command, damaged, read-only, not a store) is
said once, in one error box saying which and what to do, with no traceback and no page drawn
(issue 14, point 16); when the problem goes, the app opens the store again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kpi.store.connection import open_store
from tests.kpi.store.test_connection import damage, held_by_another_process, read_only
from tests.paths import APP


def start(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KPI_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    return at


def the_one_error(at: AppTest) -> str:
    """The page's only element of note: one error box (Markdown-escaped text, unescaped here)."""
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1, [e.value for e in at.error]
    assert not at.metric and not at.title  # no page was drawn under it
    return at.error[0].value.replace("\\", "")


def a_store(path: Path) -> Path:
    store = open_store(path)
    with store.transaction() as cur:
        cur.execute("CREATE TABLE filler AS SELECT range AS n FROM range(200000)")
    store.close()
    return path


def test_a_store_locked_by_a_kpi_command_is_said_once_and_the_app_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = a_store(tmp_path / "team.duckdb")
    # A page waits for a `kpi` command to finish, up to $KPI_STORE_WAIT seconds (a test's 1 s).
    monkeypatch.setenv("KPI_STORE_WAIT", "1")
    with held_by_another_process(db) as pid:
        at = start(db, monkeypatch)
        message = the_one_error(at)
        assert message == (
            f"the store {db} is locked by another process (PID {pid}); close the dashboard "
            f"or the other `kpi` command (PID {pid}) using it, or use another --db"
        )
        at.button(key="retry_store").click().run()
        assert len(at.error) == 1  # still locked: still said once
    at.button(key="retry_store").click().run()  # that command has finished
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.title


def test_a_damaged_store_is_said_once_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = damage(a_store(tmp_path / "team.duckdb"))
    message = the_one_error(start(db, monkeypatch))
    assert message.startswith(f"the store {db} is damaged (")
    assert message.endswith("restore a backup or move it aside")


def test_a_sqlite_file_as_the_store_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "team.sqlite"
    sqlite3.connect(db).execute("CREATE TABLE t (a)").connection.commit()
    message = the_one_error(start(db, monkeypatch))
    assert message == (
        f"{db} is not a DuckDB store (it is a SQLite database); "
        "give --db a .duckdb file or a new path"
    )


def test_a_read_only_store_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = a_store(tmp_path / "team.duckdb")
    with read_only(db):
        message = the_one_error(start(db, monkeypatch))
    assert message == (
        f"the store {db} cannot be written (read-only file); make it writable, or use another --db"
    )


def test_a_store_holding_a_year_9999_date_says_why_on_every_page_and_the_data_page_opens(
    seeded_db: Path, app_for
) -> None:
    # An older version stored a placeholder date; no report can use it. Pages of figures say
    # so, naming the row and the import to undo; the Data page still opens to undo it.
    store = open_store(seeded_db)
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO contacts (source, contact_id, opened_at, batch_id) "
            "VALUES ('zendesk', 'x1', TIMESTAMP '9999-12-31 23:59:00', 1)"
        )
    store.close()
    overview = app_for(seeded_db, "views/overview.py")
    message = the_one_error(overview)
    assert message.startswith("the store holds 1 contact dated outside 1900-2200")
    assert "zendesk contact 'x1': opened_at 9999-12-31 23:59:00" in message
    assert "kpi undo 1" in message and "open Data import and quality" in message
    data_page = app_for(seeded_db, "views/data.py")
    assert not data_page.exception, [e.value for e in data_page.exception]
    assert len(data_page.error) == 1 and data_page.title  # said, and the page drawn under it
    assert "Data import and quality" in data_page.title[0].value
