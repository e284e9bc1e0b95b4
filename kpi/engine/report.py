"""The KPI engine's entry points: the registry's formulas run set-wise through Ibis, with n and
intervals.

``report`` answers "how is the team doing?" for a period, a breakdown and a grain. Per table it
runs a profile (which columns have data, the as-of instant, the data's date range) and one grouped
aggregate whose columns are every selected formula's counts, sums and quantiles; the backlog is one
more query. Python then only turns a few aggregated rows into results (values, Wilson and NPS
intervals, small-sample flags, reasons): nothing walks the data row by row, and nothing in the
expressions is DuckDB-only.

The steps live in modules named for them: ``results`` (what a report holds), ``backend`` (backends
and the engine's caches), ``timeline`` (periods and time zones), ``profile``, ``preparation``,
``aggregation`` and ``change`` (changes and trends). Each name is imported from the module that
owns it; this one owns the entry points (``report``, ``report_periods``, ``trend``, ``overview``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from kpi.engine.aggregation import (
    Index,
    Record,
    aggregate,
    aggregates,
    backlog,
    finish,
    index_records,
    records,
    sort_key,
)
from kpi.engine.backend import CACHE, Slots, SlotValue, backend_of
from kpi.engine.calendar import STORED_TIMES
from kpi.engine.change import Change, Trend, change, trend_window, trends_from
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.engine.intervals import interval_indexes, with_interval_segments, with_intervals
from kpi.engine.preparation import (
    Chosen,
    formulas,
    instants,
    needs,
    prepare_contacts,
    prepare_responses,
    prepared_clocks,
)
from kpi.engine.profile import Profile, data_profile
from kpi.engine.results import UNDATED, MetricResult, Report, ReportRow
from kpi.engine.sql_shelf import Shelf, shelf_for
from kpi.engine.timeline import (
    GRAINS,
    NAMED,
    Grain,
    Offsets,
    Period,
    coverage_note,
    local_date,
    offsets_around,
    offsets_for,
    periods_for,
    to_utc,
)
from kpi.errors import InvalidChoice
from kpi.metrics.registry import KEYS, REGISTRY, Context
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store


def _check(by: Sequence[str], grain: str | None, keys: Sequence[str]) -> None:
    unknown = [f for f in by if f not in SEGMENT_FIELDS]
    if unknown:
        raise InvalidChoice(
            f"cannot break down by {', '.join(unknown)}; choose from {', '.join(SEGMENT_FIELDS)}"
        )
    if grain is not None and grain not in GRAINS:
        raise InvalidChoice(f"unknown grain {grain!r}; choose day, week or month")
    bad = [k for k in keys if k not in REGISTRY]
    if bad:
        raise InvalidChoice(f"unknown KPI {', '.join(bad)}; choose from {', '.join(KEYS)}")


def _settings_of(source: Store | ibis.BaseBackend, settings: Settings | None) -> Settings:
    """The given settings, else the store's, else the defaults (a bare backend has none)."""
    if settings is not None:
        return settings
    return load_settings(source) if isinstance(source, Store) else Settings()


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
        raise InvalidChoice("named periods need both dates and the same segment filters")
    _check(by, None, tuple(metrics) if metrics is not None else KEYS)
    first = next(iter(named.values()))
    return _compute(source, first, by, NAMED, named, as_of, settings, metrics)


# --- computing a report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What one report runs: the backend, the selection (for named periods, the envelope of all
    of them), its periods, the chosen formulas, the key its compiled SQL is cached under and the
    instants that SQL takes as parameters."""

    backend: ibis.BaseBackend
    filters: Filters
    grain: str | None
    periods: list[Period]
    offsets: Offsets | None
    context: Context
    keys: tuple[str, ...]
    contact_formulas: Chosen
    response_formulas: Chosen
    #: Undated answers are a row of their own (grain, no dates, and some answers undated).
    undated_row: bool
    #: The store holds interval reports (the data profile says), so the report asks them.
    intervals: bool
    cache_key: tuple[Any, ...] | None
    instants: dict[str, SlotValue]
    #: Where the report's SQL is kept for the next process (``kpi.engine.sql_shelf``).
    shelf: Shelf | None = None

    @cached_property  # once per plan, not per cell (a weekly report by channel has 10,000)
    def definitions(self) -> dict[str, str]:
        """Each selected KPI's definition under this plan's context."""
        return {k: REGISTRY[k].definition(self.context) for k in self.keys}

    @cached_property  # once per plan: every row looks its period up (hundreds, by day)
    def coverage(self) -> dict[str | None, Period]:
        """Each dated period by label, with the days it has and the days covered."""
        return {p.label: p for p in self.periods if p.days is not None}


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
    settings = _settings_of(source, settings)
    with CACHE.one_version(source):  # read by the plan and the business-hours check
        plan = _plan(source, filters, grain, named, as_of, settings, metrics)
    groupings = [by, ()] if by else [()]
    contacts = _contact_records(plan, by)
    indexes = {
        segment_by: index_records(
            contacts.get(segment_by, []) + _query(plan, segment_by), segment_by, grain
        )
        for segment_by in groupings
    }
    # A segment or period only interval reports hold gets its row too (kpi.engine.intervals).
    found = interval_indexes(
        plan.backend, plan.filters, groupings, grain, plan.periods, plan.offsets,
        settings.timezone, plan.keys, plan.cache_key, plan.intervals, plan.shelf,
    )  # fmt: skip
    with_interval_segments(indexes, found)
    rows = [
        row
        for segment_by in reversed(groupings)  # the total first, then the segments
        for row in _rows(plan, segment_by, indexes[segment_by])
    ]
    if grain == NAMED:
        filters = next(iter(named.values()))
    result = Report(filters, by, grain, plan.context.as_of, settings, rows, dict(named))
    # Call KPIs from interval reports where a row has no call-level rows (one source each).
    with_intervals(plan.backend, result, plan.filters, plan.periods, plan.offsets, found)
    return result


def _plan(
    source: Store | ibis.BaseBackend,
    filters: Filters,
    grain: str | None,
    named: Mapping[str, Filters],
    as_of: datetime | None,
    settings: Settings,
    metrics: Sequence[str] | None,
) -> _Plan:
    timezone = settings.timezone
    backend = backend_of(source)
    version = CACHE.version(source)
    profile = data_profile(backend, version)
    instant = to_utc(as_of, timezone) if as_of is not None else _latest_or_now(profile)
    context = Context(settings, instant, profile.supported, profile.status_sources)
    filters, periods = _periods(filters, grain, named, timezone, profile)
    keys = tuple(metrics) if metrics is not None else KEYS
    selected = [REGISTRY[k] for k in keys]
    response_formulas = formulas([m for m in selected if m.table == "responses"], context)
    contact_formulas = formulas([m for m in selected if m.table == "contacts"], context)
    offsets = _offsets(timezone, grain, periods, profile)
    cache_key, shelf = None, None
    if isinstance(source, Store):  # a bare backend's data has no version to key SQL by
        # Bringing the business-hours tables up to date first keys the SQL by the version
        # they move the store on to, as every later report will be.
        clocks = prepared_clocks(backend, context, needs(contact_formulas, context))
        times = None if clocks is None else str(clocks.times.get_name())
        if times is not None:
            version = CACHE.version(source)
        # The SQL serves every cursor of the store, unless it reads one's temporary table.
        shared = times in (None, STORED_TIMES)
        owner = CACHE.data_token(backend) if shared else CACHE.token(backend)
        cache_key = _cache_key(owner, version, filters, grain, periods, offsets, context, keys)
        # Shelved only now that the stored business-hours tables are up to date (see above),
        # under the version the key has, and the as-of instant's clock reading, which the SQL
        # holds as a number counted from the kept calendar's first day.
        reading = None if clocks is None else clocks.as_of
        shelf = shelf_for(source, CACHE.store_version(source), reading) if shared else None
    return _Plan(
        backend=backend,
        filters=filters,
        grain=grain,
        periods=periods,
        offsets=offsets,
        context=context,
        keys=keys,
        contact_formulas=contact_formulas,
        response_formulas=response_formulas,
        undated_row=grain not in (None, NAMED)
        and bool(response_formulas)
        and filters.date_from is None
        and filters.date_to is None
        and profile.undated_responses > 0,
        intervals=profile.intervals,
        cache_key=cache_key,
        instants=instants(filters, timezone, grain, offsets, periods),
        shelf=shelf,
    )


def _cache_key(
    owner: int,
    version: str | None,
    filters: Filters,
    grain: str | None,
    periods: Sequence[Period],
    offsets: Offsets | None,
    context: Context,
    keys: tuple[str, ...],
) -> tuple[Any, ...]:
    """What decides a report's SQL text: ``owner`` names the data (``EngineCache.data_token``)
    or the one cursor whose temporary table it reads, the store version covers the data. The
    dates are parameters (``preparation.instants``), so only their shape counts: which ends are
    set, the named periods' labels and the offsets the zone's clocks change between (the
    backlog adds how many periods it counts). The segment choices are parameters too, every
    field's whether restricted or not, so they are not in the key; the answers' query adds
    which fields are restricted (it joins the contacts for those: ``_query``)."""
    return (
        owner,
        version,
        (filters.date_from is None, filters.date_to is None),
        grain,
        tuple(p.label for p in periods) if grain == NAMED else None,
        tuple(seconds for _, seconds in offsets or ()),
        context.as_of,
        json.dumps(context.settings.to_dict(), sort_keys=True, default=str),
        keys,
        context.supported,
    )


def _offsets(
    timezone: str, grain: str | None, periods: Sequence[Period], profile: Profile
) -> Offsets | None:
    """The zone's offsets for a dated grain, over the data's span rather than the periods'
    (every row lies in it): the same for every date range, so one compiled query serves all."""
    offsets = offsets_for(timezone, grain, periods)
    if offsets is None and grain in GRAINS:
        # No dated data (an empty store, or only undated answers): the rows still need their
        # period column, so that the (empty, or undated) report has its shape.
        return offsets_around(timezone, None, None)
    if offsets is None or profile.first_day is None or profile.last_day is None:
        return offsets
    return offsets_around(timezone, profile.first_day, profile.last_day)


def _latest_or_now(profile: Profile) -> datetime:
    return profile.latest or datetime.now(UTC).replace(tzinfo=None)


def _periods(
    filters: Filters,
    grain: str | None,
    named: Mapping[str, Filters],
    timezone: str,
    profile: Profile,
) -> tuple[Filters, list[Period]]:
    """The filters to read the rows with, and the report's periods."""
    if grain == NAMED:
        periods = [Period(label, *f.utc_bounds(timezone)) for label, f in named.items()]
        # Read every row of the envelope once; the period column sorts them into the periods.
        starts = [f.date_from for f in named.values() if f.date_from is not None]
        ends = [f.date_to for f in named.values() if f.date_to is not None]
        return filters.with_dates(min(starts), max(ends)), periods
    return filters, periods_for(filters, grain, timezone, data_range(profile, timezone))


def data_range(profile: Profile, timezone: str) -> tuple[date, date] | None:
    """The first and last local days with data; None for an empty store."""
    if profile.first_day is None or profile.last_day is None:
        return None
    return local_date(profile.first_day, timezone), local_date(profile.last_day, timezone)


def _key(base: tuple[Any, ...] | None, *parts: Any) -> tuple[Any, ...] | None:
    return None if base is None else (*base, *parts)


#: Which grouping a row of the contacts' one query belongs to (``_contact_records``).
_GROUPING = "_kpi_grouping"


def _contact_records(plan: _Plan, by: tuple[str, ...]) -> dict[tuple[str, ...], list[Record]]:
    """The contacts' aggregated records for the breakdown ``by`` and for the total, from one
    query: the two groupings of the same prepared rows, one after the other (UNION ALL), so
    the backend reads, joins and derives the rows once for both (at 1M contacts by week and
    channel, about half the time of two queries)."""
    backend, context, grain = plan.backend, plan.context, plan.grain
    chosen = plan.contact_formulas
    if not any(f.kind != "stock" and f.supported_by(context) for _, f in chosen.values()):
        return {}
    period = ["period"] if grain else []

    def contacts_query(slots: Slots) -> ir.Table | None:
        wanted = needs(chosen, context)
        t = prepare_contacts(
            backend, plan.filters, context, wanted, grain, plan.offsets, plan.periods, slots
        )
        aggs = aggregates(t, chosen, context)
        split = aggregate(t, [*by, *period], aggs) if by else None
        if split is None:
            return aggregate(t, period, aggs)
        total = _total_of(t, split, period, aggs)
        # The total's rows carry a null of each breakdown field's type, so the two stack.
        blanks = {f: ibis.null().cast(t[f].type()) for f in by}
        total = total.mutate(**blanks, **{_GROUPING: ibis.literal(0)})
        split = split.mutate(**{_GROUPING: ibis.literal(1)})
        return split.union(total.select(*split.columns))

    key = _key(plan.cache_key, "contacts", by)
    found = records(backend, contacts_query, key, plan.instants, plan.shelf)
    if not by:
        return {(): found}
    out: dict[tuple[str, ...], list[Record]] = {by: [], (): []}
    for record in found:
        grouping = by if record.pop(_GROUPING) == 1 else ()
        if not grouping:
            for field in by:
                del record[field]
        out[grouping].append(record)
    return out


def _total_of(
    t: ir.Table, split: ir.Table, period: list[str], aggs: Mapping[str, ir.Scalar]
) -> ir.Table:
    """The total's aggregates per period: counts and sums added up from the breakdown's rows
    (every row is in exactly one segment, the null segment included), so only what does not
    add up (quantiles, minima, maxima) is worked out from the rows again. At 1M contacts by
    week and channel the total then costs its four quantiles, not 60 aggregates over 1M rows."""
    summed = {k: split[k].sum() for k, v in aggs.items() if _adds_up(v)}
    rest = {k: v for k, v in aggs.items() if not _adds_up(v)}
    sums = aggregate(split, period, summed)
    if not rest or sums is None:
        return aggregate(t, period, aggs) if sums is None else sums
    others = t.group_by(period).aggregate(**rest) if period else t.aggregate(**rest)
    if not period:
        return sums.cross_join(others)
    # Periods: the same rows, so the same periods on both sides; null-safe all the same.
    others = others.rename(_kpi_period="period")
    joined = sums.join(others, sums.period.identical_to(others._kpi_period))
    return joined.drop("_kpi_period")


def _adds_up(aggregate_: ir.Scalar) -> bool:
    """Whether a group's value is the sum of its parts' values: a count or a sum (SQL's SUM of
    the parts' sums is null only when every part's is, as the SUM over the rows)."""
    return isinstance(aggregate_.op(), ops.Sum | ops.Count | ops.CountStar)


def _query(plan: _Plan, segment_by: tuple[str, ...]) -> list[Record]:
    """The aggregated records of one grouping besides the contacts': the backlog and responses."""
    backend, context, grain = plan.backend, plan.context, plan.grain
    group = [*segment_by, *(["period"] if grain else [])]
    found: list[Record] = []
    contact_formulas = plan.contact_formulas
    if "backlog" in contact_formulas and plan.periods:
        backlog_key = _key(plan.cache_key, "backlog", segment_by)
        found += backlog(
            backend,
            plan.filters,
            plan.periods,
            context.as_of,
            segment_by,
            backlog_key,
            plan.shelf,
            context.status_sources,
        )
    if plan.response_formulas:

        def responses_query(slots: Slots) -> ir.Table | None:
            t = prepare_responses(
                backend,
                plan.filters,
                segment_by,
                context.settings.timezone,
                grain,
                plan.offsets,
                plan.periods,
                slots,
            )
            return aggregate(t, group, aggregates(t, plan.response_formulas, context))

        restricted = tuple(plan.filters.segments())
        key = _key(plan.cache_key, "responses", segment_by, restricted)
        found += records(backend, responses_query, key, plan.instants, plan.shelf)
    return found


def _rows(plan: _Plan, segment_by: tuple[str, ...], index: Index) -> list[ReportRow]:
    """One grouping's rows: each segment (sorted, nulls last) in each period."""
    labels: list[str | None] = [p.label for p in plan.periods] if plan.grain else [None]
    if plan.undated_row:  # undated answers are a row of their own ("undated" in trends)
        labels.append(UNDATED)
    out = []
    if plan.grain == NAMED:
        # Each named period has the segments a separate report over it would have.
        for label in labels:
            in_period = {k for k in index if k[1] == label}
            for segment in _segments(in_period, segment_by):
                record = index.get((segment, label), {})
                out.append(_row(plan, dict(zip(segment_by, segment, strict=True)), label, record))
        return _by_segment(out, segment_by)
    for segment in _segments(index, segment_by):
        for label in labels:
            # Undated answers were grouped under period null.
            record = index.get((segment, None if label == UNDATED else label), {})
            out.append(_row(plan, dict(zip(segment_by, segment, strict=True)), label, record))
    return out


def _segments(
    keys: Iterable[tuple[tuple[Any, ...], str | None]], segment_by: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """The segments among index keys, sorted (nulls last); one null segment when there are none,
    so a breakdown with no data still has a row."""
    if not segment_by:
        return [()]
    segments = sorted({k[0] for k in keys}, key=sort_key)
    return segments or [tuple(None for _ in segment_by)]


def _by_segment(rows: list[ReportRow], segment_by: tuple[str, ...]) -> list[ReportRow]:
    """Rows in segment order, each segment's periods together (a stable sort keeps their order)."""

    def segment_order(row: ReportRow) -> tuple[tuple[bool, str], ...]:
        return sort_key(tuple(row.segment.get(f) for f in segment_by))

    return sorted(rows, key=segment_order)


def _row(
    plan: _Plan, segment: dict[str, Any], label: str | None, record: Mapping[str, Any]
) -> ReportRow:
    if label == UNDATED:  # only answers have an undated row
        chosen = plan.response_formulas
    else:
        chosen = {**plan.contact_formulas, **plan.response_formulas}
    definitions = plan.definitions
    results = {
        k: finish(REGISTRY[k], *chosen[k], record, plan.context, definitions[k])
        for k in plan.keys
        if k in chosen
    }
    period = plan.coverage.get(label)
    if period is None:
        return ReportRow(segment, label, results)
    return ReportRow(segment, label, results, period.days, period.covered)


# --- trends and the dashboard overview -------------------------------------------------------------


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
    settings = _settings_of(source, settings)
    with CACHE.one_version(source):
        instant = to_utc(as_of, settings.timezone) if as_of else _latest(source)
        window = trend_window(filters, weeks, instant, settings.timezone)
        weekly = report(source, window, grain="week", as_of=as_of, settings=settings, metrics=keys)
    return trends_from(weekly, keys)


def _latest(source: Store | ibis.BaseBackend) -> datetime:
    return _latest_or_now(data_profile(backend_of(source), CACHE.version(source)))


#: The overview's tiles, by heading, in the order the page shows them.
OVERVIEW_GROUPS: dict[str, tuple[str, ...]] = {
    "Volume": ("contacts", "responses", "backlog"),
    "Customer feedback": ("nps", "csat", "ces"),
    "Resolution and service levels": ("fcr", "sla", "first_response_hours", "resolution_hours"),
    "Calls": ("service_level", "abandonment_rate", "asa_seconds", "aht_seconds"),
    "Quality": ("complaint_rate", "reopen_rate", "escalation_rate"),
}
#: The KPIs whose 12-week trends the overview's tiles carry: every tile's but the backlog's.
OVERVIEW_TRENDS = tuple(
    key for keys in OVERVIEW_GROUPS.values() for key in keys if key != "backlog"
)


@dataclass
class Overview:
    """What a dashboard's overview page shows: every KPI now and before, the changes, and
    weekly trends of a few."""

    current: Report
    previous: Report
    changes: dict[str, Change]
    trends: dict[str, Trend]
    #: "data covers 12 of 91 days" when the data covers only part of the previous period.
    previous_note: str | None = None


def overview(
    source: Store | ibis.BaseBackend,
    filters: Filters,
    trend_keys: Sequence[str] = ("csat", "fcr", "sla", "first_response_hours"),
    weeks: int = 12,
    as_of: datetime | None = None,
    settings: Settings | None = None,
) -> Overview:
    """Every KPI for the period and the previous period, their changes, and weekly trends."""
    settings = _settings_of(source, settings)
    with CACHE.one_version(source):
        both = report_periods(
            source,
            {"current": filters, "previous": filters.previous_period()},
            as_of=as_of,
            settings=settings,
        )
        current, previous = both.split()
        now, before = current.totals(), previous.totals()
        changes = {k: change(now[k], before[k]) for k in now}
        trends = trend(source, filters, trend_keys, weeks, as_of, settings)
        span = data_range(
            data_profile(backend_of(source), CACHE.version(source)), settings.timezone
        )
        with_undated(source, filters, current, before, changes, settings)
    note = coverage_note(previous.filters, span)
    return Overview(current, previous, changes, trends, note)


# --- answers without a date --------------------------------------------------------------------

#: What a figure that counts undated answers adds to its definition.
UNDATED_INCLUDED = (
    "Answers with no date are included: the period covers all the data, so they belong in it."
)


def spans_all_data(source: Store | ibis.BaseBackend, filters: Filters, settings: Settings) -> bool:
    """Whether the filters' dates cover every day with data (the All time preset, or a range as
    wide): answers without a date then belong in the view too, as in an undated report."""
    span = data_range(data_profile(backend_of(source), CACHE.version(source)), settings.timezone)
    if span is None:
        return False
    starts_before = filters.date_from is None or filters.date_from <= span[0]
    return starts_before and (filters.date_to is None or filters.date_to >= span[1])


def undated_answers(
    source: Store | ibis.BaseBackend, filters: Filters, settings: Settings | None = None
) -> int:
    """Answers with no date in the filters' segments (any dates), counted as `kpi report`
    counts them: the "undated" row of a report by period."""
    settings = _settings_of(source, settings)
    if not data_profile(backend_of(source), CACHE.version(source)).undated_responses:
        return 0
    by_month = report(
        source, filters.with_dates(None, None), grain="month", settings=settings,
        metrics=("responses",),
    )  # fmt: skip
    row = by_month.total(UNDATED)
    return row.metrics["responses"].n if row is not None else 0


def with_undated(
    source: Store | ibis.BaseBackend,
    filters: Filters,
    current: Report,
    before: Mapping[str, MetricResult],
    changes: dict[str, Change],
    settings: Settings,
) -> None:
    """In a view over all the data, the survey KPIs of ``current``'s total row (and their
    changes against ``before``) count the undated answers too, and their definitions say so."""
    total = current.total()
    keys = [k for k in total.metrics if REGISTRY[k].table == "responses"] if total else []
    if total is None or not keys or not spans_all_data(source, filters, settings):
        return
    if not undated_answers(source, filters, settings):
        return
    undated = report(
        source, filters.with_dates(None, None), settings=settings, metrics=keys
    ).totals()
    for key in keys:
        result = undated[key]
        result.definition = f"{result.definition.rstrip()} {UNDATED_INCLUDED}"
        if key in changes and key in before:
            changes[key] = change(result, before[key])
        total.metrics[key] = result
