"""The report's compiled SQL kept on disk beside the store: a fresh process reads it instead of
compiling, gets the same figures, and never reads SQL made for other data, settings or code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from kpi.engine.backend import CACHE
from kpi.engine.report import report
from kpi.engine.sql_shelf import Shelf, Unshelvable, shelf_for, stable
from kpi.metrics.settings import SETTINGS_KEY, Settings
from kpi.store import scratch
from kpi.store.connection import open_store
from tests.paths import ROOT

WEEKLY = {"grain": "week", "by": ["channel"]}


def _shelved(store_path: Path) -> list[Path]:
    return sorted((scratch.root_beside(store_path) / "sql").glob("*.json"))


def test_a_fresh_process_reads_the_reports_sql_from_the_shelf_with_the_same_figures(
    seeded_db: Path,
) -> None:
    store = open_store(seeded_db)
    try:
        first = report(store, **WEEKLY).to_dict()
        shelved = _shelved(seeded_db)
        assert len(shelved) >= 3  # contacts, backlog and answers, for the total and by channel
        CACHE.forget_compiled()  # as a new process starts
        compiled = CACHE.compilations
        again = report(store, **WEEKLY).to_dict()
        assert CACHE.compilations == compiled  # nothing compiled: every query came off the shelf
        assert again == first
        assert _shelved(seeded_db) == shelved
    finally:
        store.close()


def test_two_kpi_report_processes_print_the_same_report_the_second_from_the_shelf(
    seeded_db: Path,
) -> None:
    command = [sys.executable, "-m", "kpi.cli.main", "report", "--db", str(seeded_db)]
    command += ["--grain", "month", "--by", "channel", "--format", "csv"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    files = {p: p.stat().st_mtime_ns for p in _shelved(seeded_db)}
    assert files
    second = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert second.stdout == first.stdout
    assert {p: p.stat().st_mtime_ns for p in _shelved(seeded_db)} == files  # read, not rewritten
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in files)  # the owner's alone


def test_other_settings_or_data_never_read_sql_shelved_for_the_old(seeded_db: Path) -> None:
    store = open_store(seeded_db)
    try:
        first = report(store, **WEEKLY).to_dict()
        before = set(_shelved(seeded_db))
        # Other business hours: a new data version, so new shelf files, and the figures are
        # those of SQL compiled for them here and now.
        store.set_setting(SETTINGS_KEY, {**Settings().to_dict(), "hours": "calendar"})
        CACHE.forget_compiled()
        changed = report(store, **WEEKLY).to_dict()
        assert changed != first  # calendar hours: other response and resolution times
        assert set(_shelved(seeded_db)) - before
        for path in _shelved(seeded_db):
            path.unlink()
        CACHE.forget_compiled()
        assert report(store, **WEEKLY).to_dict() == changed
    finally:
        store.close()


def test_an_unreadable_shelf_file_is_compiled_again_not_an_error(seeded_db: Path) -> None:
    store = open_store(seeded_db)
    try:
        first = report(store, **WEEKLY).to_dict()
        for path in _shelved(seeded_db):
            path.write_text("{half a file", encoding="utf-8")
        CACHE.forget_compiled()
        compiled = CACHE.compilations
        assert report(store, **WEEKLY).to_dict() == first
        assert CACHE.compilations > compiled
        assert all(json.loads(p.read_text())["sql"] for p in _shelved(seeded_db))  # rewritten
    finally:
        store.close()


def test_a_store_in_memory_has_no_shelf() -> None:
    store = open_store(":memory:")
    try:
        assert shelf_for(store, store.version()) is None
    finally:
        store.close()


def test_a_key_is_the_same_text_in_every_process_or_not_shelved(tmp_path: Path) -> None:
    # Sets iterate in an order that changes between processes: they are sorted.
    assert stable(frozenset({"b", "a", "c"})) == ["a", "b", "c"]
    assert stable(("x", datetime(2025, 1, 2, 3), None)) == [
        "x",
        ["datetime", "2025-01-02T03:00:00"],
        None,
    ]
    with pytest.raises(Unshelvable):
        stable(object())  # its text would hold its address
    shelf = Shelf(tmp_path / "sql", "identity")
    shelf.put((object(),), "SELECT 1", ())
    assert shelf.get((object(),)) is None
    assert not (tmp_path / "sql").exists()
    shelf.put(("a",), "SELECT $x", ("x",))
    assert shelf.get(("a",)) == ("SELECT $x", ("x",))
    assert Shelf(tmp_path / "sql", "other identity").get(("a",)) is None
