"""`kpi store copy SRC DST`: move a store between a DuckDB file, PostgreSQL and Spark
(``kpi.store.copying`` does the copying)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kpi.errors import StoreError, printable
from kpi.store.connection import open_store
from kpi.store.copying import copy_store
from kpi.store.location import is_url, shown
from kpi.store.remote import remote


def register(subparsers: argparse._SubParsersAction, summary: str) -> None:
    p = subparsers.add_parser(
        "store",
        help=summary,
        description="Stores are a DuckDB file (the default), a PostgreSQL URL "
        "(postgresql://user:password@host:5432/database) or a Spark folder "
        "(spark://local[*]?warehouse=/absolute/folder). See docs/scaling.md.",
    )
    actions = p.add_subparsers(dest="action", required=True)
    copy = actions.add_parser(
        "copy",
        help="copy every table of one store into another",
        description="Copy every table of SRC into DST and check the row counts there. DST must "
        "hold no store, unless --replace.",
    )
    copy.add_argument("source", metavar="SRC", help="a DuckDB file or a store URL")
    copy.add_argument("target", metavar="DST", help="a new DuckDB file or a store URL")
    copy.add_argument("--replace", action="store_true", help="overwrite a store DST already holds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not is_url(args.source) and not Path(args.source).expanduser().exists():
        raise StoreError(f"no store at {args.source}; give the file or URL to copy from")
    if not is_url(args.source) and not is_url(args.target):
        same = Path(args.source).expanduser().resolve() == Path(args.target).expanduser().resolve()
        if same:
            raise StoreError("SRC and DST are the same store")
    if is_url(args.source) and not remote(args.source).revision():
        raise StoreError(f"no store at {shown(args.source)}; give the file or URL to copy from")
    source = open_store(args.source)
    try:
        counts = copy_store(source, args.target, replace=args.replace, progress=_progress)
    finally:
        source.close()
    total = sum(counts.values())
    _say(f"copied {shown(args.source)} to {shown(args.target)}: {len(counts)} tables, "
         f"{total:,} rows, every table's row count checked there")  # fmt: skip
    for table in ("contacts", "responses", "intervals", "imports", "reflections", "users"):
        if table in counts:
            _say(f"  {table}: {counts[table]:,}")
    return 0


def _progress(table: str) -> None:
    print(f"kpi: copying {printable(table)}", file=sys.stderr, flush=True)


def _say(text: str) -> None:
    print(printable(text), flush=True)
