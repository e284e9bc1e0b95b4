"""Per-contact facts the contacts formulas share: when a contact counts as resolved or open,
when an abandoned call is a short abandon, which target a contact is held to, and when it met
or breached it.

They are part of what the definitions mean, so they live beside the declarations; the engine
adds them as columns (``contact_columns`` first, ``sla_columns`` once elapsed times exist).
"""

from __future__ import annotations

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from kpi.metrics.definitions import Context
from kpi.metrics.settings import Settings


def is_true(expr: ir.BooleanValue) -> ir.BooleanValue:
    """Null is not true: keeps unknown flags out of both numerators and populations."""
    return expr.fill_null(False)


def resolved_time_of(t: ir.Table) -> ir.TimestampValue:
    """When a contact was resolved: its resolution time, else its closing time."""
    return ibis.coalesce(t.resolved_at, t.closed_at)


def is_tracked(t: ir.Table, status_sources: frozenset[str] | None = None) -> ir.BooleanValue:
    """Whether a contact has a lifecycle (can be open): it has a status or a time beyond its
    opening, or it is not a call and its source records statuses (anywhere in the store). The
    last keeps a ticket whose status was emptied at import (an unknown value, warned about) in
    the backlog by its timestamps, while a call in a call log (answered or abandoned, no status,
    no times) is never open. Those sources are ``status_sources`` where known (the data
    profile's), else read from the store in the same query (a scan of every contact)."""
    times = resolved_time_of(t).notnull() | t.first_response_at.notnull()
    call = t.answered.notnull() | t.abandoned.notnull()
    if status_sources is not None:
        recording = t.source.isin(sorted(status_sources))
    else:
        stored = _stored_contacts(t)
        # Distinct first: the sources are a handful, the contacts may be millions.
        with_status = stored.filter(stored.status.notnull()).select("source").distinct()
        recording = t.source.isin(with_status.source)
    return t.status.notnull() | times | (~call & recording)


def _stored_contacts(t: ir.Table) -> ir.Table:
    """The stored contacts table ``t`` was derived from. Whether a source records statuses is
    a fact of the whole store, and reading the table itself (not the filtered ``t`` a second
    time) keeps the backend from materialising ``t`` for the subquery."""
    roots = [op for op in t.op().find(ops.DatabaseTable) if op.name == "contacts"]
    return roots[0].to_expr() if roots else t


def target_seconds(t: ir.Table, settings: Settings, attr: str) -> ir.FloatingValue:
    """The target (seconds) a contact is held to: its channel's override, else its priority's;
    contacts without a priority are held to the default priority's."""
    priority = ibis.coalesce(t.priority, ibis.literal(settings.sla_default_priority))
    branches = []
    for channel, targets in settings.sla_channel_targets.items():
        for name, target in targets.items():
            cond = (t.channel == channel) & (priority == name)
            branches.append((is_true(cond), ibis.literal(getattr(target, attr) * 3600.0)))
    for name, target in settings.sla_targets.items():
        branches.append((priority == name, ibis.literal(getattr(target, attr) * 3600.0)))
    if not branches:
        return ibis.null("float64")
    return ibis.cases(*branches, else_=ibis.null("float64"))


def contact_columns(t: ir.Table, context: Context) -> dict[str, ir.Value]:
    """Per-contact facts every contacts formula reads, evaluated at the as-of instant."""
    lifecycle = _lifecycle(t, context)
    return {
        **lifecycle,
        **_call_outcome(t, context.settings),
        **_clocks(t, context, lifecycle),
        "fr_target": target_seconds(t, context.settings, "first_response_hours"),
        "res_target": target_seconds(t, context.settings, "resolution_hours"),
    }


def _lifecycle(t: ir.Table, context: Context) -> dict[str, ir.Value]:
    """Resolved, open, replied: where each contact stands at the as-of instant."""
    as_of = ibis.literal(context.as_of, type="timestamp")
    resolved_time = resolved_time_of(t)
    resolved_by = is_true(resolved_time <= as_of)
    # Resolved with no time: done, but when is unknown (no elapsed time, never open).
    is_resolved = resolved_by | (
        resolved_time.isnull() & is_true(t.status.isin(["resolved", "closed"]))
    )
    # A contact with no lifecycle (a call in a call log) is never open: never in the backlog
    # or an SLA.
    tracked = is_tracked(t, context.status_sources)
    return {
        "resolved_time": resolved_time,
        "is_resolved": is_resolved,
        "resolved_by": resolved_by,
        "is_open": tracked & ~is_resolved,
        "replied": is_true(t.first_response_at <= as_of),
    }


def _call_outcome(t: ir.Table, settings: Settings) -> dict[str, ir.Value]:
    """Answered, abandoned, offered: what happened to a call, short abandons left out."""
    answered = ibis.coalesce(t.answered, ~t.abandoned)
    # A call log may say only "answered": a call not marked answered was abandoned.
    abandoned = is_true(ibis.coalesce(t.abandoned, ~t.answered))
    offered = t.answered.notnull() | t.abandoned.notnull()
    short = abandoned & is_true(t.wait_seconds < settings.short_abandon_seconds)
    return {
        "answered_eff": is_true(answered),
        "abandoned_eff": abandoned,
        "offered_eff": offered & ~short,
        "handled": ~abandoned,
    }


def _clocks(t: ir.Table, context: Context, lifecycle: dict[str, ir.Value]) -> dict[str, ir.Value]:
    """Whether each clock has stopped, and when: at the reply or resolution, else at the as-of
    instant while still open (so an open contact's elapsed time keeps growing), else never."""
    as_of = ibis.literal(context.as_of, type="timestamp")
    null_time = ibis.null("timestamp")
    replied, resolved_by = lifecycle["replied"], lifecycle["resolved_by"]
    is_open, resolved_time = lifecycle["is_open"], lifecycle["resolved_time"]
    fr_done = replied | resolved_by  # a resolution without a reply stops the reply clock
    return {
        "fr_done": fr_done,
        "fr_open": ~fr_done & is_open,
        "fr_end": ibis.cases(
            (replied, t.first_response_at),
            (resolved_by, resolved_time),
            (is_open, as_of),
            else_=null_time,
        ),
        "res_end": ibis.cases((resolved_by, resolved_time), (is_open, as_of), else_=null_time),
    }


def sla_columns(t: ir.Table, context: Context) -> dict[str, ir.Value]:
    """Met / breached per target and overall, from the elapsed times the engine added.

    Met: done within target. Breached: over target, done or still open. Neither: still open
    within target, or no outcome (no target, resolved with no time).
    """
    per_target = {
        "fr_met": t.fr_done & is_true(t.fr_elapsed <= t.fr_target),
        "fr_breached": (t.fr_done | t.fr_open) & is_true(t.fr_elapsed > t.fr_target),
        "res_met": t.resolved_by & is_true(t.res_elapsed <= t.res_target),
        "res_breached": (t.resolved_by | t.is_open) & is_true(t.res_elapsed > t.res_target),
    }
    met, breached = _overall(per_target, context)
    return {**per_target, "sla_met_all": met, "sla_breached_any": breached}


def _overall(
    per_target: dict[str, ir.BooleanValue], context: Context
) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(met every target, breached any) over the targets the data has times for."""
    applies = [
        (per_target[f"{prefix}_met"], per_target[f"{prefix}_breached"])
        for prefix, column in (("fr", "first_response_at"), ("res", "resolved_time"))
        if context.has(column)
    ]
    if not applies:
        return ibis.literal(False), ibis.literal(False)
    if len(applies) == 1:
        return applies[0]
    return applies[0][0] & applies[1][0], applies[0][1] | applies[1][1]
