"""Preparing the tables a report aggregates: the selection's contacts (with the registry's
derived columns and elapsed calendar or business time) and responses (with their segment fields),
each with the period its row falls in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir

from kpi.engine import calendar
from kpi.engine.backend import CACHE
from kpi.engine.filters import Filters
from kpi.engine.profile import data_profile
from kpi.engine.timeline import NAMED, TRUNCATE, Offsets, Period, local_time
from kpi.metrics.business_hours import BusinessHours
from kpi.metrics.registry import (
    Context,
    Formula,
    Metric,
    contact_columns,
    resolved_time_of,
    sla_columns,
)

Chosen = dict[str, tuple[str, Formula]]


def formulas(metrics: Sequence[Metric], context: Context) -> Chosen:
    """KPI key -> (variant, formula) that the context's data and settings choose."""
    return {m.key: m.choose(context) for m in metrics}


def needs(chosen: Mapping[str, tuple[str, Formula]], context: Context) -> set[str]:
    """What the chosen formulas need prepared (e.g. "elapsed", "next_contact")."""
    return {n for _, f in chosen.values() if f.supported_by(context) for n in f.needs}


def _period_column(
    t: ir.Table,
    column: str,
    grain: str | None,
    offsets: Offsets | None,
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
    return t.mutate(period=local.truncate(TRUNCATE[grain]).date())


def _selection(t: ir.Table, filters: Filters, column: str, timezone: str) -> ir.Table:
    """The rows of the filters' segments and dates."""
    predicates = filters.segment_predicates(t) + filters.date_predicates(t, column, timezone)
    return t.filter(*predicates) if predicates else t


def prepare_contacts(
    backend: ibis.BaseBackend,
    filters: Filters,
    context: Context,
    needs: set[str],
    grain: str | None,
    offsets: Offsets | None,
    periods: Sequence[Period] = (),
) -> ir.Table:
    t = backend.table("contacts")
    if "next_contact" in needs:
        # Over every contact, before filters: a repeat may fall outside the period or segment.
        order = [t.opened_at, t.source, t.contact_id]
        window = ibis.window(group_by=t.customer_key, order_by=order)
        t = t.mutate(next_opened=t.opened_at.lead().over(window))
    t = _selection(t, filters, "opened_at", context.settings.timezone)
    t = t.mutate(**contact_columns(t, context))
    if "elapsed" in needs:
        t = _elapsed(backend, t, context, filters)
        t = t.mutate(**sla_columns(t, context))
    return _period_column(t, "opened_at", grain, offsets, periods)


def prepare_responses(
    backend: ibis.BaseBackend,
    filters: Filters,
    by: Sequence[str],
    timezone: str,
    grain: str | None,
    offsets: Offsets | None,
    periods: Sequence[Period] = (),
) -> ir.Table:
    """Responses with their segment fields; a field the answer lacks (priority always) comes
    from the contact it is linked to."""
    t = backend.table("responses")
    fields = sorted(set(by) | set(filters.segments()))
    if fields:
        t = _with_contact_fields(backend, t, fields)
    t = _selection(t, filters, "responded_at", timezone)
    return _period_column(t, "responded_at", grain, offsets, periods)


def _with_contact_fields(backend: ibis.BaseBackend, t: ir.Table, fields: list[str]) -> ir.Table:
    """Responses whose segment fields fall back to (or, absent, come from) the linked contact's."""
    contacts = backend.table("contacts")
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


def _elapsed(
    backend: ibis.BaseBackend, t: ir.Table, context: Context, filters: Filters
) -> ir.Table:
    """fr_elapsed and res_elapsed in seconds, business or calendar; never negative."""
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
    hours = context.settings.calendar()
    store = CACHE.store_of(backend)
    version = CACHE.version(store) if store is not None else None
    fixed = _fixed_elapsed(backend, hours, version)
    # Matching the opening time too lets the backend skip the stored rows outside the period.
    keys = [
        t.opened_at == fixed._fx_opened,
        t.source == fixed._fx_source,
        t.contact_id == fixed._fx_id,
    ]
    t = t.left_join(fixed, keys).select(*t.columns, "_fx_fr", "_fx_res")
    still_open = _open_elapsed(backend, context, filters, hours, version)
    keys = [
        t.opened_at == still_open._op_opened,
        t.source == still_open._op_source,
        t.contact_id == still_open._op_id,
    ]
    t = t.left_join(still_open, keys).select(*t.columns, "_fx_asof")

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


def _open_elapsed(
    backend: ibis.BaseBackend,
    context: Context,
    filters: Filters,
    hours: BusinessHours,
    version: str | None,
) -> ir.Table:
    """Business seconds to as-of (``_fx_asof``) of the selection's contacts still open then.

    Read from the table with the same filters rather than from the prepared contacts, so the
    backend does not compute those twice.
    """
    first_day = data_profile(backend, version).first_day
    day = context.as_of.date()
    first = first_day.date() if first_day else day
    span = (min(first, day), max(first, day))
    c = _selection(backend.table("contacts"), filters, "opened_at", context.settings.timezone)
    c = c.filter(contact_columns(c, context)["is_open"])
    as_of = ibis.literal(context.as_of, type="timestamp")
    c = c.select(_op_source=c.source, _op_id=c.contact_id, _op_opened=c.opened_at, _op_end=as_of)
    return calendar.business_seconds(backend, c, "_op_opened", "_op_end", hours, "_fx_asof", span)


def _fixed_expr(backend: ibis.BaseBackend, hours: BusinessHours) -> ir.Table:
    """Business seconds from opening to the first response and to the resolution, per contact
    (null where that instant is unknown), with the same calendar function as open clocks."""
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


def _fixed_elapsed(
    backend: ibis.BaseBackend, hours: BusinessHours, version: str | None
) -> ir.Table:
    """The fixed-end business seconds per contact.

    For a store on DuckDB, a table materialised beside the store's connection, named after a
    digest of the store's version and the business hours: an import or a settings change names
    a new table, so it is never stale. Other backends, bare backends (whose data has no version)
    and stores that cannot attach an in-memory database get the expression.
    """
    if version is None or backend.name != "duckdb":
        return _fixed_expr(backend, hours)
    key = json.dumps([version, hours.to_dict()], sort_keys=True, default=str)
    name = "fixed_elapsed_" + hashlib.sha1(key.encode()).hexdigest()[:16]

    def compile_sql() -> str:
        # In opening order, so that a period's rows are a few adjacent row groups.
        return str(backend.compile(_fixed_expr(backend, hours).order_by("_fx_opened")))

    table = CACHE.materialised(backend, name, compile_sql)
    return table if table is not None else _fixed_expr(backend, hours)
