"""Source layouts: how one export's columns map onto a canonical table.

A layout is data, not code: the built-in ones are TOML files in ``kpi/ingest/builtin/``, in the same
format as the mapping files users write (see the README's mapping-file reference). Built-in
layouts are recognised from a profile of characteristic headers.
"""

from __future__ import annotations

import functools
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kpi.errors import ImportProblem
from kpi.ingest.intervals import INTERVALS, interval_key
from kpi.ingest.mapping_schema import COLUMN_KEYS as COLUMN_KEYS  # re-exported
from kpi.ingest.mapping_schema import DURATION_UNITS as DURATION_UNITS  # re-exported
from kpi.ingest.mapping_schema import (
    LOW_IS_GOOD,
    SCORE_FIELDS,
    ColumnTable,
    MappingDocument,
    RollupField,
    Score,
    quote,
    validate_mapping,
)
from kpi.ingest.mapping_schema import TOP_LEVEL_KEYS as TOP_LEVEL_KEYS  # re-exported
from kpi.ingest.parsing import SYNONYMS
from kpi.ingest.rates import check_rate_mapping
from kpi.store.schema import field_map, key_field

DEFAULT_SCALES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}
MAX_MAPPING_BYTES = 1 << 20  # a mapping file is a page of text; anything bigger is a mistake


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
    date_format: tuple[str, ...] | None = None  # tried in order
    #: An intervals column holding an average of, or a percentage of, this count field
    #: (stored as a total with its weight: ``kpi.ingest.rates``).
    average_of: str | None = None
    percent_of: str | None = None


@dataclass(frozen=True)
class ScoreSpec:
    column: str
    scale: tuple[float, float]
    labels: dict[str, float | None] = field(default_factory=dict)  # None: not an answer
    low_is_good: bool = False  # e.g. effort scales where 1 = very easy
    #: An ordinal scale's answer words, lowest first (stored as 1..k; the words kept in the
    #: store's scale_labels so pages can show them); () for a numeric scale.
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class RollupSpec:
    """One [rollup] field: how its value is made from its case's events."""

    aggregate: str  # first, last, min, max or count
    column: str  # the header read; "*" for a count of every event
    #: (header, accepted values) pairs an event must all match to be looked at.
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    minus: int = 0  # a count only: events taken off (never below 0)


@dataclass(frozen=True)
class RollupPlan:
    """[rollup]: events ordered by ``order_by`` (a timestamp, then tie-breakers, then the
    file's row), one row per case; fields not named take the last event's value."""

    order_by: tuple[str, ...]
    fields: dict[str, RollupSpec]
    #: Message threads: the header naming the message a row replies to (the case is the thread).
    in_reply_to: str | None = None
    #: (header, values) the case's first event must match for the case to be a contact.
    started_by: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def headers(self) -> list[str]:
        """Every header the rollup reads beyond the layout's [columns]."""
        named = [*self.order_by, *([self.in_reply_to] if self.in_reply_to else [])]
        named += [c for c, _ in self.started_by]
        for spec in self.fields.values():
            named += [c for c, _ in spec.where]
            if spec.aggregate == "count" and spec.column != "*":
                named.append(spec.column)
        return list(dict.fromkeys(named))


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
    date_format: tuple[str, ...] | None = None  # tried in order
    timezone: str = "Europe/London"
    null_values: tuple[str, ...] = ()
    duplicates: str = "quarantine"  # or "keep_last" for event logs (one row per update)
    ignore_lines: str | None = None
    #: Headers a formatted report may be grouped by (shown once per group): filled down.
    fill_down: tuple[str, ...] = ()
    sheet: str | None = None
    missing_columns: str = "error"  # or "ignore": absent columns leave their field empty
    responded_at: str | None = None  # canonical contact field that dates linked responses
    notes: str = ""
    builtin: bool = False
    rollup: RollupPlan | None = None  # an event log rolled up to one row per case
    #: An export's own rates beside their counts, checked at import, never stored.
    rates: dict[str, ColumnSpec] = field(default_factory=dict)

    def source_columns(self) -> set[str]:
        used = {c for spec in self.columns.values() for c in spec.columns}
        return used | {s.column for s in self.scores.values()}


def _column_spec(raw: ColumnTable | tuple[str, ...]) -> ColumnSpec:
    """A [columns] entry, already checked by the schema: a header, headers or a table."""
    if not isinstance(raw, ColumnTable):
        return ColumnSpec(raw)
    return ColumnSpec(
        raw.headers,
        unit=raw.unit,
        contains=raw.contains,
        extract=raw.extract,
        optional=raw.optional,
        true_values=tuple(v.lower() for v in raw.true_values),
        false_values=tuple(v.lower() for v in raw.false_values),
        date_format=raw.date_format,
        average_of=raw.average_of,
        percent_of=raw.percent_of,
    )


def _score_spec(name: str, raw: Score, where: str) -> ScoreSpec:
    """A [scores.NAME] table, already checked by the schema; here what depends on the score."""
    words, scale, labels_given = _ordinal(name, raw, where)
    low_is_good = raw.direction in LOW_IS_GOOD
    if low_is_good and name != "ces":
        # Only effort scores are turned round when stored; saying it of NPS or CSAT would be
        # silently ignored.
        raise ImportProblem(
            f"{where}: [scores.{name}] direction {quote(raw.direction)} is only for ces; "
            f"{name} is read with high = good (map reversed answers with labels)."
        )
    for word, value in labels_given.items():
        if value is not None and not scale[0] <= value <= scale[1]:
            raise ImportProblem(
                f"{where}: [scores.{name}] labels {quote(word)} = {value:g} is outside the scale "
                f"[{scale[0]:g}, {scale[1]:g}]."
            )
    labels = _lowercase_keys(labels_given, f"[scores.{name}] labels", where)
    return ScoreSpec(
        column=raw.column, scale=scale, labels=labels, low_is_good=low_is_good, words=words
    )


def _ordinal(
    name: str, raw: Score, where: str
) -> tuple[tuple[str, ...], tuple[float, float], dict[str, float | None]]:
    """(words, scale, labels) of a score: a scale written as answer words, lowest first, is
    the scale 1..k with each word labelling its number (beside any other labels given)."""
    if raw.scale is None or not isinstance(raw.scale[0], str):
        scale = raw.scale or DEFAULT_SCALES[name]
        return (), (float(scale[0]), float(scale[1])), dict(raw.labels)
    words = tuple(str(w) for w in raw.scale)
    if name == "nps":
        raise ImportProblem(
            f"{where}: [scores.nps] scale cannot be words: NPS is always asked 0 to 10; map words "
            "to numbers with labels."
        )
    labels: dict[str, float | None] = {w: float(i) for i, w in enumerate(words, start=1)}
    for word, value in raw.labels.items():
        own = labels.get(next((w for w in words if w.lower() == word.strip().lower()), ""))
        if own is not None and value != own:
            raise ImportProblem(
                f"{where}: [scores.{name}] labels {quote(word)} = {value} disagrees with its "
                f"place in scale ({own:g}); keep one."
            )
        labels.setdefault(word, value)
    return words, (1.0, float(len(words))), labels


def _lowercase_keys(table: dict[str, Any], what: str, where: str) -> dict[str, Any]:
    """Words are matched case-insensitively, so two spellings of one word must agree."""
    out: dict[str, Any] = {}
    for word, value in table.items():
        key = word.strip().lower()
        if key in out and out[key] != value:
            raise ImportProblem(
                f"{where}: {what} gives {quote(word)} two different values; keep one spelling."
            )
        out[key] = value
    return out


def parse_layout(data: dict[str, Any], where: str, *, builtin: bool = False) -> Layout:
    """Validate a layout/mapping document and build a ``Layout``; errors name the file.

    The schema (``kpi.ingest.mapping_schema``) checks every key, type and closed set, and tries
    patterns, date formats and the time zone in DuckDB; what depends on the kind (which fields
    exist, which are required, which words a field takes) is checked here.
    """
    doc = validate_mapping(data, where)
    kind = doc.kind
    columns, scores = _columns_and_scores(doc, where)
    rollup = _rollup_plan(doc, columns, where)
    constants = dict(doc.constants)
    rates = _rates(doc, columns, constants, where)
    _check_required(kind, columns, constants, where)
    values = {
        fname: _lowercase_keys(table, f"[values.{fname}]", where)
        for fname, table in doc.values.items()
    }
    _check_fields(kind, constants, values, where)
    _check_responded_at(doc, where)
    name = doc.name or Path(where).stem
    return Layout(
        name=name,
        title=doc.title if doc.title is not None else name,
        kind=kind,
        source=doc.source if doc.source is not None else name,
        columns=columns,
        values=values,
        constants=constants,
        scores=scores,
        detect=doc.detect.headers if doc.detect else (),
        date_format=doc.date_format,
        timezone=doc.timezone,
        null_values=doc.null_values,
        duplicates=doc.duplicates,
        ignore_lines=doc.ignore_lines,
        fill_down=doc.fill_down,
        sheet=doc.sheet,
        missing_columns=doc.missing_columns,
        responded_at=doc.responses.responded_at,
        notes=doc.notes,
        builtin=builtin,
        rollup=rollup,
        rates=rates,
    )


def _rates(
    doc: MappingDocument, columns: dict[str, ColumnSpec], constants: dict[str, Any], where: str
) -> dict[str, ColumnSpec]:
    """[rates] and any average_of / percent_of, checked (``kpi.ingest.rates``); an intervals
    mapping that names no ``interval_id`` gets one made of its start, queue and agent columns."""
    rates = {name: _column_spec(raw) for name, raw in doc.rates.items()}
    check_rate_mapping(doc.kind, columns, rates, constants, where)
    if doc.kind == INTERVALS and "interval_id" not in columns:
        if "interval_start" not in columns:  # the key is made of it: say so, not "interval_id"
            raise ImportProblem(f"{where}: [columns] must map interval_start (it is required).")
        columns["interval_id"] = ColumnSpec(interval_key(columns), optional=True)
    return rates


def _rollup_plan(
    doc: MappingDocument, columns: dict[str, ColumnSpec], where: str
) -> RollupPlan | None:
    """[rollup] checked against the kind's fields. A first/last/min/max field reads its header
    per event like a [columns] entry (added to ``columns`` when absent), so each event's value
    is typed and checked before one is chosen; a count has no column of its own."""
    if doc.rollup is None:
        return None
    plan = {}
    for name, raw in doc.rollup.fields.items():
        plan[name] = _rollup_spec(name, raw, doc.kind, where)
        if raw.aggregate == "count":
            if name in columns:
                raise ImportProblem(
                    f"{where}: [rollup] {name} counts events, so [columns] must not map it too; "
                    "keep one."
                )
            continue
        given = columns.get(name)
        if given is None:
            columns[name] = ColumnSpec((raw.column,))
        elif given.columns != (raw.column,):
            raise ImportProblem(
                f"{where}: [rollup] {_shown(name)} reads {quote(raw.column)} but [columns] "
                f"{_shown(name)} is {' + '.join(quote(c) for c in given.columns)}; keep one."
            )
    return RollupPlan(
        doc.rollup.order_by,
        plan,
        in_reply_to=doc.rollup.in_reply_to,
        started_by=tuple(doc.rollup.started_by.items()),
    )


def _rollup_spec(name: str, raw: RollupField, kind: str, where: str) -> RollupSpec:
    fields, key = field_map(kind), key_field(kind)
    if name not in fields:
        raise ImportProblem(
            f"{where}: [rollup] {_shown(name)} is not a {kind} field; fields are "
            f"{', '.join(fields)}."
        )
    if name == key:
        raise ImportProblem(
            f"{where}: [rollup] {key} is the case id the events are grouped by; it cannot be "
            "rolled up (map it under [columns])."
        )
    if raw.aggregate == "count" and fields[name].type != "integer":
        raise ImportProblem(
            f"{where}: [rollup] {name} = {{ count = ... }} gives a number of events, but {name} "
            f"is a {fields[name].type}; count into a whole-number field such as reopens."
        )
    where_pairs = tuple((column, values) for column, values in raw.where.items())
    return RollupSpec(raw.aggregate, raw.column, where_pairs, raw.minus)


def _columns_and_scores(
    doc: MappingDocument, where: str
) -> tuple[dict[str, ColumnSpec], dict[str, ScoreSpec]]:
    """[columns] and [scores]: a score named under [columns] is a score with its kind's
    default scale, unless [scores] describes it too."""
    fields = field_map(doc.kind)
    columns_raw = dict(doc.columns)
    scores = {
        name: _score_spec(name, raw, where)
        for name in SCORE_FIELDS
        if (raw := getattr(doc.scores, name)) is not None
    }
    for name in list(columns_raw):
        raw = columns_raw[name]
        if name in SCORE_FIELDS and name not in scores:
            if isinstance(raw, ColumnTable) or len(raw) != 1:
                raise ImportProblem(
                    f'{where}: [columns] {name} is a score: give one header ({name} = "Header") '
                    f"or describe it under [scores.{name}]."
                )
            # A plain score column takes the default scale of its kind of score.
            scores[name] = _score_spec(name, Score(column=raw[0]), where)
            columns_raw.pop(name)
        elif name in SCORE_FIELDS:
            columns_raw.pop(name)
    for name in columns_raw:
        if name not in fields:
            raise ImportProblem(
                f"{where}: [columns] {_shown(name)} is not a {doc.kind} field; "
                f"fields are {', '.join(fields)}."
            )
    columns = {name: _column_spec(raw) for name, raw in columns_raw.items()}
    return columns, scores


def _shown(name: str) -> str:
    """A key from the file, printable on one line."""
    return name if name.isidentifier() else quote(name)


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
        unknown = sorted(_shown(n) for n in names if n not in fields)
        if unknown:
            raise ImportProblem(
                f"{where}: [{section}] {', '.join(unknown)} is not a {kind} field; "
                f"fields are {', '.join(fields)}."
            )
    for fname, constant in constants.items():
        _check_constant(fname, constant, fields[fname].choices, values.get(fname, {}), where)
    for fname, table in values.items():
        choices = fields[fname].choices
        for word, target in table.items():
            if choices and target not in choices:
                raise ImportProblem(
                    f"{where}: [values.{fname}] maps {quote(word)} to {quote(target)}, which is "
                    f"not one of {', '.join(choices)}."
                )


def _check_constant(
    name: str, constant: Any, choices: tuple[str, ...], words: dict[str, str], where: str
) -> None:
    """A constant for a category field must be a word the import reads (a canonical word, a
    built-in synonym or one of the mapping's [values]): otherwise every row would be emptied
    with a warning, after the file was read."""
    if not choices:
        return
    known = set(choices) | set(SYNONYMS.get(name, {})) | set(words)
    if str(constant).strip().lower() not in known:
        raise ImportProblem(
            f"{where}: [constants] {name} = {quote(str(constant))} is not one of "
            f"{', '.join(choices)} (or a word mapped under [values.{name}])."
        )


def _check_responded_at(doc: MappingDocument, where: str) -> None:
    """[responses] responded_at names the contacts date that dates linked survey answers."""
    when = doc.responses.responded_at
    dates = [f.name for f in field_map("contacts").values() if f.type == "timestamp"]
    if when is not None and when not in dates:
        raise ImportProblem(
            f"{where}: [responses] responded_at must be one of {', '.join(dates)}, "
            f"not {quote(when)}."
        )


def load_mapping(path: Path) -> Layout:
    """A user's mapping file, checked whole before any row of the export is read."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ImportProblem(
                f"{path.name}: no such mapping file."
                if not path.exists()
                else f"{path.name}: is not a mapping file (a folder or a device)."
            )
        if path.stat().st_size > MAX_MAPPING_BYTES:
            raise ImportProblem(
                f"{path.name}: is too big for a mapping file "
                f"({path.stat().st_size:,} bytes; a mapping is a page of TOML)."
            )
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ImportProblem(f"{path.name}: no such mapping file.") from None
    except OSError as exc:
        raise ImportProblem(
            f"{path.name}: cannot read the mapping file ({exc.strerror})."
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise ImportProblem(f"{path.name}: not a valid TOML mapping file ({reason}).") from None
    except (ValueError, RecursionError):  # a number too long to read, lists nested too deep
        raise ImportProblem(
            f"{path.name}: not a valid TOML mapping file (a value is too long or too deeply "
            "nested)."
        ) from None
    return parse_layout(data, path.name)


def builtin_layouts() -> dict[str, Layout]:
    """Every built-in layout by name, in file-name order (a fresh dict of the cached layouts)."""
    return dict(_builtin_layouts())


@functools.lru_cache(maxsize=1)
def _builtin_layouts() -> tuple[tuple[str, Layout], ...]:
    """Read and checked once per process: detection asks for them on every import, and the
    schema tries each layout's patterns and formats in DuckDB."""
    folder = resources.files("kpi.ingest") / "builtin"
    layouts = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            layout = parse_layout(data, entry.name, builtin=True)
            layouts[layout.name] = layout
    return tuple(layouts.items())


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


def norm_header(header: str) -> str:
    """A header as matched against a layout's: BOM, case and runs of blanks aside."""
    return _norm(header)


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
                # A required field made of optional parts (an interval's key: its start, queue
                # and agent) needs only the parts the file has, so long as it has one.
                some = bool(spec and spec.optional and any(_norm(c) in positions for c in cols))
                if (required and not some) or not lenient:
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
    scales: dict[str, tuple[float, float] | tuple[str, ...]] | None = None,
    name: str = "my_export",
    null_values: tuple[str, ...] = (),
    labels: dict[str, dict[str, float | None]] | None = None,
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
    if null_values:
        lines.append(f"null_values = [{', '.join(_toml_string(v) for v in null_values)}]")
    lines += ["", "[columns]"]
    scores = {k: v for k, v in columns.items() if k in SCORE_FIELDS}
    for field_name, header in columns.items():
        if field_name not in SCORE_FIELDS:
            lines.append(f"{field_name} = {_toml_string(header)}")
    for score, header in scores.items():
        scale = (scales or {}).get(score, DEFAULT_SCALES[score])
        lines += ["", f"[scores.{score}]", f"column = {_toml_string(header)}"]
        if scale and isinstance(scale[0], str):  # answer words, lowest first
            lines.append(f"scale = [{', '.join(_toml_string(str(w)) for w in scale)}]")
        else:
            lines.append(f"scale = [{float(scale[0]):g}, {float(scale[1]):g}]")
        words = (labels or {}).get(score, {})
        if words:
            shown = ", ".join(f"{_toml_string(w)} = {_label_toml(v)}" for w, v in words.items())
            lines.append(f"labels = {{ {shown} }}")
    return "\n".join(lines) + "\n"


def _label_toml(value: float | None) -> str:
    """A label's score as TOML: a number, or "" for a word that is not an answer."""
    return '""' if value is None else f"{value:g}"


def guess_columns(kind: str, headers: list[str]) -> dict[str, str]:
    """Canonical field -> header, where a header is the field's own name (case/spaces aside)."""
    by_norm = {_norm(h).replace(" ", "_"): h for h in headers}
    names = [*field_map(kind), *SCORE_FIELDS]
    return {name: by_norm[name] for name in names if name in by_norm}
