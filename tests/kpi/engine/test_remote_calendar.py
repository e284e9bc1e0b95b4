"""The business calendar and each contact's readings, kept in a PostgreSQL or Spark store.

`kpi report --db URL` runs on the store's own backend; what it derives for business hours is kept
there (``kpi.store.derived``: a table in the store's schema, a Parquet folder under the Spark
warehouse's ``derived``), named after what it holds, reused by the next process, made anew when
the business hours, the data or the years covered change, and the superseded one dropped once
reports that may still read it are done (``KEEP_SECONDS`` after). Reuse is asserted on the tables
themselves (a PostgreSQL table's OID, a folder's inode and time), never on timing; figures are
the DuckDB store's, to 1e-9.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kpi.cli.main import main
from kpi.engine.calendar import KEPT_CALENDAR, KEPT_TIMES
from kpi.metrics.settings import Settings, save_settings
from kpi.store import derived
from kpi.store.connection import open_store
from kpi.store.copying import copy_store
from kpi.store.derived import ParquetDerived, superseded
from kpi.store.remote import remote
from tests.backends import same_report
from tests.kpi.engine.test_kept_calendar import ROWS, _add_contacts, _local

ROOT = Path(__file__).resolve().parents[3]
REPORT = ["report", "--format", "csv", "--grain", "week", "--by", "channel"]
NEW_YORK = Settings(business_hours={"timezone": "America/New_York", "region": "none"})
LATER = [("d", _local(2025, 11, 13, 9), _local(2025, 11, 13, 13))]


def csv_report(capsys: pytest.CaptureFixture[str], db: str, *more: str) -> str:
    code = main([*REPORT, "--db", db, *more])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A DuckDB store of three contacts (a same-day reply, one over a weekend, one open)."""
    path = tmp_path / "small.duckdb"
    store = open_store(path)
    _add_contacts(store, ROWS)
    store.close()
    return path


def change(location: str | Path, edit: Any) -> None:
    """A write through the store's usual path (a working copy for a URL), as a command does."""
    store = open_store(location)
    try:
        edit(store)
    finally:
        store.close()


def with_rows(rows: list) -> Any:
    return lambda store: _add_contacts(store, rows)


def with_settings(settings: Settings) -> Any:
    return lambda store: save_settings(store, settings)


def test_only_a_table_superseded_longer_ago_than_the_wait_goes() -> None:
    made = {"old": 0.0, "mid": 100.0, "new": 5000.0}
    assert superseded(made, "new", 5000.0, 3600) == ["old"]  # mid: superseded just now
    assert superseded(made, "new", 9000.0, 3600) == ["old", "mid"]
    assert superseded(made, "old", 9000.0, 3600) == ["mid"]  # the one in use stays
    assert superseded({"only": 0.0}, "only", 9e9, 0) == []


# --- PostgreSQL ----------------------------------------------------------------------------------


def kept_on(url: str) -> dict[str, int]:
    """The derived tables in the store's schema, by name, with their OIDs (a table made again
    has another)."""
    with psycopg.connect(url, autocommit=True) as con:
        rows = con.execute(
            "SELECT relname, oid FROM pg_class WHERE relkind = 'r' AND relname LIKE 'kpi\\_%' "
            "AND relnamespace = 'public'::regnamespace"
        ).fetchall()
    return {name: int(oid) for name, oid in rows}


@contextmanager
def login(url: str, role: str, schema_rights: str) -> Iterator[str]:
    """Another login on the store: ``schema_rights`` on its schema and SELECT on its tables
    (those there now); its URL, and the role and what it owns gone afterwards."""
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP ROLE IF EXISTS {role}")
        con.execute(f"CREATE ROLE {role} LOGIN")
        con.execute(f"GRANT {schema_rights} ON SCHEMA public TO {role}")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        yield url.replace("postgres@", f"{role}@")
    finally:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f"DROP OWNED BY {role}")
            con.execute(f"DROP ROLE {role}")


def of_kind(tables: dict[str, Any], kind: str) -> set[str]:
    return {name for name in tables if name.startswith(kind)}


def made_on(url: str) -> dict[str, float]:
    """When each derived table became the newest of its kind (its comment)."""
    with psycopg.connect(url, autocommit=True) as con:
        rows = con.execute(
            "SELECT relname, obj_description(oid, 'pg_class') FROM pg_class "
            "WHERE relkind = 'r' AND relname LIKE 'kpi\\_%'"
        ).fetchall()
    return {name: json.loads(note)["made"] for name, note in rows}


def age_on(url: str, names: set[str], seconds: float) -> None:
    """Make tables look as if they were made ``seconds`` ago (time passing)."""
    with psycopg.connect(url, autocommit=True) as con:
        for name in names:
            note = json.dumps({"made": time.time() - seconds})
            con.execute(f"COMMENT ON TABLE public.\"{name}\" IS '{note}'")


@pytest.mark.backends
def test_a_postgresql_report_keeps_its_tables_and_a_later_process_reuses_them(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_store(open_store(small), postgres_store)
    revision, counts = remote(postgres_store).revision(), remote(postgres_store).row_counts()
    reference = csv_report(capsys, str(small))
    assert kept_on(postgres_store) == {}
    first = csv_report(capsys, postgres_store)
    kept = kept_on(postgres_store)
    assert len(of_kind(kept, KEPT_CALENDAR)) == len(of_kind(kept, KEPT_TIMES)) == 1
    assert same_report(first, reference)
    # A new process: the same tables, not made again.
    done = subprocess.run(
        [sys.executable, "-m", "kpi.cli.main", *REPORT, "--db", postgres_store],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert same_report(done.stdout, reference)
    assert kept_on(postgres_store) == kept
    # The store's own bookkeeping never sees them.
    assert remote(postgres_store).revision() == revision
    assert remote(postgres_store).row_counts() == counts
    change(postgres_store, with_settings(Settings(sla_default_priority="high")))  # a write lands
    assert remote(postgres_store).revision() == revision + 1
    assert kept_on(postgres_store) == kept  # not the business hours: the same tables serve
    back = small.with_name("back.duckdb")  # and a copy takes the store's tables, not these
    assert set(copy_store(open_store(postgres_store), str(back))) == set(counts)


@pytest.mark.backends
def test_an_import_on_postgresql_makes_new_readings_and_the_old_go_when_unread(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_store(open_store(small), postgres_store)
    csv_report(capsys, postgres_store)
    before = kept_on(postgres_store)
    change(postgres_store, with_rows(LATER))
    change(small, with_rows(LATER))
    assert same_report(csv_report(capsys, postgres_store), csv_report(capsys, str(small)))
    after = kept_on(postgres_store)
    assert of_kind(after, KEPT_CALENDAR) == of_kind(before, KEPT_CALENDAR)  # the same years
    new = of_kind(after, KEPT_TIMES) - of_kind(before, KEPT_TIMES)
    assert len(new) == 1
    assert of_kind(before, KEPT_TIMES) <= set(after)  # a report begun before may still read it
    # An hour on: nobody reads the old readings any more.
    age_on(postgres_store, set(before), 2 * derived.KEEP_SECONDS)
    age_on(postgres_store, new, derived.KEEP_SECONDS + 1)
    csv_report(capsys, postgres_store)
    assert of_kind(kept_on(postgres_store), KEPT_TIMES) == new


@pytest.mark.backends
def test_new_business_hours_on_postgresql_make_new_tables_and_changed_back_reuse_the_first(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_store(open_store(small), postgres_store)
    first = csv_report(capsys, postgres_store)
    london = kept_on(postgres_store)
    change(postgres_store, with_settings(NEW_YORK))
    change(small, with_settings(NEW_YORK))
    assert same_report(csv_report(capsys, postgres_store), csv_report(capsys, str(small)))
    both = kept_on(postgres_store)
    assert len(of_kind(both, KEPT_CALENDAR)) == len(of_kind(both, KEPT_TIMES)) == 2
    # A preview of other hours (--set) is the process's own: nothing kept for it.
    csv_report(capsys, postgres_store, "--set", "business_hours.region=scotland")
    assert kept_on(postgres_store) == both
    # Changed back: London's tables serve again (not made again), newest from now on, and New
    # York's are superseded only now.
    change(postgres_store, with_settings(Settings()))
    assert same_report(csv_report(capsys, postgres_store), first)
    assert kept_on(postgres_store) == both
    made = made_on(postgres_store)
    assert min(made[n] for n in london) > max(made[n] for n in set(both) - set(london))
    age_on(postgres_store, set(both), derived.KEEP_SECONDS + 1)
    age_on(postgres_store, set(london), derived.KEEP_SECONDS)
    csv_report(capsys, postgres_store)
    assert kept_on(postgres_store) == london


@pytest.mark.backends
def test_a_read_only_postgresql_login_gets_the_same_report_and_keeps_nothing(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_store(open_store(small), postgres_store)
    reference = csv_report(capsys, str(small))
    with psycopg.connect(postgres_store, autocommit=True) as con:
        con.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    with login(postgres_store, "kpi_reader", "USAGE") as reader:
        assert same_report(csv_report(capsys, reader), reference)
        assert kept_on(postgres_store) == {}
        # Kept by a writer, in tables the reader may not read: the reader's own again.
        csv_report(capsys, postgres_store)
        assert same_report(csv_report(capsys, reader), reference)
        with psycopg.connect(postgres_store, autocommit=True) as con:
            con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO kpi_reader")
        kept = kept_on(postgres_store)
        assert same_report(csv_report(capsys, reader), reference)  # now read from the store
        assert kept_on(postgres_store) == kept


@pytest.mark.backends
def test_readings_another_login_put_under_the_kept_name_are_never_trusted(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The kept tables' names can be worked out by anyone who reads the store; a login that may
    # create tables there puts forged readings (a day more to every first reply) under the
    # name. The owner's reports never read them: only the store owner's tables are trusted.
    copy_store(open_store(small), postgres_store)
    reference = csv_report(capsys, str(small))
    assert same_report(csv_report(capsys, postgres_store), reference)
    (times,) = of_kind(kept_on(postgres_store), KEPT_TIMES)
    with login(postgres_store, "kpi_maker", "USAGE, CREATE") as maker:
        with psycopg.connect(maker, autocommit=True) as con:
            con.execute(
                "CREATE TABLE forged AS SELECT source, contact_id, opened_at, opened_cum, "
                f"first_response_cum + 86400 AS first_response_cum, resolved_cum FROM {times}"
            )
        with psycopg.connect(postgres_store, autocommit=True) as con:
            con.execute(f"DROP TABLE {times}")
        with psycopg.connect(maker, autocommit=True) as con:
            con.execute(f"ALTER TABLE forged RENAME TO {times}")
            con.execute(f"GRANT SELECT ON {times} TO PUBLIC")
        assert same_report(csv_report(capsys, postgres_store), reference)
        # The forger's own report does not trust it either, nor keeps any of its own.
        assert same_report(csv_report(capsys, maker), reference)


@pytest.mark.backends
def test_two_processes_reporting_at_once_on_postgresql_build_one_set_of_tables(
    seeded_template: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_store(open_store(seeded_template), postgres_store)
    reference = csv_report(capsys, str(seeded_template))
    command = [sys.executable, "-m", "kpi.cli.main", *REPORT, "--db", postgres_store]
    running = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for process in running:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
        assert same_report(out, reference)
    kept = kept_on(postgres_store)
    assert len(of_kind(kept, KEPT_CALENDAR)) == len(of_kind(kept, KEPT_TIMES)) == 1


# --- Spark ---------------------------------------------------------------------------------------


def spark_url(folder: Path) -> str:
    return f"spark://local[2]?warehouse={folder}"


def kept_in(folder: Path) -> dict[str, tuple[int, int]]:
    """The derived tables' folders, by name, with their inode and modification time."""
    derived_folder = folder / "derived"
    if not derived_folder.is_dir():
        return {}
    return {
        f.name: (f.stat().st_ino, f.stat().st_mtime_ns)
        for f in derived_folder.iterdir()
        if not f.name.startswith(".")
    }


def age_in(folder: Path, names: set[str], seconds: float) -> None:
    when = time.time() - seconds
    for name in names:
        os.utime(folder / "derived" / name, (when, when))


@pytest.mark.backends
def test_a_spark_report_keeps_its_tables_beside_the_versions_and_the_next_reuses_them(
    seeded_template: Path, tmp_path: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, local = tmp_path / "spark", tmp_path / "local.duckdb"
    shutil.copy(seeded_template, local)
    url = spark_url(folder)
    copy_store(open_store(local), url)
    versions = sorted(p.name for p in folder.iterdir())
    counts = remote(url).row_counts()
    reference = csv_report(capsys, str(local))
    assert same_report(csv_report(capsys, url), reference)
    kept = kept_in(folder)
    assert len(of_kind(kept, KEPT_CALENDAR)) == len(of_kind(kept, KEPT_TIMES)) == 1
    assert same_report(csv_report(capsys, url), reference)  # another backend: reused
    assert kept_in(folder) == kept
    # The store's versions are untouched, and a write keeps working beside the tables.
    assert sorted(p.name for p in folder.iterdir()) == sorted([*versions, "derived"])
    assert remote(url).row_counts() == counts
    change(url, with_settings(Settings(sla_default_priority="high")))
    change(local, with_settings(Settings(sla_default_priority="high")))
    assert (folder / "CURRENT").read_text().strip() == "v000002"
    assert same_report(csv_report(capsys, url), csv_report(capsys, str(local)))
    assert kept_in(folder) == kept  # the contacts' files were linked, not written: reused


@pytest.mark.backends
def test_an_import_or_new_hours_on_spark_make_new_tables_and_the_old_go_when_unread(
    small: Path, tmp_path: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "spark"
    url = spark_url(folder)
    copy_store(open_store(small), url)
    csv_report(capsys, url)
    before = kept_in(folder)
    change(url, with_rows(LATER))
    change(small, with_rows(LATER))
    assert same_report(csv_report(capsys, url), csv_report(capsys, str(small)))
    after = kept_in(folder)
    assert of_kind(after, KEPT_CALENDAR) == of_kind(before, KEPT_CALENDAR)
    new = of_kind(after, KEPT_TIMES) - of_kind(before, KEPT_TIMES)
    assert len(new) == 1 and set(before) <= set(after)
    age_in(folder, set(before), 2 * derived.KEEP_SECONDS)
    age_in(folder, new, derived.KEEP_SECONDS + 1)
    csv_report(capsys, url)
    assert of_kind(kept_in(folder), KEPT_TIMES) == new
    # New business hours: a new calendar and new readings.
    change(url, with_settings(NEW_YORK))
    change(small, with_settings(NEW_YORK))
    assert same_report(csv_report(capsys, url), csv_report(capsys, str(small)))
    latest = kept_in(folder)
    age_in(folder, set(latest) & set(after), 2 * derived.KEEP_SECONDS)
    age_in(folder, set(latest) - set(after), derived.KEEP_SECONDS + 1)
    csv_report(capsys, url)
    assert set(kept_in(folder)) == set(latest) - set(after)
    assert len(set(latest) - set(after)) == 2


@pytest.mark.backends
def test_a_spark_table_another_process_finished_first_is_read_not_replaced(
    small: Path, tmp_path: Path, spark: Any
) -> None:
    url = spark_url(tmp_path / "spark")
    copy_store(open_store(small), url)
    source = remote(url)
    backend = source.backend()
    content = backend.table("contacts").select("source", "contact_id")
    first, second = source.derived(backend), source.derived(backend)
    assert isinstance(first, ParquetDerived) and isinstance(second, ParquetDerived)
    name = KEPT_TIMES + "0" * 16
    made = first.build(name, content)
    assert made is not None
    inode = (first.folder / name).stat().st_ino
    # The second built it too and lost the rename: it reads the first's, and leaves nothing.
    again = second.build(name, content)
    assert again is not None and again.count().execute() == made.count().execute() == 3
    assert (first.folder / name).stat().st_ino == inode
    assert [p.name for p in first.folder.iterdir()] == [name]
    source.close()


@pytest.mark.backends
def test_a_spark_store_copied_elsewhere_leaves_its_derived_tables_behind(
    small: Path, tmp_path: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = spark_url(tmp_path / "spark")
    copy_store(open_store(small), url)
    csv_report(capsys, url)
    back = tmp_path / "back.duckdb"
    copy_store(open_store(url), str(back))
    copied = open_store(back)
    tables = {r[0] for r in copied.cursor().execute("SHOW TABLES").fetchall()}
    assert not any(t.startswith("kpi_") for t in tables)
    copied.close()
    shutil.rmtree(tmp_path / "spark" / "derived")  # deleting them is safe: made again
    assert same_report(csv_report(capsys, url), csv_report(capsys, str(small)))


@pytest.mark.backends
def test_a_spark_warehouse_where_nothing_can_be_kept_still_reports(
    small: Path, tmp_path: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "spark"
    url = spark_url(folder)
    copy_store(open_store(small), url)
    (folder / "derived").write_text("not a folder")  # as a folder this login may not write is
    assert same_report(csv_report(capsys, url), csv_report(capsys, str(small)))
    assert (folder / "derived").read_text() == "not a folder"
