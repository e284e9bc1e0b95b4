"""`kpi report`: KPIs for a period, breakdown and grain, as a table, JSON or CSV.

With export files and no --db it imports them into an in-memory store and writes nothing.
Every failure is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from kpi.charts.disclosure import safe_cell
from kpi.engine.filters import SEGMENT_FIELDS, Filters, parse_list
from kpi.engine.intervals import source_note
from kpi.engine.report import report
from kpi.engine.results import Report
from kpi.engine.tables import format_value
from kpi.engine.timeline import GRAINS
from kpi.errors import FIRST_YEAR, LAST_YEAR, KpiError, ReportProblem
from kpi.metrics.registry import KEYS, REGISTRY
from kpi.metrics.settings import SETTINGS_KEY, Settings, load_settings
from kpi.metrics.settings_form import overrides_line, with_settings
from kpi.store.connection import Store, default_path, open_store
from kpi.store.location import default_location, is_url

FORMATS = ("table", "json", "csv")


def register(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """The command's parser; ``summary`` is its one line in `kpi --help`."""
    p = subparsers.add_parser(
        "report",
        help=summary,
        description="Compute every service KPI with its n, interval and definition. With FILEs "
        "and no --db the files are read into memory and nothing is written.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="export files to report on")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--source", metavar="NAME", help="built-in layout of the FILEs")
    source.add_argument("--mapping", type=Path, metavar="FILE", help="TOML mapping of the FILEs")
    p.add_argument(
        "--db",
        metavar="PATH|URL",
        help=f"the store: a DuckDB file, postgresql://... or spark://... (default {default_path()})",
    )
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD")
    p.add_argument("--by", metavar="FIELD,...", help=f"break down by {', '.join(SEGMENT_FIELDS)}")
    p.add_argument("--grain", choices=GRAINS, help="one row per day, week or month")
    p.add_argument(
        "--as-of",
        dest="as_of",
        metavar="INSTANT",
        help="judge open contacts at this instant (ISO 8601; without an offset it is read in "
        "the reporting time zone); default the latest timestamp in the data",
    )
    p.add_argument("--kpis", metavar="KEY,...", help=f"only these KPIs ({', '.join(KEYS)})")
    for name in SEGMENT_FIELDS:
        p.add_argument(f"--{name}", metavar="VALUE,...", help=f"only these {name} values")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument(
        "--set",
        dest="set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="use this setting for this report only, e.g. --set sla_variant=source_flag "
        "(repeatable; `kpi settings` lists the keys); nothing is saved",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = build_report(args)
        text = render(result, args.format)
        said = overrides_line(result.settings, getattr(args, "set", None) or ())
    except KpiError as problem:
        print(f"kpi: {_one_line(problem)}", file=sys.stderr, flush=True)
        return 2
    if said and args.format == "table":
        text = f"{said}\n{text}"
    elif said:
        # JSON and CSV stay machine-readable; the line still tells the person running it.
        print(said, file=sys.stderr, flush=True)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def _one_line(problem: Exception) -> str:
    text = str(problem).strip()
    return text.splitlines()[0] if text else type(problem).__name__


T = TypeVar("T", date, datetime)


def _date(text: str | None, flag: str) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ReportProblem(f"{flag} {text!r} is not a date; use YYYY-MM-DD") from None
    return _within_years(day, flag, text)


def _within_years(day: T, flag: str, text: str) -> T:
    """A date or instant in the years a report covers (``kpi.errors.FIRST_YEAR``-``LAST_YEAR``)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ReportProblem(
            f"{flag} {text!r} is outside the years a report covers ({FIRST_YEAR}-{LAST_YEAR}); "
            "give a date in them"
        )
    return day


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ReportProblem(
            f"--as-of {text!r} is not an instant; use e.g. 2025-11-30T17:00 or 2025-11-30T17:00Z"
        ) from None
    return _within_years(instant, "--as-of", text)


def build_report(args: argparse.Namespace) -> Report:
    filters = Filters(
        date_from=_date(args.date_from, "--from"),
        date_to=_date(args.date_to, "--to"),
        **{name: parse_list(getattr(args, name, None)) for name in SEGMENT_FIELDS},
    )
    by = parse_list(args.by)
    kpis = parse_list(getattr(args, "kpis", None)) or None
    as_of = _instant(args.as_of)
    if (args.source or args.mapping) and not args.files:
        raise ReportProblem("--source and --mapping describe FILEs; give the files to read")
    if args.files and not args.db:
        store = open_store(":memory:")  # in memory: nothing is written anywhere
    elif not args.files and is_url(args.db or default_location()):
        return _remote_report(args.db or default_location(), args, filters, by, as_of, kpis)
    else:
        location = args.db or default_location()
        if not args.files and not is_url(location) and not Path(location).exists():
            raise ReportProblem(f"no store at {location}; import files first or pass --db")
        store = open_store(location)
    try:
        if args.files:  # the importer takes half a second to load: only when there are files
            _import(store, args)
        settings = with_settings(load_settings(store), getattr(args, "set", None) or ())
        return report(
            store, filters, by=by, grain=args.grain, as_of=as_of, settings=settings, metrics=kpis
        )
    finally:
        store.close()


def _import(store: Store, args: argparse.Namespace) -> None:
    """The FILEs into the (in-memory or given) store, before the report."""
    from kpi.ingest.importer import import_file

    for file in args.files:
        path = Path(file)
        if not path.is_file():
            raise ReportProblem(f"{file}: no such file")
        import_file(store, path, layout=args.source, mapping=args.mapping)


def _remote_report(
    location: str,
    args: argparse.Namespace,
    filters: Filters,
    by: tuple[str, ...],
    as_of: datetime | None,
    kpis: tuple[str, ...] | None,
) -> Report:
    """A report run by the store's own backend (PostgreSQL, Spark), with no working copy; the
    business-hours tables it derives are kept in the store for the next (``remote_backend``)."""
    from kpi.engine.backend import remote_backend
    from kpi.store.connection import SCHEMA_VERSION
    from kpi.store.remote import remote

    source = remote(location)
    try:
        version = source.schema_version()
        if not version:
            raise ReportProblem(f"no store at {source.shown}; copy one there with kpi store copy")
        if version != SCHEMA_VERSION:
            raise ReportProblem(
                f"{source.shown} is at schema {version}, this program's is {SCHEMA_VERSION}; "
                "run any other kpi command on it once (e.g. kpi imports --db URL) to move it on"
            )
        stored = source.setting(SETTINGS_KEY)
        settings = Settings.from_dict(json.loads(stored)) if stored else Settings()
        settings = with_settings(settings, getattr(args, "set", None) or ())
        return report(
            remote_backend(source), filters, by=by, grain=args.grain, as_of=as_of, settings=settings,
            metrics=kpis,
        )  # fmt: skip
    finally:
        source.close()


# --- output ------------------------------------------------------------------------------------


def render(result: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(result), indent=2) + "\n"
    if fmt == "csv":
        return as_csv(result)
    return as_table(result)


def as_json(result: Report) -> dict[str, Any]:
    """The documented shape (kpi/cli/report.schema.json), with NaN never reaching the output."""
    return _clean(result.to_dict())


def _clean(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


CSV_COLUMNS = (
    "period",
    "kpi",
    "value",
    "n",
    "ci_low",
    "ci_high",
    "numerator",
    "denominator",
    "unit",
    "small_sample",
    "reason",
    "definition",
)


def as_csv(result: Report) -> str:
    """One line per segment, period and KPI (long format: easy to pivot in a spreadsheet)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*result.by, *CSV_COLUMNS])
    cell = _csv_cells()
    for row in result.rows:
        segment = [cell(row.segment.get(f, "(all)") if row.segment else "(all)") for f in result.by]
        for key, m in row.metrics.items():
            cells = [row.period or "", key, m.value, m.n, m.ci_low, m.ci_high, m.numerator]
            cells += [m.denominator, m.unit, m.small_sample, m.reason or "", m.definition]
            writer.writerow(segment + [cell(c) for c in cells])
    return out.getvalue()


def _csv_cells() -> Callable[[Any], Any]:
    """A cell's text: empty for None; text a spreadsheet would run as a formula neutralised.
    A report repeats the same few texts (definitions, units, periods) thousands of times, so
    each is checked once."""
    checked: dict[str, Any] = {}

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if not isinstance(value, str):
            return value
        safe = checked.get(value)
        if safe is None:
            safe = checked[value] = safe_cell(value)
        return safe

    return cell


def as_table(result: Report) -> str:
    """A readable block per segment and period: KPI, value, n, 95% interval, note."""
    lines = [
        f"KPIs for {result.filters.describe()}; open contacts judged at "
        f"{result.as_of:%Y-%m-%d %H:%M} UTC; times in {result.settings.hours} hours"
    ]
    for row in result.rows:
        title = ", ".join(
            f"{k}: {v if v is not None else '(none)'}" for k, v in row.segment.items()
        )
        heading = " | ".join(p for p in (title or "all", row.period or "") if p)
        lines += ["", heading, f"  {'KPI':<24}{'value':>12}{'n':>9}  {'95% interval':<20}note"]
        for key, m in row.metrics.items():
            interval = ""
            if m.ci_low is not None and m.ci_high is not None:
                interval = f"{format_value(m.ci_low, m.unit)} to {format_value(m.ci_high, m.unit)}"
            notes = [m.reason] if m.reason else []
            if m.extra.get("p90") is not None:
                notes.append(f"p90 {format_value(m.extra['p90'], m.unit)}")
            notes += [f"{k} {v:,}" for k, v in m.extra.items() if k.startswith("un")]
            notes += ["small sample"] if m.small_sample else []
            notes += [source] if (source := source_note(m)) else []
            note = "; ".join(notes)
            label = REGISTRY[key].label
            lines.append(
                f"  {label:<24}{format_value(m.value, m.unit):>12}{m.n:>9,}  {interval:<20}{note}"
            )
    return "\n".join(lines) + "\n"
