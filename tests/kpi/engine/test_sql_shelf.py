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
from kpi.ingest.importer import import_file
from kpi.metrics.settings import SETTINGS_KEY, Settings, save_settings
from kpi.store import scratch
from kpi.store.connection import Store, open_store
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
        CACHE.forget_compiled()  # as a new process starts
        CACHE.forget_profiles()
        compiled = CACHE.compilations
        assert report(store, **WEEKLY).to_dict() == first
        assert CACHE.compilations > compiled
        rewritten = [json.loads(p.read_text()) for p in _shelved(seeded_db)]
        # Every file whole again: the SQL, and the data profile (kpi.engine.profile).
        assert all(value["sql"] for value in rewritten if "supported" not in value)
        assert sum("supported" in value for value in rewritten) == 1
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


def _first_response_store(path: Path, folder: Path, year: int) -> Store:
    store = open_store(path)
    save_settings(store, Settings())  # business hours
    export = folder / f"contacts_{year}.csv"
    export.write_text(
        "contact_id,opened_at,first_response_at,status,channel\n"
        f"a1,{year}-03-03 10:00,{year}-03-03 11:00,open,email\n"
        f"a2,{year}-03-06 10:00,,open,email\n"
    )
    import_file(store, export, layout="generic_contacts")
    return store


def test_another_store_at_the_same_path_and_version_never_reads_the_others_clock(
    tmp_path: Path,
) -> None:
    # The SQL holds the as-of instant's business-hours reading, counted from the kept
    # calendar's first day: two stores with one import each have the same data version, but
    # data from 2023 and from 2025 start their calendars years apart.
    as_of = {"metrics": ["sla_first_response"], "as_of": datetime(2025, 3, 6, 12)}
    path = tmp_path / "kpi.duckdb"
    first = _first_response_store(path, tmp_path, 2023)
    report(first, **as_of)
    version = first.version()
    first.close()
    os.replace(path, tmp_path / "first.duckdb")
    second = _first_response_store(tmp_path / "second.duckdb", tmp_path, 2025)
    second.close()
    os.replace(tmp_path / "second.duckdb", path)  # another store file at the same path
    CACHE.forget_compiled()
    store = open_store(path)
    try:
        assert store.version() == version
        # a2 opened two working hours before as-of, within its 8-hour target: 1 of 1 met.
        assert report(store, **as_of).totals()["sla_first_response"].value == 100.0
    finally:
        store.close()


def test_a_url_stores_working_copy_has_no_shelf(tmp_path: Path) -> None:
    store = open_store(tmp_path / "copy.duckdb")
    try:
        store.path = "postgresql://kpi@db.example:5432/kpi"  # as a working copy shows its URL
        assert shelf_for(store, store.version()) is None
    finally:
        store.close()
    assert not (Path.cwd() / "postgresql:").exists()


def test_sql_in_a_folder_or_file_others_may_write_is_never_run(tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    shelf = Shelf(folder, "identity")
    shelf.put(("a",), "SELECT 1", ())
    assert shelf.get(("a",)) == ("SELECT 1", ())
    (planted,) = folder.glob("*.json")
    planted.chmod(0o666)  # anyone could have replaced it
    assert shelf.get(("a",)) is None
    planted.chmod(0o600)
    folder.chmod(0o777)  # anyone could have put it there
    assert shelf.get(("a",)) is None
    shelf.put(("b",), "SELECT 2", ())  # and nothing of ours goes in
    assert len(list(folder.glob("*.json"))) == 1
    folder.chmod(0o700)
