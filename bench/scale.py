"""Benchmark at scale: the dashboard overview set on N contacts (default 10M) on DuckDB and on
PySpark local mode, through the same engine (Ibis).

1. Generates N contacts and N * 0.3 survey responses straight into a DuckDB store file, in SQL
   (hash-based pseudo-random numbers over ``range(N)``, the same shapes as ``bench/engine.py``,
   rows in time order as helpdesk exports list them), so 10M rows take minutes.
2. Runs the overview set of ``bench/engine.py`` (every KPI for a month and the month before, and
   a 12-week trend of four KPIs, calendar hours) on the store: cold (the store just reopened, no
   engine cache, no compiled SQL) and warm (median of ``--repeat`` runs).
3. Writes the same tables as Parquet, contacts partitioned by source and month of ``opened_at``
   (responses by month of ``responded_at``), closes the store, and runs the same overview on a
   Spark local[2] session through Ibis, reading that Parquet: cold and warm.
4. Prints wall time, contacts per second, the ratio Spark / DuckDB and the largest difference
   between the two backends' KPI values (they must agree to 1e-9).

A script, not a test: ``python bench/scale.py --contacts 1000000`` for a quick run. Figures are
printed, never compared with thresholds.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics as stats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine import DAYS, PERIOD, START, TREND_KEYS, engine_numbers  # noqa: E402  (bench/engine.py)

from kpi.engine.report import overview  # noqa: E402
from kpi.metrics.settings import Settings  # noqa: E402
from kpi.store.connection import Store, open_store  # noqa: E402

CALENDAR = Settings(hours="calendar")
ENGINE_TABLES = ("contacts", "responses", "intervals")
#: Where each table's Parquet is partitioned by (month is of the named instant).
PARTITIONS = {"contacts": ("source", "opened_at"), "responses": ("source", "responded_at")}
_SPAN = DAYS * 86400  # seconds of data


# --- generating the store, in DuckDB -------------------------------------------------------------


def _u(k: int) -> str:
    """SQL for a uniform number in (0, 1), fixed for row ``i`` and stream ``k`` (reproducible,
    unlike random(), whose sequence depends on DuckDB's threads)."""
    return f"(((hash(i, {k}) % 4294967296)::DOUBLE + 0.5) / 4294967296.0)"


def _exp(k: int, mean_seconds: float) -> str:
    """SQL for an exponential number of whole seconds with the given mean."""
    return f"to_seconds(floor(-ln({_u(k)}) * {mean_seconds})::BIGINT)"


def _pick(k: int, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"([{quoted}])[1 + floor({_u(k)} * {len(values)})::INT]"


CONTACTS_SQL = f"""
INSERT INTO contacts (source, contact_id, opened_at, first_response_at, resolved_at, status,
    priority, channel, team, agent_replies, reopens, escalated, complaint, answered,
    wait_seconds, handle_seconds, customer_key)
WITH base AS (
    SELECT i,
        TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}' + to_seconds(i * {_SPAN} // $n) AS opened,
        {_pick(3, ("email", "phone", "chat", "web"))} AS channel,
        {_u(4)} < 0.05 AS unresolved
    FROM range($n) t(i)
), timed AS (
    SELECT *, opened + {_exp(1, 4 * 3600)} AS first,
        opened + {_exp(1, 4 * 3600)} + {_exp(2, 20 * 3600)} AS resolved
    FROM base
)
SELECT 'bench', i::VARCHAR, opened,
    CASE WHEN {_u(5)} < 0.03 THEN NULL ELSE first END,
    CASE WHEN unresolved THEN NULL ELSE resolved END,
    CASE WHEN unresolved THEN 'open' ELSE 'resolved' END,
    {_pick(6, ("low", "normal", "high", "urgent"))},
    channel,
    {_pick(7, ("Alpha", "Bravo", "Charlie"))},
    floor({_u(8)} * 4)::BIGINT,
    ({_u(9)} < 0.08)::BIGINT,
    {_u(10)} < 0.05,
    {_u(11)} < 0.02,
    CASE WHEN channel = 'phone' THEN {_u(12)} < 0.9 END,
    CASE WHEN channel = 'phone' THEN -ln({_u(13)}) * 25 END,
    CASE WHEN channel = 'phone'
        THEN 420 + 90 * sqrt(-2 * ln({_u(14)})) * cos(2 * pi() * {_u(15)}) END,
    floor({_u(16)} * greatest($n // 3, 1))::BIGINT::VARCHAR
FROM timed ORDER BY i
"""

RESPONSES_SQL = f"""
INSERT INTO responses (source, response_id, contact_id, responded_at, nps, csat,
    csat_scale_min, csat_scale_max, ces, ces_scale_min, ces_scale_max, channel)
SELECT 'bench', i::VARCHAR, floor({_u(21)} * $contacts)::BIGINT::VARCHAR,
    TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}' + to_seconds(i * {_SPAN} // $n),
    CASE WHEN {_u(22)} < 0.5 THEN floor({_u(23)} * 11) END,
    1 + floor({_u(24)} * 5), 1.0, 5.0,
    CASE WHEN {_u(25)} < 0.3 THEN 1 + floor({_u(26)} * 7) END, 1.0, 7.0,
    {_pick(27, ("email", "phone", "chat", "web"))}
FROM range($n) t(i) ORDER BY i
"""


def configure(store: Store, memory: str, threads: int) -> None:
    """DuckDB's memory limit and threads: the machine is shared."""
    store.con.execute(f"SET memory_limit = '{memory}'")
    store.con.execute(f"SET threads = {threads}")


def build_store(path: Path, contacts: int, memory: str, threads: int) -> None:
    """A store file holding ``contacts`` contacts and 30% as many responses."""
    store = open_store(path)
    configure(store, memory, threads)
    with store.transaction() as cur:
        cur.execute(CONTACTS_SQL, {"n": contacts})
        cur.execute(RESPONSES_SQL, {"n": int(contacts * 0.3), "contacts": contacts})
    store.close()


def write_parquet(store: Store, folder: Path) -> dict[str, Path]:
    """Each table the engine reads as Parquet under ``folder``: contacts and responses
    partitioned by source and month (hive style, ``source=…/month=YYYY-MM/``)."""
    out = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name in ENGINE_TABLES:
        target = folder / name
        if name in PARTITIONS:
            source, instant = PARTITIONS[name]
            store.con.execute(
                f"COPY (SELECT *, strftime({instant}, '%Y-%m') AS month FROM {name}) "
                f"TO '{target}' (FORMAT parquet, PARTITION_BY ({source}, month), "
                "OVERWRITE_OR_IGNORE)"
            )
        else:  # no partitions: a single (here empty) file
            target.mkdir(parents=True)
            store.con.execute(f"COPY {name} TO '{target / 'data.parquet'}' (FORMAT parquet)")
        out[name] = target
    return out


# --- timing --------------------------------------------------------------------------------------


def cold_and_warm(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(cold wall, median warm wall) seconds, and the last result."""
    started = time.perf_counter()
    result = run()
    cold = time.perf_counter() - started
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        walls.append(time.perf_counter() - started)
    return cold, stats.median(walls), result


def _overview(source: Store | ibis.BaseBackend) -> Any:
    return overview(source, PERIOD, TREND_KEYS, settings=CALENDAR)


# --- Spark -----------------------------------------------------------------------------------------


@contextmanager
def spark_session(memory: str, threads: int) -> Iterator[Any]:
    """A local-mode Spark session (as ``tests/backends.py`` makes one), stopped afterwards."""
    from pyspark.sql import SparkSession

    home = Path(tempfile.mkdtemp(prefix="kpi-scale-spark-"))
    session = (
        SparkSession.builder.master(f"local[{threads}]")
        .appName("kpi-scale")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(threads))
        .config("spark.default.parallelism", str(threads))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(home / "warehouse"))
        .config("spark.local.dir", str(home / "local"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        shutil.rmtree(home, ignore_errors=True)


def spark_views(session: Any, folders: dict[str, Path], schemas: dict[str, Any]) -> None:
    """Temporary views over the Parquet, with the store's columns and types (the partition
    folders' ``month`` is dropped; ``source`` comes back from its folder name)."""
    from ibis.backends.pyspark.datatypes import PySparkSchema
    from pyspark.sql import functions as F

    for name, folder in folders.items():
        spark_schema = PySparkSchema.from_ibis(schemas[name])
        if name in PARTITIONS:
            frame = session.read.parquet(str(folder))
            frame = frame.select(
                *[F.col(f.name).cast(f.dataType).alias(f.name) for f in spark_schema.fields]
            )
        else:
            frame = session.read.schema(spark_schema).parquet(str(folder))
        frame.createOrReplaceTempView(name)


# --- agreement -------------------------------------------------------------------------------------


def largest_difference(a: dict, b: dict) -> tuple[float, str]:
    """The largest absolute difference between two overview results' figures, and where. A
    figure missing on one side only is an infinite difference."""
    worst, where = 0.0, "-"
    pairs = [(f"{p}.{k}", v, b[p][k]) for p in ("current", "previous") for k, v in a[p].items()]
    for key, values in a["trend"].items():
        pairs += [
            (f"trend.{key}[{i}]", x, y)
            for i, (x, y) in enumerate(zip(values, b["trend"][key], strict=True))
        ]
    for name, x, y in pairs:
        if x is None or y is None:
            gap = 0.0 if x is None and y is None else math.inf
        else:
            gap = abs(float(x) - float(y))
        if gap > worst:
            worst, where = gap, name
    return worst, where


def peak_rss_mib() -> float:
    """This process's peak resident memory (DuckDB runs in it; Spark's JVM does not)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per backend")
    parser.add_argument("--folder", help="where the store and Parquet go (default: a temp folder)")
    parser.add_argument("--duckdb-memory", default="6GB", help="DuckDB memory_limit")
    parser.add_argument("--spark-memory", default="6g", help="Spark driver memory")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads, Spark local[n]")
    parser.add_argument("--keep", action="store_true", help="keep the store and Parquet")
    args = parser.parse_args(argv)

    folder = Path(args.folder or tempfile.mkdtemp(prefix="kpi-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "store.duckdb"
    if path.exists():
        path.unlink()
    try:
        run(args, folder, path)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path, path: Path) -> None:
    n = args.contacts
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)")
    started = time.perf_counter()
    build_store(path, n, args.duckdb_memory, args.threads)
    built = time.perf_counter() - started
    print(f"store: {n:,} contacts, {int(n * 0.3):,} responses generated in DuckDB in {built:.1f} s "
          f"({path.stat().st_size / 2**20:,.0f} MiB on disk)")  # fmt: skip

    store = open_store(path)  # reopened: no DuckDB buffers, no engine caches
    configure(store, args.duckdb_memory, args.threads)
    d_cold, d_warm, d_result = cold_and_warm(lambda: _overview(store), args.repeat)
    print(f"DuckDB: cold {d_cold:.2f} s, warm {d_warm:.2f} s; load average {load_average()}; "
          f"peak memory of this process so far {peak_rss_mib():,.0f} MiB")  # fmt: skip
    backend = ibis.duckdb.from_connection(store.cursor())
    schemas = {name: backend.table(name).schema() for name in ENGINE_TABLES}
    started = time.perf_counter()
    parquet = write_parquet(store, folder / "parquet")
    written = time.perf_counter() - started
    size = sum(f.stat().st_size for f in (folder / "parquet").rglob("*.parquet"))
    files = len(list((folder / "parquet").rglob("*.parquet")))
    print(f"parquet: {files} files, {size / 2**20:,.0f} MiB, written in {written:.1f} s")
    store.close()

    with spark_session(args.spark_memory, args.threads) as session:
        spark_views(session, parquet, schemas)
        spark = ibis.pyspark.connect(session)
        s_cold, s_warm, s_result = cold_and_warm(lambda: _overview(spark), args.repeat)
    print(f"Spark: cold {s_cold:.2f} s, warm {s_warm:.2f} s; load average {load_average()}")

    gap, where = largest_difference(engine_numbers(d_result), engine_numbers(s_result))
    print(
        f"overview set on {n:,} contacts (calendar hours; cold, then median of {args.repeat} warm):"
    )
    print(f"  DuckDB:          cold {d_cold:8.2f} s, warm {d_warm:8.2f} s "
          f"({n / d_warm:,.0f} contacts/s warm)")  # fmt: skip
    print(f"  Spark local[{args.threads}]: cold {s_cold:8.2f} s, warm {s_warm:8.2f} s "
          f"({n / s_warm:,.0f} contacts/s warm)")  # fmt: skip
    print(f"Spark / DuckDB: {s_cold / d_cold:.1f}x cold, {s_warm / d_warm:.1f}x warm")
    print(f"largest difference between the backends' figures: {gap:.3g} ({where})")
    if gap > 1e-9:
        raise SystemExit("the backends disagree")


if __name__ == "__main__":
    main()
