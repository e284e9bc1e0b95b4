"""Preparing the tables a report aggregates: the selection's contacts (with the registry's
derived columns and elapsed calendar or business time) and responses (with their segment fields),
each with the period its row falls in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir

from kpi.engine import calendar
from kpi.engine.backend import CACHE, Slots, SlotValue
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.engine.timeline import NAMED, TRUNCATE, Offsets, Period, local_time
from kpi.metrics.registry import (
    Context,
    Formula,
    Metric,
    contact_columns,
    sla_columns,
)

Chosen = dict[str, tuple[str, Formula]]

#: The column of the month a contact opened (UTC, 'YYYY-MM'; 'none' when undated) on a store
#: that keeps contacts in a folder per month (``kpi.store.remote.ParquetRemote``).
MONTH_PARTITION = "opened_month"


def formulas(metrics: Sequence[Metric], context: Context) -> Chosen:
    """KPI key -> (variant, formula) that the context's data and settings choose."""
    return {m.key: m.choose(context) for m in metrics}


def needs(chosen: Mapping[str, tuple[str, Formula]], context: Context) -> set[str]:
    """What the chosen formulas need prepared (e.g. "elapsed", "next_contact")."""
    return {n for _, f in chosen.values() if f.supported_by(context) for n in f.needs}


def instants(
    filters: Filters,
    timezone: str,
    grain: str | None,
    offsets: Offsets | None,
    periods: Sequence[Period] = (),
) -> dict[str, SlotValue]:
    """The values a prepared table's SQL takes, by slot name (``Slots``): the filters' UTC
    bounds, the zone's clock changes, the named periods' bounds and the segment choices."""
    start, end = filters.utc_bounds(timezone)
    out: dict[str, SlotValue] = {} if start is None else {"date_from": start}
    if end is not None:
        out["date_to"] = end
    for i, (instant, _) in enumerate(offsets or ()):
        out[f"clock_{i}"] = instant
    if grain == NAMED:
        for i, p in enumerate(periods):
            if p.start is not None and p.end is not None:  # named periods have both dates
                out[f"start_{i}"], out[f"end_{i}"] = p.start, p.end
    out.update(filters.segment_parameters())
    return out


def _period_column(
    t: ir.Table,
    column: str,
    grain: str | None,
    offsets: Offsets | None,
    periods: Sequence[Period],
    slots: Slots,
) -> ir.Table:
    """Add ``period``: the local day/week/month start, or the label of a named period (rows in
    none of the named periods are dropped)."""
    if grain == NAMED:
        value = t[column]
        label = ibis.cases(
            *[
                (
                    (value >= slots.timestamp(f"start_{i}"))
                    & (value < slots.timestamp(f"end_{i}")),
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
    local = local_time(t[column], changes)
    return t.mutate(period=local.truncate(TRUNCATE[grain]).date())


def _selection(
    t: ir.Table,
    filters: Filters,
    column: str,
    timezone: str,
    slots: Slots,
    every: Sequence[str] = (),
) -> ir.Table:
    """The rows of the filters' segments and dates; segment values are ``slots``, and the
    ``every`` fields are filtered by parameter even when unrestricted (``segment_predicates``)."""
    dates = _date_predicates(t, filters, column, timezone, slots)
    predicates = filters.segment_predicates(t, slots, every) + dates
    return t.filter(*predicates) if predicates else t


def _dated(t: ir.Table, filters: Filters, column: str, timezone: str, slots: Slots) -> ir.Table:
    """The rows of the filters' dates (``_selection`` without the segments)."""
    dates = _date_predicates(t, filters, column, timezone, slots)
    return t.filter(*dates) if dates else t


def _date_predicates(
    t: ir.Table, filters: Filters, column: str, timezone: str, slots: Slots
) -> list[ir.BooleanValue]:
    start = slots.timestamp("date_from") if filters.date_from is not None else None
    end = slots.timestamp("date_to") if filters.date_to is not None else None
    return filters.date_predicates(t, column, timezone, (start, end))


def _month_predicates(
    t: ir.Table, filters: Filters, slots: Slots
) -> tuple[list[ir.BooleanValue], list[ir.BooleanValue]]:
    """On contacts partitioned by the month they opened (``MONTH_PARTITION``: a Spark store's),
    the predicates that keep the months from the period's first on and up to its last, so the
    backend reads those months' files only; ([], []) for any other table.

    They keep a superset of the rows the date predicates keep (those compare ``opened_at``
    itself), so figures do not change: a partition is the UTC month of ``opened_at``, and the
    period's bounds are UTC instants, its end exclusive. Undated contacts (partition ``none``,
    which sorts after every month) pass no date predicate: the second drops them, the first
    keeps them (harmless). The months are worked out by the backend from the bounds' slots, so
    SQL compiled with parameters serves any dates."""
    if MONTH_PARTITION not in t.columns or not t[MONTH_PARTITION].type().is_string():
        return [], []
    month = t[MONTH_PARTITION]
    after, before = [], []
    if filters.date_from is not None:
        after.append(month >= slots.timestamp("date_from").strftime("%Y-%m"))
    if filters.date_to is not None:
        last = slots.timestamp("date_to") - ibis.interval(microseconds=1)
        before.append(month <= last.strftime("%Y-%m"))
    return after, before


def prepare_contacts(
    backend: ibis.BaseBackend,
    filters: Filters,
    context: Context,
    needs: set[str],
    grain: str | None,
    offsets: Offsets | None,
    periods: Sequence[Period] = (),
    slots: Slots | None = None,
) -> ir.Table:
    """The selection's contacts with the registry's derived columns (and ``needs``), each with
    its period. ``slots`` give the instants (``instants``); by default, their values."""
    timezone = context.settings.timezone
    if slots is None:
        slots = Slots(instants(filters, timezone, grain, offsets, periods))
    clocks = prepared_clocks(backend, context, needs)
    # Business hours read the store's kept copy of the contacts with their readings, if any.
    t = clocks.times if clocks is not None and clocks.rows else CACHE.table(backend, "contacts")
    after, before = _month_predicates(t, filters, slots)
    if "next_contact" in needs:
        # Over every contact, before filters: a repeat may fall outside the period or segment.
        # Only the months before the period's can go: they sort before every contact in it.
        t = t.filter(*after) if after else t
        order = [t.opened_at, t.source, t.contact_id]
        window = ibis.window(group_by=t.customer_key, order_by=order)
        t = t.mutate(next_opened=t.opened_at.lead().over(window))
    # Every segment field is a parameter, restricted or not: a new choice of channel, team...
    # reuses the SQL. (Answers take theirs from the linked contact when they lack them, which
    # only a restricted field joins for: their SQL is per set of restricted fields.)
    t = _selection(t, filters, "opened_at", timezone, slots, SEGMENT_FIELDS)
    if after or before:
        t = t.filter(*after, *before)
    if MONTH_PARTITION in t.columns:
        t = t.drop(MONTH_PARTITION)
    t = t.mutate(**contact_columns(t, context))
    if "elapsed" in needs:
        t = _elapsed(t, context, clocks)
        t = t.mutate(**sla_columns(t, context))
    return _period_column(t, "opened_at", grain, offsets, periods, slots)


def prepare_responses(
    backend: ibis.BaseBackend,
    filters: Filters,
    by: Sequence[str],
    timezone: str,
    grain: str | None,
    offsets: Offsets | None,
    periods: Sequence[Period] = (),
    slots: Slots | None = None,
) -> ir.Table:
    """Responses with their segment fields; a field the answer lacks (priority always) comes
    from the contact it is linked to. ``slots`` as for ``prepare_contacts``."""
    if slots is None:
        slots = Slots(instants(filters, timezone, grain, offsets, periods))
    t = backend.table("responses")
    fields = sorted(set(by) | set(filters.segments()))
    if fields:
        # The period's answers first: only their contacts need looking up.
        t = _with_contact_fields(
            backend, _dated(t, filters, "responded_at", timezone, slots), fields
        )
    t = _selection(t, filters, "responded_at", timezone, slots)
    return _period_column(t, "responded_at", grain, offsets, periods, slots)


def _with_contact_fields(backend: ibis.BaseBackend, t: ir.Table, fields: list[str]) -> ir.Table:
    """Responses whose segment fields fall back to (or, absent, come from) the linked contact's."""
    contacts = backend.table("contacts")
    # Only the contacts these answers link to: grouping every contact by id costs more than
    # the rest of the query.
    contacts = contacts.filter(contacts.contact_id.isin(t.contact_id))
    lookup = contacts.group_by(_cid=contacts.contact_id).aggregate(
        **{f"_c_{f}": contacts[f].max() for f in fields}
    )
    joined = t.left_join(lookup, t.contact_id == lookup._cid)
    own = set(t.columns)
    return joined.select(
        *[joined[c] for c in t.columns if c not in fields],
        **{
            f: ibis.coalesce(joined[f], joined[f"_c_{f}"]) if f in own else joined[f"_c_{f}"]
            for f in fields
        },
    )


# --- elapsed time ----------------------------------------------------------------------------------


def _elapsed(t: ir.Table, context: Context, clocks: calendar.Clocks | None) -> ir.Table:
    """fr_elapsed and res_elapsed in seconds: business time when ``clocks`` are given (``t``
    then carries their readings), else calendar time; never negative."""
    if clocks is not None:
        return _business_elapsed(t, clocks)
    columns = {}
    for out, end in (("fr_elapsed", "fr_end"), ("res_elapsed", "res_end")):
        seconds = calendar.calendar_seconds(t.opened_at, t[end])
        columns[out] = ibis.ifelse(seconds < 0, 0.0, seconds)
    return t.mutate(**columns)


def prepare_clocks(backend: ibis.BaseBackend, context: Context, needs: set[str]) -> str | None:
    """Bring the business-hours tables that elapsed times read up to date now (a no-op once
    they are), and name the table of readings the query will join; None if it needs none.
    Rebuilding them moves the store's version on, and a query's SQL is kept under the version
    it was compiled for; a temporary table lives on one cursor only."""
    clocks = prepared_clocks(backend, context, needs)
    return None if clocks is None else str(clocks.times.get_name())


def prepared_clocks(
    backend: ibis.BaseBackend, context: Context, needs: set[str]
) -> calendar.Clocks | None:
    """``prepare_clocks``' readings themselves: the as-of instant's reading is written into the
    SQL, and it counts working seconds from the kept calendar's first day."""
    if "elapsed" not in needs or context.settings.hours != "business":
        return None
    return calendar.contact_clocks(backend, context.settings.calendar(), context.as_of)


def _business_elapsed(t: ir.Table, clocks: calendar.Clocks) -> ir.Table:
    """Business-hours fr_elapsed and res_elapsed.

    A clock ends at the first response, the resolution or the as-of instant (``fr_end``,
    ``res_end``; which applies stays ``contact_columns``' choice). Each contact's readings of
    the business calendar at its opening, first response and resolution are kept per store
    version and business hours (``calendar.contact_clocks``): with its row, and ``t`` was
    drawn from that table, or by its key, joined here. The as-of instant's reading is one
    number, so the elapsed time is a subtraction.
    """
    if not clocks.rows:
        t = _with_readings(t, clocks.times)
    as_of = ibis.literal(clocks.as_of, type="float64")

    def elapsed(end: ir.TimestampValue) -> ir.FloatingValue:
        # Readings depend only on the instant, so match the end by value.
        reading = ibis.cases(
            (end == t.first_response_at, t.first_response_cum),
            (end == t.resolved_time, t.resolved_cum),
            else_=as_of,
        )
        return calendar.between(t.opened_at, end, t.opened_cum, reading)

    t = t.mutate(fr_elapsed=elapsed(t.fr_end), res_elapsed=elapsed(t.res_end))
    return t.drop(*calendar.CLOCK_COLUMNS)


def _with_readings(t: ir.Table, times: ir.Table) -> ir.Table:
    """``t`` with each contact's ``CLOCK_COLUMNS`` from ``times``, matched by key."""
    readings = times.select(
        _bt_source=times.source,
        _bt_id=times.contact_id,
        _bt_opened=times.opened_at,
        **{c: times[c] for c in calendar.CLOCK_COLUMNS},
    )
    # Matching the opening time too lets the backend skip the stored rows outside the period.
    keys = [
        t.opened_at == readings._bt_opened,
        t.source == readings._bt_source,
        t.contact_id == readings._bt_id,
    ]
    return t.left_join(readings, keys).select(*t.columns, *calendar.CLOCK_COLUMNS)
