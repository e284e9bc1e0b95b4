"""Import benchmark: our importer against a bare DuckDB read and a plain pandas pipeline.

    python bench/ingest.py --rows 1000000

Generates a realistic contacts export (17 columns, UK day-first dates, free text with the odd
email address, a satisfaction column), then runs each pipeline in its own process (so peak RSS
is its own) and prints wall time, rows per second, peak RSS and the ratios. Nothing here is a
test: the machines are shared and noisy, so figures are printed, never asserted.
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


PIPELINES = {"ours": run_ours, "duckdb": run_duckdb, "pandas": run_pandas}


def worker(name: str, csv: Path, db: Path) -> None:
    started = time.perf_counter()
    counts = PIPELINES[name](csv, db)
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
    parser.add_argument("--worker", choices=list(PIPELINES))
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--skip", nargs="*", default=[], choices=list(PIPELINES))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.csv, args.db)
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


if __name__ == "__main__":
    main()
