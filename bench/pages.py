"""Benchmark: each dashboard page's script time, at sample size and at 1M contacts.

For each store, every page is run as a Streamlit AppTest of the whole app (sidebar filters and
all): once cold (Streamlit caches cleared first), then warm (the same view again: what a reader
waits for after the first load), then after a filter change (channel = phone: new cache keys, so
the engine runs again), then, every channel again, with the period set to the last 12 months
and to all time (the longest series a reader asks for: Service levels at 12 months and Trends at
all time were the slow ones). Figures are seconds of one run each, measured on this machine. A script, not a test:
``python bench/pages.py [--contacts 1000000] [--skip-sample] [--skip-large] [--page Trends]``.

The libraries the pages use are loaded first, as the server `make run` starts loads them before
its first visitor (``dashboard.serve``): a first load is a visitor's first page on a started
server, and the time that loading took is printed on its own.

The 1M store is generated with bench/engine.py's generator (time-ordered contacts and 0.3
answers per contact), plus agents and categories so that the Team and Complaints pages have
something to break down.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import streamlit as st  # noqa: E402, TID251 (a benchmark of the pages drives Streamlit)
from streamlit.testing.v1 import AppTest  # noqa: E402, TID251

from dashboard.navigation import PAGES  # noqa: E402
from dashboard.serve import preload  # noqa: E402
from kpi.engine.presets import DEFAULT_PRESET  # noqa: E402
from kpi.ingest.importer import import_file  # noqa: E402
from kpi.store.connection import open_store  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
SAMPLE = ROOT / "sample_data"


def sample_store(path: Path) -> Path:
    store = open_store(path)
    for file in sorted(SAMPLE.iterdir()):
        if file.suffix in (".csv", ".xlsx"):
            import_file(store, file)
    store.close()
    return path


def large_store(path: Path, contacts: int) -> Path:
    from engine import build_store  # bench/engine.py: the engine benchmark's generator

    store = build_store(str(path), contacts)
    with store.transaction() as cur:
        # Agents in teams, and contact reasons, derived from the id so the run is repeatable.
        cur.execute(
            "UPDATE contacts SET agent = 'Agent ' || (hash(contact_id) % 36), "
            "category = 'Reason ' || (hash(contact_id || 'c') % 12)"
        )
        cur.execute("UPDATE responses SET category = 'Reason ' || (hash(response_id) % 12)")
        cur.execute("INSERT INTO imports (batch_id, file_name) VALUES (1, 'bench')")
    store.close()
    return path


def _run(at: AppTest) -> tuple[float, float]:
    """Wall and CPU seconds of one run. CPU (this process, every thread: the script's and
    DuckDB's) moves far less than wall time on a shared, busy machine."""
    started, cpu = time.perf_counter(), time.process_time()
    at.run()
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return elapsed


def page_times(db: Path, script: str) -> tuple[tuple[float, float], ...]:
    """(cold, warm, after a filter change, 12 months, all time) seconds for one page."""
    os.environ["KPI_DB"] = str(db)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.switch_page(script)
    cold = _run(at)
    # Before its first run AppTest finds a page by its file name, which is also the name of a
    # page's hidden alias (/service_levels, /overview) that sends the visitor on: switching
    # again now, with the app's pages known, pins the page itself for the runs that follow.
    at.switch_page(script)
    warm = _run(at)
    at.multiselect(key="filter_channel").set_value(["phone"])
    changed = _run(at)
    _check_period(at, DEFAULT_PRESET, "after the warm run")
    at.multiselect(key="filter_channel").set_value([])  # every channel again
    at.selectbox(key="filter_period").set_value("12m")
    year = _run(at)
    _check_period(at, "12m", "after choosing the last 12 months")
    at.selectbox(key="filter_period").set_value("all")
    every = _run(at)
    _check_period(at, "all", "after choosing all time")
    return cold, warm, changed, year, every


def _check_period(at: AppTest, wanted: str, when: str) -> None:
    """Refuse to print a figure for a view the page did not show: a page that resets the
    period (e.g. by switching pages) would otherwise time a cached rerun of another period."""
    try:
        shown = at.session_state["filter_period"]
    except KeyError:
        shown = None
    if shown != wanted:
        raise RuntimeError(f"the period is {shown!r} {when}, not {wanted!r}: nothing to time")


def report(label: str, db: Path, pages: list[str]) -> None:
    store = open_store(db)
    contacts, answers = store.count("contacts"), store.count("responses")
    store.close()
    print(f"\n{label}: {contacts:,} contacts, {answers:,} survey answers")
    columns = ("first load", "warm", "filter change", "12 months", "all time")
    print("seconds of wall time (CPU time)")
    print(f"{'page':<28}" + "".join(f"{c:>16}" for c in columns))
    for spec in PAGES:
        if pages and spec.title not in pages:
            continue
        times = page_times(db, spec.script)
        cells = (f"{wall:.2f} ({cpu:.2f})" for wall, cpu in times)
        print(f"{spec.title:<28}" + "".join(f"{c:>16}" for c in cells), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--page", action="append", default=[], help="only this page (repeatable)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the generated store here (and use it if it is there): a second run's first "
        "loads are then a restarted dashboard's, its compiled SQL read from the store's shelf",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    preload()
    print(f"libraries loaded as the server does at start: {time.perf_counter() - started:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_sample:
            report("Sample data", sample_store(Path(folder) / "sample.duckdb"), args.page)
        if args.skip_large:
            return
        big = args.keep or Path(folder) / "large.duckdb"
        if not big.exists():
            started = time.perf_counter()
            large_store(big, args.contacts)
            took = time.perf_counter() - started
            print(f"\n(generated the {args.contacts:,}-contact store in {took:.0f} s)")
        report("Generated store", big, args.page)


if __name__ == "__main__":
    main()
