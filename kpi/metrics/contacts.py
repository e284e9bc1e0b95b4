"""Contact-handling KPIs, read from the contacts table: first-contact resolution, SLAs,
response and resolution times, and the reopen, escalation and complaint rates.

They read the per-contact facts of ``kpi.metrics.contact_facts`` (``handled``, ``is_resolved``,
``fr_met``...), which the engine adds before it aggregates.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kpi.metrics.contact_facts import is_true
from kpi.metrics.definitions import Context, Formula, Metric, Rows, proportion
from kpi.metrics.settings import FCR_VARIANTS, SLA_VARIANTS, Settings

# --- first-contact resolution ------------------------------------------------------------------


def _repeat(t: ir.Table, context: Context) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(repeat, known) for no_repeat FCR: the customer's next contact (``next_opened``, added by
    the engine) came within the window after resolution; known once the window has passed."""
    window = ibis.interval(days=context.settings.fcr_repeat_window_days)
    window_end = ibis.coalesce(t.resolved_time, t.opened_at) + window
    repeat = is_true(t.next_opened <= window_end)
    known = repeat | is_true(window_end <= ibis.literal(context.as_of, type="timestamp"))
    return repeat, known


def _fcr_candidates(settings: Settings) -> tuple[str, ...]:
    return FCR_VARIANTS if settings.fcr_variant == "auto" else (settings.fcr_variant,)


FCR = Metric(
    key="fcr",
    label="FCR",
    unit="%",
    direction="higher",
    table="contacts",
    variants={
        "flag": proportion(
            definition="% of handled contacts (all but abandoned calls) that the source system "
            "marked as resolved at first contact.",
            population=lambda t, c: t.handled & t.first_contact_resolved.notnull(),
            success=lambda t, c: is_true(t.first_contact_resolved),
            population_name="handled contacts with a first-contact-resolution flag",
            requires=("first_contact_resolved",),
            missing="no first-contact-resolution flags in the data",
        ),
        "one_touch": proportion(
            definition="% of resolved, handled contacts closed with at most one agent reply and "
            "never reopened.",
            population=lambda t, c: t.handled & t.is_resolved & t.agent_replies.notnull(),
            success=lambda t, c: (t.agent_replies <= 1) & (t.reopens.fill_null(0) == 0),
            population_name="resolved contacts with a reply count",
            requires=("agent_replies",),
            missing="no agent reply counts in the data",
        ),
        "no_repeat": proportion(
            definition="% of resolved, handled contacts after which the same customer did not "
            "contact again within {fcr_repeat_window_days} days of resolution (contacts "
            "whose window has not ended by the as-of instant are left out).",
            population=lambda t, c: (
                t.handled & t.is_resolved & t.customer_key.notnull() & _repeat(t, c)[1]
            ),
            success=lambda t, c: ~_repeat(t, c)[0],
            population_name="resolved contacts with a known customer",
            requires=("customer_key",),
            missing="no customer identifiers in the data to detect repeat contacts",
            needs=("next_contact",),
        ),
    },
    candidates=_fcr_candidates,
)

# --- service-level agreements ------------------------------------------------------------------


def _sla_definition(context: Context) -> str:
    targets = [
        name
        for name, column in (
            ("first response", "first_response_at"),
            ("resolution", "resolved_time"),
        )
        if context.has(column)
    ]
    which = (
        " and ".join(targets)
        if len(targets) > 1
        else f"{targets[0]} (the only target the data supports)"
        if targets
        else "none"
    )
    return (
        f"% of contacts that met every target that applies ({which}, by priority, in "
        f"{context.settings.hours_label()}); a contact still open past a target is breached, one "
        "still open within it is left out."
    )


def _source_flag_definition(context: Context) -> str:
    """Why the source's flag is used: chosen in settings, or the only SLA the data supports."""
    why = (
        "chosen in settings over checking the targets here"
        if context.settings.sla_variant == "source_flag"
        else "the data has no response or resolution times to check targets against"
    )
    return f"% of contacts the source system marked as within SLA ({why})."


def _sla_candidates(settings: Settings) -> tuple[str, ...]:
    return SLA_VARIANTS if settings.sla_variant == "auto" else (settings.sla_variant,)


SLA = Metric(
    key="sla",
    label="SLA",
    unit="%",
    direction="higher",
    table="contacts",
    variants={
        "targets": proportion(
            definition=_sla_definition,
            population=lambda t, c: t.sla_met_all | t.sla_breached_any,
            success=lambda t, c: t.sla_met_all,
            population_name="contacts with an SLA outcome",
            requires=("first_response_at", "resolved_time"),
            missing="no response or resolution times in the data",
            needs=("elapsed",),
        ),
        "source_flag": proportion(
            definition=_source_flag_definition,
            population=lambda t, c: t.sla_met.notnull(),
            success=lambda t, c: is_true(t.sla_met),
            population_name="contacts with an SLA flag",
            requires=("sla_met",),
            missing="no SLA flags from the source system in the data",
        ),
    },
    candidates=_sla_candidates,
)

SLA_FIRST_RESPONSE = Metric(
    key="sla_first_response",
    label="SLA first response",
    unit="%",
    direction="higher",
    table="contacts",
    variants={
        "standard": proportion(
            definition="% of contacts whose first reply came within their priority's target "
            "({fr_targets}) in {hours}: met / (met + breached); a contact still "
            "unanswered past its target is breached, one within it is left out; a "
            "resolution without a reply stops the clock.",
            population=lambda t, c: t.fr_met | t.fr_breached,
            success=lambda t, c: t.fr_met,
            population_name="contacts with a first-response outcome",
            requires=("first_response_at",),
            missing="no first-response times in the data",
            needs=("elapsed",),
        )
    },
)

SLA_RESOLUTION = Metric(
    key="sla_resolution",
    label="SLA resolution",
    unit="%",
    direction="higher",
    table="contacts",
    variants={
        "standard": proportion(
            definition="% of contacts resolved within their priority's target ({res_targets}) "
            "in {hours}: met / (met + breached); a contact still open past its target is "
            "breached, one within it is left out.",
            population=lambda t, c: t.res_met | t.res_breached,
            success=lambda t, c: t.res_met,
            population_name="contacts with a resolution outcome",
            requires=("resolved_time",),
            missing="no resolution times in the data",
            needs=("elapsed",),
        )
    },
)

# --- response and resolution times -------------------------------------------------------------


def _hours(
    *,
    elapsed: str,
    done: str,
    still_open: str,
    open_count: str,
    what: str,
    missing: str,
    source: str = "",
    fallback: tuple[str, Rows, str] | None = None,
) -> Formula:
    """Median (and p90) hours to ``what``, from the elapsed column the engine adds; contacts
    still open (``still_open``) are counted apart as ``open_count``. ``source`` says which time
    ends the clock; ``fallback`` is (count name, rows, note) for the rows that end it otherwise."""
    extra: dict[str, Rows] = {open_count: lambda t, c: t[still_open]}
    notes = {}
    if fallback is not None:
        name, rows, note = fallback
        extra[name] = lambda t, c: t[done] & t[elapsed].notnull() & rows(t, c)
        notes[name] = note
    return Formula(
        kind="quantiles",
        definition=f"median hours ({{hours}}) from contact to {what}{source}, with the 90th "
        "percentile beside it; contacts still without one are counted separately, not in the "
        "median.",
        population=lambda t, c: t[done] & t[elapsed].notnull(),
        population_name=f"contacts with a {what}",
        value=lambda t, c: t[elapsed] / 3600.0,
        requires=("first_response_at",) if elapsed == "fr_elapsed" else ("resolved_time",),
        missing=missing,
        extra_counts=extra,
        notes=notes,
        needs=("elapsed",),
    )


FIRST_RESPONSE_HOURS = Metric(
    key="first_response_hours",
    label="First response time",
    unit="hours",
    direction="lower",
    table="contacts",
    variants={
        "standard": _hours(
            elapsed="fr_elapsed",
            done="replied",
            still_open="fr_open",
            open_count="unanswered",
            what="first reply",
            missing="no first-response times in the data",
        )
    },
)

RESOLUTION_HOURS = Metric(
    key="resolution_hours",
    label="Resolution time",
    unit="hours",
    direction="lower",
    table="contacts",
    variants={
        "standard": _hours(
            elapsed="res_elapsed",
            done="resolved_by",
            still_open="is_open",
            open_count="unresolved",
            what="resolution",
            missing="no resolution times in the data",
            source=" (its resolved time, or its closing time when the source gives no "
            "resolved time)",
            fallback=(
                "closed_at_used",
                lambda t, c: t.resolved_at.isnull() & t.closed_at.notnull(),
                "The closing time stood in for a missing resolved time on {n:,} of these contacts.",
            ),
        )
    },
)

# --- rates of reopened, escalated and complaint contacts ---------------------------------------


def _rate_of_flag(column: str, noun: str, what: str) -> Formula:
    """% of contacts the source flags with ``column``, of those where the flag is known."""
    return proportion(
        definition=f"% of contacts {what} (as the source flags them), of contacts where it is "
        "known.",
        population=lambda t, c: t[column].notnull(),
        success=lambda t, c: is_true(t[column]),
        population_name=f"contacts with a known {noun} flag",
        requires=(column,),
        missing=f"no {noun} flags in the data",
    )


REOPEN_RATE = Metric(
    key="reopen_rate",
    label="Reopen rate",
    unit="%",
    direction="lower",
    table="contacts",
    variants={
        "standard": proportion(
            definition="% of resolved contacts that were reopened at least once.",
            population=lambda t, c: t.is_resolved & t.reopens.notnull(),
            success=lambda t, c: t.reopens > 0,
            population_name="resolved contacts with a reopen count",
            requires=("reopens",),
            missing="no reopen counts in the data",
        )
    },
)

ESCALATION_RATE = Metric(
    key="escalation_rate",
    label="Escalation rate",
    unit="%",
    direction="lower",
    table="contacts",
    variants={"standard": _rate_of_flag("escalated", "escalation", "escalated")},
)

COMPLAINT_RATE = Metric(
    key="complaint_rate",
    label="Complaint rate",
    unit="%",
    direction="lower",
    table="contacts",
    variants={"standard": _rate_of_flag("complaint", "complaint", "that are complaints")},
)

#: Resolution and service levels, in the order the README glossary and the pages list them.
SERVICE: tuple[Metric, ...] = (
    FCR,
    SLA,
    SLA_FIRST_RESPONSE,
    SLA_RESOLUTION,
    FIRST_RESPONSE_HOURS,
    RESOLUTION_HOURS,
)

#: Rates of contacts flagged as reopened, escalated or complaints (listed after the call KPIs).
RATES: tuple[Metric, ...] = (REOPEN_RATE, ESCALATION_RATE, COMPLAINT_RATE)
