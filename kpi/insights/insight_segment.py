"""What an insight is about: the segment of the team's contacts it found (a category, a channel,
a priority, a channel's weekday-and-hour block, an agent), and that segment's KPIs measured over
any period.

A reflection on an insight carries this segment into its SMART action and its before/after
check, so "did it work?" is asked of the contacts the insight was about, not of every contact.
The detectors name their segment in the insight's id (``insight_id`` hashes the filters and the
segment); ``of_insight`` finds it again by matching the id against the candidates the insight's
own chart lists, so it reads no wording and stays right when titles are reworded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

import pandas as pd

from kpi.engine import breakdowns, statistics
from kpi.engine import report as engine
from kpi.engine.aggregation import count_if
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.engine.preparation import prepare_contacts
from kpi.engine.results import MetricResult
from kpi.engine.timeline import local_time, offsets_around
from kpi.errors import InvalidChoice
from kpi.insights.model import Insight, insight_id
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store.colleagues import agents_phrase
from kpi.store.connection import Store

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: The one KPI a weekday-and-hour block can be measured by: the breach grid counts SLA outcomes.
BLOCK_KPI = "sla"


@dataclass(frozen=True)
class Segment:
    """Segment values (empty = all) and, optionally, a weekday (0 = Monday) and an hour block
    (first and last hour opened, local time, inclusive)."""

    channel: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    agent: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    weekday: int | None = None
    hours: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name in SEGMENT_FIELDS:
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.hours is not None:
            object.__setattr__(self, "hours", (int(self.hours[0]), int(self.hours[1])))

    @property
    def everyone(self) -> bool:
        """No restriction at all: every contact."""
        return not self.values() and self.weekday is None

    @property
    def block(self) -> bool:
        """Restricted to a weekday (and hours): only SLA compliance can be measured."""
        return self.weekday is not None

    def values(self) -> dict[str, tuple[str, ...]]:
        return {name: getattr(self, name) for name in SEGMENT_FIELDS if getattr(self, name)}

    def filters(self, period: Filters) -> Filters:
        """``period``'s dates with this segment's values (the period's own segment values are
        replaced: the segment is the reflection's subject)."""
        return Filters(date_from=period.date_from, date_to=period.date_to, **self.values())

    def describe(self, me: str | None = None) -> str:
        """ "category Billing", "channel email, Monday 08:00-10:59", "all contacts". With
        ``me`` (for what leaves the product) the agents read as the pack's filters do: "agent
        Amelia Booth and one colleague" (``kpi.store.colleagues.agents_phrase``)."""
        if self.everyone:
            return "all contacts"
        values = dict(self.values())
        if me is not None and values.get("agent"):
            values["agent"] = (agents_phrase(values["agent"], me),)
        parts = [f"{name} {', '.join(dict.fromkeys(v))}" for name, v in values.items()]
        if self.weekday is not None:
            first, last = self.hours or (0, 23)
            parts.append(f"{DAY_NAMES[self.weekday]} {first:02d}:00-{last:02d}:59")
        return ", ".join(parts)

    def heading(self) -> str:
        """``describe`` starting with a capital: "Category Billing"."""
        text = self.describe()
        return text[:1].upper() + text[1:]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: list(values) for name, values in self.values().items()}
        if self.weekday is not None:
            out["weekday"] = self.weekday
            out["hours"] = list(self.hours) if self.hours else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Segment:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (data or {}).items() if k in known and v is not None}
        if "hours" in values:
            values["hours"] = tuple(values["hours"])
        return cls(**values)

    @classmethod
    def of_filters(cls, filters: Filters) -> Segment:
        f = filters
        return cls(f.channel, f.team, f.agent, f.priority, f.category)


# --- the segment an insight is about ------------------------------------------------------------


def of_insight(insight: Insight, store: Store) -> Segment:
    """The segment ``insight`` is about: its filters' segment, narrowed to the category,
    channel, priority, weekday-and-hour block or agent its detector found."""
    base = Segment.of_filters(insight.filters)
    for candidate in _candidates(insight, store):
        parts, narrowed = candidate
        if insight_id(insight.kind, insight.filters, *parts) == insight.id:
            return _narrow(base, narrowed)
    return base


def _narrow(base: Segment, found: Mapping[str, Any]) -> Segment:
    values: dict[str, Any] = {k: (v,) if isinstance(v, str) else v for k, v in found.items()}
    return replace(base, **values)


Candidate = tuple[tuple[object, ...], dict[str, Any]]


def _chart_values(insight: Insight, column: str) -> list[str]:
    return list(dict.fromkeys(str(r[column]) for r in insight.chart.rows if r.get(column)))


def _candidates(insight: Insight, store: Store) -> Iterable[Candidate]:
    """(id parts, segment) pairs the insight's detector could have found; see the detectors
    in ``segments`` and ``breaches`` for the parts each hashes into the id."""
    if insight.kind == "driver" and insight.metrics:
        for category in _chart_values(insight, "category"):
            yield (insight.metrics[0], category), {"category": category}
    elif insight.kind == "small_sample":
        for agent in _chart_values(insight, "agent"):
            yield (agent,), {"agent": agent}
    elif insight.kind == "concentration" and insight.chart.kind == "heatmap":
        yield from _block_candidates(insight, store)
    elif insight.kind == "concentration":
        field_ = insight.chart.x
        for value in _chart_values(insight, field_):
            if field_ in SEGMENT_FIELDS and value != "(none)":
                yield ("segment", field_, value), {field_: value}


def _block_candidates(insight: Insight, store: Store) -> Iterable[Candidate]:
    """Every channel x weekday x run of hours: a few thousand hashes, no query but one."""
    channels = insight.filters.channel or tuple(breakdowns.segment_values(store)["channel"])
    for channel in channels:
        for weekday in range(7):
            for first in range(24):
                for last in range(first, 24):
                    yield (
                        ("time", channel, weekday, first, last),
                        {"channel": channel, "weekday": weekday, "hours": (first, last)},
                    )


# --- measuring it -------------------------------------------------------------------------------


def check_kpi(segment: Segment, key: str) -> None:
    """A weekday-and-hour block can only be measured by SLA compliance: refuse any other KPI."""
    if segment.block and key != BLOCK_KPI:
        raise InvalidChoice(
            f"{REGISTRY[key].label} cannot be measured for {segment.describe()} (only "
            f"{REGISTRY[BLOCK_KPI].label} can, by the hour contacts were opened): choose "
            f"{REGISTRY[BLOCK_KPI].label} as the action's KPI"
        )


def measure(
    store: Store,
    segment: Segment,
    keys: Sequence[str],
    period: Filters,
    settings: Settings | None = None,
) -> dict[str, MetricResult]:
    """Each KPI of ``keys`` for the segment over ``period``, with its n and 95% interval."""
    settings = settings or load_settings(store)
    for key in keys:
        check_kpi(segment, key)
    chosen = segment.filters(period)
    totals = engine.report(store, chosen, settings=settings, metrics=list(keys)).totals()
    if segment.block:
        days = block_days(store, segment, chosen, settings)
        return {BLOCK_KPI: _block_result(totals[BLOCK_KPI], days, segment, settings)}
    return totals


def block_days(store: Store, segment: Segment, chosen: Filters, settings: Settings) -> pd.DataFrame:
    """SLA outcomes (``n``) and those met (``met``) per local day, counting only contacts
    opened on the segment's weekday inside its hours. The population and the success rule
    are the registry's SLA formula on the engine's prepared contacts, as the breach heat map
    (``breakdowns.breach_heatmap``) counts them; one query for the whole range."""
    s = breakdowns.scope(store, settings)
    empty = pd.DataFrame({"day": [], "met": [], "n": []})
    _, formula = REGISTRY[BLOCK_KPI].choose(s.context)
    if s.profile.latest is None or not formula.supported_by(s.context) or not formula.success:
        return empty
    t = prepare_contacts(s.backend, chosen, s.context, {"elapsed"}, None, None)
    local = local_time(
        t.opened_at, offsets_around(settings.timezone, s.profile.first_day, s.profile.latest)
    )
    first, last = segment.hours or (0, 23)
    outcome = formula.population(t, s.context)
    met = outcome & formula.success(t, s.context)
    t = t.mutate(_day=local.date(), _weekday=local.day_of_week.index(), _hour=local.hour())
    t = t.filter((t._weekday == segment.weekday) & t._hour.between(first, last))
    counts = s.backend.execute(t.group_by("_day").aggregate(met=count_if(met), n=count_if(outcome)))
    if counts.empty:
        return empty
    return pd.DataFrame(
        {
            "day": [pd.Timestamp(d).date() for d in counts["_day"]],
            "met": counts["met"].astype(int),
            "n": counts["n"].astype(int),
        }
    ).sort_values("day", ignore_index=True)


def _block_result(
    whole: MetricResult, days: pd.DataFrame, segment: Segment, settings: Settings
) -> MetricResult:
    """SLA compliance from a block's day counts, with ``whole`` (the KPI for all the
    segment's contacts, not only the block) giving its definition and variant."""
    n, met = int(days["n"].sum()), int(days["met"].sum())
    interval = statistics.wilson_interval(met, n)
    return replace(
        whole,
        value=100.0 * met / n if n else None,
        n=n,
        numerator=met,
        denominator=n,
        ci_low=100.0 * interval.low if interval.low is not None else None,
        ci_high=100.0 * interval.high if interval.high is not None else None,
        small_sample=statistics.is_small_sample(n, settings.minimum_n),
        reason=None if n else f"no contacts opened {segment.describe()} in this period",
        extra={},
    )


def weekly(
    store: Store,
    segment: Segment,
    key: str,
    window: Filters,
    settings: Settings | None = None,
) -> list[tuple[date, MetricResult]]:
    """The KPI for the segment week by week over ``window`` (whole Monday-Sunday weeks)."""
    settings = settings or load_settings(store)
    check_kpi(segment, key)
    if window.date_from is None or window.date_to is None:
        raise ValueError("a weekly series needs both dates")
    if segment.block:
        chosen = segment.filters(window)
        whole = engine.report(store, chosen, settings=settings, metrics=[key]).totals()[key]
        days = block_days(store, segment, chosen, settings)
        out = []
        week = window.date_from
        while week <= window.date_to:
            inside = days[(days.day >= week) & (days.day <= week + timedelta(days=6))]
            out.append((week, _block_result(whole, inside, segment, settings)))
            week += timedelta(days=7)
        return out
    report = engine.report(
        store, segment.filters(window), grain="week", settings=settings, metrics=[key]
    )
    starts = [
        date.fromisoformat(str(r.period))
        for r in report.rows
        if not r.segment and r.period not in (None, "undated")
    ]
    return list(zip(starts, report.series(key), strict=True))
