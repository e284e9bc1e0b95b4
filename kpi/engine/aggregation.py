"""Aggregating: every selected formula's counts, sums and quantiles as one grouped query, the
backlog, and the few aggregated rows turned into results (values, Wilson and NPS intervals,
small-sample flags, reasons). Nothing walks the data row by row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import ibis
import ibis.expr.types as ir
import pandas as pd

from kpi.engine import statistics
from kpi.engine.backend import CACHE, Query, Slots, SlotValue, bound, parameterised
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.engine.results import MetricResult
from kpi.engine.sql_shelf import Shelf
from kpi.engine.timeline import Period
from kpi.metrics.contact_facts import is_tracked
from kpi.metrics.registry import Context, Formula, Metric

_MICROSECOND = timedelta(microseconds=1)
#: Up to this many periods, the backlog is one conditional count per period end (cacheable SQL).
_FEW_PERIODS = 64
#: Up to this many (padded) period ends, a longer series places each contact by a binary search
#: over the ends (cacheable SQL); past it, the ends are a table joined to the contacts.
_PLACED_MAX = 128

T = TypeVar("T")
Record = dict[str, Any]
#: (segment values, period label) -> the aggregated columns of that segment and period.
Index = dict[tuple[tuple[Any, ...], str | None], Record]


def count_if(condition: ir.BooleanValue) -> ir.IntegerScalar:
    return ibis.ifelse(condition, 1, 0).sum()


def as_int(value: Any) -> int:
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def _required(part: T | None, what: str) -> T:
    """A formula's optional part that its kind requires (a registry mistake if missing)."""
    if part is None:
        raise ValueError(f"the formula has no {what}")
    return part


# --- the aggregate query -------------------------------------------------------------------------


def aggregates(
    t: ir.Table, chosen: Mapping[str, tuple[str, Formula]], context: Context
) -> dict[str, ir.Scalar]:
    """Every selected formula's counts, sums and quantiles, as named aggregate expressions."""
    out: dict[str, ir.Scalar] = {}
    for key, (_, f) in chosen.items():
        if f.kind != "stock" and f.supported_by(context):
            out.update(_formula_aggregates(t, key, f, context))
    return out


def _formula_aggregates(
    t: ir.Table, key: str, f: Formula, context: Context
) -> dict[str, ir.Scalar]:
    population = f.population(t, context)
    if f.kind == "count":
        return {f"{key}__n": t.count()}
    out: dict[str, ir.Scalar] = {}
    if f.kind in ("mean", "quantiles"):
        value = _required(f.value, "value")(t, context)
        population = population & value.notnull()
    out[f"{key}__n"] = count_if(population)
    if f.kind in ("proportion", "nps"):
        out[f"{key}__x"] = count_if(population & _required(f.success, "success")(t, context))
    if f.kind == "nps":
        out[f"{key}__y"] = count_if(population & _required(f.failure, "failure")(t, context))
    elif f.kind == "mean":
        out[f"{key}__sum"] = value.sum(where=population)
        out[f"{key}__sumsq"] = (value * value).sum(where=population)
    elif f.kind == "quantiles":
        out[f"{key}__median"] = value.quantile(0.5, where=population)
        out[f"{key}__p90"] = value.quantile(0.9, where=population)
    for name, rows in f.extra_counts.items():
        out[f"{key}__extra_{name}"] = count_if(rows(t, context))
    for column in f.same_scale or ():
        out[f"{key}__{column}_min"] = t[column].min(where=population)
        out[f"{key}__{column}_max"] = t[column].max(where=population)
    return out


def aggregate(t: ir.Table, keys: Sequence[str], aggs: Mapping[str, ir.Scalar]) -> ir.Table | None:
    if not aggs:
        return None
    return t.group_by(list(keys)).aggregate(**aggs) if keys else t.aggregate(**aggs)


def records(
    backend: ibis.BaseBackend,
    build: Callable[[Slots], ir.Table | None],
    cache_key: tuple[Any, ...] | None = None,
    values: Mapping[str, SlotValue] | None = None,
    shelf: Shelf | None = None,
) -> list[Record]:
    """Run the aggregate ``build`` makes, as a list of dicts; ``build`` writes the instants and
    segment choices of ``values`` through the ``Slots`` it is given.

    On DuckDB the compiled SQL of each distinct query shape (same store version, filters but
    their dates and segment values, settings, as-of...) is kept with its instants and segment
    values as parameters: Ibis's compiler takes longer than DuckDB's run, and a dashboard asks
    the same questions on every rerun, for every date range and every channel, team... With a
    ``shelf`` (``kpi.engine.sql_shelf``), that SQL is also kept for the next process. Other
    backends run the expression as usual, the values written in.
    """
    values = values or {}
    if cache_key is None or backend.name != "duckdb":
        expr = build(Slots(values))
        return [] if expr is None else backend.execute(expr).to_dict("records")

    def compile_query() -> Query | None:
        slots = Slots(values, stand_ins=True)
        expr = build(slots)
        if expr is None:
            return Query("", ())
        return parameterised(backend, str(backend.compile(expr)), slots)

    query = CACHE.compiled(cache_key, compile_query, shelf)
    if query is None:  # the stand-ins could not be told apart: the values compiled in
        expr = build(Slots(values))
        query = Query("" if expr is None else str(backend.compile(expr)), ())
    if not query.sql:
        return []
    cursor = backend.con.execute(query.sql, bound(query.names, values))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- the backlog ---------------------------------------------------------------------------------


def _open_at(t: ir.Table, end: ir.TimestampValue) -> ir.BooleanValue:
    """Opened before ``end`` and not closed by it (``_closed_by``); resolved at an unknown time
    is not open."""
    return (t.opened_at < end) & ~(_closed_by(t) < end).fill_null(False)


def _closed_by(t: ir.Table) -> ir.TimestampValue:
    """The instant from which a contact is no longer open: its resolution, or its opening when
    it was resolved before it opened or is done with no time; null while open."""
    resolved_time = ibis.coalesce(t.resolved_at, t.closed_at)
    done = t.status.isin(["resolved", "closed"]).fill_null(False)
    return ibis.cases(
        (resolved_time.isnull() & done, t.opened_at),
        (resolved_time.isnull(), ibis.null("timestamp")),
        (resolved_time < t.opened_at, t.opened_at),
        else_=resolved_time,
    )


def _tracked(
    backend: ibis.BaseBackend,
    filters: Filters,
    slots: Slots | None = None,
    status_sources: frozenset[str] | None = None,
) -> ir.Table:
    """The segment's contacts with a lifecycle, whenever they were opened; with ``slots``, every
    segment field is a parameter (``Filters.segment_predicates``). ``status_sources`` as for
    ``is_tracked``."""
    t = backend.table("contacts")
    every = SEGMENT_FIELDS if slots is not None else ()
    predicates = filters.segment_predicates(t, slots, every)
    t = t.filter(*predicates) if predicates else t
    # Untracked contacts (calls in a call log) are never open; a contact whose status was
    # emptied at import is tracked by its timestamps (see ``is_tracked``).
    return t.filter(is_tracked(t, status_sources))


def _end(period: Period, cap: datetime) -> datetime:
    """A period's end capped at as-of; a dated period always has an end."""
    return min(period.end or cap, cap)


def backlog(
    backend: ibis.BaseBackend,
    filters: Filters,
    periods: Sequence[Period],
    as_of: datetime,
    keys: Sequence[str],
    cache_key: tuple[Any, ...] | None,
    shelf: Shelf | None = None,
    status_sources: frozenset[str] | None = None,
) -> list[Record]:
    """Contacts open at each period's end (capped at as-of), whenever they were opened.
    ``status_sources`` as for ``kpi.metrics.contact_facts.is_tracked``."""
    cap = as_of + _MICROSECOND
    if not periods:
        return []
    # The ends are parameters, padded to a power of two with the last: a longer or shorter
    # series (12 months, all time) mostly reuses one query.
    ends = [_end(p, cap) for p in periods]
    size = 1 << (len(ends) - 1).bit_length()
    values: dict[str, SlotValue] = {
        f"backlog_{i}": ends[min(i, len(ends) - 1)] for i in range(size)
    }
    values.update(filters.segment_parameters())
    cache_key = None if cache_key is None else (*cache_key, size)
    if len(periods) > _FEW_PERIODS:
        if size > _PLACED_MAX or ends != sorted(ends):
            return _joined_backlogs(backend, filters, periods, cap, keys, status_sources)
        return _placed_backlogs(
            backend, filters, periods, keys, size, values, cache_key, shelf, status_sources
        )
    whole = len(periods) == 1 and periods[0].label is None

    # One conditional count per period end: a plain aggregate, so its SQL can be cached.
    def counts(slots: Slots) -> ir.Table | None:
        t = _tracked(backend, filters, slots, status_sources)
        at = [slots.timestamp(f"backlog_{i}") for i in range(size)]
        if whole:
            return aggregate(t, keys, {"backlog__n": count_if(_open_at(t, at[0]))})
        return aggregate(
            t, keys, {f"backlog__{i}": count_if(_open_at(t, e)) for i, e in enumerate(at)}
        )

    found = records(backend, counts, cache_key, values, shelf)
    if whole:
        return found
    out = []
    for record in found:
        segment = {k: record[k] for k in keys}
        for i, p in enumerate(periods):
            out.append({**segment, "period": p.label, "backlog__n": record[f"backlog__{i}"]})
    return out


def _ends_before(instant: ir.TimestampValue, ends: Sequence[ir.TimestampScalar]) -> ir.IntegerValue:
    """How many of the sorted ``ends`` are at or before ``instant``: a binary search written
    as nested CASEs, so each row makes about log2(len(ends)) comparisons; null for no instant
    (a comparison with null would read as false and pick a branch)."""

    def among(lo: int, hi: int) -> ir.IntegerValue:
        # Every end before ``lo`` is at or before the instant, every end from ``hi`` after it.
        if lo == hi:
            return ibis.literal(lo, type="int32")
        middle = (lo + hi) // 2
        return ibis.ifelse(instant < ends[middle], among(lo, middle), among(middle + 1, hi))

    return ibis.ifelse(instant.isnull(), ibis.null("int32"), among(0, len(ends)))


def _placed_backlogs(
    backend: ibis.BaseBackend,
    filters: Filters,
    periods: Sequence[Period],
    keys: Sequence[str],
    size: int,
    values: Mapping[str, SlotValue],
    cache_key: tuple[Any, ...] | None,
    shelf: Shelf | None,
    status_sources: frozenset[str] | None = None,
) -> list[Record]:
    """The backlog at many (sorted) period ends in one pass over the contacts, rather than a
    count per end. A contact is open at end ``e`` when it opened before ``e`` and did not close
    by then (``_open_at``); so the backlog at ``e`` is the contacts opened before ``e``, less
    those whose ``_closed_by`` instant is before ``e``. Each opening and each closing is placed
    by how many ends it passes (``_ends_before``), and the counts of those places summed up to
    each end give every period's backlog."""

    def places(slots: Slots) -> ir.Table | None:
        t = _tracked(backend, filters, slots, status_sources)
        at = [slots.timestamp(f"backlog_{i}") for i in range(size)]
        t = t.filter(t.opened_at.notnull()).mutate(_closed_by=_closed_by(t))
        # Openings and closings as one column, so one binary search places both; of one type
        # (a backend may declare opened_at NOT NULL, and closings may be null before the filter).
        kind = t.opened_at.type().copy(nullable=True)
        opened = t.select(*keys, _instant=t.opened_at.cast(kind), _closes=ibis.literal(0))
        closed = t.filter(t._closed_by.notnull())
        closed = closed.select(
            *keys, _instant=closed._closed_by.cast(kind), _closes=ibis.literal(1)
        )
        events = opened.union(closed)
        placed = events.mutate(_place=_ends_before(events._instant, at))
        return aggregate(placed, [*keys, "_closes", "_place"], {"n": placed.count()})

    tallies: dict[tuple[Any, ...], list[list[int]]] = {}
    for record in records(backend, places, cache_key, values, shelf):
        segment = tuple(record[k] for k in keys)
        tally = tallies.setdefault(segment, [[0] * (size + 1), [0] * (size + 1)])
        tally[int(record["_closes"])][int(record["_place"])] += int(record["n"])
    out = []
    for segment, (opened_at, closed_at) in tallies.items():
        values_of = dict(zip(keys, segment, strict=True))
        still_open = 0
        for i, p in enumerate(periods):
            # Open at end i: opened, and not closed, before it (placed at i or before). A
            # period with none open is a row of 0, as a count per end gives (a segment open
            # at no end still has its rows, not none).
            still_open += opened_at[i] - closed_at[i]
            out.append({**values_of, "period": p.label, "backlog__n": still_open})
    return out


def _joined_backlogs(
    backend: ibis.BaseBackend,
    filters: Filters,
    periods: Sequence[Period],
    cap: datetime,
    keys: Sequence[str],
    status_sources: frozenset[str] | None = None,
) -> list[Record]:
    """The period ends as a table joined to the contacts: for series too long to place by a
    binary search in SQL (its CASEs take Ibis seconds to compile past ``_PLACED_MAX`` ends).
    Not cached as SQL: the periods are an in-memory table Ibis registers when it executes."""

    def per_period(_: Slots) -> ir.Table | None:
        ends = ibis.memtable(
            {
                "period": [date.fromisoformat(p.label or "") for p in periods],
                "_end": [_end(p, cap) for p in periods],
            }
        ).cast({"_end": "timestamp"})
        joined = _tracked(backend, filters, status_sources=status_sources).cross_join(ends)
        # Counted, not filtered: a period with none open is a row of 0 (see above).
        open_at_end = count_if(_open_at(joined, joined._end))
        return aggregate(joined, [*keys, "period"], {"backlog__n": open_at_end})

    return records(backend, per_period)


# --- from aggregates to results ------------------------------------------------------------------


def _number(record: Mapping[str, Any], name: str) -> float | None:
    value = record.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _percent(interval: statistics.Interval) -> tuple[float | None, float | None]:
    if interval.low is None or interval.high is None:
        return None, None
    return 100.0 * interval.low, 100.0 * interval.high


def _with_method(result: MetricResult, method: str) -> None:
    """The definition ends by naming how its interval was worked out."""
    result.definition = f"{result.definition.rstrip()} 95% interval: {method}."


def finish(
    metric: Metric,
    variant: str,
    formula: Formula,
    record: Mapping[str, Any],
    context: Context,
    definition: str | None = None,
) -> MetricResult:
    """One KPI's result from its aggregated counts for one segment and period; ``definition``
    is ``metric.definition(context)`` when the caller has it (a report asks it once per KPI,
    not once per cell)."""
    key = metric.key
    result = MetricResult(
        key=key,
        value=None,
        n=0,
        definition=metric.definition(context) if definition is None else definition,
        variant=variant,
        unit=metric.unit,
    )
    if not formula.supported_by(context):
        result.reason = formula.missing
        return result
    result.n = n = as_int(record.get(f"{key}__n"))
    result.extra = {
        name: as_int(record.get(f"{key}__extra_{name}")) for name in formula.extra_counts
    }
    _add_notes(result, formula)
    if formula.kind in ("count", "stock"):
        result.value = float(n)
        return result
    result.small_sample = statistics.is_small_sample(n, context.settings.minimum_n)
    if n == 0:
        result.reason = f"no {formula.population_name} in this selection"
        return result
    _FINISH[formula.kind](result, metric, formula, record, context)
    return result


def _add_notes(result: MetricResult, formula: Formula) -> None:
    """The definition gains each note whose count is above zero (e.g. a fallback's use)."""
    for name, note in formula.notes.items():
        if result.extra.get(name):
            result.definition = f"{result.definition.rstrip()} {note.format(n=result.extra[name])}"


def _finish_proportion(
    result: MetricResult, metric: Metric, formula: Formula, record: Mapping[str, Any], _: Context
) -> None:
    x, n = as_int(record.get(f"{metric.key}__x")), result.n
    result.value = 100.0 * x / n
    result.numerator, result.denominator = x, n
    result.ci_low, result.ci_high = _percent(statistics.wilson_interval(x, n))
    _with_method(result, statistics.WILSON_METHOD)


def _finish_nps(
    result: MetricResult, metric: Metric, formula: Formula, record: Mapping[str, Any], _: Context
) -> None:
    key, n = metric.key, result.n
    promoters, detractors = as_int(record.get(f"{key}__x")), as_int(record.get(f"{key}__y"))
    result.value = 100.0 * (promoters - detractors) / n
    result.numerator, result.denominator = promoters - detractors, n
    interval = statistics.nps_interval(promoters, detractors, n)
    result.ci_low, result.ci_high = interval.low, interval.high
    result.extra.update(promoters=promoters, detractors=detractors)
    _with_method(result, statistics.NPS_METHOD)


def _finish_mean(
    result: MetricResult,
    metric: Metric,
    formula: Formula,
    record: Mapping[str, Any],
    context: Context,
) -> None:
    key, n = metric.key, result.n
    total, squares = _number(record, f"{key}__sum") or 0.0, _number(record, f"{key}__sumsq")
    mean = total / n
    sd = None
    if n >= 2 and squares is not None:
        variance = (squares - n * mean * mean) / (n - 1)
        # Equal values leave only rounding noise here: no spread, not a tiny one.
        sd = 0.0 if variance <= 1e-12 * max(1.0, mean * mean) else math.sqrt(variance)
    result.value = mean
    interval = statistics.mean_interval(mean, sd, n)
    result.ci_low, result.ci_high = interval.low, interval.high
    result.extra["sd"] = sd
    if formula.same_scale:
        _check_one_scale(result, metric, formula.same_scale, record, context)
    if result.value is not None:
        _with_method(result, _mean_method(n, sd))


def _mean_method(n: int, sd: float | None) -> str:
    """How a mean's interval was worked out, or why it has none."""
    if n < 2 or sd is None:
        return statistics.ONE_VALUE
    return statistics.NO_SPREAD if sd == 0 else statistics.MEAN_METHOD


def _check_one_scale(
    result: MetricResult,
    metric: Metric,
    same_scale: Sequence[str],
    record: Mapping[str, Any],
    context: Context,
) -> None:
    """No mean over answers on different scales; otherwise name the scale in the definition."""
    key = metric.key
    low, high = same_scale
    lows = {_number(record, f"{key}__{low}_min"), _number(record, f"{key}__{low}_max")}
    highs = {_number(record, f"{key}__{high}_min"), _number(record, f"{key}__{high}_max")}
    if len(lows) > 1 or len(highs) > 1:
        result.value = result.ci_low = result.ci_high = None
        result.reason = "answers use different scales, so one mean would mix them"
    else:
        bottom, top = lows.pop(), highs.pop()
        scale = f" ({bottom:g}-{top:g})"
        if result.value is not None and bottom is not None and top is not None:
            # The t interval can run past the scale's ends on small samples: limit it, and say so.
            interval = statistics.mean_interval(
                result.value, result.extra.get("sd"), result.n, bounds=(bottom, top)
            )
            if (interval.low, interval.high) != (result.ci_low, result.ci_high):
                scale = f" ({bottom:g}-{top:g}; its interval limited to the scale)"
            result.ci_low, result.ci_high = interval.low, interval.high
        result.definition = metric.definition(context, scale=scale)


def _finish_quantiles(
    result: MetricResult, metric: Metric, formula: Formula, record: Mapping[str, Any], _: Context
) -> None:
    result.value = _number(record, f"{metric.key}__median")
    result.extra["p90"] = _number(record, f"{metric.key}__p90")


_FINISH: dict[str, Callable[[MetricResult, Metric, Formula, Mapping[str, Any], Context], None]] = {
    "proportion": _finish_proportion,
    "nps": _finish_nps,
    "mean": _finish_mean,
    "quantiles": _finish_quantiles,
}


# --- indexing the records ------------------------------------------------------------------------


def sort_key(segment: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((value is None, "" if value is None else str(value)) for value in segment)


def _segment_key(record: Mapping[str, Any], by: Sequence[str]) -> tuple[Any, ...]:
    return tuple(_plain(record.get(f)) for f in by)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return value


def index_records(
    found: Iterable[Mapping[str, Any]], by: Sequence[str], grain: str | None
) -> Index:
    """Records by segment and period (several queries' records merge into one entry)."""
    out: Index = {}
    for record in found:
        period = _plain(record.get("period")) if grain else None
        key = (_segment_key(record, by), period)
        out.setdefault(key, {}).update(record)
    return out
