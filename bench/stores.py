"""Benchmark: what a store named by URL costs (kpi.store.remote), at N contacts (default 1M).

1. Generates N contacts and N * 0.3 responses into a DuckDB store file (bench/scale.py's
   generator).
2. Copies it to a PostgreSQL database and to a Spark folder of Parquet (``kpi store copy``).
3. Opens a working copy of each (what every writing command and a dashboard's start pay), sends
   back one settings change (what a page's write pays), and a report that changes nothing.
4. Runs ``kpi report --grain week --by channel`` (every KPI) in this process on the DuckDB file
   and on PostgreSQL itself, and prints both times, their ratio and the largest relative
   difference between the two CSVs' numbers (sums in another order differ in the last digits).

PostgreSQL: the server at ``--postgres URL`` (its ``public`` tables are overwritten: give it a
throwaway database), else a throwaway one started here from Debian's packages (as the tests do).
A script, not a test: ``python bench/stores.py [--contacts 1000000]``. Figures are printed, never
compared with thresholds.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import build_store, load_average  # noqa: E402  (bench/scale.py)

from kpi.cli.report_command import as_csv  # noqa: E402
from kpi.engine.filters import Filters  # noqa: E402
from kpi.engine.report import report  # noqa: E402
from kpi.metrics.settings import load_settings, save_settings  # noqa: E402
from kpi.store.connection import open_store  # noqa: E402
from kpi.store.copying import copy_store  # noqa: E402
from kpi.store.remote import remote  # noqa: E402


def timed(what: str, run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    print(f"  {what}: {seconds:.2f} s", flush=True)
    return seconds, result


@contextlib.contextmanager
def postgres(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    from tests.backends import postgres_server  # the tests' throwaway server

    with postgres_server() as url:
        yield url


def week_by_channel(source: Any) -> str:
    settings = load_settings(source) if not hasattr(source, "list_tables") else None
    return as_csv(report(source, Filters(), by=("channel",), grain="week", settings=settings))


def largest_difference(a: str, b: str) -> float:
    """The largest relative difference between two reports' cells (inf when the rows or
    their words differ: numbers differ in their last digits only, by the order of a sum)."""
    rows_a, rows_b = list(csv.reader(io.StringIO(a))), list(csv.reader(io.StringIO(b)))
    if len(rows_a) != len(rows_b):
        return math.inf
    largest = 0.0
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if x == y:
                continue
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                return math.inf
            largest = max(largest, abs(fx - fy) / max(abs(fx), abs(fy), 1e-300))
    return largest


def working_copy_costs(url: str) -> None:
    seconds, copy = timed("open a working copy (pull every table)", lambda: open_store(url))
    save_settings(copy, load_settings(copy).with_changes(sla_variant="source_flag"))
    timed("send back one settings change (two tables)", copy.sync)
    timed("close a copy that changed nothing", copy.close)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="URL", help="a throwaway database to use")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="kpi-stores-"))
    try:
        with postgres(args.postgres) as url:
            run(args.contacts, folder, url)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(n: int, folder: Path, postgres_url: str) -> None:
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)")
    path = folder / "store.duckdb"
    build_store(path, n, "2GB", 2)
    print(f"store: {n:,} contacts, {int(n * 0.3):,} responses ({path.stat().st_size / 2**20:,.0f} "
          "MiB on disk)")  # fmt: skip
    spark = f"spark://local[2]?warehouse={folder / 'spark'}"
    local = open_store(path)
    print("kpi store copy:")
    to_pg, _ = timed("DuckDB file -> PostgreSQL (COPY, one transaction)",
                     lambda: copy_store(local, postgres_url, replace=True))  # fmt: skip
    to_spark, _ = timed("DuckDB file -> Spark folder (Parquet by month)",
                        lambda: copy_store(local, spark))  # fmt: skip
    print("working copies:")
    print(" PostgreSQL")
    working_copy_costs(postgres_url)
    print(" Spark folder")
    working_copy_costs(spark)
    copy_store(local, postgres_url, replace=True)  # the report runs on the unchanged store
    print("kpi report --grain week --by channel (every KPI), in this process, first run:")
    on_duckdb_s, on_duckdb = timed("DuckDB file", lambda: week_by_channel(local))
    local.close()
    server = remote(postgres_url)
    on_pg_s, on_pg = timed("PostgreSQL (the engine on the server)",
                           lambda: week_by_channel(server.backend()))  # fmt: skip
    server.close()
    largest = largest_difference(on_duckdb, on_pg)
    print(f"  PostgreSQL / DuckDB: {on_pg_s / on_duckdb_s:.1f}x the time; "
          f"{on_duckdb.count(chr(10)):,} lines each; largest relative difference between the "
          f"two CSVs' numbers {largest:.1e} (1e-9 is the agreement the tests require)")  # fmt: skip
    print(f"copy to PostgreSQL: {n / to_pg:,.0f} contacts/s; to a Spark folder: "
          f"{n / to_spark:,.0f} contacts/s; load average at end: {load_average()}")  # fmt: skip


if __name__ == "__main__":
    main()
