"""The KPI registry: every KPI declared once, with its formula as Ibis expressions.

A ``Metric`` is a key, a label, a unit, a direction and one or more ``Formula`` variants. A
formula says which rows of the prepared contacts or responses table make up its population (the
n), which of them count as successes (proportions), or which value is averaged or ranked (means,
medians). The engine turns these into one grouped aggregate per table; nothing here touches data.
Adding a KPI is one entry in ``REGISTRY``.

Row-level building blocks that several formulas share (``contact_columns``, ``sla_columns``) live
here too, because they are part of what the definitions mean (when a contact counts as resolved,
when an abandoned call is a short abandon, when a target is breached).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir

from kpi.metrics.settings import FCR_VARIANTS, Settings

Kind = Literal["proportion", "nps", "mean", "quantiles", "count", "stock"]
Table = Literal["contacts", "responses"]
Rows = Callable[[ir.Table, "Context"], ir.BooleanValue]
Values = Callable[[ir.Table, "Context"], ir.NumericValue]


@dataclass(frozen=True)
class Context:
    """What a formula may depend on besides the rows: the settings, the as-of instant, and which
    columns have any values in the report's data (``supported``)."""

    settings: Settings
    as_of: datetime
    supported: frozenset[str] = frozenset()

    def has(self, column: str) -> bool:
        return column in self.supported


@dataclass(frozen=True)
class Formula:
    """One variant of a KPI: its population, and its successes or its values."""

    kind: Kind
    #: One sentence, formatted with the settings' fields and ``hours``/``targets`` (or a callable).
    definition: str | Callable[[Context], str]
    #: The rows in n (answers, handled contacts, offered calls...).
    population: Rows
    #: What the population is called in "no ... in the data".
    population_name: str
    #: proportion: rows counted as successes; nps: promoters.
    success: Rows | None = None
    #: nps: detractors.
    failure: Rows | None = None
    #: mean and quantiles: the value of each row of the population.
    value: Values | None = None
    #: Profile columns of which at least one must have data, else the KPI is null with ``missing``.
    requires: tuple[str, ...] = ()
    missing: str = ""
    #: Extra counts reported beside the value (e.g. contacts still unanswered).
    extra_counts: Mapping[str, Rows] = field(default_factory=dict)
    #: Columns whose min and max over the population must agree (e.g. the CSAT scale).
    same_scale: tuple[str, str] | None = None
    #: Prepared columns the engine must add before this formula can run.
    needs: tuple[str, ...] = ()

    def supported_by(self, context: Context) -> bool:
        return not self.requires or any(context.has(c) for c in self.requires)

    def describe(self, context: Context, **extra: object) -> str:
        """The definition sentence; ``extra`` fills placeholders known only from the data."""
        if callable(self.definition):
            return self.definition(context)
        return self.definition.format(**{"scale": "", **_text_values(context.settings), **extra})


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    #: "higher" or "lower" is better; None for volumes.
    direction: Literal["higher", "lower"] | None
    table: Table
    variants: Mapping[str, Formula]
    #: The variants to try, in order; the first the data supports is used.
    candidates: Callable[[Settings], tuple[str, ...]] = lambda settings: ("standard",)

    def choose(self, context: Context) -> tuple[str, Formula]:
        """The variant used: the first candidate the data supports, else the first candidate
        (whose ``missing`` reason then explains the null)."""
        names = self.candidates(context.settings)
        for name in names:
            if self.variants[name].supported_by(context):
                return name, self.variants[name]
        return names[0], self.variants[names[0]]

    def definition(self, context: Context, **extra: object) -> str:
        """ "FCR (one_touch): % of ...": the label, the variant used, and what it means."""
        variant, formula = self.choose(context)
        name = self.label if len(self.variants) == 1 else f"{self.label} ({variant})"
        return f"{name}: {formula.describe(context, **extra)}"


# --- shared row logic --------------------------------------------------------------------------


def _true(expr: ir.BooleanValue) -> ir.BooleanValue:
    """Null is not true: keeps unknown flags out of both numerators and populations."""
    return expr.fill_null(False)


def _text_values(settings: Settings) -> dict[str, object]:
    values: dict[str, object] = {k: v for k, v in vars(settings).items()}
    values["hours"] = settings.hours_label()
    values["fr_targets"] = _targets_text(settings, "first_response_hours")
    values["res_targets"] = _targets_text(settings, "resolution_hours")
    return values


def _targets_text(settings: Settings, attr: str) -> str:
    parts = [f"{p} {getattr(t, attr):g} h" for p, t in settings.sla_targets.items()]
    for channel, targets in settings.sla_channel_targets.items():
        parts += [f"{p} by {channel} {getattr(t, attr):g} h" for p, t in targets.items()]
    return ", ".join(parts)


def target_seconds(t: ir.Table, settings: Settings, attr: str) -> ir.FloatingValue:
    """The target (seconds) a contact is held to: its channel's override, else its priority's;
    contacts without a priority are held to the default priority's."""
    priority = ibis.coalesce(t.priority, ibis.literal(settings.sla_default_priority))
    branches = []
    for channel, targets in settings.sla_channel_targets.items():
        for name, target in targets.items():
            cond = (t.channel == channel) & (priority == name)
            branches.append((_true(cond), ibis.literal(getattr(target, attr) * 3600.0)))
    for name, target in settings.sla_targets.items():
        branches.append((priority == name, ibis.literal(getattr(target, attr) * 3600.0)))
    if not branches:
        return ibis.null("float64")
    return ibis.cases(*branches, else_=ibis.null("float64"))


def resolved_time_of(t: ir.Table) -> ir.TimestampValue:
    """When a contact was resolved: its resolution time, else its closing time."""
    return ibis.coalesce(t.resolved_at, t.closed_at)


def contact_columns(t: ir.Table, context: Context) -> dict[str, ir.Value]:
    """Per-contact facts every contacts formula reads, evaluated at the as-of instant."""
    settings = context.settings
    as_of = ibis.literal(context.as_of, type="timestamp")
    null_time = ibis.null("timestamp")
    resolved_time = resolved_time_of(t)
    resolved_by = _true(resolved_time <= as_of)
    # Resolved with no time: done, but when is unknown (no elapsed time, never open).
    is_resolved = resolved_by | (
        resolved_time.isnull() & _true(t.status.isin(["resolved", "closed"]))
    )
    replied = _true(t.first_response_at <= as_of)
    answered = ibis.coalesce(t.answered, ~t.abandoned)
    # DESIGN.md: abandoned defaults to "not answered" for calls.
    abandoned = _true(ibis.coalesce(t.abandoned, ~t.answered))
    offered = t.answered.notnull() | t.abandoned.notnull()
    short = abandoned & _true(t.wait_seconds < settings.short_abandon_seconds)
    fr_done = replied | resolved_by  # a resolution without a reply stops the reply clock
    # A contact with no status and no times (a call in a call log) has no lifecycle to track:
    # it is never open, so never in the backlog or an SLA.
    tracked = t.status.notnull() | resolved_time.notnull() | t.first_response_at.notnull()
    is_open = tracked & ~is_resolved
    return {
        "resolved_time": resolved_time,
        "is_resolved": is_resolved,
        "resolved_by": resolved_by,
        "is_open": is_open,
        "replied": replied,
        "answered_eff": _true(answered),
        "abandoned_eff": abandoned,
        "offered_eff": offered & ~short,
        "handled": ~abandoned,
        "fr_done": fr_done,
        "fr_open": ~fr_done & is_open,
        "fr_end": ibis.cases(
            (replied, t.first_response_at),
            (resolved_by, resolved_time),
            (is_open, as_of),
            else_=null_time,
        ),
        "res_end": ibis.cases((resolved_by, resolved_time), (is_open, as_of), else_=null_time),
        "fr_target": target_seconds(t, settings, "first_response_hours"),
        "res_target": target_seconds(t, settings, "resolution_hours"),
    }


def sla_columns(t: ir.Table, context: Context) -> dict[str, ir.Value]:
    """Met / breached per target and overall, from the elapsed times the engine added.

    Met: done within target. Breached: over target, done or still open. Neither: still open
    within target, or no outcome (no target, resolved with no time).
    """
    fr_met = t.fr_done & _true(t.fr_elapsed <= t.fr_target)
    fr_breached = (t.fr_done | t.fr_open) & _true(t.fr_elapsed > t.fr_target)
    res_met = t.resolved_by & _true(t.res_elapsed <= t.res_target)
    res_breached = (t.resolved_by | t.is_open) & _true(t.res_elapsed > t.res_target)
    applies = [
        (met, breached)
        for column, met, breached in (
            ("first_response_at", fr_met, fr_breached),
            ("resolved_time", res_met, res_breached),
        )
        if context.has(column)
    ]
    if not applies:
        met, breached = ibis.literal(False), ibis.literal(False)
    elif len(applies) == 1:
        met, breached = applies[0]
    else:
        met = applies[0][0] & applies[1][0]
        breached = applies[0][1] | applies[1][1]
    return {
        "fr_met": fr_met,
        "fr_breached": fr_breached,
        "res_met": res_met,
        "res_breached": res_breached,
        "sla_met_all": met,
        "sla_breached_any": breached,
    }


def _repeat(t: ir.Table, context: Context) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(repeat, known) for no_repeat FCR: the customer's next contact (``next_opened``, added by
    the engine) came within the window after resolution; known once the window has passed."""
    window = ibis.interval(days=context.settings.fcr_repeat_window_days)
    window_end = ibis.coalesce(t.resolved_time, t.opened_at) + window
    repeat = _true(t.next_opened <= window_end)
    known = repeat | _true(window_end <= ibis.literal(context.as_of, type="timestamp"))
    return repeat, known


def _fcr_candidates(settings: Settings) -> tuple[str, ...]:
    return FCR_VARIANTS if settings.fcr_variant == "auto" else (settings.fcr_variant,)


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


# --- response-side row logic ------------------------------------------------------------------


def _csat_satisfied(rule: str) -> Rows:
    def satisfied(t: ir.Table, context: Context) -> ir.BooleanValue:
        points = t.csat_scale_max - t.csat_scale_min + 1
        top_box = t.csat >= t.csat_scale_max
        top_two = t.csat >= t.csat_scale_max - 1
        if rule == "top_box":
            return top_box
        if rule == "top_2_box":
            return top_two
        return ibis.ifelse(points >= 4, top_two, top_box)

    return satisfied


def _csat_answers(t: ir.Table, context: Context) -> ir.BooleanValue:
    return t.csat.notnull() & t.csat_scale_min.notnull() & t.csat_scale_max.notnull()


def _ces_answers(t: ir.Table, context: Context) -> ir.BooleanValue:
    return t.ces.notnull() & t.ces_scale_min.notnull() & t.ces_scale_max.notnull()


def _ces_easy(t: ir.Table, context: Context) -> ir.BooleanValue:
    # Top k points of 1-7 = a position of at least (7 - k) / 6 along the scale; the same share
    # of any other scale (stored so that higher = easier).
    top = context.settings.ces_easy_top
    return (t.ces - t.ces_scale_min) * 6 >= (7 - top) * (t.ces_scale_max - t.ces_scale_min)


_CSAT_RULE_TEXT = {
    "auto": "% of CSAT answers that are satisfied: the top two points of a scale of 4 or more "
    "points (4-5 of 5, 9-10 of 10), the top point of a 2-3 point scale (Good of Good/Bad).",
    "top_box": "% of CSAT answers at the top point of their scale.",
    "top_2_box": "% of CSAT answers in the top two points of their scale.",
}


def _proportion(
    definition: str | Callable[[Context], str],
    population: Rows,
    success: Rows,
    population_name: str,
    requires: tuple[str, ...] = (),
    missing: str = "",
    needs: tuple[str, ...] = (),
) -> Formula:
    return Formula(
        "proportion",
        definition,
        population,
        population_name,
        success=success,
        requires=requires,
        missing=missing,
        needs=needs,
    )


def _rate_of_flag(column: str, noun: str, what: str) -> Formula:
    return _proportion(
        f"% of contacts {what} (as the source flags them), of contacts where it is known.",
        lambda t, c: t[column].notnull(),
        lambda t, c: _true(t[column]),
        f"contacts with a known {noun} flag",
        requires=(column,),
        missing=f"no {noun} flags in the data",
    )


def _hours(
    elapsed: str, done: str, still_open: str, open_count: str, what: str, missing: str
) -> Formula:
    return Formula(
        "quantiles",
        f"median hours ({{hours}}) from contact to {what}, with the 90th percentile beside it; "
        f"contacts still without one are counted separately, not in the median.",
        lambda t, c: t[done] & t[elapsed].notnull(),
        f"contacts with a {what}",
        value=lambda t, c: t[elapsed] / 3600.0,
        requires=("first_response_at",) if elapsed == "fr_elapsed" else ("resolved_time",),
        missing=missing,
        extra_counts={open_count: lambda t, c: t[still_open]},
        needs=("elapsed",),
    )


REGISTRY: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric(
            "nps",
            "NPS",
            "points",
            "higher",
            "responses",
            {
                "standard": Formula(
                    "nps",
                    "100 x (promoters scoring 9-10 - detractors scoring 0-6) / all "
                    "likelihood-to-recommend answers; passives (7-8) count only in the total.",
                    lambda t, c: t.nps.notnull(),
                    "NPS answers",
                    success=lambda t, c: t.nps >= 9,
                    failure=lambda t, c: t.nps <= 6,
                    requires=("nps",),
                    missing="no NPS answers in the data",
                )
            },
        ),
        Metric(
            "csat",
            "CSAT",
            "%",
            "higher",
            "responses",
            {
                rule: _proportion(
                    text,
                    _csat_answers,
                    _csat_satisfied(rule),
                    "CSAT answers",
                    requires=("csat",),
                    missing="no CSAT answers in the data",
                )
                for rule, text in _CSAT_RULE_TEXT.items()
            },
            candidates=lambda s: (s.csat_rule,),
        ),
        Metric(
            "csat_mean",
            "CSAT mean",
            "score",
            "higher",
            "responses",
            {
                "standard": Formula(
                    "mean",
                    "mean CSAT score on its own scale{scale}.",
                    _csat_answers,
                    "CSAT answers",
                    value=lambda t, c: t.csat,
                    requires=("csat",),
                    missing="no CSAT answers in the data",
                    same_scale=("csat_scale_min", "csat_scale_max"),
                )
            },
        ),
        Metric(
            "ces",
            "CES",
            "%",
            "higher",
            "responses",
            {
                "standard": _proportion(
                    "% of effort answers in the 'easy' top {ces_easy_top} points of a 1-7 scale "
                    "(the same share of other scales; direction normalised so higher = easier).",
                    _ces_answers,
                    _ces_easy,
                    "CES answers",
                    requires=("ces",),
                    missing="no CES answers in the data",
                )
            },
        ),
        Metric(
            "fcr",
            "FCR",
            "%",
            "higher",
            "contacts",
            {
                "flag": _proportion(
                    "% of handled contacts (all but abandoned calls) that the source system "
                    "marked as resolved at first contact.",
                    lambda t, c: t.handled & t.first_contact_resolved.notnull(),
                    lambda t, c: _true(t.first_contact_resolved),
                    "handled contacts with a first-contact-resolution flag",
                    requires=("first_contact_resolved",),
                    missing="no first-contact-resolution flags in the data",
                ),
                "one_touch": _proportion(
                    "% of resolved, handled contacts closed with at most one agent reply and "
                    "never reopened.",
                    lambda t, c: t.handled & t.is_resolved & t.agent_replies.notnull(),
                    lambda t, c: (t.agent_replies <= 1) & (t.reopens.fill_null(0) == 0),
                    "resolved contacts with a reply count",
                    requires=("agent_replies",),
                    missing="no agent reply counts in the data",
                ),
                "no_repeat": _proportion(
                    "% of resolved, handled contacts after which the same customer did not "
                    "contact again within {fcr_repeat_window_days} days of resolution (contacts "
                    "whose window has not ended by the as-of instant are left out).",
                    lambda t, c: (
                        t.handled & t.is_resolved & t.customer_key.notnull() & _repeat(t, c)[1]
                    ),
                    lambda t, c: ~_repeat(t, c)[0],
                    "resolved contacts with a known customer",
                    requires=("customer_key",),
                    missing="no customer identifiers in the data to detect repeat contacts",
                    needs=("next_contact",),
                ),
            },
            candidates=_fcr_candidates,
        ),
        Metric(
            "sla",
            "SLA",
            "%",
            "higher",
            "contacts",
            {
                "targets": _proportion(
                    _sla_definition,
                    lambda t, c: t.sla_met_all | t.sla_breached_any,
                    lambda t, c: t.sla_met_all,
                    "contacts with an SLA outcome",
                    requires=("first_response_at", "resolved_time"),
                    missing="no response or resolution times in the data",
                    needs=("elapsed",),
                ),
                "source_flag": _proportion(
                    "% of contacts the source system marked as within SLA (the data has no "
                    "response or resolution times to check targets against).",
                    lambda t, c: t.sla_met.notnull(),
                    lambda t, c: _true(t.sla_met),
                    "contacts with an SLA flag",
                    requires=("sla_met",),
                    missing="no response or resolution times and no SLA flags in the data",
                ),
            },
            candidates=lambda s: ("targets", "source_flag"),
        ),
        Metric(
            "sla_first_response",
            "SLA first response",
            "%",
            "higher",
            "contacts",
            {
                "standard": _proportion(
                    "% of contacts whose first reply came within their priority's target "
                    "({fr_targets}) in {hours}: met / (met + breached); a contact still "
                    "unanswered past its target is breached, one within it is left out; a "
                    "resolution without a reply stops the clock.",
                    lambda t, c: t.fr_met | t.fr_breached,
                    lambda t, c: t.fr_met,
                    "contacts with a first-response outcome",
                    requires=("first_response_at",),
                    missing="no first-response times in the data",
                    needs=("elapsed",),
                )
            },
        ),
        Metric(
            "sla_resolution",
            "SLA resolution",
            "%",
            "higher",
            "contacts",
            {
                "standard": _proportion(
                    "% of contacts resolved within their priority's target ({res_targets}) in "
                    "{hours}: met / (met + breached); a contact still open past its target is "
                    "breached, one within it is left out.",
                    lambda t, c: t.res_met | t.res_breached,
                    lambda t, c: t.res_met,
                    "contacts with a resolution outcome",
                    requires=("resolved_time",),
                    missing="no resolution times in the data",
                    needs=("elapsed",),
                )
            },
        ),
        Metric(
            "first_response_hours",
            "First response time",
            "hours",
            "lower",
            "contacts",
            {
                "standard": _hours(
                    "fr_elapsed",
                    "replied",
                    "fr_open",
                    "unanswered",
                    "first reply",
                    "no first-response times in the data",
                )
            },
        ),
        Metric(
            "resolution_hours",
            "Resolution time",
            "hours",
            "lower",
            "contacts",
            {
                "standard": _hours(
                    "res_elapsed",
                    "resolved_by",
                    "is_open",
                    "unresolved",
                    "resolution",
                    "no resolution times in the data",
                )
            },
        ),
        Metric(
            "aht_seconds",
            "Average handle time",
            "seconds",
            "lower",
            "contacts",
            {
                "standard": Formula(
                    "mean",
                    "mean handle time (talk + hold + wrap) in seconds of handled contacts that "
                    "have one.",
                    lambda t, c: t.handled & t.handle_seconds.notnull(),
                    "handled contacts with a handle time",
                    value=lambda t, c: t.handle_seconds,
                    requires=("handle_seconds",),
                    missing="no handle times in the data",
                )
            },
        ),
        Metric(
            "asa_seconds",
            "Average speed of answer",
            "seconds",
            "lower",
            "contacts",
            {
                "standard": Formula(
                    "mean",
                    "mean wait in the queue, in seconds, of answered calls.",
                    lambda t, c: t.answered_eff & t.wait_seconds.notnull(),
                    "answered calls with a wait time",
                    value=lambda t, c: t.wait_seconds,
                    requires=("wait_seconds",),
                    missing="no wait times in the data",
                )
            },
        ),
        Metric(
            "abandonment_rate",
            "Abandonment rate",
            "%",
            "lower",
            "contacts",
            {
                "standard": _proportion(
                    "% of offered calls the caller abandoned; calls abandoned within "
                    "{short_abandon_seconds:g} s (short abandons) are left out of both counts "
                    "when wait times exist.",
                    lambda t, c: t.offered_eff,
                    lambda t, c: t.abandoned_eff,
                    "offered calls",
                    requires=("offered",),
                    missing="no answered or abandoned calls in the data",
                )
            },
        ),
        Metric(
            "service_level",
            "Service level",
            "%",
            "higher",
            "contacts",
            {
                "standard": _proportion(
                    "% of offered calls answered within {service_level_seconds:g} s; short "
                    "abandons (under {short_abandon_seconds:g} s) are left out, and so are "
                    "answered calls with no wait time.",
                    lambda t, c: t.offered_eff & (t.abandoned_eff | t.wait_seconds.notnull()),
                    lambda t, c: (
                        t.answered_eff & _true(t.wait_seconds <= c.settings.service_level_seconds)
                    ),
                    "offered calls",
                    requires=("wait_seconds",),
                    missing="no call wait times in the data",
                )
            },
        ),
        Metric(
            "reopen_rate",
            "Reopen rate",
            "%",
            "lower",
            "contacts",
            {
                "standard": _proportion(
                    "% of resolved contacts that were reopened at least once.",
                    lambda t, c: t.is_resolved & t.reopens.notnull(),
                    lambda t, c: t.reopens > 0,
                    "resolved contacts with a reopen count",
                    requires=("reopens",),
                    missing="no reopen counts in the data",
                )
            },
        ),
        Metric(
            "escalation_rate",
            "Escalation rate",
            "%",
            "lower",
            "contacts",
            {"standard": _rate_of_flag("escalated", "escalation", "escalated")},
        ),
        Metric(
            "complaint_rate",
            "Complaint rate",
            "%",
            "lower",
            "contacts",
            {"standard": _rate_of_flag("complaint", "complaint", "that are complaints")},
        ),
        Metric(
            "contacts",
            "Contacts",
            "count",
            None,
            "contacts",
            {
                "standard": Formula(
                    "count",
                    "contacts opened in the period.",
                    lambda t, c: ibis.literal(True),
                    "contacts",
                )
            },
        ),
        Metric(
            "responses",
            "Survey responses",
            "count",
            None,
            "responses",
            {
                "standard": Formula(
                    "count",
                    "survey answers given in the period (undated answers count only when no "
                    "dates are set).",
                    lambda t, c: ibis.literal(True),
                    "survey answers",
                )
            },
        ),
        Metric(
            "backlog",
            "Backlog",
            "count",
            "lower",
            "contacts",
            {
                "standard": Formula(
                    "stock",
                    "contacts open at the end of the period (or at the as-of instant if that "
                    "is earlier), whenever they were opened; pending and on-hold count as open.",
                    lambda t, c: ibis.literal(True),
                    "open contacts",
                )
            },
        ),
    )
}

KEYS: tuple[str, ...] = tuple(REGISTRY)


def metric(key: str) -> Metric:
    try:
        return REGISTRY[key]
    except KeyError:
        raise ValueError(f"unknown KPI {key!r}; choose from {', '.join(KEYS)}") from None


def glossary(settings: Settings | None = None) -> list[dict[str, str | None]]:
    """Label, unit, direction and default definition of every KPI (README, pages, exports)."""
    context = Context(settings or Settings(), datetime(2000, 1, 1), frozenset(PROFILE_ALL))
    return [
        {
            "key": m.key,
            "label": m.label,
            "unit": m.unit,
            "direction": m.direction,
            "definition": m.definition(context),
        }
        for m in REGISTRY.values()
    ]


#: Every profile column a formula may require (the engine counts which have data).
PROFILE_ALL = frozenset(
    c for m in REGISTRY.values() for f in m.variants.values() for c in f.requires
)
