"""The KPI engine: the registry's formulas run set-wise through Ibis, with n and intervals.

``report`` answers "how is the team doing?" for a period, a breakdown and a grain. Per table it
runs a profile (which columns have data, the as-of instant, the data's date range) and one grouped
aggregate whose columns are every selected formula's counts, sums and quantiles; the backlog is one
more query. Python then only turns a few aggregated rows into results (values, Wilson and NPS
intervals, small-sample flags, reasons): nothing walks the data row by row, and nothing in the
expressions is DuckDB-only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
from scipy import stats as scipy_stats

from kpi.engine import statistics
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.metrics.registry import (
    KEYS,
    REGISTRY,
    Context,
    Formula,
    Metric,
    contact_columns,
    sla_columns,
)
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store

Grain = Literal["day", "week", "month"]
GRAINS = ("day", "week", "month")
UNDATED = "undated"

_TRUNCATE = {"day": "D", "week": "W", "month": "M"}
_MICROSECOND = timedelta(microseconds=1)
#: Internal grain of a report over named periods (e.g. "current" and "previous").
NAMED = "named"
_FEW_PERIODS = 64


# --- results -----------------------------------------------------------------------------------


@dataclass
class MetricResult:
    """One KPI for one segment and period. ``value`` is None when it cannot be computed, and
    ``reason`` then says why; rates are percentages 0-100."""

    key: str
    value: float | None
    n: int
    definition: str
    variant: str
    unit: str
    ci_low: float | None = None
    ci_high: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    small_sample: bool = False
    reason: str | None = None
    #: Further figures: p90, promoters/detractors, sd, unanswered or unresolved counts...
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "definition": self.definition,
            "variant": self.variant,
            "unit": self.unit,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "small_sample": self.small_sample,
            "reason": self.reason,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass
class ReportRow:
    #: Breakdown field -> value ({} for the total row).
    segment: dict[str, str | None]
    #: Start date (ISO) of the day, week or month; None for the whole period; "undated".
    period: str | None
    metrics: dict[str, MetricResult]

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": dict(self.segment),
            "period": self.period,
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
        }


@dataclass
class Report:
    filters: Filters
    by: tuple[str, ...]
    grain: str | None
    as_of: datetime
    settings: Settings
    rows: list[ReportRow]
    #: Label -> filters of each named period (report_periods only).
    named: dict[str, Filters] = field(default_factory=dict)

    def total(self, period: str | None = None) -> ReportRow | None:
        """The row over every segment (the only row when there is no breakdown)."""
        return next((r for r in self.rows if not r.segment and r.period == period), None)

    def series(
        self, key: str, segment: Mapping[str, str | None] | None = None
    ) -> list[MetricResult]:
        """One KPI over the dated periods of one segment (the total by default), in order."""
        wanted = dict(segment or {})
        return [
            r.metrics[key]
            for r in self.rows
            if r.segment == wanted and r.period not in (None, UNDATED) and key in r.metrics
        ]

    def split(self) -> list[Report]:
        """A report over named periods as one report per period (rows with period None)."""
        out = []
        for label in dict.fromkeys(r.period for r in self.rows):
            rows = [replace(r, period=None) for r in self.rows if r.period == label]
            out.append(replace(self, grain=None, rows=rows, filters=self.named[label]))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "filters": self.filters.to_dict(),
            "by": list(self.by),
            "grain": self.grain,
            "as_of": self.as_of.isoformat(),
            "timezone": self.settings.timezone,
            "rows": [r.to_dict() for r in self.rows],
        }


# --- connecting --------------------------------------------------------------------------------

_BACKENDS: weakref.WeakKeyDictionary[Store, dict[int, ibis.BaseBackend]] = (
    weakref.WeakKeyDictionary()
)
_BACKENDS_LOCK = threading.Lock()
_TOKENS = itertools.count(1)


def backend_of(source: Store | ibis.BaseBackend) -> ibis.BaseBackend:
    """An Ibis backend for a store (on this thread's cursor), or the backend itself. Backends
    live as long as their store."""
    if not isinstance(source, Store):
        return source
    cursor = source.cursor()  # the store keeps one per thread
    with _BACKENDS_LOCK:
        per_cursor = _BACKENDS.setdefault(source, {})
        backend = per_cursor.get(id(cursor))
        if backend is None or backend.con is not cursor:
            backend = per_cursor[id(cursor)] = ibis.duckdb.from_connection(cursor)
            backend._kpi_store = weakref.ref(source)  # whose version names cached tables
    return backend


def _token(backend: ibis.BaseBackend) -> int:
    """A number that names this backend in caches (unlike id(), never reused by another)."""
    token = getattr(backend, "_kpi_cache_token", None)
    if token is None:
        token = next(_TOKENS)
        backend._kpi_cache_token = token
    return token


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str | None
    #: Naive UTC instants, start inclusive and end exclusive; None = unbounded.
    start: datetime | None
    end: datetime | None


def _to_utc(value: datetime, timezone: str) -> datetime:
    """Naive UTC from an aware instant, or from a naive one that means the reporting zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC).replace(tzinfo=None)


def local_date(instant: datetime, timezone: str) -> date:
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


def _grain_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _grain_next(day: date, grain: str) -> date:
    if grain == "week":
        return day + timedelta(days=7)
    if grain == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


def periods_for(
    filters: Filters, grain: str | None, timezone: str, data_range: tuple[date, date] | None
) -> list[Period]:
    """The report's periods: one for the whole range, or every day/week/month it touches."""
    start, end = filters.utc_bounds(timezone)
    if grain is None:
        return [Period(None, start, end)]
    first = filters.date_from or (data_range[0] if data_range else None)
    last = filters.date_to or (data_range[1] if data_range else None)
    if first is None or last is None:
        return []
    out = []
    day = _grain_start(first, grain)
    while day <= last:
        following = _grain_next(day, grain)
        bounds = Filters(date_from=day, date_to=following - timedelta(days=1))
        lo, hi = bounds.utc_bounds(timezone)
        out.append(Period(day.isoformat(), lo, hi))
        day = following
    return out


def utc_offsets(timezone: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(naive UTC instant, offset seconds from then on)] covering [start, end]: the first entry
    is the offset at ``start``, the rest are the zone's transitions inside the range."""
    zone = ZoneInfo(timezone)

    def offset(instant: datetime) -> int:
        return int(instant.replace(tzinfo=UTC).astimezone(zone).utcoffset().total_seconds())

    out = [(start, offset(start))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != offset(day):
            lo, hi = day, following  # bisect to the second the offset changes
            while hi - lo > timedelta(seconds=1):
                middle = lo + (hi - lo) / 2
                lo, hi = (middle, hi) if offset(middle) == offset(day) else (lo, middle)
            out.append((hi.replace(microsecond=0), offset(following)))
        day = following
    return out


def local_time(column: ir.TimestampValue, offsets: list[tuple[datetime, int]]) -> ir.Value:
    """Naive UTC -> naive local wall-clock time, as a CASE over the zone's few transitions
    (portable: no backend time-zone functions)."""
    if len(offsets) == 1:
        return column + ibis.literal(offsets[0][1]).as_interval("s")
    branches = [(column >= instant, ibis.literal(seconds)) for instant, seconds in offsets[:0:-1]]
    seconds = ibis.cases(*branches, else_=ibis.literal(offsets[0][1]))
    return column + seconds.as_interval("s")


# --- the profile: what the data holds -----------------------------------------------------------


def count_if(condition: ir.BooleanValue) -> ir.IntegerScalar:
    return ibis.ifelse(condition, 1, 0).sum()


def _contact_profile_columns(t: ir.Table) -> dict[str, ir.BooleanValue]:
    return {
        "first_response_at": t.first_response_at.notnull(),
        "resolved_time": t.resolved_at.notnull() | t.closed_at.notnull(),
        "first_contact_resolved": t.first_contact_resolved.notnull(),
        "agent_replies": t.agent_replies.notnull(),
        "customer_key": t.customer_key.notnull(),
        "sla_met": t.sla_met.notnull(),
        "handle_seconds": t.handle_seconds.notnull(),
        "wait_seconds": t.wait_seconds.notnull(),
        "offered": t.answered.notnull() | t.abandoned.notnull(),
        "reopens": t.reopens.notnull(),
        "escalated": t.escalated.notnull(),
        "complaint": t.complaint.notnull(),
    }


def _response_profile_columns(t: ir.Table) -> dict[str, ir.BooleanValue]:
    return {
        "nps": t.nps.notnull(),
        "csat": t.csat.notnull() & t.csat_scale_min.notnull() & t.csat_scale_max.notnull(),
        "ces": t.ces.notnull() & t.ces_scale_min.notnull() & t.ces_scale_max.notnull(),
    }


@dataclass(frozen=True)
class Profile:
    supported: frozenset[str]
    latest: datetime | None
    first_day: datetime | None
    last_day: datetime | None
    undated_responses: int


_PROFILES: dict[tuple[int, str], Profile] = {}
_PROFILE_LOCK = threading.Lock()


def data_profile(backend: ibis.BaseBackend, cache_key: str | None) -> Profile:
    """Which columns hold any data (the whole store: definitions do not flip with filters), the
    latest timestamp (the default as-of) and the data's first and last instants. Cached per store
    version, so a warm dashboard skips it."""
    key = (_token(backend), cache_key) if cache_key else None
    if key and key in _PROFILES:
        return _PROFILES[key]
    contacts, responses = backend.table("contacts"), backend.table("responses")
    c_cols, r_cols = _contact_profile_columns(contacts), _response_profile_columns(responses)
    c = backend.execute(
        contacts.aggregate(
            **{f"has_{k}": count_if(v) for k, v in c_cols.items()},
            **{f"max_{k}": contacts[k].max() for k in _CONTACT_TIMES},
            min_opened=contacts.opened_at.min(),
        )
    ).iloc[0]
    r = backend.execute(
        responses.aggregate(
            **{f"has_{k}": count_if(v) for k, v in r_cols.items()},
            min_responded=responses.responded_at.min(),
            max_responded=responses.responded_at.max(),
            undated=count_if(responses.responded_at.isnull()),
            rows=responses.count(),
        )
    ).iloc[0]
    supported = {k for k in c_cols if as_int(c[f"has_{k}"])} | {
        k for k in r_cols if as_int(r[f"has_{k}"])
    }
    latest = _max_time([c[f"max_{k}"] for k in _CONTACT_TIMES] + [r["max_responded"]])
    profile = Profile(
        supported=frozenset(supported),
        latest=latest,
        first_day=_min_time([c["min_opened"], r["min_responded"]]),
        last_day=_max_time([c["max_opened_at"], r["max_responded"]]),
        undated_responses=as_int(r["undated"]),
    )
    if key:
        with _PROFILE_LOCK:
            _PROFILES[key] = profile
    return profile


_CONTACT_TIMES = ("opened_at", "first_response_at", "resolved_at", "closed_at")


def as_int(value: Any) -> int:
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def _times(values: Iterable[Any]) -> list[datetime]:
    out = []
    for value in values:
        if value is None or value != value:  # None, NaN, NaT
            continue
        out.append(value.to_pydatetime() if hasattr(value, "to_pydatetime") else value)
    return [v.replace(tzinfo=None) for v in out]


def _max_time(values: Iterable[Any]) -> datetime | None:
    times = _times(values)
    return max(times) if times else None


def _min_time(values: Iterable[Any]) -> datetime | None:
    times = _times(values)
    return min(times) if times else None


# --- preparing the tables ----------------------------------------------------------------------


def _formulas(metrics: Sequence[Metric], context: Context) -> dict[str, tuple[str, Formula]]:
    return {m.key: m.choose(context) for m in metrics}


def _needs(chosen: Mapping[str, tuple[str, Formula]], context: Context) -> set[str]:
    return {n for _, f in chosen.values() if f.supported_by(context) for n in f.needs}


def _period_column(
    t: ir.Table,
    column: str,
    grain: str | None,
    offsets: list[tuple[datetime, int]] | None,
    periods: Sequence[Period] = (),
) -> ir.Table:
    """Add ``period``: the local day/week/month start, or the label of a named period (rows in
    none of the named periods are dropped)."""
    if grain == NAMED:
        value = t[column]
        label = ibis.cases(
            *[((value >= p.start) & (value < p.end), ibis.literal(p.label)) for p in periods],
            else_=ibis.null("string"),
        )
        t = t.mutate(period=label)
        return t.filter(t.period.notnull())
    if grain is None or offsets is None:
        return t
    local = local_time(t[column], offsets)
    return t.mutate(period=local.truncate(_TRUNCATE[grain]).date())


def prepare_contacts(
    backend: ibis.BaseBackend,
    filters: Filters,
    context: Context,
    needs: set[str],
    grain: str | None,
    offsets: list[tuple[datetime, int]] | None,
    periods: Sequence[Period] = (),
) -> ir.Table:
    t = backend.table("contacts")
    if "next_contact" in needs:
        # Over every contact, before filters: a repeat may fall outside the period or segment.
        order = [t.opened_at, t.source, t.contact_id]
        window = ibis.window(group_by=t.customer_key, order_by=order)
        t = t.mutate(next_opened=t.opened_at.lead().over(window))
    predicates = filters.segment_predicates(t) + filters.date_predicates(
        t, "opened_at", context.settings.timezone
    )
    if predicates:
        t = t.filter(*predicates)
    t = t.mutate(**contact_columns(t, context))
    if "elapsed" in needs:
        t = _elapsed(backend, t, context, filters)
        t = t.mutate(**sla_columns(t, context))
    return _period_column(t, "opened_at", grain, offsets, periods)


def _elapsed(
    backend: ibis.BaseBackend, t: ir.Table, context: Context, filters: Filters
) -> ir.Table:
    """fr_elapsed and res_elapsed in seconds, business or calendar; never negative."""
    from kpi.engine import calendar  # imported here: only timed KPIs need the calendar

    if context.settings.hours == "business":
        return _business_elapsed(backend, t, context, filters)
    columns = {}
    for out, end in (("fr_elapsed", "fr_end"), ("res_elapsed", "res_end")):
        seconds = calendar.calendar_seconds(t.opened_at, t[end])
        columns[out] = ibis.ifelse(seconds < 0, 0.0, seconds)
    return t.mutate(**columns)


def _business_elapsed(
    backend: ibis.BaseBackend, t: ir.Table, context: Context, filters: Filters
) -> ir.Table:
    """Business-hours fr_elapsed and res_elapsed.

    A clock ends at the first response, the resolution or the as-of instant (``fr_end``,
    ``res_end``). The first two are fixed instants, so their business seconds come from
    ``_fixed_elapsed``, materialised once per store version and business hours; only contacts
    still open are measured to as-of, here. Which end applies stays ``contact_columns``' choice.
    """
    from kpi.engine import calendar

    hours = context.settings.calendar()
    store = getattr(backend, "_kpi_store", lambda: None)()
    version = _version(store) if store is not None else None
    fixed = _fixed_elapsed(backend, hours, version)
    first_day = data_profile(backend, version).first_day
    # Matching the opening time too lets the backend skip the stored rows outside the period.
    keys = [
        t.opened_at == fixed._fx_opened,
        t.source == fixed._fx_source,
        t.contact_id == fixed._fx_id,
    ]
    joined = t.left_join(fixed, keys)
    t = joined.select(*t.columns, "_fx_fr", "_fx_res")
    as_of = ibis.literal(context.as_of, type="timestamp")
    day = context.as_of.date()
    first = first_day.date() if first_day else day
    span = (min(first, day), max(first, day))
    # The selection's contacts still open at as-of, measured to as-of: read from the table with
    # the same filters rather than from ``t``, so the backend does not compute ``t`` twice.
    c = backend.table("contacts")
    predicates = filters.segment_predicates(c) + filters.date_predicates(
        c, "opened_at", context.settings.timezone
    )
    c = c.filter(*predicates, contact_columns(c, context)["is_open"])
    c = c.select(_op_source=c.source, _op_id=c.contact_id, _op_opened=c.opened_at, _op_end=as_of)
    still_open = calendar.business_seconds(
        backend, c, "_op_opened", "_op_end", hours, "_fx_asof", span
    )
    keys = [
        t.opened_at == still_open._op_opened,
        t.source == still_open._op_source,
        t.contact_id == still_open._op_id,
    ]
    joined = t.left_join(still_open, keys)
    t = joined.select(*t.columns, "_fx_asof")

    def elapsed(end: ir.TimestampValue) -> ir.FloatingValue:
        # Seconds depend only on the two instants, so match the end by value.
        return ibis.cases(
            (end.isnull(), ibis.null("float64")),
            (end == t.first_response_at, t._fx_fr),
            (end == t.resolved_time, t._fx_res),
            else_=t._fx_asof,
        )

    t = t.mutate(fr_elapsed=elapsed(t.fr_end), res_elapsed=elapsed(t.res_end))
    return t.drop("_fx_fr", "_fx_res", "_fx_asof")


_FIXED_SCHEMA = "_kpi_cache"
_FIXED_KEEP = 2
_FIXED_LOCK = threading.Lock()
_FIXED_ORDER: list[str] = []


def _fixed_expr(backend: ibis.BaseBackend, hours: Any) -> ir.Table:
    """Business seconds from opening to the first response and to the resolution, per contact
    (null where that instant is unknown), with the same calendar function as open clocks."""
    from kpi.engine import calendar
    from kpi.metrics.registry import resolved_time_of

    c = backend.table("contacts")
    t = c.select(
        _fx_source=c.source,
        _fx_id=c.contact_id,
        _fx_opened=c.opened_at,
        _fx_fr_end=c.first_response_at,
        _fx_res_end=resolved_time_of(c),
    )
    t = calendar.business_seconds(backend, t, "_fx_opened", "_fx_fr_end", hours, "_fx_fr")
    t = t.view()  # the second call joins the same interval table again
    t = calendar.business_seconds(backend, t, "_fx_opened", "_fx_res_end", hours, "_fx_res")
    return t.select("_fx_opened", "_fx_source", "_fx_id", "_fx_fr", "_fx_res")


def _fixed_elapsed(backend: ibis.BaseBackend, hours: Any, version: str | None) -> ir.Table:
    """The fixed-end business seconds per contact.

    For a store on DuckDB, a table in an in-memory database attached to the store's connection
    (every cursor sees it), named after a digest of the store's version and the business hours:
    an import or a settings change names a new table, so it is never stale. Other backends, and
    bare backends (whose data has no version), get the expression.
    """
    if version is None or backend.name != "duckdb":
        return _fixed_expr(backend, hours)
    key = json.dumps([version, hours.to_dict()], sort_keys=True, default=str)
    name = "fixed_elapsed_" + hashlib.sha1(key.encode()).hexdigest()[:16]
    with _FIXED_LOCK:
        con = backend.con
        try:
            con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {_FIXED_SCHEMA}")
        except duckdb.Error:  # e.g. a read-only store: no in-memory database beside it
            return _fixed_expr(backend, hours)
        existing = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [_FIXED_SCHEMA]
            ).fetchall()
        }
        if name not in existing:
            # In opening order, so that a period's rows are a few adjacent row groups.
            expr = _fixed_expr(backend, hours).order_by("_fx_opened")
            sql = str(backend.compile(expr))
            con.execute(f"CREATE TABLE {_FIXED_SCHEMA}.{name} AS {sql}")
            # Keep the newest few: another thread may still read the previous version's.
            if name in _FIXED_ORDER:
                _FIXED_ORDER.remove(name)
            _FIXED_ORDER.append(name)
            del _FIXED_ORDER[:-_FIXED_KEEP]
            for old in existing - set(_FIXED_ORDER):
                con.execute(f"DROP TABLE IF EXISTS {_FIXED_SCHEMA}.{old}")
    return backend.table(name, database=_FIXED_SCHEMA)


def prepare_responses(
    backend: ibis.BaseBackend,
    filters: Filters,
    by: Sequence[str],
    timezone: str,
    grain: str | None,
    offsets: list[tuple[datetime, int]] | None,
    periods: Sequence[Period] = (),
) -> ir.Table:
    """Responses with their segment fields; a field the answer lacks (priority always) comes
    from the contact it is linked to."""
    t = backend.table("responses")
    fields = sorted(set(by) | set(filters.segments()))
    if fields:
        contacts = backend.table("contacts")
        lookup = contacts.group_by(_cid=contacts.contact_id).aggregate(
            **{f"_c_{f}": contacts[f].max() for f in fields}
        )
        joined = t.left_join(lookup, t.contact_id == lookup._cid)
        own = set(t.columns)
        t = joined.select(
            *[joined[c] for c in t.columns if c not in fields],
            **{
                f: ibis.coalesce(joined[f], joined[f"_c_{f}"]) if f in own else joined[f"_c_{f}"]
                for f in fields
            },
        )
    predicates = filters.segment_predicates(t) + filters.date_predicates(
        t, "responded_at", timezone
    )
    if predicates:
        t = t.filter(*predicates)
    return _period_column(t, "responded_at", grain, offsets, periods)


# --- aggregating -------------------------------------------------------------------------------


def _aggregates(
    t: ir.Table, chosen: Mapping[str, tuple[str, Formula]], context: Context
) -> dict[str, ir.Scalar]:
    """Every selected formula's counts, sums and quantiles, as named aggregate expressions."""
    out: dict[str, ir.Scalar] = {}
    for key, (_, f) in chosen.items():
        if f.kind == "stock" or not f.supported_by(context):
            continue
        population = f.population(t, context)
        if f.kind in ("count",):
            out[f"{key}__n"] = t.count()
            continue
        if f.kind in ("mean", "quantiles"):
            value = f.value(t, context)
            population = population & value.notnull()
        out[f"{key}__n"] = count_if(population)
        if f.kind == "proportion":
            out[f"{key}__x"] = count_if(population & f.success(t, context))
        elif f.kind == "nps":
            out[f"{key}__x"] = count_if(population & f.success(t, context))
            out[f"{key}__y"] = count_if(population & f.failure(t, context))
        elif f.kind == "mean":
            out[f"{key}__sum"] = value.sum(where=population)
            out[f"{key}__sumsq"] = (value * value).sum(where=population)
        elif f.kind == "quantiles":
            out[f"{key}__median"] = value.quantile(0.5, where=population)
            out[f"{key}__p90"] = value.quantile(0.9, where=population)
        for name, rows in f.extra_counts.items():
            out[f"{key}__extra_{name}"] = count_if(rows(t, context))
        if f.same_scale:
            for column in f.same_scale:
                out[f"{key}__{column}_min"] = t[column].min(where=population)
                out[f"{key}__{column}_max"] = t[column].max(where=population)
    return out


def _aggregate(t: ir.Table, keys: Sequence[str], aggs: Mapping[str, ir.Scalar]) -> ir.Table | None:
    if not aggs:
        return None
    return t.group_by(list(keys)).aggregate(**aggs) if keys else t.aggregate(**aggs)


_COMPILED: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_COMPILED_LOCK = threading.Lock()
_COMPILED_MAX = 512


def _records(
    backend: ibis.BaseBackend,
    build: Callable[[], ir.Table | None],
    cache_key: tuple[Any, ...] | None = None,
) -> list[dict[str, Any]]:
    """Run the aggregate ``build`` makes, as a list of dicts.

    On DuckDB the compiled SQL of each distinct query (same store version, filters, settings,
    as-of...) is kept: Ibis's compiler takes longer than DuckDB's run, and a dashboard asks the
    same questions on every rerun. Other backends run the expression as usual.
    """
    if cache_key is None or backend.name != "duckdb":
        expr = build()
        return [] if expr is None else backend.execute(expr).to_dict("records")
    sql = _COMPILED.get(cache_key)
    if sql is None:
        expr = build()
        sql = "" if expr is None else str(backend.compile(expr))
        with _COMPILED_LOCK:
            _COMPILED[cache_key] = sql
            while len(_COMPILED) > _COMPILED_MAX:
                _COMPILED.popitem(last=False)
    if not sql:
        return []
    cursor = backend.con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _open_at(t: ir.Table, end: ir.TimestampValue) -> ir.BooleanValue:
    """Opened before ``end`` and not resolved by it; resolved at an unknown time is not open."""
    resolved_time = ibis.coalesce(t.resolved_at, t.closed_at)
    done = t.status.isin(["resolved", "closed"]).fill_null(False)
    undated_done = resolved_time.isnull() & done
    return (t.opened_at < end) & ~((resolved_time < end).fill_null(False) | undated_done)


def _backlog(
    backend: ibis.BaseBackend,
    filters: Filters,
    periods: Sequence[Period],
    as_of: datetime,
    keys: Sequence[str],
    cache_key: tuple[Any, ...] | None,
) -> list[dict[str, Any]]:
    """Contacts open at each period's end (capped at as-of), whenever they were opened."""
    cap = as_of + _MICROSECOND

    def tracked() -> ir.Table:
        t = backend.table("contacts")
        t = t.filter(*filters.segment_predicates(t)) if filters.segments() else t
        # Untracked contacts (no status, no times: calls in a call log) are never open.
        lifecycle = t.status.notnull() | t.resolved_at.notnull() | t.closed_at.notnull()
        return t.filter(lifecycle | t.first_response_at.notnull())

    if len(periods) == 1 and periods[0].label is None:
        end = ibis.literal(min(periods[0].end or cap, cap), type="timestamp")

        def whole() -> ir.Table | None:
            t = tracked()
            return _aggregate(t, keys, {"backlog__n": count_if(_open_at(t, end))})

        return _records(backend, whole, cache_key)

    def per_period() -> ir.Table | None:
        ends = ibis.memtable(
            {
                "period": [date.fromisoformat(p.label) for p in periods],
                "_end": [min(p.end, cap) for p in periods],
            }
        ).cast({"_end": "timestamp"})
        joined = tracked().cross_join(ends)
        still_open = joined.filter(_open_at(joined, joined._end))
        return _aggregate(still_open, [*keys, "period"], {"backlog__n": still_open.count()})

    if len(periods) <= _FEW_PERIODS:
        # One conditional count per period end: a plain aggregate, so its SQL can be cached.
        def few() -> ir.Table | None:
            t = tracked()
            ends = [ibis.literal(min(p.end, cap), type="timestamp") for p in periods]
            counts = {f"backlog__{i}": count_if(_open_at(t, end)) for i, end in enumerate(ends)}
            return _aggregate(t, keys, counts)

        out = []
        for record in _records(backend, few, cache_key):
            segment = {k: record[k] for k in keys}
            for i, p in enumerate(periods):
                out.append({**segment, "period": p.label, "backlog__n": record[f"backlog__{i}"]})
        return out
    # Not cached as SQL: the periods are an in-memory table Ibis registers when it executes.
    return _records(backend, per_period)


# --- from aggregates to results ----------------------------------------------------------------


def _number(record: Mapping[str, Any], name: str) -> float | None:
    value = record.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _percent(interval: statistics.Interval) -> tuple[float | None, float | None]:
    if interval.low is None or interval.high is None:
        return None, None
    return 100.0 * interval.low, 100.0 * interval.high


def _mean_interval(mean: float, sd: float | None, n: int) -> tuple[float | None, float | None]:
    if sd is None or n < 2:
        return None, None
    margin = scipy_stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return mean - margin, mean + margin


def finish(
    metric: Metric,
    variant: str,
    formula: Formula,
    record: Mapping[str, Any],
    context: Context,
) -> MetricResult:
    """One KPI's result from its aggregated counts for one segment and period."""
    key = metric.key
    definition = metric.definition(context)
    base = {"key": key, "definition": definition, "variant": variant, "unit": metric.unit}
    if not formula.supported_by(context):
        return MetricResult(value=None, n=0, reason=formula.missing, **base)
    n = as_int(record.get(f"{key}__n"))
    extra = {name: as_int(record.get(f"{key}__extra_{name}")) for name in formula.extra_counts}
    result = MetricResult(value=None, n=n, extra=extra, **base)
    if formula.kind in ("count", "stock"):
        result.value = float(n)
        return result
    result.small_sample = statistics.is_small_sample(n, context.settings.minimum_n)
    if n == 0:
        result.reason = f"no {formula.population_name} in this selection"
        return result
    if formula.kind == "proportion":
        x = as_int(record.get(f"{key}__x"))
        result.value = 100.0 * x / n
        result.numerator, result.denominator = x, n
        result.ci_low, result.ci_high = _percent(statistics.wilson_interval(x, n))
    elif formula.kind == "nps":
        promoters, detractors = as_int(record.get(f"{key}__x")), as_int(record.get(f"{key}__y"))
        result.value = 100.0 * (promoters - detractors) / n
        result.numerator, result.denominator = promoters - detractors, n
        interval = statistics.nps_interval(promoters, detractors, n)
        result.ci_low, result.ci_high = interval.low, interval.high
        result.extra.update(promoters=promoters, detractors=detractors)
    elif formula.kind == "mean":
        total, squares = _number(record, f"{key}__sum") or 0.0, _number(record, f"{key}__sumsq")
        mean = total / n
        sd = None
        if n >= 2 and squares is not None:
            sd = math.sqrt(max(squares - n * mean * mean, 0.0) / (n - 1))
        result.value = mean
        result.ci_low, result.ci_high = _mean_interval(mean, sd, n)
        result.extra["sd"] = sd
        if formula.same_scale:
            low, high = formula.same_scale
            lows = {_number(record, f"{key}__{low}_min"), _number(record, f"{key}__{low}_max")}
            highs = {_number(record, f"{key}__{high}_min"), _number(record, f"{key}__{high}_max")}
            if len(lows) > 1 or len(highs) > 1:
                result.value = result.ci_low = result.ci_high = None
                result.reason = "answers use different scales, so one mean would mix them"
            else:
                scale = f" ({lows.pop():g}-{highs.pop():g})"
                result.definition = metric.definition(context, scale=scale)
    elif formula.kind == "quantiles":
        result.value = _number(record, f"{key}__median")
        result.extra["p90"] = _number(record, f"{key}__p90")
    return result


def _sort_key(segment: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
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


def _index(
    records: Iterable[Mapping[str, Any]], by: Sequence[str], grain: str | None
) -> dict[tuple[tuple[Any, ...], str | None], dict[str, Any]]:
    out: dict[tuple[tuple[Any, ...], str | None], dict[str, Any]] = {}
    for record in records:
        period = _plain(record.get("period")) if grain else None
        key = (_segment_key(record, by), period)
        out.setdefault(key, {}).update(record)
    return out


# --- the report --------------------------------------------------------------------------------


_VERSIONS = threading.local()


def _version(source: Store | ibis.BaseBackend) -> str | None:
    """The store's data version (None for a bare backend), read once per outermost call: an
    overview asks for it several times, and each read is a few queries."""
    if not isinstance(source, Store):
        return None
    pinned = getattr(_VERSIONS, "pinned", None)
    if pinned is not None and pinned[0] is source:
        return pinned[1]
    return source.version()


@contextmanager
def _one_version(source: Store | ibis.BaseBackend) -> Iterator[None]:
    """Within the block, the store's version is read once (nested blocks reuse it)."""
    if not isinstance(source, Store) or getattr(_VERSIONS, "pinned", None) is not None:
        yield
        return
    _VERSIONS.pinned = (source, source.version())
    try:
        yield
    finally:
        _VERSIONS.pinned = None


def _key(base: tuple[Any, ...] | None, *parts: Any) -> tuple[Any, ...] | None:
    return None if base is None else (*base, *parts)


def _check(by: Sequence[str], grain: str | None, keys: Sequence[str]) -> None:
    unknown = [f for f in by if f not in SEGMENT_FIELDS]
    if unknown:
        raise ValueError(
            f"cannot break down by {', '.join(unknown)}; choose from {', '.join(SEGMENT_FIELDS)}"
        )
    if grain is not None and grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}; choose day, week or month")
    bad = [k for k in keys if k not in REGISTRY]
    if bad:
        raise ValueError(f"unknown KPI {', '.join(bad)}; choose from {', '.join(KEYS)}")


def report(
    source: Store | ibis.BaseBackend,
    filters: Filters | None = None,
    by: Sequence[str] = (),
    grain: Grain | None = None,
    as_of: datetime | None = None,
    settings: Settings | None = None,
    metrics: Sequence[str] | None = None,
) -> Report:
    """Every selected KPI (all by default) for each segment of ``by`` and each period of
    ``grain`` (or the whole period), with a total row over all segments when ``by`` is given.

    ``as_of`` (aware, or naive in the reporting time zone) is when open contacts are judged;
    the latest timestamp in the data by default.
    """
    _check(by, grain, tuple(metrics) if metrics is not None else KEYS)
    return _compute(source, filters or Filters(), by, grain, {}, as_of, settings, metrics)


def report_periods(
    source: Store | ibis.BaseBackend,
    periods: Mapping[str, Filters],
    by: Sequence[str] = (),
    as_of: datetime | None = None,
    settings: Settings | None = None,
    metrics: Sequence[str] | None = None,
) -> Report:
    """Several named periods (e.g. {"current": f, "previous": f.previous_period()}) in one pass:
    one row per label (and segment). Each needs both dates; segment filters must agree."""
    named = dict(periods)
    if not named:
        raise ValueError("give at least one named period")
    segments = {tuple(sorted(f.segments().items())) for f in named.values()}
    if len(segments) > 1 or any(f.days is None for f in named.values()):
        raise ValueError("named periods need both dates and the same segment filters")
    _check(by, None, tuple(metrics) if metrics is not None else KEYS)
    first = next(iter(named.values()))
    return _compute(source, first, by, NAMED, named, as_of, settings, metrics)


def _compute(
    source: Store | ibis.BaseBackend,
    filters: Filters,
    by: Sequence[str],
    grain: str | None,
    named: Mapping[str, Filters],
    as_of: datetime | None,
    settings: Settings | None,
    metrics: Sequence[str] | None,
) -> Report:
    by = tuple(dict.fromkeys(by))
    keys = tuple(metrics) if metrics is not None else KEYS
    if settings is None:
        settings = load_settings(source) if isinstance(source, Store) else Settings()
    backend = backend_of(source)
    version = _version(source)
    profile = data_profile(backend, version)
    instant = (
        _to_utc(as_of, settings.timezone)
        if as_of is not None
        else profile.latest or datetime.now(UTC).replace(tzinfo=None)
    )
    context = Context(settings, instant, profile.supported)
    data_range = None
    if profile.first_day and profile.last_day:
        data_range = (
            local_date(profile.first_day, settings.timezone),
            local_date(profile.last_day, settings.timezone),
        )
    if grain == NAMED:
        periods = [Period(label, *f.utc_bounds(settings.timezone)) for label, f in named.items()]
        # Read every row of the envelope once; the period column sorts them into the periods.
        filters = filters.with_dates(
            min(f.date_from for f in named.values()), max(f.date_to for f in named.values())
        )
    else:
        periods = periods_for(filters, grain, settings.timezone, data_range)
    offsets = None
    if grain not in (None, NAMED) and periods:
        offsets = utc_offsets(
            settings.timezone,
            periods[0].start - timedelta(days=1),
            periods[-1].end + timedelta(days=1),
        )

    selected = [REGISTRY[k] for k in keys]
    contact_metrics = [m for m in selected if m.table == "contacts"]
    response_metrics = [m for m in selected if m.table == "responses"]
    c_chosen = _formulas(contact_metrics, context)
    r_chosen = _formulas(response_metrics, context)

    cache_key = None
    if isinstance(source, Store):  # what decides the SQL text; the store version covers data
        cache_key = (
            _token(backend),
            version,
            filters,
            grain,
            tuple(periods),
            instant,
            json.dumps(settings.to_dict(), sort_keys=True, default=str),
            keys,
            profile.supported,
        )
    groupings = [by, ()] if by else [()]
    indexes: dict[tuple[str, ...], dict] = {}
    for segment_by in groupings:
        keys_ = [*segment_by, *(["period"] if grain else [])]
        records: list[dict[str, Any]] = []
        if any(f.kind != "stock" and f.supported_by(context) for _, f in c_chosen.values()):

            def contacts_query(segment_by=segment_by, keys_=keys_) -> ir.Table | None:
                needs = _needs(c_chosen, context)
                t = prepare_contacts(backend, filters, context, needs, grain, offsets, periods)
                return _aggregate(t, keys_, _aggregates(t, c_chosen, context))

            records += _records(backend, contacts_query, _key(cache_key, "contacts", segment_by))
        if "backlog" in c_chosen and periods:
            records += _backlog(
                backend,
                filters,
                periods,
                instant,
                segment_by,
                _key(cache_key, "backlog", segment_by),
            )
        if response_metrics:

            def responses_query(segment_by=segment_by, keys_=keys_) -> ir.Table | None:
                t = prepare_responses(
                    backend, filters, segment_by, settings.timezone, grain, offsets, periods
                )
                return _aggregate(t, keys_, _aggregates(t, r_chosen, context))

            records += _records(backend, responses_query, _key(cache_key, "responses", segment_by))
        indexes[segment_by] = _index(records, segment_by, grain)

    rows = []
    labels: list[str | None] = [p.label for p in periods] if grain else [None]
    undated = (
        grain not in (None, NAMED)
        and response_metrics
        and filters.date_from is None
        and filters.date_to is None
        and profile.undated_responses > 0
    )
    if undated:  # with a grain, undated answers are a row of their own ("undated" in trends)
        labels.append(UNDATED)
    for segment_by in reversed(groupings):  # the total first, then the segments
        index = indexes[segment_by]
        segments = sorted({k[0] for k in index}, key=_sort_key) if segment_by else [()]
        for segment in segments or [tuple(None for _ in segment_by)]:
            for label in labels:
                # Undated answers were grouped under period null.
                record = index.get((segment, None if label == UNDATED else label), {})
                chosen = r_chosen if label == UNDATED else {**c_chosen, **r_chosen}
                results = {
                    k: finish(REGISTRY[k], *chosen[k], record, context) for k in keys if k in chosen
                }
                rows.append(ReportRow(dict(zip(segment_by, segment, strict=True)), label, results))
    if grain == NAMED:
        filters = next(iter(named.values()))
    return Report(filters, by, grain, instant, settings, rows, dict(named))


# --- change, trends and the dashboard overview ---------------------------------------------------


@dataclass(frozen=True)
class Change:
    """Current against previous: the difference (percentage points, NPS points or the unit) and
    whether a test says it is more than noise. ``test`` names the test; None when untestable."""

    key: str
    difference: float | None
    p_value: float | None
    significant: bool
    test: str | None


def change(current: MetricResult, previous: MetricResult) -> Change:
    """Two-proportion z-test for rates, the NPS difference over sqrt(SE1^2 + SE2^2), Welch's t
    for means; medians and counts get the difference only."""
    difference = None
    if current.value is not None and previous.value is not None:
        difference = current.value - previous.value
    if difference is None or current.variant != previous.variant:
        return Change(current.key, difference, None, False, None)
    outcome, test = None, None
    if current.numerator is not None and "promoters" not in current.extra:
        outcome = statistics.two_proportion_test(
            previous.numerator, previous.denominator, current.numerator, current.denominator
        )
        test = "two-proportion z-test"
    elif "promoters" in current.extra:
        outcome = statistics.nps_change_test(
            previous.extra["promoters"],
            previous.extra["detractors"],
            previous.n,
            current.extra["promoters"],
            current.extra["detractors"],
            current.n,
        )
        test = "NPS z-test (SE of the difference = sqrt(SE1^2 + SE2^2))"
    elif current.extra.get("sd") is not None and previous.extra.get("sd") is not None:
        outcome = statistics.mean_change_test(
            previous.value,
            previous.extra["sd"],
            previous.n,
            current.value,
            current.extra["sd"],
            current.n,
        )
        test = "Welch's t-test"
    if outcome is None or outcome.p_value is None:
        return Change(current.key, difference, None, False, None)
    return Change(current.key, difference, outcome.p_value, bool(outcome.significant), test)


@dataclass
class Trend:
    """One KPI week by week, with XmR control limits and run-rule signals (None if < 2 points)."""

    key: str
    periods: list[str]
    results: list[MetricResult]
    chart: statistics.ControlChart | None

    @property
    def values(self) -> list[float | None]:
        return [r.value for r in self.results]


def trend_window(filters: Filters, weeks: int, as_of: datetime, timezone: str) -> Filters:
    """The last ``weeks`` whole weeks (Monday to Sunday) up to the filter's end date, or up to
    the as-of date when there is none."""
    end = filters.date_to or local_date(as_of, timezone)
    last_monday = _grain_start(end, "week")
    return filters.with_dates(last_monday - timedelta(weeks=weeks - 1), end)


def trends_from(report_: Report, keys: Sequence[str]) -> dict[str, Trend]:
    periods = [r.period for r in report_.rows if not r.segment and r.period not in (None, UNDATED)]
    out = {}
    for key in keys:
        results = report_.series(key)
        out[key] = Trend(key, periods, results, statistics.xmr_limits([r.value for r in results]))
    return out


def trend(
    source: Store | ibis.BaseBackend,
    filters: Filters | None = None,
    keys: Sequence[str] = ("csat", "fcr", "sla", "first_response_hours"),
    weeks: int = 12,
    as_of: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, Trend]:
    """Weekly series of a few KPIs over the last ``weeks`` weeks, with XmR limits."""
    filters = filters or Filters()
    if settings is None:
        settings = load_settings(source) if isinstance(source, Store) else Settings()
    with _one_version(source):
        instant = _to_utc(as_of, settings.timezone) if as_of else _latest(source, settings)
        window = trend_window(filters, weeks, instant, settings.timezone)
        weekly = report(source, window, grain="week", as_of=as_of, settings=settings, metrics=keys)
    return trends_from(weekly, keys)


def _latest(source: Store | ibis.BaseBackend, settings: Settings) -> datetime:
    profile = data_profile(backend_of(source), _version(source))
    return profile.latest or datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Overview:
    """What a dashboard's overview page shows: every KPI now and before, the changes, and
    weekly trends of a few."""

    current: Report
    previous: Report
    changes: dict[str, Change]
    trends: dict[str, Trend]


def overview(
    source: Store | ibis.BaseBackend,
    filters: Filters,
    trend_keys: Sequence[str] = ("csat", "fcr", "sla", "first_response_hours"),
    weeks: int = 12,
    as_of: datetime | None = None,
    settings: Settings | None = None,
) -> Overview:
    """Every KPI for the period and the previous period, their changes, and weekly trends."""
    if settings is None:
        settings = load_settings(source) if isinstance(source, Store) else Settings()
    with _one_version(source):
        both = report_periods(
            source,
            {"current": filters, "previous": filters.previous_period()},
            as_of=as_of,
            settings=settings,
        )
        current, previous = both.split()
        now, before = current.total(), previous.total()
        changes = {k: change(now.metrics[k], before.metrics[k]) for k in now.metrics}
        trends = trend(source, filters, trend_keys, weeks, as_of, settings)
    return Overview(current, previous, changes, trends)
