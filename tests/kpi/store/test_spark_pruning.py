"""A dated report on a Spark store reads only the months of contacts it needs (their folders,
``opened_month=2026-01``), and its figures are those of a report reading every month, and
DuckDB's. Spark in local mode: these carry the ``backends`` marker."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import ibis
import pytest

from kpi.cli.report_command import as_csv
from kpi.engine.filters import Filters
from kpi.engine.preparation import MONTH_PARTITION, prepare_contacts
from kpi.engine.profile import data_profile
from kpi.engine.report import report
from kpi.metrics.registry import Context
from kpi.metrics.settings import SETTINGS_KEY, Settings
from kpi.store.connection import open_store
from kpi.store.copying import copy_store
from kpi.store.remote import ParquetRemote
from tests.backends import same_report

pytestmark = pytest.mark.backends

JANUARY = Filters(date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))


@pytest.fixture(scope="module")
def local(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pruning") / "local.duckdb"
    shutil.copy(seeded_template, path)
    return path


@pytest.fixture(scope="module")
def spark_store(local: Path) -> Iterator[tuple[ParquetRemote, ibis.BaseBackend]]:
    """The seeded store copied to a Spark folder, and the Ibis backend a report runs on."""
    folder = local.parent / "spark"
    store = open_store(local)
    try:
        copy_store(store, f"spark://local[2]?warehouse={folder}")
    finally:
        store.close()
    source = ParquetRemote(f"spark://local[2]?warehouse={folder}")
    backend = source.backend()
    yield source, backend
    source.close()


def settings_of(source: ParquetRemote) -> Settings:
    stored = source.setting(SETTINGS_KEY)
    return Settings.from_dict(json.loads(stored)) if stored else Settings()


def partitions_read(backend: ibis.BaseBackend, table: ibis.Table) -> list[int]:
    """How many month folders each scan of partitioned Parquet read to compute ``table``
    (Spark's ``numPartitions`` metric of its file scans, run without adaptive execution, whose
    plan's leaves are stages rather than scans)."""
    session = backend._session
    adaptive = session.conf.get("spark.sql.adaptive.enabled")
    session.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        frame = session.sql(str(backend.compile(table)))
        frame.collect()
        leaves = frame._jdf.queryExecution().executedPlan().collectLeaves()
    finally:
        session.conf.set("spark.sql.adaptive.enabled", adaptive)
    counts = []
    for i in range(leaves.length()):
        metrics = leaves.apply(i).metrics()
        if metrics.contains("numPartitions"):
            counts.append(int(metrics.apply("numPartitions").value()))
    return counts


def months(source: ParquetRemote, first: str) -> int:
    """How many of the store's contacts' month folders are from ``first`` on."""
    current = source.folder / (source.folder / "CURRENT").read_text().strip() / "contacts"
    return sum(p.name.split("=", 1)[1] >= first for p in current.iterdir() if "=" in p.name)


def prepared(
    backend: ibis.BaseBackend, settings: Settings, filters: Filters, needs: set[str]
) -> ibis.Table:
    profile = data_profile(backend, None)
    context = Context(settings, profile.latest, profile.supported)
    return prepare_contacts(backend, filters, context, needs, None, None)


def test_a_one_month_selection_reads_that_months_contacts_only(
    spark_store: tuple[ParquetRemote, ibis.BaseBackend],
) -> None:
    source, backend = spark_store
    settings = dataclasses.replace(settings_of(source), hours="calendar")
    t = prepared(backend, settings, JANUARY, set())
    assert MONTH_PARTITION not in t.columns  # the engine sees the same columns as elsewhere
    assert partitions_read(backend, t.select("contact_id", "opened_at")) == [1]
    assert months(source, "2025-01") > 12  # ...of the many there are
    # From a date on: that month and the later ones.
    later = Filters(date_from=date(2026, 9, 15))
    t = prepared(backend, settings, later, set()).select("contact_id")
    assert partitions_read(backend, t) == [months(source, "2026-09")] == [2]
    # A repeat may be any later contact of the customer: only earlier months are left out.
    t = prepared(backend, settings, JANUARY, {"next_contact"}).select("next_opened")
    assert partitions_read(backend, t) == [months(source, "2026-01")]


@pytest.mark.parametrize(
    ("filters", "grain", "by", "changes"),
    [
        (JANUARY, None, (), {}),
        (Filters(date_from=date(2025, 12, 15), date_to=date(2026, 2, 10)), "month", ("team",), {}),
        (JANUARY, "week", ("channel",), {"hours": "calendar", "fcr_variant": "no_repeat"}),
        (Filters(date_from=date(2026, 9, 1)), None, (), {"timezone": "America/New_York"}),
        (Filters(date_to=date(2025, 7, 31)), None, (), {"fcr_variant": "no_repeat"}),
    ],
)
def test_a_pruned_report_is_the_report_reading_every_month_and_duckdbs(
    spark_store: tuple[ParquetRemote, ibis.BaseBackend],
    local: Path,
    filters: Filters,
    grain: str | None,
    by: tuple[str, ...],
    changes: dict[str, str],
) -> None:
    source, backend = spark_store
    settings = dataclasses.replace(settings_of(source), **changes)
    pruned = as_csv(report(backend, filters, by=by, grain=grain, settings=settings))
    session = backend._session
    contacts = session.table("contacts")
    try:  # as contacts were given before: without their month, so every month is read
        contacts.drop(MONTH_PARTITION).createOrReplaceTempView("contacts")
        whole = as_csv(report(backend, filters, by=by, grain=grain, settings=settings))
    finally:
        contacts.createOrReplaceTempView("contacts")
    store = open_store(local, read_only=True)
    try:
        on_duckdb = as_csv(report(store, filters, by=by, grain=grain, settings=settings))
    finally:
        store.close()
    assert pruned.count("\n") > 10
    assert same_report(pruned, whole)
    assert same_report(pruned, on_duckdb)
