"""`kpi evidence ID --format pdf|docx|png --out DIR`: one reflection as an evidence pack;
`kpi evidence verify FILE`: is a pack (PDF or DOCX) authentic and unchanged?

pdf and docx write the whole pack; png writes each of its charts (safe to share) plus the
numbers behind each as CSV. verify checks a signed-off pack against the store
(``kpi.evidence.verification``) and exits 0 only when it is authentic and unchanged, 1 when it
is not (the store's reflection changed, the file was altered, or the code is unknown).
Problems end in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kpi.charts import images
from kpi.charts.disclosure import csv_bytes
from kpi.charts.spec import table
from kpi.errors import InvalidChoice, KpiError, NotFound
from kpi.evidence import documents, verification
from kpi.evidence import packs as evidence
from kpi.store import audit
from kpi.store.batches import importer_name
from kpi.store.connection import default_path, open_store

FORMATS = ("pdf", "docx", "png")


def register(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """The command's parser; ``summary`` is its one line in `kpi --help`."""
    p = subparsers.add_parser(
        "evidence",
        help=summary,
        description="Write one reflection's evidence pack: aggregates only, colleagues "
        "anonymised, small cells suppressed. Charts need Chromium (apt-get install chromium). "
        "`kpi evidence verify FILE` checks a signed-off pack (PDF or DOCX) against the store: "
        "exit 0 only when it is authentic and unchanged.",
    )
    p.add_argument(
        "reflection",
        metavar="ID",
        help="the reflection's number (EV-0007 is 7), or verify to check the FILE that follows",
    )
    p.add_argument("file", nargs="?", type=Path, metavar="FILE", help="the pack to verify")
    p.add_argument("--format", choices=FORMATS, default="pdf")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="folder to write to")
    p.add_argument(
        "--db", metavar="PATH|URL", help=f"the store: a file or a URL (default {default_path()})"
    )
    p.add_argument("--indexed", action="store_true", help="index figures to 100, hide volumes")
    p.set_defaults(func=run)


def export(
    db: str | None, reflection_id: int, fmt: str, out: Path, indexed: bool = False
) -> list[Path]:
    """Write the files and return their paths."""
    if fmt not in FORMATS:
        raise InvalidChoice(f"unknown format {fmt!r}; choose {', '.join(FORMATS)}")
    store = open_store(db) if db else open_store()
    try:
        with images.renderer() as renderer:
            pack = evidence.build(store, reflection_id, renderer, indexed=indexed)
        audit.add(store, importer_name(), "export", f"{pack.reference} as {fmt} to {out}")
    finally:
        store.close()
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, bytes]] = []
    if fmt == "pdf":
        written.append((out / evidence.file_name(pack, "pdf"), documents.pdf_bytes(pack)))
    elif fmt == "docx":
        written.append((out / evidence.file_name(pack, "docx"), documents.docx_bytes(pack)))
    else:
        for number, (spec, image) in enumerate(zip(pack.charts, pack.images, strict=True), 1):
            suffix = f"chart{number}"
            written.append((out / evidence.file_name(pack, "png", suffix), image))
            written.append((out / evidence.file_name(pack, "csv", suffix), csv_bytes(table(spec))))
    for path, data in written:
        path.write_bytes(data)
    return [path for path, _ in written]


def verify(db: str | None, path: Path) -> verification.Verdict:
    store = open_store(db) if db else open_store()
    try:
        return verification.verify(store, path)
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    if args.reflection == "verify":
        return _verify(args)
    if not args.reflection.isdigit() or args.file is not None:
        return _fail(
            f"give a reflection's number (EV-0007 is 7), or verify FILE, not {args.reflection!r}"
        )
    args.reflection = int(args.reflection)
    try:
        paths = export(args.db, args.reflection, args.format, args.out, args.indexed)
    except NotFound:
        return _fail(f"no reflection {args.reflection} in the store; see the Evidence page")
    except KpiError as problem:  # an unwritable --out is an OSError, which main() reports
        return _fail(str(problem).splitlines()[0])
    for path in paths:
        print(path, flush=True)
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.file is None:
        return _fail("say which pack to check: kpi evidence verify FILE")
    try:
        verdict = verify(args.db, args.file)
    except KpiError as problem:
        return _fail(str(problem).splitlines()[0])
    print(verdict.message, flush=True)
    return 0 if verdict.authentic else 1


def _fail(text: str) -> int:
    print(f"kpi: {text}", file=sys.stderr, flush=True)
    return 2
