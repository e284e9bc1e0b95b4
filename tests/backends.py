"""The engine's other backends for tests: PostgreSQL and PySpark in local mode, through Ibis.

Tests that use them carry the ``backends`` marker (``tests/conftest.py`` skips them with a reason
when a backend is missing, and fails them when ``CI=true``):

- PostgreSQL: the server at ``KPI_TEST_POSTGRES_URL`` when it is set (its tables are overwritten:
  give it a throwaway database), else a throwaway server started here from Debian's packages
  (``initdb`` into a temporary folder, a free loopback port, trust authentication) and stopped at
  the end of the session. As root, the server runs as the ``postgres`` user (PostgreSQL refuses
  to run as root).
- PySpark: one local-mode session (two threads, two shuffle partitions, no web UI, its
  warehouse in a temporary folder) for the whole test session. Java 17 runs it.

``copy_tables`` loads the tables the engine reads from a DuckDB store into another backend
(through Arrow), so the same data can be reported on by each; ``same_report`` compares two
backends' CSV reports.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

#: Where a PostgreSQL server for the tests is, when one is given (else one is started).
POSTGRES_URL_VARIABLE = "KPI_TEST_POSTGRES_URL"
#: The tables the engine reads (``kpi.engine``), which a backend must hold to report.
ENGINE_TABLES = ("contacts", "responses", "intervals")
_SERVER_START_SECONDS = 60


# --- what is there ---------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder of the PostgreSQL server's programs (``initdb``, ``pg_ctl``): on the PATH, or
    Debian's ``/usr/lib/postgresql/<version>/bin`` (the newest); None when not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    folders = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return next((f for f in reversed(folders) if (f / "initdb").exists()), None)


def missing_backends() -> str | None:
    """Why the backend tests cannot run here (None when they can)."""
    reasons = []
    if not os.environ.get(POSTGRES_URL_VARIABLE) and postgres_bin() is None:
        reasons.append(
            "PostgreSQL is not installed: apt-get install postgresql (make test installs it as "
            f"root), or set {POSTGRES_URL_VARIABLE}"
        )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        reasons.append("pyspark is not installed: .venv/bin/pip install -e '.[dev]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        reasons.append("PySpark needs Java 17: apt-get install openjdk-17-jre-headless")
    return "; ".join(reasons) or None


# --- a throwaway PostgreSQL server -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(command: Sequence[str]) -> list[str]:
    """The command run as ``postgres`` when we are root (the server refuses root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a PostgreSQL server: ``KPI_TEST_POSTGRES_URL``, or one started for the block in a
    temporary folder on a free loopback port and stopped (and deleted) afterwards."""
    given = os.environ.get(POSTGRES_URL_VARIABLE)
    if given:
        yield given
        return
    folder = postgres_bin()
    if folder is None:
        raise RuntimeError(missing_backends() or "PostgreSQL is not installed")
    home = Path(tempfile.mkdtemp(prefix="kpi-postgres-"))
    data, port = home / "data", _free_port()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    try:
        _run(_as_server_user([str(folder / "initdb"), "-D", str(data), "-A", "trust",
                              "-U", "postgres", "-E", "UTF8", "--no-sync"]))  # fmt: skip
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(_as_server_user([str(folder / "pg_ctl"), "-D", str(data), "-o", options,
                              "-l", str(home / "server.log"), "-w",
                              "-t", str(_SERVER_START_SECONDS), "start"]))  # fmt: skip
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run(_as_server_user([str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                  "-w", "stop"]))  # fmt: skip
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr or done.stdout}")


@contextlib.contextmanager
def fresh_database(server_url: str, name: str) -> Iterator[str]:
    """A new database ``name`` on the server (any left from before is dropped first), as a
    URL; dropped at the end of the block."""
    import psycopg

    def drop(admin: Any) -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    with psycopg.connect(server_url, autocommit=True) as admin:
        drop(admin)
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            drop(admin)


def postgres_backend(url: str) -> ibis.BaseBackend:
    """An Ibis backend on the server, its session in UTC (timestamps are naive UTC)."""
    backend = ibis.connect(url)
    with backend.con.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    return backend


# --- PySpark in local mode ------------------------------------------------------------------------


@contextlib.contextmanager
def spark_backend() -> Iterator[ibis.BaseBackend]:
    """An Ibis backend on a local-mode Spark session, stopped at the end of the block."""
    from pyspark.sql import SparkSession

    warehouse = Path(tempfile.mkdtemp(prefix="kpi-spark-"))
    session = (
        SparkSession.builder.master("local[2]")
        .appName("kpi-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield ibis.pyspark.connect(session)
    finally:
        session.stop()
        shutil.rmtree(warehouse, ignore_errors=True)


# --- the same data on each -------------------------------------------------------------------------


def copy_tables(
    source: ibis.BaseBackend, target: ibis.BaseBackend, names: Sequence[str] = ENGINE_TABLES
) -> None:
    """The tables ``names`` of ``source`` (a store's DuckDB backend) made anew in ``target``,
    through Arrow, with the same columns and types."""
    for name in names:
        table = source.table(name)
        data: pa.Table = source.to_pyarrow(table)
        if target.name == "pyspark":
            _spark_table(target, name, data, table.schema())
        else:
            target.create_table(name, data, schema=table.schema(), overwrite=True)


def _spark_table(target: ibis.BaseBackend, name: str, data: pa.Table, schema: Any) -> None:
    """A Spark temporary view (session-local) made from Arrow by Spark itself. Ibis 12 goes
    through pandas, whose Arrow-backed text PySpark 4.0 refuses to take by Arrow; its fallback
    conversion gave other backlog and FCR figures than DuckDB on the same rows."""
    from ibis.backends.pyspark.datatypes import PySparkSchema

    frame = target._session.createDataFrame(data, schema=PySparkSchema.from_ibis(schema))
    frame.createOrReplaceTempView(name)


def same_report(a: str, b: str) -> bool:
    """Two CSV reports agree: the same rows and words, and numbers to 1e-9 relative (a server
    may add in another order, which moves the last digits)."""
    rows_a, rows_b = list(csv.reader(io.StringIO(a))), list(csv.reader(io.StringIO(b)))
    if len(rows_a) != len(rows_b):
        return False
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if x != y and not _close(x, y):
                return False
    return True


def _close(x: str, y: str) -> bool:
    try:
        return math.isclose(float(x), float(y), rel_tol=1e-9)
    except ValueError:
        return False
