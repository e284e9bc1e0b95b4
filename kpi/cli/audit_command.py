"""`kpi audit`: the store's audit log (imports, undos, settings and role changes, sign-offs,
exports), newest first, or written as an injection-safe CSV. Nothing here changes it."""

from __future__ import annotations

import argparse
from pathlib import Path

SUMMARY = "show the audit log: who imported, undid, changed settings or roles, signed, exported"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("audit", help=SUMMARY, description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--db", metavar="PATH|URL", help="the store: a file or a URL (default $KPI_DB)")
    p.add_argument("--limit", type=int, default=50, help="the newest N entries (default 50)")
    p.add_argument("--out", metavar="FILE.csv", help="write the whole log as a CSV instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kpi.charts.disclosure import csv_bytes
    from kpi.errors import printable
    from kpi.store import audit
    from kpi.store.connection import open_store

    store = open_store(args.db)
    try:
        if args.out:
            Path(args.out).write_bytes(csv_bytes(audit.as_table(store)))
            print(f"wrote {args.out}")
            return 0
        entries = audit.entries(store, limit=args.limit)
    finally:
        store.close()
    if not entries:
        print("the audit log is empty.")
    for e in entries:
        print(
            printable(
                f"{e.entry_id:>5}  {e.at:%Y-%m-%d %H:%M:%S}  {e.who:<16} {e.action:<9} {e.detail}"
            )
        )
    return 0
