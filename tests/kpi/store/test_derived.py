"""Derived tables found again are held: another process's tidy never drops one under a reader.

A kept table superseded more than ``KEEP_SECONDS`` ago may become current again (the settings,
or the data, went back to what they were). A report that finds it must be able to read it to the
end, even while another process (one still on the other settings, say) tidies: ``find`` marks it
the newest of its kind before anything reads it, and a tidy decides each drop again under a lock
that marking waits for. Before that, the tidy dropped it between the report's finding and its
reading ("relation does not exist" on PostgreSQL, a missing file on Spark), and the report
succeeded only when run again. Each test plays both processes with two connections to the store
(PostgreSQL) or two readers of its folder (Spark), on the real backends.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kpi.engine.calendar import KEPT_TIMES
from kpi.metrics.settings import Settings
from kpi.store.connection import open_store
from kpi.store.copying import copy_store
from kpi.store.derived import KEEP_SECONDS, DerivedTables, PostgresDerived, superseded
from kpi.store.remote import Remote, remote
from tests.backends import same_report
from tests.kpi.engine.test_kept_calendar import ROWS, _add_contacts
from tests.kpi.engine.test_remote_calendar import (
    NEW_YORK,
    age_in,
    age_on,
    change,
    csv_report,
    kept_in,
    kept_on,
    login,
    of_kind,
    spark_url,
    with_settings,
)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A DuckDB store of three contacts (a same-day reply, one over a weekend, one open)."""
    path = tmp_path / "small.duckdb"
    store = open_store(path)
    _add_contacts(store, ROWS)
    store.close()
    return path


def derived_of(source: Remote) -> DerivedTables:
    """The derived tables of one process on the store (its own backend, its own session)."""
    tables = source.derived(source.backend())
    assert tables is not None
    return tables


def back_to_london(
    location: str, kept: Any, age: Any, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    """London's tables made, then New York's, hours ago (London's superseded longer ago than
    KEEP_SECONDS), and the settings back to London's: the London readings' name, current again,
    and New York's."""
    csv_report(capsys, location)
    london = set(kept())
    change(location, with_settings(NEW_YORK))
    csv_report(capsys, location)
    new_york = set(kept()) - london
    age(london, 3 * KEEP_SECONDS)
    age(new_york, 2 * KEEP_SECONDS)
    change(location, with_settings(Settings()))
    (times,) = of_kind(dict.fromkeys(london), KEPT_TIMES)
    (other,) = of_kind(dict.fromkeys(new_york), KEPT_TIMES)
    return times, other


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.backends
def test_a_postgresql_table_found_again_survives_another_processs_tidy(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_store(open_store(small), postgres_store)
    times, other = back_to_london(
        postgres_store,
        lambda: kept_on(postgres_store),
        lambda names, seconds: age_on(postgres_store, names, seconds),
        capsys,
    )
    reader, tidier = remote(postgres_store), remote(postgres_store)
    found = derived_of(reader).find(times)  # a report finds London's readings again...
    assert found is not None
    derived_of(tidier).tidy(other)  # ...a process still on New York's tidies...
    assert found.count().execute() == len(ROWS)  # ...and the report reads them to the end
    assert times in kept_on(postgres_store)
    reader.close()
    tidier.close()


@pytest.mark.backends
def test_a_postgresql_drop_decided_before_a_table_was_found_again_is_decided_again(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_store(open_store(small), postgres_store)
    times, other = back_to_london(
        postgres_store,
        lambda: kept_on(postgres_store),
        lambda names, seconds: age_on(postgres_store, names, seconds),
        capsys,
    )
    reader, tidier = remote(postgres_store), remote(postgres_store)
    tidying = derived_of(tidier)

    def still() -> bool:  # what tidy asks again under the table's lock
        return times in superseded(tidying._made(KEPT_TIMES), other, time.time(), KEEP_SECONDS)

    assert still()  # the tidy's first look: London's readings go...
    found = derived_of(reader).find(times)  # ...but a report finds them before the drop
    assert found is not None
    tidying._drop(times, still)
    assert found.count().execute() == len(ROWS)
    reader.close()
    tidier.close()


@pytest.mark.backends
def test_a_login_that_cannot_mark_a_table_found_again_keeps_its_own_and_reports(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = csv_report(capsys, str(small))
    copy_store(open_store(small), postgres_store)
    times, _ = back_to_london(
        postgres_store,
        lambda: kept_on(postgres_store),
        lambda names, seconds: age_on(postgres_store, names, seconds),
        capsys,
    )
    kept = kept_on(postgres_store)
    with login(postgres_store, "kpi_reader", "USAGE") as reader:
        # Not the newest, and this login may not mark it: it could go while read, so it is not
        # used (the report keeps temporary tables of its own instead).
        source = remote(reader)
        assert derived_of(source).find(times) is None
        source.close()
        assert same_report(csv_report(capsys, reader), reference)
    assert kept_on(postgres_store) == kept
    # The owner's report finds London's tables again and uses them.
    assert same_report(csv_report(capsys, postgres_store), reference)
    assert kept_on(postgres_store) == kept


# --- Spark ---------------------------------------------------------------------------------------


@pytest.mark.backends
def test_a_spark_table_found_again_survives_another_processs_tidy(
    small: Path, tmp_path: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "spark"
    url = spark_url(folder)
    copy_store(open_store(small), url)
    times, other = back_to_london(
        url,
        lambda: kept_in(folder),
        lambda names, seconds: age_in(folder, names, seconds),
        capsys,
    )
    reader, tidier = remote(url), remote(url)
    found = derived_of(reader).find(times)
    assert found is not None
    derived_of(tidier).tidy(other)
    assert found.count().execute() == len(ROWS)
    assert times in kept_in(folder)
    reader.close()
    tidier.close()


@pytest.mark.backends
def test_a_spark_drop_decided_before_a_table_was_found_again_is_decided_again(
    small: Path, tmp_path: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "spark"
    url = spark_url(folder)
    copy_store(open_store(small), url)
    times, other = back_to_london(
        url,
        lambda: kept_in(folder),
        lambda names, seconds: age_in(folder, names, seconds),
        capsys,
    )
    reader, tidier = remote(url), remote(url)
    tidying = derived_of(tidier)

    def still() -> bool:
        return times in superseded(tidying._made(KEPT_TIMES), other, time.time(), KEEP_SECONDS)

    assert still()
    found = derived_of(reader).find(times)
    assert found is not None
    tidying._drop(times, still)
    assert found.count().execute() == len(ROWS)
    reader.close()
    tidier.close()


@pytest.mark.backends
def test_a_postgresql_table_dropped_while_a_report_marks_it_is_not_found(
    small: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The other order: the tidy holds the table's lock and drops it; the report's mark waits for
    # it, then finds no table, and the report makes it again rather than read a dropped one.
    copy_store(open_store(small), postgres_store)
    times, _ = back_to_london(
        postgres_store,
        lambda: kept_on(postgres_store),
        lambda names, seconds: age_on(postgres_store, names, seconds),
        capsys,
    )
    reader = remote(postgres_store)
    tables = derived_of(reader)
    assert isinstance(tables, PostgresDerived)
    (pid,) = tables.con.execute("SELECT pg_backend_pid()").fetchone()
    result: list[Any] = []
    with (
        psycopg.connect(postgres_store) as tidier,  # one transaction until it commits
        psycopg.connect(postgres_store, autocommit=True) as watcher,
    ):
        tidier.execute(f'LOCK TABLE public."{times}" IN ACCESS EXCLUSIVE MODE')
        tidier.execute(f'DROP TABLE public."{times}"')
        finding = threading.Thread(target=lambda: result.append(tables.find(times)))
        finding.start()
        waited = 0.0
        while not _waiting_for_a_lock(watcher, pid):  # the mark waits for the drop
            assert waited < 30, "the report never waited for the drop"
            time.sleep(0.05)
            waited += 0.05
        tidier.commit()
    finding.join(timeout=30)
    assert result == [None]
    reference = csv_report(capsys, str(small))
    assert same_report(csv_report(capsys, postgres_store), reference)  # made again
    assert times in kept_on(postgres_store)
    reader.close()


def _waiting_for_a_lock(con: psycopg.Connection[Any], pid: int) -> bool:
    row = con.execute(
        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", [pid]
    ).fetchone()
    return bool(row and row[0])
