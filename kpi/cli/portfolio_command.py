"""`kpi portfolio --learner NAME --format pdf|docx --out DIR`: a learner's portfolio of evidence.

One document: the index of the learner's reflections, KSB coverage against their own standard,
review-date reminders, the KSB mapping annex and a professional-discussion prep sheet. With
``--standard`` it first records the learner's standard (and ``--version``). Problems end in one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kpi.errors import InvalidChoice, KpiError, printable
from kpi.evidence import learners, portfolio
from kpi.store.connection import default_path, open_store

FORMATS = ("pdf", "docx")


def register(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """The command's parser; ``summary`` is its one line in `kpi --help`."""
    p = subparsers.add_parser(
        "portfolio",
        help=summary,
        description="Write one learner's portfolio of evidence as PDF or DOCX.",
    )
    p.add_argument("--learner", required=True, metavar="NAME", help="the learner's name")
    p.add_argument("--format", choices=FORMATS, default="pdf")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="folder to write to")
    p.add_argument(
        "--db", metavar="PATH|URL", help=f"the store: a file or a URL (default {default_path()})"
    )
    p.add_argument(
        "--standard", metavar="CODE", help="record the learner's standard first, e.g. ST0384"
    )
    p.add_argument("--version", default="", metavar="V", help="the standard's version, e.g. 1.1")
    p.set_defaults(func=run)


def export(
    db: str | None,
    learner: str,
    fmt: str,
    out: Path,
    standard: str | None = None,
    version: str = "",
) -> Path:
    """Write the portfolio and return its path."""
    if fmt not in FORMATS:
        raise InvalidChoice(f"unknown format {fmt!r}; choose {', '.join(FORMATS)}")
    store = open_store(db) if db else open_store()
    try:
        if standard:
            learners.register(store, learner, standard.upper(), version)
        if learner.strip() not in learners.learners(store):
            raise InvalidChoice(
                f"no reflection by {learner.strip()!r} in the store; start one on the Reflect page"
            )
        built = portfolio.build(store, learner)
    finally:
        store.close()
    data = portfolio.pdf_bytes(built) if fmt == "pdf" else portfolio.docx_bytes(built)
    out.mkdir(parents=True, exist_ok=True)
    path = out / portfolio.file_name(built, fmt)
    path.write_bytes(data)
    return path


def run(args: argparse.Namespace) -> int:
    try:
        path = export(args.db, args.learner, args.format, args.out, args.standard, args.version)
    except KpiError as problem:  # an unwritable --out is an OSError, which main() reports
        print(f"kpi: {printable(str(problem).splitlines()[0])}", file=sys.stderr, flush=True)
        return 2
    print(path, flush=True)
    return 0
