"""The `kpi` command: import exports, inspect and undo batches, report KPIs, run the dashboard.

Every failure a user can cause ends in one line on stderr and exit status 2, never a traceback
(set KPI_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kpi.cli import audit_command, users_command
from kpi.errors import ImportProblem, KpiError, disk_full, printable
from kpi.store.location import default_path

if TYPE_CHECKING:
    from kpi.ingest.limits import ImportLimits
    from kpi.store.connection import Store

# The importer, the store, pandas and the engine load in seconds: each command imports what it
# needs when it runs, so `kpi --help` and a mistyped argument answer at once.

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "sample_data"
SAMPLE_SUFFIXES = (".csv", ".xlsx")


def _say(text: str = "") -> None:
    print(printable(text), flush=True)


def _fail(text: str) -> int:
    print(f"kpi: {printable(text)}", file=sys.stderr, flush=True)
    return 2


#: Files at least this big say each stage of their import on stderr even when it is not a
#: terminal (a log, a pipe), so a long import is never silent.
PROGRESS_BYTES = 20_000_000


def _progress(path: Path) -> Callable[[str, float], None] | None:
    """Stage lines on a terminal, so a long import is visibly alive; when piped, one line per
    stage for big files and nothing for small ones (whose output stays the summary alone)."""
    name = printable(path.name)
    if sys.stderr.isatty():

        def show(stage: str, fraction: float) -> None:
            end = "\n" if fraction >= 1 else ""
            print(f"\r{name}: {stage:<12} {fraction:4.0%}", end=end, file=sys.stderr, flush=True)

        return show
    try:
        big = path.stat().st_size >= PROGRESS_BYTES
    except OSError:
        big = False  # import_file says what is wrong with the path
    if not big:
        return None

    def log(stage: str, fraction: float) -> None:
        print(f"{name}: {stage} ({fraction:.0%})", file=sys.stderr, flush=True)

    return log


def _limits(args: argparse.Namespace) -> ImportLimits:
    """The environment's import limits, with those given on the command line instead."""
    from kpi.ingest.limits import from_environment

    return from_environment().with_changes(
        max_future_days=args.max_future_days,
        earliest_date=args.earliest_date,
        max_quarantine=args.max_quarantine,
    )


def cmd_import(args: argparse.Namespace) -> int:
    from kpi.ingest.importer import describe_import, import_file
    from kpi.store.batches import importer_name
    from kpi.store.connection import open_store

    limits = _limits(args)
    store = open_store(args.db)
    failed = 0
    try:
        for file in args.files:
            try:
                result = import_file(
                    store,
                    Path(file),
                    layout=args.source,
                    mapping=args.mapping,
                    progress=_progress(Path(file)),
                    limits=limits,
                    imported_by=importer_name(),
                )
            except ImportProblem as problem:
                failed += 1
                _fail(str(problem))
                continue
            store.sync()  # a server's store has it before the summary says so
            for line in describe_import(result):
                _say(line)
    finally:
        store.close()
    return 2 if failed else 0


def cmd_seed(args: argparse.Namespace) -> int:
    """Create the store and fill it from sample_data/ when it holds no imports yet."""
    from kpi.ingest.importer import describe_import, import_file
    from kpi.store.batches import importer_name
    from kpi.store.connection import open_store

    store = open_store(args.db)
    try:
        if store.count("imports"):
            _say(f"store {store.path} already holds data; not seeding.")
            return 0
        source = Path(args.source_dir)
        if not source.is_dir():
            return _fail(f"no folder {source}; give --from the folder holding the sample files.")
        files = sorted(p for p in source.iterdir() if p.suffix in SAMPLE_SUFFIXES)
        if not files:
            return _fail(f"no sample files in {args.source_dir}; run `kpi sample` first.")
        for file in files:
            result = import_file(store, file, imported_by=importer_name())
            store.sync()  # a server's store has it before the summary says so
            for line in describe_import(result):
                _say(line)
        _add_sample_notes(store)
        _say(f"seeded {store.path}")
    finally:
        store.close()
    return 0


def _add_sample_notes(store: Store) -> None:
    """The sample team's dated notes (what the sample planted on a known day), so its
    before/after checks have a change to test."""
    from kpi.sample.story import DATED_NOTES  # numpy: only when seeding
    from kpi.store import annotations

    for on_date, text in DATED_NOTES:
        note = annotations.add(store, on_date, text)
        _say(f"added the dated note {note.on_date.isoformat()}: {note.text}")


def cmd_quarantine(args: argparse.Namespace) -> int:
    from kpi.charts.disclosure import csv_bytes
    from kpi.store.connection import open_store
    from kpi.store.quarantine import quarantined_rows

    store = open_store(args.db)
    try:
        frame = quarantined_rows(store, args.batch)
    finally:
        store.close()
    if args.out:
        Path(args.out).write_bytes(csv_bytes(frame))
        _say(f"wrote {len(frame):,} quarantined rows to {args.out}")
        return 0
    if frame.empty:
        _say("no quarantined rows.")
        return 0
    for row in frame.itertuples(index=False):
        _say(f"batch {row.batch_id} {row.file_name} row {row.row}: {row.reason}")
    return 0


def cmd_imports(args: argparse.Namespace) -> int:
    from kpi.store.connection import open_store
    from kpi.store.quarantine import imports_table

    store = open_store(args.db)
    try:
        frame = imports_table(store)
    finally:
        store.close()
    if frame.empty:
        _say("no imports yet.")
    for r in frame.itertuples(index=False):
        state = " (undone)" if r.undone_at is not None and str(r.undone_at) != "NaT" else ""
        _say(
            f"batch {r.batch_id}{state}: {r.file_name} [{r.layout}] read {r.rows_read:,}, "
            f"imported {r.rows_imported:,}, quarantined {r.rows_quarantined:,}, "
            f"at {r.imported_at:%Y-%m-%d %H:%M} by {r.By}"
        )
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from kpi.store.batches import UndoRefused, undo
    from kpi.store.connection import open_store

    store = open_store(args.db)
    try:
        undo(store, args.batch)
    except UndoRefused as refused:
        return _fail(str(refused))
    finally:
        store.close()
    _say(f"batch {args.batch} undone; the rows it replaced are restored.")
    return 0


def cmd_layouts(_args: argparse.Namespace) -> int:
    from kpi.ingest.layouts import builtin_layouts

    for layout in builtin_layouts().values():
        _say(f"{layout.name:24} {layout.kind:9} {layout.title}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from kpi.sample import generate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in generate(out, progress=lambda msg: print(msg, file=sys.stderr)):
        _say(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from kpi.store.location import default_location, is_url

    store = args.db or default_location()
    if not is_url(store):
        store = str(Path(store).expanduser().resolve())
    env = {**os.environ, "KPI_DB": store}
    # `streamlit run` of the app, with the libraries its pages use loaded before the server
    # starts (dashboard.serve). From the project folder, so that .streamlit/config.toml
    # applies wherever the command is run (it turns off the tables' own unsafe CSV download,
    # among others).
    command = [sys.executable, "-m", "dashboard.serve", "--server.port", str(args.port)]
    return subprocess.call(command, env=env, cwd=REPO_ROOT)


#: Commands whose modules load the engine or the evidence packs (seconds of imports): they are
#: imported only when asked for, so `kpi import` and friends start quickly.
HEAVY_COMMANDS = {
    "report": (
        "kpi.cli.report_command",
        "KPIs for a period, breakdown and grain (table, JSON or CSV)",
    ),
    "evidence": (
        "kpi.cli.evidence_command",
        "export a reflection as an evidence pack (PDF, DOCX or chart PNGs)",
    ),
    "portfolio": (
        "kpi.cli.portfolio_command",
        "export a learner's portfolio: index, KSB coverage, reminders, prep sheet",
    ),
    "settings": (
        "kpi.cli.settings_command",
        "list the KPI settings, or change one: kpi settings set KEY VALUE",
    ),
    "store": (
        "kpi.cli.store_command",
        "copy a store between a DuckDB file, PostgreSQL and Spark: kpi store copy SRC DST",
    ),
}
LIGHT_COMMANDS = {
    "import",
    "seed",
    "quarantine",
    "imports",
    "undo",
    "layouts",
    "sample",
    "dashboard",
    "users",
    "audit",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistaken argument is echoed with its control characters escaped."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {printable(message)}\n")


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2015-04-01") from None


def _with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "--db",
        metavar="PATH|URL",
        help=f"the store: a DuckDB file, postgresql://... or spark://... "
        f"(default $KPI_DB or {default_path()})",
    )
    return p


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser. A heavy command's module is loaded only when it is the ``command`` run; the
    others are listed by their one-line help (all that `kpi --help` shows of them)."""
    parser: argparse.ArgumentParser = _Parser(
        prog="kpi", description=(__doc__ or "").splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_import_commands(sub)
    _add_other_commands(sub)
    for name, (module, summary) in HEAVY_COMMANDS.items():
        if command == name:
            importlib.import_module(module).register(sub, summary)
        else:
            listed = sub.add_parser(name, help=summary)
            listed.set_defaults(func=lambda _args, name=name: _fail(f"run `kpi {name} --help`."))
    return parser


def _add_import_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """import, seed, quarantine, imports and undo: the commands that fill or inspect the store."""
    p = _with_db(sub.add_parser("import", help="import CSV/XLSX exports into the store"))
    p.add_argument("files", nargs="+", metavar="FILE")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--source", metavar="NAME", help="built-in layout (see `kpi layouts`)")
    group.add_argument("--mapping", metavar="FILE", help="TOML mapping file for other exports")
    p.add_argument(
        "--max-future-days",
        type=float,
        metavar="DAYS",
        help="a date more than DAYS after the import quarantines its row "
        "(default $KPI_MAX_FUTURE_DAYS or 2)",
    )
    p.add_argument(
        "--earliest-date",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="a date before this quarantines its row (default $KPI_EARLIEST_DATE or 1990-01-01)",
    )
    p.add_argument(
        "--max-quarantine",
        type=float,
        metavar="PCT",
        help="refuse an import that would set aside more than PCT%% of its rows, leaving the "
        "store as it was (default $KPI_MAX_QUARANTINE or 100: only when every row would be)",
    )
    p.set_defaults(func=cmd_import)

    p = _with_db(sub.add_parser("seed", help="fill an empty store from sample_data/"))
    p.add_argument("--from", dest="source_dir", default=str(SAMPLE_DIR), metavar="DIR")
    p.set_defaults(func=cmd_seed)

    p = _with_db(sub.add_parser("quarantine", help="list or export quarantined rows"))
    p.add_argument("--batch", type=int, help="only this import batch")
    p.add_argument("--out", metavar="FILE.csv", help="write them as an injection-safe CSV")
    p.set_defaults(func=cmd_quarantine)

    p = _with_db(sub.add_parser("imports", help="list import batches"))
    p.set_defaults(func=cmd_imports)

    p = _with_db(sub.add_parser("undo", help="undo an import batch"))
    p.add_argument("batch", type=int)
    p.set_defaults(func=cmd_undo)


def _add_other_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """layouts, sample, users, audit and dashboard."""
    p = sub.add_parser("layouts", help="list the built-in export layouts")
    p.set_defaults(func=cmd_layouts)

    p = sub.add_parser("sample", help="regenerate the sample exports (deterministic)")
    p.add_argument("--out", default=str(SAMPLE_DIR), metavar="DIR")
    p.set_defaults(func=cmd_sample)

    users_command.register(sub)
    audit_command.register(sub)

    p = _with_db(sub.add_parser("dashboard", help="serve the dashboard"))
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=cmd_dashboard)


def _reader_gone() -> int:
    """The reader of our output stopped (`kpi quarantine | head -1`): that is its choice, not
    an error; say nothing, and keep Python from complaining as it flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def _say_when_waiting() -> None:
    """A store the dashboard holds is asked for and waited for: say so, not a silent pause."""
    from kpi.store import sharing  # here, not at the top: `kpi --help` stays quick

    sharing.command_notice = _waiting


def _waiting(message: str) -> None:
    print(f"kpi: {printable(message)}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = words[0] if words and words[0] in LIGHT_COMMANDS | HEAVY_COMMANDS.keys() else None
    args = build_parser(command).parse_args(words)
    try:
        _say_when_waiting()
        return int(args.func(args) or 0)
    except KpiError as problem:  # every mistake a user can make: one line, exit 2
        return _fail(str(problem).strip().splitlines()[0])
    except KeyboardInterrupt:
        return _fail("interrupted; the store is unchanged by the unfinished step.")
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:  # noqa: BLE001 - the promise is: no traceback reaches a user
        full = disk_full(exc)
        if full is not None:
            where = f" ({full})" if full.startswith("writing") else ""
            return _fail(f"the disk is full{where}; free some space and run the command again.")
        if isinstance(exc, OSError):  # a path the user gave cannot be read or written
            where = f"{exc.filename}: " if exc.filename else ""
            return _fail(f"{where}{exc.strerror or exc}")
        if os.environ.get("KPI_DEBUG"):
            raise
        return _fail(
            f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "(set KPI_DEBUG=1 for details and please report it)"
        )


if __name__ == "__main__":
    sys.exit(main())
