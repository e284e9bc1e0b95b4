"""Engine reports as tables people read and download: one row per segment and period, and
numbers written with their unit.

Only the engine's results are laid out here; nothing is recomputed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from kpi.engine import timeline
from kpi.engine.results import MetricResult, Report
from kpi.metrics.registry import REGISTRY

#: What an empty value shows, in a table or on a tile (a reason column or a note says why).
EMPTY = "—"

RESULT_COLUMNS = ["value", "n", "ci_low", "ci_high", "small_sample", "numerator", "reason"]


def result_row(result: MetricResult) -> dict[str, object]:
    return {
        "value": result.value,
        "n": result.n,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "small_sample": result.small_sample,
        "numerator": result.numerator,
        "reason": result.reason,
    }


def long_frame(report: Report, keys: Sequence[str], totals: bool = True) -> pd.DataFrame:
    """One row per segment, period and KPI: the breakdown fields, ``period``, ``kpi`` (label),
    ``key``, value, n, the 95% interval, the small-sample flag, the numerator (successes of
    a rate, e.g. the complaints behind the complaint rate) and the reason a value is missing.
    The total row's segment fields read "All" (left out when ``totals`` is False)."""
    rows = []
    for row in report.rows:
        if not row.segment and report.by and not totals:
            continue
        labels = {f: ("All" if not row.segment else row.segment.get(f)) for f in report.by}
        for key in keys:
            if key not in row.metrics:
                continue
            rows.append(
                {
                    **labels,
                    "period": row.period,
                    "kpi": REGISTRY[key].label,
                    "key": key,
                    **result_row(row.metrics[key]),
                }
            )
    columns = [*report.by, "period", "kpi", "key", *RESULT_COLUMNS]
    frame = pd.DataFrame(rows, columns=columns)
    if report.grain is None:
        frame = frame.drop(columns="period")
    return frame


def format_value(value: float | None, unit: str) -> str:
    """82.7%, +34.8 (NPS points), 1.2 h, 605 s, 6,208; "—" when there is no value."""
    if value is None or value != value:
        return EMPTY
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "points":
        return f"{value:+.1f}"
    if unit == "hours":
        return f"{value:,.1f} h"
    if unit == "seconds":
        return f"{value:,.0f} s"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def format_interval(result: MetricResult) -> str:
    """ "n = 1,865 · 95% CI 80.9%-84.3%" (or "p90 6.5 h" for medians)."""
    parts = [f"n = {result.n:,}"]
    if result.ci_low is not None and result.ci_high is not None:
        low, high = (
            format_value(result.ci_low, result.unit),
            format_value(result.ci_high, result.unit),
        )
        parts.append(f"95% CI {low} to {high}")
    if result.extra.get("p90") is not None:
        parts.append(f"p90 {format_value(result.extra['p90'], result.unit)}")
    return " · ".join(parts)


def format_change(difference: float, unit: str) -> str:
    """The change against the previous period in the KPI's own terms (points for rates)."""
    if unit == "%":
        return f"{difference:+.1f} pts"
    if unit == "points":
        return f"{difference:+.1f}"
    return f"{'+' if difference >= 0 else '−'}{format_value(abs(difference), unit)}"


# --- Tables for people -------------------------------------------------------------------
# Every table a page shows goes through ``for_people``: one mapping of column keys to the
# headers a person reads, and one formatter per kind of column, so that no page shows a raw
# key, "None" or an unrounded number, and no page words a header itself.

#: Column keys of the engine's and the store's tables -> the header a person reads.
HEADERS: dict[str, str] = {
    # Breakdown fields.
    "channel": "Channel",
    "team": "Team",
    "agent": "Agent",
    "priority": "Priority",
    "category": "Category",
    # A KPI's results (``long_frame``).
    "period": "Period",
    "partial": "Part period?",
    "coverage": "Days covered",
    "kpi": "KPI",
    "value": "Value",
    "n": "n",
    "interval": "95% interval",
    "small_sample": "Small sample?",
    "numerator": "Counted (of n)",
    "reason": "Reason",
    # Causes (``breakdowns.pareto``).
    "count": "Count",
    "share": "Share of all",
    "cumulative_share": "Cumulative share",
    "vital_few": "Among the vital few?",
    # Survey comments (``comments.search``).
    "responded_at": "Answered at",
    "nps": "NPS (0-10)",
    "csat": "CSAT score",
    "ces": "CES score",
    "comment": "Comment",
    # Import batches, quarantine and warnings (``kpi.store.quarantine``).
    "batch_id": "Batch",
    "file_name": "File",
    "layout": "Layout",
    "kind": "Holds",
    "rows_read": "Rows read",
    "rows_imported": "Rows imported",
    "rows_quarantined": "Rows quarantined",
    "rows_inserted": "New rows",
    "rows_updated": "Rows updated",
    "rows_unchanged": "Rows unchanged",
    "rows_older": "Older rows (not applied)",
    "rows_rolled_up": "Rows rolled up",
    "responses_linked": "Answers linked to contacts",
    "warnings": "Values emptied",
    "imported_at": "Imported at",
    "undone_at": "Undone at",
    "row": "Row",
    "field": "Column",
    "issue": "Issue",
    "raw": "Row as read",
    # Me against the rest of my team (``comparison.side_by_side``).
    "me": "Me",
    "me (n, interval)": "Me: n and 95% interval",
    "rest of the team": "Rest of the team",
    "rest (n, interval)": "Rest: n and 95% interval",
    "a real difference?": "A real difference?",
    # Reflections, their action checks and KSB coverage (``kpi.evidence``, ``kpi.insights``).
    "figure": "Figure",
    "before": "Before",
    "after": "After",
    "p": "p-value",
    "more than chance": "More than chance?",
    "reference": "Reference",
    "title": "Title",
    "learner": "Learner",
    "status": "Status",
    "review date": "Review date",
    "updated": "Updated",
    "ksb": "KSB",
    "description": "Description",
    "reflections": "Reflections",
    "reviewed": "Reviewed",
}

#: The column of a KPI table that says why a value is missing.
NO_VALUE = "Why no value"
#: The heading of the period column for each grain.
PERIOD_HEADERS = {"day": "Day", "week": "Week", "month": "Month"}
#: Columns of counts: whole numbers, kept as numbers so that they sort.
COUNT_COLUMNS = {"n", "count", "batch_id", "row", "warnings", "responses_linked"}
#: Columns of percentages: kept as numbers, shown with one decimal and a % sign.
PERCENT_COLUMNS = {"share", "cumulative_share"}
#: Columns of yes/no flags.
FLAG_COLUMNS = {"small_sample", "vital_few", "partial"}
#: Columns of survey scores: shown as answered (9, not 9.0).
SCORE_COLUMNS = {"nps", "csat", "ces"}
#: Breakdown fields: an empty one is a contact with no team, agent... recorded.
SEGMENT_COLUMNS = {"channel", "team", "agent", "priority", "category"}
NOT_RECORDED = "(none)"
#: Columns naming a built-in layout or a kind of row: words, not keys.
WORD_COLUMNS = {"layout", "kind"}
#: Display formats (printf, as Streamlit's number columns take them) by kind of column.
PERCENT_FORMAT = "%.1f%%"
COUNT_FORMAT = "localized"  # 38,635: thousands separated, as on the tiles

#: The cell types pandas can hold a missing value as (NaN, NaT, NA).
_MAYBE_MISSING = (float, pd.Timestamp, type(pd.NaT), type(pd.NA))
_SNAKE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")


@dataclass(frozen=True)
class PeopleTable:
    """A table as a page shows it: human headers, every value with its unit and rounded, "—"
    for an empty cell; ``formats`` gives the number format of columns kept as numbers (so that
    they still sort), and ``note`` says what the dashes and flags mean ("" when nothing)."""

    frame: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


def header(key: str) -> str:
    """The header a person reads for a column key; a key nobody declared still reads as words
    ("rows_set_aside" -> "Rows set aside"), never as a raw key."""
    if key in HEADERS:
        return HEADERS[key]
    return key.replace("_", " ").capitalize() if _SNAKE.match(key) else key


def is_empty(value: object) -> bool:
    """None, NaN or NaT: a cell with nothing in it."""
    if value is None or isinstance(value, str):
        return value is None
    return isinstance(value, _MAYBE_MISSING) and bool(pd.isna(value))


def words(value: object) -> str:
    """A key-like value ("generic_survey") as words ("generic survey"); "—" when empty."""
    return EMPTY if is_empty(value) else str(value).replace("_", " ")


def period_label(period: object, grain: str | None) -> str:
    """``kpi.engine.timeline.period_label`` ("Aug 2026", "w/c 2 Mar 2026"); "—" when empty."""
    return EMPTY if is_empty(period) else timeline.period_label(str(period), grain)


def format_range(low: float | None, high: float | None, unit: str) -> str:
    """ "80.9% to 84.3%"; "—" when the result has no interval (medians, counts)."""
    if is_empty(low) or is_empty(high):
        return EMPTY
    return f"{format_value(low, unit)} to {format_value(high, unit)}"


def _count(value: object) -> str:
    return EMPTY if is_empty(value) else f"{float(str(value)):,.0f}"


def _score(value: object) -> str:
    return EMPTY if is_empty(value) else f"{float(str(value)):g}"


def _when(value: object) -> str:
    return EMPTY if is_empty(value) else f"{pd.Timestamp(str(value)):%d %b %Y %H:%M}"


def _p_value(value: object) -> str:
    if is_empty(value):
        return EMPTY
    p = float(str(value))
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _flag(value: object) -> str:
    return EMPTY if is_empty(value) else ("yes" if value else "no")


def _text(value: object) -> str:
    return EMPTY if is_empty(value) else str(value)


def for_people(frame: pd.DataFrame, grain: str | None = None) -> PeopleTable:
    """``frame`` (a ``long_frame``, a Pareto table, comments, import batches...) as a page
    shows it. ``grain`` names the period column ("Week starting", "Month")."""
    frame = _mark_part_periods(frame, grain)
    if {"key", "value", "n"} <= set(frame.columns):
        return _results(frame, grain)
    return _plain(frame, grain)


def _mark_part_periods(frame: pd.DataFrame, grain: str | None) -> pd.DataFrame:
    """A frame with ``partial``, ``covered_days`` and ``days`` (``kpi.engine.change.mark_parts``)
    says it in a ``coverage`` column beside the period ("2 of 7 days", "whole"), left out when
    every period is whole."""
    if not {"period", "partial", "covered_days", "days"} <= set(frame.columns):
        return frame
    coverage = [
        f"{int(covered)} of {int(days)} days"
        if part and not is_empty(covered) and not is_empty(days)
        else "whole"
        for part, covered, days in zip(
            frame["partial"], frame["covered_days"], frame["days"], strict=True
        )
    ]
    out = frame.drop(columns=["partial", "covered_days", "days"])
    if any(c != "whole" for c in coverage):
        out.insert(list(out.columns).index("period") + 1, "coverage", coverage)
    return out


def _results(frame: pd.DataFrame, grain: str | None) -> PeopleTable:
    """A ``long_frame``: each value in its KPI's unit, the interval as one cell after n, the
    numerator as "x of n", and why a value is missing."""
    rows = frame.reset_index(drop=True)
    units = [REGISTRY[str(k)].unit for k in rows["key"]]
    done = ["key", "value", "ci_low", "ci_high", "numerator", "denominator", "reason"]
    out = _plain(rows.drop(columns=[c for c in done if c in rows]), grain).frame
    values = [format_value(v, u) for v, u in zip(rows["value"], units, strict=True)]
    out.insert(list(out.columns).index(header("n")), header("value"), values)
    if "ci_low" in rows and "ci_high" in rows:
        intervals = [
            format_range(low, high, unit)
            for low, high, unit in zip(rows["ci_low"], rows["ci_high"], units, strict=True)
        ]
        out.insert(list(out.columns).index(header("n")) + 1, header("interval"), intervals)
    # The successes behind a rate; NPS's numerator is a net score, not a count of anyone.
    numerators = rows["numerator"] if "numerator" in rows else [None] * len(units)
    counted = [None if u == "points" else x for x, u in zip(numerators, units, strict=True)]
    if any(not is_empty(x) for x in counted):
        out[header("numerator")] = [
            EMPTY if is_empty(x) else f"{float(str(x)):,.0f} of {int(n):,}"
            for x, n in zip(counted, rows["n"], strict=True)
        ]
    if "reason" in rows and rows["value"].isna().any():
        out[NO_VALUE] = [
            ("no data" if is_empty(r) else str(r)) if is_empty(v) else ""
            for v, r in zip(rows["value"], rows["reason"], strict=True)
        ]
    return PeopleTable(out, {header("n"): COUNT_FORMAT}, _results_note(rows, out))


def _results_note(rows: pd.DataFrame, out: pd.DataFrame) -> str:
    """What the dashes and flags of a results table mean, said once under the table."""
    notes = []
    interval = header("interval")
    if interval in out and (rows["value"].notna() & (out[interval] == EMPTY)).any():
        notes.append(
            f"{EMPTY} in {interval}: times are medians and counts are whole, so they have none"
        )
    counted = header("numerator")
    if counted in out and (rows["value"].notna() & (out[counted] == EMPTY)).any():
        notes.append(f"{EMPTY} in {counted}: only rates count the contacts or answers behind them")
    if "small_sample" in rows and rows["small_sample"].fillna(False).astype(bool).any():
        notes.append("small sample: fewer than the minimum n set on Settings, treat with care")
    if "coverage" in rows and (rows["coverage"] != "whole").any():
        notes.append("a part period rests on the days the data and filters cover: not a whole one")
    said = "; ".join(notes)
    return f"{said[:1].upper()}{said[1:]}." if notes else ""


def _plain(frame: pd.DataFrame, grain: str | None) -> PeopleTable:
    """Any other table: headers from ``HEADERS``, each column formatted by its kind; numbers
    that are never empty stay numbers (with a display format) so that they sort."""
    out = pd.DataFrame(index=frame.index)
    formats: dict[str, str] = {}
    empties = []
    for key in frame.columns:
        column = frame[key]
        name = PERIOD_HEADERS.get(grain or "", "Period") if key == "period" else header(str(key))
        full = not column.isna().any()
        if key in PERCENT_COLUMNS and full:
            out[name], formats[name] = column.astype(float).round(1), PERCENT_FORMAT
        elif key in PERCENT_COLUMNS:
            out[name] = [format_value(v, "%") for v in column]
        elif key in COUNT_COLUMNS and full:
            out[name], formats[name] = column.astype(int), COUNT_FORMAT
        elif key in COUNT_COLUMNS or (
            str(key).startswith("rows_") and pd.api.types.is_numeric_dtype(column)
        ):
            out[name] = column.astype(int) if full else column.map(_count)
            formats.update({name: COUNT_FORMAT} if full else {})
        elif pd.api.types.is_integer_dtype(column) and full:
            out[name], formats[name] = column, COUNT_FORMAT
        elif key == "p":
            out[name] = column.map(_p_value)
        elif key == "period":
            out[name] = [period_label(p, grain) for p in column]
        elif key in FLAG_COLUMNS:
            out[name] = column.map(_flag)
        elif key in SEGMENT_COLUMNS:
            out[name] = [NOT_RECORDED if is_empty(v) else str(v) for v in column]
            full = True
        elif key in SCORE_COLUMNS:
            out[name] = column.map(_score)
        elif key in WORD_COLUMNS:
            out[name] = column.map(words)
        elif pd.api.types.is_datetime64_any_dtype(column) or str(key).endswith("_at"):
            out[name] = column.map(_when)
        elif pd.api.types.is_float_dtype(column):
            out[name] = [EMPTY if is_empty(v) else f"{v:,.2f}" for v in column]
        else:
            out[name] = column.map(_text)
        if not full:
            empties.append(name)
    return PeopleTable(out.reset_index(drop=True), formats, _plain_note(empties))


#: What an empty cell of these columns means.
_EMPTY_MEANS = {
    HEADERS["undone_at"]: "the batch is in force",
    HEADERS["nps"]: "not answered",
    HEADERS["csat"]: "not answered",
    HEADERS["ces"]: "not answered",
    HEADERS["value"]: "empty in the file",
    HEADERS["field"]: "the whole row",
}


def _plain_note(empties: Sequence[str]) -> str:
    """ "— in NPS (0-10), CSAT score: not answered." for the empty columns whose dash means
    something a reader could not guess."""
    columns_by_meaning: dict[str, list[str]] = {}
    for column in empties:
        if column in _EMPTY_MEANS:
            columns_by_meaning.setdefault(_EMPTY_MEANS[column], []).append(column)
    said = [f"{EMPTY} in {', '.join(c)}: {means}" for means, c in columns_by_meaning.items()]
    return ("; ".join(said) + ".") if said else ""
