"""What the pages show beside the KPIs: distributions, a heat map of breaches, the backlog's age,
score counts, the data's date range and the values each filter can take.

None of this is a KPI, but much of it counts the same rows a KPI counts (the replied contacts
behind the median first-response time, the breaches behind SLA compliance). Those rows come from
the registry's own formulas and the engine's prepared tables, so a definition still lives in one
place: change the SLA targets and the heat map moves with SLA compliance. Everything runs
set-wise through Ibis; Python only sees the grouped counts. The contact breakdowns keep their
compiled SQL per query shape, as reports do (``aggregation.records``): their dates are
parameters, so a new date range runs without compiling again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from kpi.engine import report as engine
from kpi.engine.aggregation import Record, as_int, count_if, records
from kpi.engine.backend import CACHE, Slots, SlotValue, backend_of
from kpi.engine.calendar import STORED_TIMES
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.engine.intervals import SEGMENT_COLUMNS
from kpi.engine.preparation import instants, prepare_clocks, prepare_contacts, prepare_responses
from kpi.engine.profile import Profile, data_profile
from kpi.engine.results import MetricResult
from kpi.engine.timeline import local_date, local_time, offsets_around
from kpi.metrics.registry import REGISTRY, Context, contact_columns, short_label
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Upper edges (hours) of the response/resolution time buckets; the last bucket is open.
HOUR_EDGES = (1, 2, 4, 8, 16, 24, 40, 80)
#: Upper edges (days) of the backlog age buckets, with their labels.
AGE_BUCKETS = (
    (1, "under 1 day"),
    (3, "1-3 days"),
    (7, "3-7 days"),
    (14, "1-2 weeks"),
    (28, "2-4 weeks"),
    (None, "over 4 weeks"),
)


@dataclass(frozen=True)
class Scope:
    """The engine's view of a store for one question: backend, settings and formula context."""

    backend: ibis.BaseBackend
    settings: Settings
    context: Context
    profile: Profile


def scope(store: Store, settings: Settings | None = None) -> Scope:
    settings = settings or load_settings(store)
    backend = backend_of(store)
    # The engine's profile: which columns hold data (so the same formula variants are chosen)
    # and the as-of instant open contacts are judged at. Keyed by the engine's version of the
    # store, as a report's is, so that a page's reports and breakdowns share one.
    profile = data_profile(backend, CACHE.version(store))
    as_of = profile.latest or datetime.now(UTC).replace(tzinfo=None)
    context = Context(settings, as_of, profile.supported, profile.status_sources)
    return Scope(backend, settings, context, profile)


# --- the data's shape --------------------------------------------------------------------------


def data_range(store: Store, timezone: str | None = None) -> tuple[date | None, date | None]:
    """First and last local day with a contact or a dated answer, in ``timezone`` (by default
    the store's own reporting time zone); (None, None) when empty."""
    s = scope(store)
    profile, zone = s.profile, timezone or s.settings.timezone
    if profile.first_day is None or profile.last_day is None:
        return None, None
    return local_date(profile.first_day, zone), local_date(profile.last_day, zone)


def segment_values(store: Store) -> dict[str, list[str]]:
    """Every value each filter field takes in contacts, answers or interval reports, sorted."""
    cur = store.cursor()
    out = {}
    for name in SEGMENT_FIELDS:
        tables = ["contacts"] if name == "priority" else ["contacts", "responses"]
        selects = [f"SELECT DISTINCT {name} AS v FROM {t}" for t in tables]
        if name in SEGMENT_COLUMNS:  # a queue only the interval reports hold can be chosen
            selects.append(f"SELECT DISTINCT {SEGMENT_COLUMNS[name]} AS v FROM intervals")
        union = " UNION ".join(selects)
        rows = cur.execute(f"SELECT v FROM ({union}) WHERE v IS NOT NULL ORDER BY v").fetchall()
        out[name] = [r[0] for r in rows]
    return out


# --- contacts: time distributions, breaches, backlog age -----------------------------------------


def _contacts(s: Scope, filters: Filters, slots: Slots) -> ir.Table:
    """The engine's prepared contacts: filtered, with elapsed times and SLA outcomes, their
    dates written through ``slots``.

    Breakdowns use the engine's own row preparation, so a definition (when a contact is
    resolved, when a target is breached) is never written twice.
    """
    return prepare_contacts(s.backend, filters, s.context, {"elapsed"}, None, None, (), slots)


def _shape(
    store: Store, s: Scope, filters: Filters, needs: set[str], *parts: Any
) -> tuple[Any, ...]:
    """The cache key of a breakdown's SQL, as ``report._cache_key`` keys a report's: the data
    (or the one cursor whose temporary business-hours table the SQL reads), the store version,
    which ends of the dates are set (the dates and every segment field's values are parameters:
    the breakdowns read only contacts), as-of, settings and the columns the data supports, plus
    ``parts`` (which breakdown, which KPIs).

    The business-hours tables are brought up to date first, so the SQL is keyed by the
    version they move the store on to (a cached query never checks them again).
    """
    times = prepare_clocks(s.backend, s.context, needs)
    shared = times in (None, STORED_TIMES)
    owner = CACHE.data_token(s.backend) if shared else CACHE.token(s.backend)
    return (
        "breakdowns",
        *parts,
        owner,
        CACHE.version(store),
        (filters.date_from is None, filters.date_to is None),
        s.context.as_of,
        json.dumps(s.settings.to_dict(), sort_keys=True, default=str),
        s.context.supported,
    )


def _contact_instants(s: Scope, filters: Filters) -> dict[str, SlotValue]:
    """The values ``_contacts``' SQL takes (the filters' UTC bounds and segment choices)."""
    return instants(filters, s.settings.timezone, None, None)


def _empty(s: Scope) -> bool:
    return s.profile.latest is None


TIME_KEYS = ("first_response_hours", "resolution_hours")


def time_distribution(
    store: Store, filters: Filters, keys: tuple[str, ...] = TIME_KEYS
) -> pd.DataFrame:
    """Contacts per hours bucket behind each time KPI of ``keys`` (a column each): the
    formula's own population and values, so a column adds up to its KPI's n. One pass over the
    contacts, since the elapsed business hours are the costly part."""
    labels = _hour_labels()
    frame = pd.DataFrame({"bucket": labels, "upper_hours": [_upper(i) for i in range(len(labels))]})
    s = scope(store)
    usable = {k: REGISTRY[k].choose(s.context)[1] for k in keys}
    usable = {k: f for k, f in usable.items() if f.supported_by(s.context)}
    if _empty(s) or not usable:
        return frame.assign(**{k: 0 for k in keys})
    values = {}
    for key, formula in usable.items():
        if formula.value is None:  # callers pass timed KPIs, whose formulas rank a value
            raise TypeError(f"{key} has no value to bucket by hours")
        values[key] = formula.value

    def build(slots: Slots) -> ir.Table:
        t = _contacts(s, filters, slots)
        buckets = {}
        for key, formula in usable.items():
            hours = values[key](t, s.context)
            counted = formula.population(t, s.context) & hours.notnull()
            branches = [(hours <= edge, ibis.literal(i)) for i, edge in enumerate(HOUR_EDGES)]
            bucket = ibis.cases(*branches, else_=ibis.literal(len(HOUR_EDGES)))
            buckets[key] = ibis.ifelse(counted, bucket, ibis.null("int8"))
        # Each contact's bucket once per KPI, then counted: written into every count, the
        # elapsed business hours behind a bucket were worked out once per bucket and KPI.
        b = t.select(**buckets)
        return b.aggregate(
            **{f"{k}__{i}": count_if(b[k] == i) for k in buckets for i in range(len(labels))}
        )

    shape = _shape(store, s, filters, {"elapsed"}, "time_distribution", tuple(usable))
    found = records(s.backend, build, shape, _contact_instants(s, filters))
    row = found[0] if found else {}
    columns = {k: [as_int(row.get(f"{k}__{i}")) for i in range(len(labels))] for k in keys}
    return frame.assign(**columns)


def _upper(index: int) -> float | None:
    return float(HOUR_EDGES[index]) if index < len(HOUR_EDGES) else None


def _hour_labels() -> list[str]:
    lows = (0, *HOUR_EDGES)
    labels = [f"{lo:g}-{hi:g} h" for lo, hi in zip(lows, HOUR_EDGES, strict=False)]
    return [*labels, f"over {HOUR_EDGES[-1]:g} h"]


def breach_heatmap(store: Store, filters: Filters) -> pd.DataFrame:
    """SLA breaches and outcomes by local weekday and hour the contact was opened (7 x 24 rows).

    A breach is a contact in the SLA formula's population that it does not count as met.
    """
    return _breach_grids(store, filters, ())[()]


def breach_heatmaps_by_channel(store: Store, filters: Filters) -> dict[Any, pd.DataFrame]:
    """``breach_heatmap`` for each channel in the filters' contacts (the channel's value as
    stored; None for contacts with none), from one query rather than one per channel."""
    return {key[0]: grid for key, grid in _breach_grids(store, filters, ("channel",)).items()}


def _breach_grids(
    store: Store, filters: Filters, by: tuple[str, ...]
) -> dict[tuple[Any, ...], pd.DataFrame]:
    """``breach_heatmap``'s 7 x 24 grid for each group of ``by`` (one, keyed (), for none)."""
    grid = pd.DataFrame([(d, h) for d in range(7) for h in range(24)], columns=["weekday", "hour"])
    s = scope(store)
    variant, formula = REGISTRY["sla"].choose(s.context)
    if _empty(s) or not formula.supported_by(s.context):
        empty = grid.assign(day=[WEEKDAYS[d] for d in grid.weekday], breached=0, outcomes=0)
        return {(): empty} if not by else {}
    success = formula.success
    if success is None:  # SLA is declared as a proportion; without one this is a bug
        raise TypeError(f"the SLA variant {variant!r} has no success rule")
    # The zone's offsets over the data's span: the same for every date range (and store version).
    offsets = offsets_around(s.settings.timezone, s.profile.first_day, s.profile.latest)

    def build(slots: Slots) -> ir.Table:
        t = _contacts(s, filters, slots)
        local = local_time(t.opened_at, offsets)
        outcome = formula.population(t, s.context)
        breached = outcome & ~success(t, s.context)
        t = t.mutate(weekday=local.day_of_week.index(), hour=local.hour())
        return t.group_by(*by, "weekday", "hour").aggregate(
            breached=count_if(breached), outcomes=count_if(outcome)
        )

    shape = _shape(store, s, filters, {"elapsed"}, "breach_heatmap", variant, by)
    found = records(s.backend, build, shape, _contact_instants(s, filters))
    if not by:
        return {(): _on_grid(grid, found)}
    parts: dict[tuple[Any, ...], list[Record]] = {}
    for record in found:
        parts.setdefault(tuple(record.pop(f) for f in by), []).append(record)
    return {key: _on_grid(grid, rows) for key, rows in parts.items()}


def _on_grid(grid: pd.DataFrame, found: list[Record]) -> pd.DataFrame:
    """Counts by weekday and hour on the whole 7 x 24 grid, 0 where there are none."""
    counts = pd.DataFrame(found, columns=["weekday", "hour", "breached", "outcomes"])
    if not found:  # an empty frame's columns have no type to match the grid's on
        counts = counts.astype("int64")
    out = grid.merge(counts, on=["weekday", "hour"], how="left").fillna(0)
    out[["breached", "outcomes"]] = out[["breached", "outcomes"]].astype(int)
    return out.assign(day=[WEEKDAYS[d] for d in out.weekday])


def backlog_age(store: Store, filters: Filters) -> pd.DataFrame:
    """Contacts open at the end of the period (or the as-of instant, if earlier), by age.

    The same rows as the engine's backlog: opened before that instant, tracked, not resolved by
    it, whatever their opening date; the segment filters apply, the dates only set the instant.
    """
    columns = ["age", "contacts"]
    s = scope(store)
    if _empty(s):
        return pd.DataFrame({"age": [label for _, label in AGE_BUCKETS], "contacts": 0})
    _, end = filters.utc_bounds(s.settings.timezone)
    instant = min(end, s.context.as_of + timedelta(microseconds=1)) if end else s.context.as_of

    def build(slots: Slots) -> ir.Table:
        at = slots.timestamp("backlog_at")
        # The instant is a parameter, so the context judging "open" takes the same slot: its
        # stand-in while the query compiles, its value otherwise.
        context = replace(s.context, as_of=slots.instant("backlog_at"))
        t = s.backend.table("contacts")
        predicates = filters.segment_predicates(t, slots, SEGMENT_FIELDS)
        if predicates:
            t = t.filter(*predicates)
        t = t.mutate(**contact_columns(t, context))
        t = t.filter(t.is_open & (t.opened_at < at))
        age_days = (at.epoch_seconds() - t.opened_at.epoch_seconds()) / 86400
        branches = [
            (age_days < limit, ibis.literal(i)) for i, (limit, _) in enumerate(AGE_BUCKETS[:-1])
        ]
        grouped = t.group_by(b=ibis.cases(*branches, else_=ibis.literal(len(AGE_BUCKETS) - 1)))
        return grouped.aggregate(contacts=t.count())

    # The dates only set the instant: the key holds the filters without them.
    shape = _shape(store, s, filters.with_dates(None, None), set(), "backlog_age")
    values: dict[str, SlotValue] = {"backlog_at": instant, **filters.segment_parameters()}
    counts = records(s.backend, build, shape, values)
    found = {record["b"]: record["contacts"] for record in counts}
    rows = [(label, int(found.get(i, 0))) for i, (_, label) in enumerate(AGE_BUCKETS)]
    return pd.DataFrame(rows, columns=columns)


# --- survey answers ------------------------------------------------------------------------------


def responses(
    store: Store, filters: Filters, fields: tuple[str, ...] = ()
) -> tuple[Scope, ir.Table]:
    """The engine's filtered answers, with segment ``fields`` filled from the linked contact."""
    s = scope(store)
    t = prepare_responses(s.backend, filters, fields, s.settings.timezone, None, None)
    return s, t


#: The survey scores whose answers ``score_counts`` counts.
SCORES = ("nps", "csat", "ces")


def score_counts(store: Store, filters: Filters, score: str) -> pd.DataFrame:
    """Answers per score of ``nps``, ``csat`` or ``ces``, with the scale each was given on. In a
    view over all the data the undated answers count too, as in the page's tiles."""
    if score not in SCORES:
        raise ValueError(f"no score called {score!r}; choose nps, csat or ces")
    if engine.spans_all_data(store, filters, scope(store).settings):
        filters = filters.with_dates(None, None)
    s, t = responses(store, filters)
    t = t.filter(t[score].notnull())
    if score == "nps":
        t = t.mutate(scale_min=ibis.literal(0.0), scale_max=ibis.literal(10.0))
    else:
        t = t.mutate(scale_min=t[f"{score}_scale_min"], scale_max=t[f"{score}_scale_max"])
    expr = t.group_by("scale_min", "scale_max", score).aggregate(answers=t.count())
    frame = s.backend.execute(expr.order_by("scale_min", "scale_max", score))
    frame = frame.rename(columns={score: "score"})
    frame["scale"] = [
        f"{lo:g}-{hi:g}" for lo, hi in zip(frame.scale_min, frame.scale_max, strict=True)
    ]
    return frame[["scale", "score", "answers"]].astype({"answers": int})


@dataclass(frozen=True, eq=False)
class ScaleCounts:
    """The answers to one score given on one scale: a bar chart's ``title`` and ``counts``
    (columns scale, score, answers; the score as text such as "7" or "4.5", one bar each)."""

    scale: str
    title: str
    counts: pd.DataFrame


def by_scale(counts: pd.DataFrame, score: str) -> list[ScaleCounts]:
    """``score_counts`` split by the scale the answers were given on (a 1-5 and a 1-10 CSAT
    cannot share an axis), scales in text order."""
    return [
        ScaleCounts(
            str(scale),
            f"{short_label(score)} answers (scale {scale})",
            part.assign(score=part.score.map("{:g}".format)),
        )
        for scale, part in counts.groupby("scale", sort=True)
    ]


# --- root causes ------------------------------------------------------------------------------


#: The root-cause counts ``drivers`` can give, with what each counts in words.
DRIVERS = {
    "complaints": "Complaints",
    "detractors": "Detractors (NPS 0-6)",
    "repeats": "Repeat contacts (same customer again within the FCR window)",
}


def drivers(
    store: Store, filters: Filters, driver: str, field: str = "category"
) -> dict[str | None, int]:
    """How many complaints, detractors or repeat contacts each value of ``field`` has, read
    from the engine: complaints are the complaint rate's numerator, detractors the NPS result's
    detractor count, repeats the contacts the no-repeat FCR variant does not count as resolved
    first time (the costliest: it looks at every customer's next contact)."""
    settings = load_settings(store)
    if driver == "complaints":
        key, count = "complaint_rate", lambda r: r.numerator or 0
    elif driver == "detractors":
        key, count = "nps", lambda r: int(r.extra.get("detractors", 0))
    elif driver == "repeats":
        key, count = "fcr", _repeats
        settings = settings.with_changes(fcr_variant="no_repeat")
    else:
        raise ValueError(f"unknown driver {driver!r}; choose from {', '.join(DRIVERS)}")
    result = engine.report(store, filters, by=(field,), settings=settings, metrics=(key,))
    return {row.segment[field]: count(row.metrics[key]) for row in result.rows if row.segment}


def _repeats(result: MetricResult) -> int:
    if result.numerator is None or result.denominator is None:
        return 0
    return result.denominator - result.numerator


def pareto(
    counts: Mapping[str | None, int], label: str = "category", cut: float = 80.0
) -> pd.DataFrame:
    """Causes largest first, with their share, the cumulative share, and whether each is among
    the "vital few" that together reach ``cut`` percent. Zero counts are dropped; a missing
    cause is shown as "(none)"."""
    items = sorted(
        ((("(none)" if k is None else str(k)), int(v)) for k, v in counts.items() if v),
        key=lambda item: (-item[1], item[0]),
    )
    total = sum(v for _, v in items)
    rows, running = [], 0
    for name, value in items:
        before = running
        running += value
        rows.append(
            {
                label: name,
                "count": value,
                "share": 100.0 * value / total,
                "cumulative_share": 100.0 * running / total,
                # A cause is vital while the causes before it have not yet reached the cut.
                "vital_few": 100.0 * before / total < cut,
            }
        )
    return pd.DataFrame(rows, columns=[label, "count", "share", "cumulative_share", "vital_few"])
