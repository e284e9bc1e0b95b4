"""The rows behind a number: the contacts or answers a KPI counted in its n, with the fields
that decided each one's outcome.

A drill-through is filtered exactly as the number was, by construction rather than by care:
the rows come from the engine's own ``prepare_contacts`` / ``prepare_responses`` with the same
filters, settings, as-of instant and chosen formula, and are kept by the formula's own
population (with a value, for means and medians), which is what ``aggregation`` counts as n.
Success and outcome columns are the formula's own expressions too.

What leaves here is for a supervisor's eyes on a page, never a download: customers appear only
as their pseudonymised key, and free text was scrubbed at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from kpi.engine.backend import CACHE, backend_of
from kpi.engine.comparison import MeAgainstRest
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.engine.preparation import needs, prepare_contacts, prepare_responses
from kpi.engine.profile import data_profile
from kpi.engine.tables import EMPTY, format_value
from kpi.engine.timeline import to_utc
from kpi.errors import InvalidChoice
from kpi.metrics.registry import REGISTRY, Context, Formula, Metric
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store

#: At most this many rows are shown; the note says how many there are in all.
DRILL_LIMIT = 500

Format = Literal["text", "time", "hours", "seconds", "yes_no", "score", "count"]
#: Which of a rate's rows a drill-through keeps, when not all of them.
Only = Literal["successes", "failures"]
Expr = Callable[[ir.Table, Context], ir.Value]


@dataclass(frozen=True)
class Column:
    """One column of a drill-through table: its human header, its value, and how it reads."""

    header: str
    value: Expr
    format: Format = "text"


@dataclass(frozen=True)
class Drill:
    """The rows behind one KPI's number: ``n`` in all, ``rows`` the first ``limit`` of them (the
    ones that counted against the KPI first), with human headers and units in every cell."""

    key: str
    noun: str
    n: int
    rows: pd.DataFrame
    where: str
    #: The order the rows are listed in, in words.
    order: str = "oldest first"

    @property
    def note(self) -> str:
        """ "Showing 500 of 1,234 contacts (...)" or "All 12 contacts (...)"."""
        order = self.order
        if len(self.rows) < self.n:
            return f"Showing {len(self.rows):,} of {self.n:,} {self.noun} ({order}): {self.where}."
        return f"All {self.n:,} {self.noun} ({order}): {self.where}."


def drillable(key: str) -> bool:
    """Whether a KPI's number has rows behind it to show (the backlog is a stock at a period's
    end, not a selection of the period's rows)."""
    metric = REGISTRY.get(key)
    return metric is not None and all(f.kind != "stock" for f in metric.variants.values())


def noun(key: str, n: int) -> str:
    """ "contacts" or "answers" (singular for one): what a KPI's n counts."""
    word = "contact" if REGISTRY[key].table == "contacts" else "answer"
    return word if n == 1 else f"{word}s"


def button_label(key: str, n: int) -> str:
    """ "Show the 412 contacts behind this": what opens a number's drill-through."""
    return f"Show the {n:,} {noun(key, n)} behind this"


def title(key: str, segment: Mapping[str, str | None] | None = None) -> str:
    """ "SLA: the contacts behind the number (team: Leeds Care)"."""
    metric = REGISTRY[key]
    words = "contacts" if metric.table == "contacts" else "answers"
    where = ", ".join(
        f"{f}: {v if v is not None else '(none)'}" for f, v in (segment or {}).items()
    )
    return f"{metric.label}: the {words} behind the number" + (f" ({where})" if where else "")


def drill(
    source: Store | ibis.BaseBackend,
    key: str,
    filters: Filters | None = None,
    segment: Mapping[str, str | None] | None = None,
    as_of: datetime | None = None,
    settings: Settings | None = None,
    limit: int = DRILL_LIMIT,
    only: Only | None = None,
) -> Drill:
    """The rows behind ``key``'s number for ``filters`` (and a breakdown row's ``segment``),
    judged at ``as_of`` (the report's; the latest timestamp in the data by default). With
    ``only="successes"``, only the rows a rate counts as successes (the complaints behind a
    bar of complaints, as many as the rate's numerator); with ``only="failures"``, those it
    counts against it (NPS: the detractors)."""
    if not drillable(key):
        raise InvalidChoice(f"{key!r} has no rows to show behind its number")
    filters = filters or Filters()
    segment = dict(segment or {})
    unknown = [f for f in segment if f not in SEGMENT_FIELDS]
    if unknown:
        raise InvalidChoice(f"cannot drill into {', '.join(unknown)}")
    metric = REGISTRY[key]
    context = _context(source, settings, as_of)
    variant, formula = metric.choose(context)
    where = _where(filters, segment)
    if only is not None:
        where += f"; only the {noun(key, 2)} {_only_words(metric, formula, only)}"
    if not formula.supported_by(context):
        return Drill(key, noun(key, 0), 0, pd.DataFrame(), where)
    t = _population(source, metric, variant, formula, filters, segment, context)
    if only is not None:
        t = t.filter(_only(formula, only)(t, context).fill_null(False))
    n = int(t.count().execute())
    columns = [*_base_columns(metric), *_outcome_columns(metric, variant, formula, context)]
    frame = _frame(t, metric, formula, columns, context, limit)
    return Drill(key, noun(key, n), n, frame, where, _order_words(formula))


# --- the selection -----------------------------------------------------------------------------


def _context(
    source: Store | ibis.BaseBackend, settings: Settings | None, as_of: datetime | None
) -> Context:
    """The context ``report`` evaluates formulas in: the same settings, as-of and profile."""
    if settings is None:
        settings = load_settings(source) if isinstance(source, Store) else Settings()
    profile = data_profile(backend_of(source), CACHE.version(source))
    if as_of is not None:
        instant = to_utc(as_of, settings.timezone)
    else:  # the report's default: the latest timestamp in the data, else now
        instant = profile.latest or datetime.now(UTC).replace(tzinfo=None)
    return Context(settings, instant, profile.supported, profile.status_sources)


def _population(
    source: Store | ibis.BaseBackend,
    metric: Metric,
    variant: str,
    formula: Formula,
    filters: Filters,
    segment: Mapping[str, str | None],
    context: Context,
) -> ir.Table:
    """The prepared rows of the selection that the formula counts in n."""
    backend = backend_of(source)
    if metric.table == "contacts":
        wanted = needs({metric.key: (variant, formula)}, context)
        t = prepare_contacts(backend, filters, context, wanted, None, None)
    else:
        tz = context.settings.timezone
        t = prepare_responses(backend, filters, tuple(segment), tz, None, None)
    # A breakdown row's segment, as the engine grouped it: a null segment is its own row.
    for field, value in segment.items():
        t = t.filter(t[field].isnull() if value is None else t[field] == value)
    if formula.kind == "count":
        return t
    population = formula.population(t, context)
    if formula.kind in ("mean", "quantiles") and formula.value is not None:
        population = population & formula.value(t, context).notnull()
    return t.filter(population)


def _only(formula: Formula, only: Only) -> Expr:
    """The condition keeping a rate's successes or failures (NPS: promoters or detractors)."""
    if formula.kind == "nps" and formula.success is not None and formula.failure is not None:
        return formula.success if only == "successes" else formula.failure
    if formula.kind == "proportion" and formula.success is not None:
        success = formula.success
        return success if only == "successes" else (lambda t, c: ~success(t, c))
    raise InvalidChoice("only a rate or NPS has successes and failures to show on their own")


def _only_words(metric: Metric, formula: Formula, only: Only) -> str:
    """ "counted as complaint", "counted as detractors" for the note above the rows."""
    if formula.kind == "nps":
        return "counted as " + ("promoters" if only == "successes" else "detractors")
    header = _SUCCESS.get(metric.key, f"counts towards {metric.label}").lower()
    return f"counted as {header}" if only == "successes" else f"not counted as {header}"


def _where(filters: Filters, segment: Mapping[str, str | None]) -> str:
    parts = [filters.describe()]
    parts += [
        f"{field}: {value if value is not None else '(none)'}" for field, value in segment.items()
    ]
    return "; ".join(parts)


def period_filters(filters: Filters, grain: str, start: date) -> Filters:
    """The filters of one point of a chart by ``grain``: its day, week or month, within the
    filters' own dates (a part period at the edge keeps only the days the number had)."""
    if grain == "day":
        end = start
    elif grain == "week":
        end = start + timedelta(days=6)
    elif grain == "month":
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = following - timedelta(days=1)
    else:
        raise InvalidChoice(f"unknown grain {grain!r}; choose day, week or month")
    first = max(start, filters.date_from) if filters.date_from else start
    last = min(end, filters.date_to) if filters.date_to else end
    return filters.with_dates(first, last)


def sides(found: MeAgainstRest, filters: Filters) -> dict[str, Filters]:
    """The filters each side of "me against the rest of my team" was computed with (as
    ``kpi.engine.comparison.me_against_rest`` did), by the name the page gives it."""
    everyone = replace(filters, agent=())
    return {
        f"Me ({found.me})": replace(everyone, agent=(found.me,)),
        "Rest of the team": replace(everyone, agent=found.rest, team=found.teams),
    }


# --- the columns -------------------------------------------------------------------------------


def _field(name: str) -> Expr:
    return lambda t, c: t[name]


def _base_columns(metric: Metric) -> list[Column]:
    """Who and what each row is: the source's reference, when, the segment fields, the
    pseudonymised customer and the scrubbed text."""
    if metric.table == "contacts":
        head = [
            Column("Contact", _field("contact_id")),
            Column("Opened (UTC)", _field("opened_at"), "time"),
        ]
        tail = [
            Column("Customer (pseudonymised)", _field("customer_key")),
            Column("Subject (scrubbed)", _field("subject")),
        ]
        fields: tuple[str, ...] = ("channel", "priority", "team", "agent", "category")
    else:
        head = [
            Column("Answer", _field("response_id")),
            Column("Answered (UTC)", _field("responded_at"), "time"),
            Column("Contact", _field("contact_id")),
        ]
        tail = [Column("Comment (scrubbed)", _field("comment"))]
        fields = ("channel", "team", "agent", "category")
    return [*head, *(Column(f.capitalize(), _field(f)) for f in fields), *tail]


def _success(formula: Formula) -> Expr:
    def success(t: ir.Table, c: Context) -> ir.Value:
        if formula.success is None:
            raise ValueError("a proportion needs its successes")
        return formula.success(t, c)

    return success


#: What a success is called, per KPI, in the outcome column.
_SUCCESS = {
    "fcr": "Resolved first time",
    "sla": "Met every target",
    "sla_first_response": "First response within target",
    "sla_resolution": "Resolved within target",
    "ces": "Easy",
    "csat": "Satisfied",
    "abandonment_rate": "Abandoned",
    "service_level": "Answered within target",
    "reopen_rate": "Reopened",
    "escalation_rate": "Escalated",
    "complaint_rate": "Complaint",
}


def _outcome_columns(
    metric: Metric, variant: str, formula: Formula, context: Context
) -> list[Column]:
    """The fields that decided each row's outcome, then the outcome itself."""
    details = _details(metric.key, variant, context)
    if formula.kind == "proportion":
        header = _SUCCESS.get(metric.key, f"Counts towards {metric.label}")
        return [*details, Column(header, _success(formula), "yes_no")]
    if formula.kind == "nps":
        return [*details, Column("Promoter, passive or detractor", _nps_group(formula))]
    if formula.kind in ("mean", "quantiles") and formula.value is not None:
        unit: Format = "hours" if metric.unit == "hours" else "score"
        if metric.unit == "seconds":
            unit = "seconds"
        header = f"{metric.label} ({_hours_word(context)})" if unit == "hours" else metric.label
        return [Column(header, formula.value, unit), *details]
    return details


def _nps_group(formula: Formula) -> Expr:
    def group(t: ir.Table, c: Context) -> ir.Value:
        if formula.success is None or formula.failure is None:
            raise ValueError("NPS needs its promoters and detractors")
        return ibis.cases(
            (formula.success(t, c), "promoter"),
            (formula.failure(t, c), "detractor"),
            else_="passive",
        )

    return group


def _hours_word(context: Context) -> str:
    """ "business hours" or "calendar hours" (the settings' label without its schedule)."""
    return context.settings.hours_label().split(" (")[0]


def _in_hours(column: str) -> Expr:
    return lambda t, c: t[column] / 3600.0


def _over(elapsed: str, target: str, breached: str) -> Expr:
    """By how much a breached target was exceeded (hours); null when it was not breached."""
    return lambda t, c: ibis.ifelse(
        t[breached], (t[elapsed] - t[target]) / 3600.0, ibis.null("float64")
    )


def _sla_clock(prefix: str, what: str, hours: str) -> list[Column]:
    return [
        Column(f"{what} target", _in_hours(f"{prefix}_target"), "hours"),
        Column(f"{what} time ({hours})", _in_hours(f"{prefix}_elapsed"), "hours"),
        Column(
            f"{what} over target by",
            _over(f"{prefix}_elapsed", f"{prefix}_target", f"{prefix}_breached"),
            "hours",
        ),
    ]


def _scale(kind: str) -> Column:
    def scale(t: ir.Table, c: Context) -> ir.Value:
        low, high = (_number(t[f"{kind}_scale_{end}"]) for end in ("min", "max"))
        return low + " to " + high

    return Column("Scale", scale)


def _number(value: ir.FloatingValue) -> ir.StringValue:
    """ "5" for a whole number, "4.5" otherwise (a scale reads "1 to 5", not "1.0 to 5.0")."""
    whole = value == value.round()
    return ibis.ifelse(whole, value.cast("int64").cast("string"), value.round(2).cast("string"))


def _details(key: str, variant: str, context: Context) -> list[Column]:
    """The fields each KPI's outcome turns on (e.g. which SLA target, the elapsed time and by how
    much it was breached; a score and its scale; replies and reopens)."""
    hours = _hours_word(context)
    first = _sla_clock("fr", "First response", hours)
    resolution = _sla_clock("res", "Resolution", hours)
    still_open = Column("Still open", _field("is_open"), "yes_no")
    if key == "sla" and variant == "targets":
        clocks = [
            *(first if context.has("first_response_at") else []),
            *(resolution if context.has("resolved_time") else []),
        ]
        return [*clocks, still_open]
    by_key: dict[str, list[Column]] = {
        "sla": [Column("SLA met (source's flag)", _field("sla_met"), "yes_no")],
        "sla_first_response": [*first, still_open],
        "sla_resolution": [*resolution, still_open],
        "first_response_hours": [first[0]],
        "resolution_hours": [resolution[0]],
        "reopen_rate": [Column("Reopens", _field("reopens"), "count")],
        "aht_seconds": [],
        "asa_seconds": [],
        "abandonment_rate": [Column("Wait", _field("wait_seconds"), "seconds")],
        "service_level": [
            Column("Wait", _field("wait_seconds"), "seconds"),
            Column("Answered", _field("answered_eff"), "yes_no"),
        ],
        "nps": [Column("Score (0 to 10)", _field("nps"), "score")],
        "csat": [Column("Score", _field("csat"), "score"), _scale("csat")],
        "csat_mean": [_scale("csat")],
        "ces": [Column("Score", _field("ces"), "score"), _scale("ces")],
    }
    if key == "fcr":
        return _fcr_details(variant, context)
    return by_key.get(key, [])


def _fcr_details(variant: str, context: Context) -> list[Column]:
    """What decided FCR in the variant used: the source's flag, the replies and reopens, or
    when the customer next made contact."""
    if variant == "flag":
        header = "Resolved at first contact (source's flag)"
        return [Column(header, _field("first_contact_resolved"), "yes_no")]
    if variant == "one_touch":
        return [
            Column("Agent replies", _field("agent_replies"), "count"),
            Column("Reopens", _field("reopens"), "count"),
        ]
    days = context.settings.fcr_repeat_window_days
    return [
        Column("Resolved (UTC)", _field("resolved_time"), "time"),
        Column(
            f"Customer's next contact (repeat if within {days} days)", _field("next_opened"), "time"
        ),
    ]


# --- the table -----------------------------------------------------------------------------------


def _frame(
    t: ir.Table,
    metric: Metric,
    formula: Formula,
    columns: list[Column],
    context: Context,
    limit: int,
) -> pd.DataFrame:
    """The first ``limit`` rows, those that counted against the KPI first, formatted."""
    named = {f"c{i}": column.value(t, context) for i, column in enumerate(columns)}
    when = "opened_at" if metric.table == "contacts" else "responded_at"
    ident = "contact_id" if metric.table == "contacts" else "response_id"
    order: list[Any] = []
    if formula.kind == "proportion" and formula.success is not None:
        success = formula.success(t, context).fill_null(False)
        # What counts against the KPI first: a breach for the SLA, a complaint for its rate.
        against = success if metric.direction == "lower" else ~success
        order.append(ibis.ifelse(against, 0, 1))
    elif formula.kind == "nps" and formula.failure is not None:
        order.append(ibis.ifelse(formula.failure(t, context).fill_null(False), 0, 1))
    order += [t[when], t.source, t[ident]]
    raw = t.order_by(order).limit(limit).select(**named).execute()
    out = pd.DataFrame(
        {
            column.header: [_cell(v, column.format) for v in raw[f"c{i}"]]
            for i, column in enumerate(columns)
        }
    )
    return out


def _order_words(formula: Formula) -> str:
    """How ``_frame`` orders the rows, in words for the note above them."""
    if formula.kind == "proportion":
        return "those that counted against the KPI first, then oldest first"
    if formula.kind == "nps":
        return "detractors first, then oldest first"
    return "oldest first"


def _cell(value: Any, how: Format) -> str:
    """A cell as a person reads it: units on every number, "-" for no value."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return EMPTY
    if how == "time":
        return f"{pd.Timestamp(value):%d %b %Y %H:%M}"
    if how in ("hours", "seconds"):
        return format_value(float(value), how)
    if how == "yes_no":
        return "yes" if bool(value) else "no"
    if how in ("score", "count"):
        return f"{float(value):g}"
    return str(value)
