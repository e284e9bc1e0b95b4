"""Call KPIs from interval reports in a report: one source per figure, and it says which.

A team may hold call-level rows (``contacts``) and interval reports (``intervals``) for the same
queues and days. Adding them would count those calls twice, so each figure of a report row uses
one: the call-level rows where that row has any calls (``PREFER``), else the interval reports,
pooled by calls (``kpi.metrics.intervals``). The definition says which was used, and when the
other also covered the selection and was left out.

Interval rows map onto the report's segments as call rows do in the built-in call log: queue is
the category, and team, agent and channel are themselves. A row filtered or broken down by a
field an interval report does not carry (priority) keeps its call-level figures only.

Interval reports are data in their own right: their starts widen the data's dates
(``interval_span``, read by the data profile), so a store holding only them has its days, weeks
and months, and every segment and period they hold gets a report row (``interval_indexes``,
``with_interval_segments``), even where no contact or answer has that queue, team or agent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from kpi.engine.aggregation import Index, index_records, records
from kpi.engine.backend import CACHE, Slots
from kpi.engine.filters import Filters
from kpi.engine.preparation import instants
from kpi.engine.results import MetricResult, Report, ReportRow
from kpi.engine.sql_shelf import Shelf
from kpi.engine.statistics import WILSON_METHOD, is_small_sample, t_quantile, wilson_interval
from kpi.engine.timeline import NAMED, TRUNCATE, Offsets, Period, local_time
from kpi.metrics.intervals import KEYS, RATIO_METHOD, Pooled, definition, pooled, sums
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings

#: Report segment field -> the intervals column it reads.
SEGMENT_COLUMNS = {"channel": "channel", "team": "team", "agent": "agent", "category": "queue"}
#: Which source a row with both uses: call-level rows carry each call's own times.
PREFER = "calls"
#: What a result's ``extra`` says of its source: interval rows pooled, or the calls of interval
#: reports left out because call-level rows answered.
ROWS, LEFT_OUT = "interval_rows", "interval_calls_left_out"


#: A report grouping (its breakdown fields, () for the total) -> the interval reports' sums by
#: segment and period, as ``kpi.engine.aggregation.index_records`` indexes the contacts'.
Found = dict[tuple[str, ...], Index]


def interval_indexes(
    backend: ibis.BaseBackend,
    filters: Filters,
    groupings: Sequence[tuple[str, ...]],
    grain: str | None,
    periods: Sequence[Period],
    offsets: Offsets | None,
    timezone: str,
    keys: Sequence[str],
    cache_key: tuple[Any, ...] | None = None,
    present: bool | None = None,
    shelf: Shelf | None = None,
) -> Found:
    """The interval reports' sums for each grouping of a report that they can answer: none when
    the report asks for no call KPI, a filter or breakdown field is one they do not carry, or
    the store holds none (``present``, when the caller knows it: the data profile does). One
    grouped query per grouping; with a ``cache_key`` (a report's, ``kpi.engine.report``) its SQL
    is compiled once per query shape and its instants are parameters, as the contacts' are, and
    kept on the report's ``shelf`` (``kpi.engine.sql_shelf``)."""
    groupings = [by for by in groupings if all(f in SEGMENT_COLUMNS for f in by)]
    wanted = any(k in KEYS for k in keys)
    if not wanted or not groupings or not _usable(filters):
        return {}
    if not (_has_intervals(backend) if present is None else present):
        return {}
    values = instants(filters, timezone, grain, offsets, periods)

    def found(by: tuple[str, ...]) -> Index:
        def query(slots: Slots) -> ir.Table:
            table = _selection(CACHE.table(backend, "intervals"), filters, timezone, slots)
            return _grouped(_period_column(table, grain, offsets, periods, slots), by, grain)

        key = None if cache_key is None else (*cache_key, "intervals", by)
        return index_records(records(backend, query, key, values, shelf), by, grain)

    return {by: found(by) for by in groupings}


def with_interval_segments(indexes: dict[tuple[str, ...], Index], found: Found) -> None:
    """Give every segment and period the interval reports hold a place among a report's
    records (an empty one where the contacts have none), so that a queue only the interval
    reports cover still gets its row; ``with_intervals`` then fills its call KPIs."""
    for by, index in found.items():
        target = indexes.get(by)
        if target is None:
            continue
        for key in index:
            target.setdefault(key, {})


def with_intervals(
    backend: ibis.BaseBackend,
    report: Report,
    filters: Filters,
    periods: Sequence[Period],
    offsets: Offsets | None,
    found: Found | None = None,
) -> None:
    """Give each row of ``report`` its call KPIs from the interval reports where its call-level
    rows have none, and say in every call KPI's definition which source it is from. ``found``
    is ``interval_indexes``' answer when the report already asked it."""
    keys = [k for k in KEYS if any(k in row.metrics for row in report.rows)]
    if found is None:
        groupings = list(dict.fromkeys(tuple(row.segment) for row in report.rows))
        timezone = report.settings.timezone
        found = interval_indexes(
            backend, filters, groupings, report.grain, periods, offsets, timezone, keys
        )
    for row in report.rows:
        index = found.get(tuple(row.segment))
        if index is None:
            continue
        record = index.get((tuple(row.segment.values()), row.period))
        if record:
            _choose(row, record, keys, report.settings)
        _say_neither(row, keys)


#: What a call KPI counts, in the reason a row without any gives.
COUNTED = {
    "abandonment_rate": "offered calls",
    "service_level": "offered calls",
    "asa_seconds": "answered calls with a wait time",
    "aht_seconds": "answered calls with a handle time",
}


def _say_neither(row: ReportRow, keys: Sequence[str]) -> None:
    """A call KPI neither source has figures for says so: "no wait times in the data" would
    be wrong where the interval reports hold them (for other segments or periods)."""
    for key in keys:
        result = row.metrics.get(key)
        if result is not None and result.value is None and result.n == 0:
            result.reason = (
                f"no {COUNTED[key]} in this selection, in call-level rows or interval reports"
            )


def _usable(filters: Filters) -> bool:
    """Interval reports can answer for these filters: no segment they do not carry."""
    return all(name in SEGMENT_COLUMNS for name in filters.segments())


def _has_intervals(backend: ibis.BaseBackend) -> bool:
    """Whether the backend has interval rows (a bare backend may not have the table at all);
    known once per store version (a bare backend's data has no version: asked every time)."""
    store = CACHE.store_of(backend)
    version = CACHE.version(store) if store is not None else None
    key = ("has_intervals", CACHE.data_token(backend), version)
    known = CACHE.derived(key) if version is not None else None
    if known is not None:
        return bool(known)
    found = interval_summary(backend)[0]
    if version is not None:
        CACHE.keep_derived(key, found)
    return found


def interval_summary(backend: ibis.BaseBackend) -> tuple[bool, tuple[datetime, datetime] | None]:
    """Whether the store holds interval rows, and the first and last interval start (naive
    UTC; None without any), in one query. The data profile keeps both: it widens the data's
    dates with the span, so a report's days, weeks and months cover a store that holds only
    interval reports, and a report asks the interval reports only when there are some."""
    try:
        t = backend.table("intervals")
    except Exception:  # noqa: BLE001 - a backend without the table (a test's, an old file's)
        return False, None
    frame = backend.execute(
        t.aggregate(rows=t.count(), first=t.interval_start.min(), last=t.interval_start.max())
    )
    if int(frame["rows"].iloc[0]) <= 0:
        return False, None
    first, last = (_naive(frame[c].iloc[0]) for c in ("first", "last"))
    return True, (first, last) if first is not None and last is not None else None


def interval_span(backend: ibis.BaseBackend) -> tuple[datetime, datetime] | None:
    """The first and last interval start of the interval reports (naive UTC); None without
    any (``interval_summary``)."""
    return interval_summary(backend)[1]


def _naive(value: Any) -> datetime | None:
    if value is None or value != value:  # None, NaN, NaT
        return None
    value = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return value.replace(tzinfo=None) if isinstance(value, datetime) else None


def _selection(t: ir.Table, filters: Filters, timezone: str, slots: Slots) -> ir.Table:
    """The rows of the filters' dates and segments, with the report's segment names. The
    dates and segment values are ``slots`` (``date_from``, ``date_to``, ``segment_team``...),
    as in ``kpi.engine.preparation``."""
    t = t.mutate(
        **{field: t[column] for field, column in SEGMENT_COLUMNS.items() if field != column}
    )
    start = slots.timestamp("date_from") if filters.date_from is not None else None
    end = slots.timestamp("date_to") if filters.date_to is not None else None
    dates = filters.date_predicates(t, "interval_start", timezone, (start, end))
    # Every field they carry is a parameter, restricted or not, as for the contacts.
    predicates = filters.segment_predicates(t, slots, tuple(SEGMENT_COLUMNS)) + dates
    return t.filter(*predicates) if predicates else t


def _period_column(
    t: ir.Table,
    grain: str | None,
    offsets: Offsets | None,
    periods: Sequence[Period],
    slots: Slots,
) -> ir.Table:
    """``period`` as the contacts have it (``kpi.engine.preparation``): the local day, week or
    month an interval starts in, or the named period it falls in; the named periods' bounds
    and the zone's clock changes are ``slots`` as there."""
    start = t.interval_start
    if grain == NAMED:
        label = ibis.cases(
            *[
                (
                    (start >= slots.timestamp(f"start_{i}"))
                    & (start < slots.timestamp(f"end_{i}")),
                    ibis.literal(p.label),
                )
                for i, p in enumerate(periods)
            ],
            else_=ibis.null("string"),
        )
        t = t.mutate(period=label)
        return t.filter(t.period.notnull())
    if grain is None or offsets is None:
        return t
    # The first offset's instant is never compared (it holds before the first change).
    changes = [(offsets[0][0], offsets[0][1])]
    changes += [(slots.timestamp(f"clock_{i}"), s) for i, (_, s) in enumerate(offsets) if i]
    return t.mutate(period=local_time(start, changes).truncate(TRUNCATE[grain]).date())


def _grouped(t: ir.Table, by: tuple[str, ...], grain: str | None) -> ir.Table:
    """The interval reports' sums by ``by`` (and period)."""
    # A row whose segment field is empty (a report without a team column) belongs to no
    # segment: as a "(none)" segment it would count again calls the named ones already have.
    if by:
        t = t.filter([t[f].notnull() for f in by])
    group = [*by, *(["period"] if grain else [])]
    aggs = sums(t)
    return t.group_by(group).aggregate(**aggs) if group else t.aggregate(**aggs)


def _choose(
    row: ReportRow, record: Mapping[str, Any], keys: Sequence[str], settings: Settings
) -> None:
    """Each call KPI of ``row`` from one source: its call-level rows when it has any (``PREFER``),
    else the interval reports; the definition says which."""
    figures = pooled(record)
    for key in keys:
        current = row.metrics.get(key)
        interval = figures[key]
        if current is None or interval.n <= 0:
            continue
        if PREFER == "calls" and current.n > 0:
            current.extra[LEFT_OUT] = interval.n
            current.definition = (
                f"{current.definition.rstrip()} From call-level rows; interval reports also "
                f"cover this selection ({interval.n:,} calls) and were left out: where both "
                f"cover a queue and period, no call counts twice.{_queues_left_out(row)}"
            )
            continue
        row.metrics[key] = interval_result(key, interval, record, settings)


def _queues_left_out(row: ReportRow) -> str:
    """A row wider than one queue takes one source for all of it: a queue (or a period) only
    interval reports hold is then not in its figure, which must be said, not left to guess."""
    if "category" in row.segment:
        return ""
    return (
        " A queue or period whose calls only interval reports hold is not in this figure: "
        "break down by category (and by week or day) to see each from its own source."
    )


def source_note(result: MetricResult) -> str | None:
    """Which source a call KPI came from, in a few words for a table's note column; None for
    a figure interval reports had no part in."""
    if ROWS in result.extra:
        rows = result.extra[ROWS]
        return f"from interval reports ({rows:,} row{'s' if rows != 1 else ''})"
    if LEFT_OUT in result.extra:
        wider = "A queue or period whose calls" in result.definition
        return "from call-level rows (interval reports left out" + (
            "; queues they alone cover are not counted)" if wider else ")"
        )
    return None


def interval_result(
    key: str, figure: Pooled, record: Mapping[str, Any], settings: Settings
) -> MetricResult:
    """A report's result for one KPI pooled from interval reports, with its interval."""
    metric = REGISTRY[key]
    text = definition(key, record, settings, figure.rows)
    result = MetricResult(
        key=key,
        value=figure.value,
        n=figure.n,
        definition=f"{metric.label} (interval reports): {text}",
        variant="intervals",
        unit=metric.unit,
        small_sample=is_small_sample(figure.n, settings.minimum_n),
    )
    if figure.ratio is None:
        x = min(max(figure.x or 0, 0), figure.n)
        interval = wilson_interval(x, figure.n)
        result.numerator, result.denominator = figure.x, figure.n
        result.ci_low, result.ci_high = (
            None if interval.low is None else 100 * interval.low,
            None if interval.high is None else 100 * interval.high,
        )
        method = WILSON_METHOD
    else:
        result.ci_low, result.ci_high, method = ratio_interval(figure)
    result.extra = {ROWS: figure.rows}
    result.definition = f"{result.definition} 95% interval: {method}."
    return result


def ratio_interval(
    figure: Pooled, confidence: float = 0.95
) -> tuple[float | None, float | None, str]:
    """The t interval of a pooled average from its ratio-estimator standard error, with k - 1
    degrees of freedom (k interval rows); none with one row or no spread between rows."""
    ratio = figure.ratio
    if ratio is None or ratio.ratio is None:
        return None, None, RATIO_METHOD
    error = ratio.standard_error()
    if error is None:
        return None, None, "no interval: one interval row cannot show how much the mean could vary"
    if error <= 1e-12 * max(1.0, abs(ratio.ratio)):
        return None, None, "no interval: every interval row has the same average"
    margin = t_quantile(0.5 + confidence / 2, ratio.k - 1) * error
    low = max(0.0, ratio.ratio - margin)
    return low, ratio.ratio + margin, RATIO_METHOD


__all__ = [
    "PREFER",
    "SEGMENT_COLUMNS",
    "Found",
    "interval_indexes",
    "interval_result",
    "interval_span",
    "interval_summary",
    "ratio_interval",
    "source_note",
    "with_interval_segments",
    "with_intervals",
]
