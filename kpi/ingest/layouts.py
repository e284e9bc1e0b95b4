"""Source layouts: how one export's columns map onto a canonical table.

A layout is data, not code: the built-in ones are TOML files in ``kpi/ingest/builtin/``, in the same
format as the mapping files users write (see the README's mapping-file reference). Built-in
layouts are recognised from a profile of characteristic headers.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from kpi.errors import ImportProblem
from kpi.store.schema import KINDS, field_map

DURATION_UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}
DEFAULT_SCALES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}
SCORE_FIELDS = ("nps", "csat", "ces")
TOP_LEVEL_KEYS = {
    "name", "title", "kind", "source", "date_format", "timezone", "null_values", "columns",
    "values", "constants", "scores", "detect", "duplicates", "ignore_lines", "sheet",
    "missing_columns", "responses", "notes",
}  # fmt: skip
COLUMN_KEYS = {
    "column", "columns", "unit", "contains", "optional", "extract", "true_values",
    "false_values", "date_format",
}  # fmt: skip


@dataclass(frozen=True)
class ColumnSpec:
    """Where a canonical field comes from in the source."""

    columns: tuple[str, ...]  # several are joined with a space (a date and a time column)
    unit: str | None = None  # durations given as numbers
    contains: str | None = None  # boolean: true when this word appears in the text
    extract: str | None = None  # regular expression whose first group is the value
    optional: bool = False
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    date_format: str | None = None


@dataclass(frozen=True)
class ScoreSpec:
    column: str
    scale: tuple[float, float]
    labels: dict[str, float | None] = field(default_factory=dict)  # None: not an answer
    low_is_good: bool = False  # e.g. effort scales where 1 = very easy


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    kind: str
    source: str
    columns: dict[str, ColumnSpec]
    values: dict[str, dict[str, str]]
    constants: dict[str, Any]
    scores: dict[str, ScoreSpec]
    detect: tuple[str, ...] = ()
    date_format: str | None = None
    timezone: str = "Europe/London"
    null_values: tuple[str, ...] = ()
    duplicates: str = "quarantine"  # or "keep_last" for event logs (one row per update)
    ignore_lines: str | None = None
    sheet: str | None = None
    missing_columns: str = "error"  # or "ignore": absent columns leave their field empty
    responded_at: str | None = None  # canonical contact field that dates linked responses
    notes: str = ""
    builtin: bool = False

    def source_columns(self) -> set[str]:
        used = {c for spec in self.columns.values() for c in spec.columns}
        return used | {s.column for s in self.scores.values()}


def _column_spec(field_name: str, raw: Any, where: str) -> ColumnSpec:
    if isinstance(raw, str):
        return ColumnSpec((raw,))
    if isinstance(raw, list) and raw and all(isinstance(c, str) for c in raw):
        return ColumnSpec(tuple(raw))
    if isinstance(raw, dict):
        unknown = set(raw) - COLUMN_KEYS
        if unknown:
            raise ImportProblem(
                f"{where}: [columns] {field_name} has unknown keys {sorted(unknown)}; "
                f"allowed: {sorted(COLUMN_KEYS)}."
            )
        cols = raw.get("columns", raw.get("column"))
        cols = (cols,) if isinstance(cols, str) else tuple(cols or ())
        if not cols:
            raise ImportProblem(f"{where}: [columns] {field_name} names no column.")
        unit = raw.get("unit")
        if unit is not None and unit not in DURATION_UNITS:
            raise ImportProblem(
                f"{where}: [columns] {field_name} unit {unit!r} is not one of "
                f"{', '.join(DURATION_UNITS)}."
            )
        return ColumnSpec(
            cols,
            unit=unit,
            contains=raw.get("contains"),
            extract=raw.get("extract"),
            optional=bool(raw.get("optional", False)),
            true_values=tuple(str(v).lower() for v in raw.get("true_values", ())),
            false_values=tuple(str(v).lower() for v in raw.get("false_values", ())),
            date_format=raw.get("date_format"),
        )
    raise ImportProblem(
        f"{where}: [columns] {field_name} must be a header, a list of headers or a table."
    )


def _score_spec(name: str, raw: Any, where: str) -> ScoreSpec:
    if not isinstance(raw, dict) or "column" not in raw:
        raise ImportProblem(f'{where}: [scores.{name}] needs column = "Header".')
    scale = raw.get("scale", DEFAULT_SCALES[name])
    if len(scale) != 2 or float(scale[0]) >= float(scale[1]):
        raise ImportProblem(f"{where}: [scores.{name}] scale must be [low, high].")
    labels: dict[str, float | None] = {}
    for word, value in dict(raw.get("labels", {})).items():
        labels[str(word).strip().lower()] = None if value in ("", None) else float(value)
    return ScoreSpec(
        column=raw["column"],
        scale=(float(scale[0]), float(scale[1])),
        labels=labels,
        low_is_good=raw.get("direction", "high_is_good") in ("low_is_good", "low_is_easy"),
    )


def parse_layout(data: dict[str, Any], where: str, *, builtin: bool = False) -> Layout:
    """Validate a layout/mapping document and build a ``Layout``; errors name the file."""
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise ImportProblem(f"{where}: unknown keys {sorted(unknown)} in the mapping file.")
    kind = data.get("kind", "contacts")
    if kind not in KINDS:
        raise ImportProblem(f"{where}: kind must be 'contacts' or 'responses', not {kind!r}.")
    columns, scores = _columns_and_scores(data, kind, where)
    constants = dict(data.get("constants", {}))
    _check_required(kind, columns, constants, where)
    values = {
        fname: {str(k).strip().lower(): str(v) for k, v in table.items()}
        for fname, table in dict(data.get("values", {})).items()
    }
    _check_fields(kind, constants, values, where)
    if not builtin:  # built-in layouts are checked by the test suite, not on every detection
        _check_expressions(data, columns, where)
    name = str(data.get("name") or Path(where).stem)
    duplicates = data.get("duplicates", "quarantine")
    if duplicates not in ("quarantine", "keep_last"):
        raise ImportProblem(f"{where}: duplicates must be 'quarantine' or 'keep_last'.")
    responses = dict(data.get("responses", {}))
    return Layout(
        name=name,
        title=str(data.get("title", name)),
        kind=kind,
        source=str(data.get("source", name)),
        columns=columns,
        values=values,
        constants=constants,
        scores=scores,
        detect=tuple(data.get("detect", {}).get("headers", ())),
        date_format=data.get("date_format"),
        timezone=str(data.get("timezone", "Europe/London")),
        null_values=tuple(str(v) for v in data.get("null_values", ())),
        duplicates=duplicates,
        ignore_lines=data.get("ignore_lines"),
        sheet=data.get("sheet"),
        missing_columns=data.get("missing_columns", "error"),
        responded_at=responses.get("responded_at"),
        notes=str(data.get("notes", "")),
        builtin=builtin,
    )


def _columns_and_scores(
    data: dict[str, Any], kind: str, where: str
) -> tuple[dict[str, ColumnSpec], dict[str, ScoreSpec]]:
    """[columns] and [scores]: a score named under [columns] is a score with its kind's
    default scale, unless [scores] describes it too."""
    fields = field_map(kind)
    columns_raw = dict(data.get("columns", {}))
    scores: dict[str, ScoreSpec] = {}
    for name, raw in dict(data.get("scores", {})).items():
        if name not in SCORE_FIELDS:
            raise ImportProblem(f"{where}: [scores.{name}] is not one of nps, csat, ces.")
        scores[name] = _score_spec(name, raw, where)
    for name in list(columns_raw):
        if name in SCORE_FIELDS and name not in scores:
            # A plain score column takes the default scale of its kind of score.
            scores[name] = _score_spec(name, {"column": columns_raw.pop(name)}, where)
        elif name in SCORE_FIELDS:
            columns_raw.pop(name)
    for name in columns_raw:
        if name not in fields:
            raise ImportProblem(
                f"{where}: [columns] {name} is not a {kind} field; fields are {', '.join(fields)}."
            )
    columns = {name: _column_spec(name, raw, where) for name, raw in columns_raw.items()}
    return columns, scores


def _check_required(
    kind: str, columns: dict[str, ColumnSpec], constants: dict[str, Any], where: str
) -> None:
    for f in field_map(kind).values():
        if f.required and f.name not in columns and f.name not in constants:
            raise ImportProblem(f"{where}: [columns] must map {f.name} (it is required).")


def _check_fields(
    kind: str, constants: dict[str, Any], values: dict[str, dict[str, str]], where: str
) -> None:
    """[constants] and [values] name fields of the kind, and values map to canonical words."""
    fields = field_map(kind)
    for section, names in (("constants", constants), ("values", values)):
        unknown = sorted(n for n in names if n not in fields)
        if unknown:
            raise ImportProblem(
                f"{where}: [{section}] {', '.join(unknown)} is not a {kind} field; "
                f"fields are {', '.join(fields)}."
            )
    for fname, table in values.items():
        choices = fields[fname].choices
        for word, target in table.items():
            if choices and target not in choices:
                raise ImportProblem(
                    f"{where}: [values.{fname}] maps {word!r} to {target!r}, which is not one of "
                    f"{', '.join(choices)}."
                )


def _check_expressions(data: dict[str, Any], columns: dict[str, ColumnSpec], where: str) -> None:
    """Time zone, date formats and patterns are tried now, so that a typo is named with the
    mapping file instead of failing half-way through an import."""
    checks: list[tuple[str, str, str]] = []  # what, value, SQL that uses it as DuckDB will
    timezone = data.get("timezone")
    if timezone is not None:
        checks.append(("timezone", str(timezone), "SELECT timezone(?, TIMESTAMP '2000-01-01')"))
    formats = [("date_format", data.get("date_format"))]
    formats += [(f"[columns] {n} date_format", s.date_format) for n, s in columns.items()]
    for what, fmt in formats:
        if fmt is not None:
            checks.append((what, str(fmt), "SELECT try_strptime('2000-01-01', ?)"))
    for n, spec in columns.items():
        if spec.extract is not None:
            checks.append(
                (f"[columns] {n} extract", spec.extract, "SELECT regexp_extract('', ?, 1)")
            )
    if checks:
        con = duckdb.connect()
        try:
            for what, value, sql in checks:
                try:
                    con.execute(sql, [value])
                except duckdb.Error as exc:
                    reason = str(exc).splitlines()[0].split("Error: ", 1)[-1]
                    raise ImportProblem(
                        f"{where}: {what} {value!r} is not valid ({reason})."
                    ) from None
        finally:
            con.close()
    ignore = data.get("ignore_lines")
    if ignore is not None:
        try:
            re.compile(str(ignore))
        except re.error as exc:
            raise ImportProblem(
                f"{where}: ignore_lines {ignore!r} is not a valid regular expression ({exc})."
            ) from None


def load_mapping(path: Path) -> Layout:
    """A user's mapping file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ImportProblem(f"{path.name}: no such mapping file.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ImportProblem(f"{path.name}: not a valid TOML mapping file ({exc}).") from None
    return parse_layout(data, path.name)


def builtin_layouts() -> dict[str, Layout]:
    """Every built-in layout by name, in file-name order."""
    folder = resources.files("kpi.ingest") / "builtin"
    layouts = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            layout = parse_layout(data, entry.name, builtin=True)
            layouts[layout.name] = layout
    return layouts


def get_layout(name: str) -> Layout:
    layouts = builtin_layouts()
    if name not in layouts:
        raise ImportProblem(
            f"there is no built-in layout called {name!r}; choose one of "
            f"{', '.join(layouts)}, or describe the export with --mapping FILE."
        )
    return layouts[name]


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


def detect_layout(headers: list[str], file_name: str) -> Layout:
    """The built-in layout whose header profile the file matches best."""
    present = {_norm(h) for h in headers}
    best: Layout | None = None
    for layout in builtin_layouts().values():
        matches = layout.detect and all(_norm(h) in present for h in layout.detect)
        if matches and (best is None or len(layout.detect) > len(best.detect)):
            best = layout
    if best is None:
        shown = ", ".join(headers[:8]) + (", ..." if len(headers) > 8 else "")
        hint = ""
        if len(headers) == 1:  # a known delimiter would have split it
            hint = " (one column only: is the delimiter unusual?)"
        raise ImportProblem(
            f"{file_name}: the layout was not recognised from its header ({shown}){hint}.",
            hint="Choose a built-in layout with --source NAME or describe the columns in a "
            "mapping file (--mapping FILE); `kpi layouts` lists the built-in ones.",
        )
    return best


def resolve_headers(layout: Layout, headers: list[str], file_name: str) -> dict[str, int]:
    """Source header -> column position, for the columns the layout uses (first occurrence)."""
    positions: dict[str, int] = {}
    for i, h in enumerate(headers):
        positions.setdefault(_norm(h), i)
    found: dict[str, int] = {}
    missing: list[str] = []
    fields = field_map(layout.kind)
    for spec_name, spec in [*layout.columns.items(), *[(k, None) for k in layout.scores]]:
        cols = spec.columns if spec else (layout.scores[spec_name].column,)
        for col in cols:
            if _norm(col) in positions:
                found[col] = positions[_norm(col)]
            else:
                # Required by the layout's own kind: a survey's contact_id is optional.
                required = spec_name in fields and fields[spec_name].required
                lenient = layout.missing_columns == "ignore" or (spec and spec.optional)
                if required or not lenient:
                    missing.append(f"{col!r} (for {spec_name})")
    if missing:
        raise ImportProblem(
            f"{file_name}: missing required column {', '.join(missing)}; "
            f"the file has {', '.join(headers[:10])}{', ...' if len(headers) > 10 else ''}.",
            hint=f"Check the layout ({layout.name}) or the mapping file's [columns].",
        )
    return found


def _toml_string(value: str) -> str:
    # JSON's string escapes are valid TOML basic-string escapes.
    return json.dumps(value)


def mapping_toml(
    kind: str,
    columns: dict[str, str],
    *,
    date_format: str = "",
    timezone: str = "Europe/London",
    scales: dict[str, tuple[float, float]] | None = None,
    name: str = "my_export",
) -> str:
    """A mapping file for the choices made in the mapping editor (readable, commented)."""
    lines = [
        "# Mapping file for Service KPI Dashboard; see the README's mapping-file reference.",
        f"name = {_toml_string(name)}",
        f"kind = {_toml_string(kind)}",
        f"timezone = {_toml_string(timezone)}",
    ]
    if date_format:
        lines.append(f"date_format = {_toml_string(date_format)}")
    lines += ["", "[columns]"]
    scores = {k: v for k, v in columns.items() if k in SCORE_FIELDS}
    for field_name, header in columns.items():
        if field_name not in SCORE_FIELDS:
            lines.append(f"{field_name} = {_toml_string(header)}")
    for score, header in scores.items():
        low, high = (scales or {}).get(score, DEFAULT_SCALES[score])
        lines += ["", f"[scores.{score}]", f"column = {_toml_string(header)}"]
        lines.append(f"scale = [{low:g}, {high:g}]")
    return "\n".join(lines) + "\n"


def guess_columns(kind: str, headers: list[str]) -> dict[str, str]:
    """Canonical field -> header, where a header is the field's own name (case/spaces aside)."""
    by_norm = {_norm(h).replace(" ", "_"): h for h in headers}
    names = [*field_map(kind), *SCORE_FIELDS]
    return {name: by_norm[name] for name in names if name in by_norm}
