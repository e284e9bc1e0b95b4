"""Import benchmark: our importer against a bare DuckDB read, a plain pandas pipeline and a
minimal Polars pipeline.

    python bench/ingest.py --rows 1000000
    python bench/ingest.py --event-log --rows 1000000

Generates a realistic contacts export (17 columns, UK day-first dates, free text with the odd
email address, a satisfaction column), then runs each pipeline in its own process (so peak RSS
is its own) and prints wall time, rows per second, peak RSS and the ratios. Nothing here is a
test: the machines are shared and noisy, so figures are printed, never asserted.

With ``--event-log`` the file is instead a process-mining event log of ``--rows`` events, five per
case, in shuffled order (``Case ID, Activity, Resource, Complete Timestamp, Category``), imported
twice: with a ``[rollup]`` (events ordered by time; first opening, first take-in-charge, last
resolve, latest close, reopens counted) and plainly (``duplicates = "keep_last"``, one timestamp
field, file order), and the ratio of the two is printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve()
CHANNELS = np.array(["Email", "Phone", "Chat", "Twitter", "Web Form"])
STATUSES = np.array(["Closed", "Solved", "Open", "Pending"])
PRIORITIES = np.array(["Low", "Normal", "High", "Urgent"])
CATEGORIES = np.array(["Billing", "Payments", "Moving home", "Faults", "Meter reading"])
WORDS = np.array(["bill", "refund", "engineer", "meter", "late", "thanks", "account", "login"])


def generate(rows: int, path: Path, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00")
    opened = start + rng.integers(0, 600 * 24 * 60, rows).astype("timedelta64[m]")
    reply = opened + rng.integers(5, 3000, rows).astype("timedelta64[m]")
    resolved = reply + rng.integers(10, 20000, rows).astype("timedelta64[m]")
    unresolved = rng.random(rows) < 0.08
    uk = "%d/%m/%Y %H:%M"
    subject = (
        pd.Series(WORDS[rng.integers(0, len(WORDS), rows)])
        + " issue "
        + pd.Series(rng.integers(1, 999, rows).astype(str))
    )
    subject[rng.random(rows) < 0.01] = "please email me at someone@example.com"
    frame = pd.DataFrame(
        {
            "contact_id": np.arange(1, rows + 1).astype(str),
            "opened_at": pd.Series(opened).dt.strftime(uk),
            "first_response_at": pd.Series(reply).dt.strftime(uk),
            "resolved_at": pd.Series(resolved).dt.strftime(uk).where(~unresolved, ""),
            "status": STATUSES[rng.integers(0, 4, rows)],
            "priority": PRIORITIES[rng.integers(0, 4, rows)],
            "channel": CHANNELS[rng.integers(0, 5, rows)],
            "team": np.where(rng.random(rows) < 0.5, "Leeds Care", "Cardiff Care"),
            "agent": "Agent " + pd.Series(rng.integers(1, 13, rows).astype(str)),
            "category": CATEGORIES[rng.integers(0, 5, rows)],
            "customer_id": "C" + pd.Series(rng.integers(1, rows // 3 + 2, rows).astype(str)),
            "agent_replies": rng.integers(0, 6, rows),
            "reopens": rng.integers(0, 2, rows),
            "escalated": np.where(rng.random(rows) < 0.05, "Y", "N"),
            "complaint": np.where(rng.random(rows) < 0.03, "Y", "N"),
            "subject": subject,
            "csat": np.where(rng.random(rows) < 0.2, rng.integers(1, 6, rows).astype(str), ""),
        }
    )
    frame.to_csv(path, index=False)


ACTIVITIES = np.array(["Take in charge ticket", "Resolve ticket", "Reopen", "Closed"])
EVENTS_PER_CASE = 5
EVENT_COLUMNS = """
[columns]
contact_id = "Case ID"
agent = "Resource"
category = "Category"
"""
ROLLUP_MAPPING = f"""kind = "contacts"
date_format = "%d/%m/%Y %H:%M:%S"
{EVENT_COLUMNS}
[rollup]
order_by = "Complete Timestamp"
opened_at = {{ first = "Complete Timestamp" }}
first_response_at = {{ first = "Complete Timestamp", where = {{ Activity = "Take in charge ticket" }} }}
resolved_at = {{ last = "Complete Timestamp", where = {{ Activity = "Resolve ticket" }} }}
closed_at = {{ max = "Complete Timestamp", where = {{ Activity = "Closed" }} }}
reopens = {{ count = "*", where = {{ Activity = "Resolve ticket" }}, minus = 1 }}
"""
PLAIN_MAPPING = f"""kind = "contacts"
date_format = "%d/%m/%Y %H:%M:%S"
duplicates = "keep_last"
{EVENT_COLUMNS}opened_at = "Complete Timestamp"
"""


def generate_event_log(events: int, path: Path, seed: int = 7) -> None:
    """``events`` events, five per case at increasing times, written in shuffled order."""
    rng = np.random.default_rng(seed)
    cases = max(events // EVENTS_PER_CASE, 1)
    case = np.repeat(np.arange(cases), EVENTS_PER_CASE)[:events]
    step = np.tile(np.arange(EVENTS_PER_CASE), cases)[:events]
    start = np.datetime64("2025-01-01T00:00:00")
    opened = start + rng.integers(0, 600 * 24 * 3600, cases).astype("timedelta64[s]")
    gaps = rng.integers(60, 2 * 24 * 3600, events).astype("timedelta64[s]")
    at = opened[case] + np.where(step == 0, 0, gaps * step).astype("timedelta64[s]")
    activity = np.where(step == 0, "Open", ACTIVITIES[rng.integers(0, 4, events)])
    frame = pd.DataFrame(
        {
            "Case ID": "Case " + pd.Series(case.astype(str)),
            "Activity": activity,
            "Resource": "Agent " + pd.Series(rng.integers(1, 13, events).astype(str)),
            "Complete Timestamp": pd.Series(at).dt.strftime("%d/%m/%Y %H:%M:%S"),
            "Category": CATEGORIES[rng.integers(0, 5, events)],
        }
    )
    frame.sample(frac=1, random_state=seed).to_csv(path, index=False)
    (path.parent / "rollup.toml").write_text(ROLLUP_MAPPING, encoding="utf-8")
    (path.parent / "plain.toml").write_text(PLAIN_MAPPING, encoding="utf-8")


# --- the three pipelines, each run in a child process ---------------------------------------


def run_ours(csv: Path, db: Path) -> dict:
    from kpi.ingest.importer import import_file
    from kpi.store.connection import open_store

    store = open_store(db)
    result = import_file(store, csv, layout="generic_contacts")
    store.close()
    return {"imported": result.rows_imported, "quarantined": result.rows_quarantined}


def run_duckdb(csv: Path, db: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE contacts AS SELECT * FROM read_csv(?)", [str(csv)])
    n = con.execute("SELECT count(*) FROM contacts").fetchall()[0][0]
    con.close()
    return {"imported": n, "quarantined": 0}


def run_pandas(csv: Path, db: Path) -> dict:
    """A plain, reasonable pandas pipeline doing the same parsing, validation and privacy."""
    import hashlib

    import duckdb

    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    uk = "%d/%m/%Y %H:%M"
    out = pd.DataFrame({"contact_id": frame["contact_id"]})
    for column in ("opened_at", "first_response_at", "resolved_at"):
        local = pd.to_datetime(frame[column].replace("", None), format=uk, errors="coerce")
        out[column] = (
            local.dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="NaT")
            .dt.tz_convert("UTC")
            .dt.tz_localize(None)
        )
    words = {"Solved": "resolved", "Closed": "closed", "Open": "open", "Pending": "pending"}
    out["status"] = frame["status"].map(words)
    out["priority"] = frame["priority"].str.lower()
    channels = {"Email": "email", "Phone": "phone", "Chat": "chat", "Twitter": "social"}
    out["channel"] = frame["channel"].map({**channels, "Web Form": "web"})
    for column in ("team", "agent", "category"):
        out[column] = frame[column]
    key = "benchmark-key"
    out["customer_key"] = frame["customer_id"].map(
        lambda v: hashlib.sha256(f"{key}|{v}".encode()).hexdigest()[:16]
    )
    for column in ("agent_replies", "reopens"):
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    for column in ("escalated", "complaint"):
        out[column] = frame[column].map({"Y": True, "N": False})
    out["subject"] = frame["subject"].str.replace(
        r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[email removed]", regex=True
    )
    csat = pd.to_numeric(frame["csat"], errors="coerce")
    out["csat"] = csat.where(csat.between(1, 5))
    bad = out["opened_at"].isna() | out["contact_id"].eq("")
    bad |= out["contact_id"].duplicated()
    late = out["resolved_at"] < out["opened_at"]
    out.loc[late, "resolved_at"] = pd.NaT
    good = out[~bad]
    con = duckdb.connect(str(db))
    con.register("good", good)
    con.execute("CREATE TABLE contacts AS SELECT * FROM good")
    con.close()
    return {"imported": int(len(good)), "quarantined": int(bad.sum())}


def run_polars(csv: Path, db: Path) -> dict:
    """A minimal, idiomatic Polars pipeline doing what ``run_pandas`` does, lazily: read, parse
    the UK local times to UTC and the numbers, map the categories, hash the customer id, scrub
    email addresses, drop duplicate and invalid rows, load into DuckDB."""
    import hashlib

    import duckdb
    import polars as pl

    key = "benchmark-key"
    words = {"Solved": "resolved", "Closed": "closed", "Open": "open", "Pending": "pending"}
    channels = {"Email": "email", "Phone": "phone", "Chat": "chat", "Twitter": "social"}
    csat = pl.col("csat").cast(pl.Float64, strict=False)
    frame = (
        pl.scan_csv(csv, infer_schema=False)  # every column as text; an empty field is null
        .select(
            "contact_id",
            *(
                pl.col(c)
                .str.strptime(pl.Datetime("us"), "%d/%m/%Y %H:%M", strict=False)
                .dt.replace_time_zone("Europe/London", ambiguous="null", non_existent="null")
                .dt.convert_time_zone("UTC")
                .dt.replace_time_zone(None)
                for c in ("opened_at", "first_response_at", "resolved_at")
            ),
            pl.col("status").replace_strict(words, default=None),
            pl.col("priority").str.to_lowercase(),
            pl.col("channel").replace_strict({**channels, "Web Form": "web"}, default=None),
            "team",
            "agent",
            "category",
            pl.col("customer_id")
            .map_elements(
                lambda v: hashlib.sha256(f"{key}|{v}".encode()).hexdigest()[:16],
                return_dtype=pl.String,
            )
            .alias("customer_key"),
            pl.col("agent_replies", "reopens").cast(pl.Int64, strict=False),
            pl.col("escalated", "complaint").replace_strict(
                {"Y": True, "N": False}, default=None, return_dtype=pl.Boolean
            ),
            pl.col("subject").str.replace_all(
                r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[email removed]"
            ),
            pl.when(csat.is_between(1, 5)).then(csat).alias("csat"),
        )
        .with_columns(
            # resolved before opened: the time is wrong, not the contact
            pl.when(pl.col("resolved_at") < pl.col("opened_at"))
            .then(None)
            .otherwise(pl.col("resolved_at"))
            .alias("resolved_at"),
            (
                pl.col("opened_at").is_null()
                | pl.col("contact_id").is_null()
                | ~pl.col("contact_id").is_first_distinct()
            ).alias("_bad"),
        )
        .collect()
    )
    good = frame.filter(~pl.col("_bad")).drop("_bad")
    con = duckdb.connect(str(db))
    con.register("good", good.to_arrow())
    con.execute("CREATE TABLE contacts AS SELECT * FROM good")
    con.close()
    return {"imported": good.height, "quarantined": frame.height - good.height}


def _run_mapping(csv: Path, db: Path, name: str) -> dict:
    from kpi.ingest.importer import import_file
    from kpi.store.connection import open_store

    store = open_store(db)
    result = import_file(store, csv, mapping=csv.parent / f"{name}.toml")
    store.close()
    return {
        "imported": result.rows_imported,
        "quarantined": result.rows_quarantined,
        "contacts": result.inserted,
    }


def run_rollup(csv: Path, db: Path) -> dict:
    return _run_mapping(csv, db, "rollup")


def run_plain(csv: Path, db: Path) -> dict:
    return _run_mapping(csv, db, "plain")


PIPELINES = {"ours": run_ours, "duckdb": run_duckdb, "pandas": run_pandas, "polars": run_polars}
EVENT_PIPELINES = {"rollup": run_rollup, "plain": run_plain}
WORKERS = {**PIPELINES, **EVENT_PIPELINES}


def worker(name: str, csv: Path, db: Path) -> None:
    started = time.perf_counter()
    counts = WORKERS[name](csv, db)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **counts}))


def measure(name: str, csv: Path, folder: Path) -> dict:
    db = folder / f"{name}.duckdb"
    db.unlink(missing_ok=True)
    output = subprocess.run(
        [sys.executable, str(HERE), "--worker", name, "--csv", str(csv), "--db", str(db)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--worker", choices=list(WORKERS))
    parser.add_argument(
        "--event-log",
        action="store_true",
        help="an event log of --rows events: rollup against the plain import of the same file",
    )
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--skip", nargs="*", default=[], choices=list(PIPELINES))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.csv, args.db)
        return
    if args.event_log:
        event_log_bench(args.rows)
        return
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        folder = Path(tmp)
        csv = folder / "export.csv"
        t = time.perf_counter()
        generate(args.rows, csv)
        size = csv.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({size:.0f} MB) in {time.perf_counter() - t:.1f} s")
        results = {n: measure(n, csv, folder) for n in PIPELINES if n not in args.skip}
    for name, r in results.items():
        rate = args.rows / r["seconds"]
        print(
            f"{name:7} {r['seconds']:7.2f} s  {rate:>11,.0f} rows/s  peak RSS {r['peak_mb']:6.0f} MB"
            f"  imported {r['imported']:,} quarantined {r['quarantined']:,}"
        )
    if "ours" in results:
        ours = results["ours"]["seconds"]
        if "duckdb" in results:
            print(f"ours / bare DuckDB read: {ours / results['duckdb']['seconds']:.2f}x")
        if "pandas" in results:
            print(f"pandas / ours: {results['pandas']['seconds'] / ours:.2f}x faster than pandas")
        if "polars" in results:
            print(f"ours / polars: {ours / results['polars']['seconds']:.2f}x the Polars time")


def event_log_bench(events: int) -> None:
    """The rollup's cost: one event log imported with [rollup] and plainly (keep_last)."""
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        folder = Path(tmp)
        csv = folder / "events.csv"
        t = time.perf_counter()
        generate_event_log(events, csv)
        size = csv.stat().st_size / 1e6
        print(
            f"generated {events:,} events of {max(events // EVENTS_PER_CASE, 1):,} cases "
            f"({size:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )
        results = {n: measure(n, csv, folder) for n in EVENT_PIPELINES}
    for name, r in results.items():
        print(
            f"{name:7} {r['seconds']:7.2f} s  {events / r['seconds']:>11,.0f} events/s  "
            f"peak RSS {r['peak_mb']:6.0f} MB  imported {r['imported']:,} quarantined "
            f"{r['quarantined']:,} contacts {r['contacts']:,}"
        )
    ratio = results["rollup"]["seconds"] / results["plain"]["seconds"]
    print(f"rollup / plain import of the same file: {ratio:.2f}x")


if __name__ == "__main__":
    main()
