"""The shape of a KPI declaration: ``Metric`` (key, label, unit, direction, variants) and
``Formula`` (one variant's population and successes or values as Ibis expressions), with the
``Context`` a formula is evaluated in.

The declarations themselves live in the family modules (``surveys``, ``contacts``, ``calls``,
``volume``); ``kpi.metrics.registry`` assembles them. Nothing here touches data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import ibis.expr.types as ir

from kpi.metrics.settings import Settings

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
    #: The sources whose contacts record a status anywhere in the store (the data profile's);
    #: None when not known, and a query then reads them from the store itself.
    status_sources: frozenset[str] | None = None

    def has(self, column: str) -> bool:
        return column in self.supported


@dataclass(frozen=True, kw_only=True)
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
    #: Extra count -> a sentence the result's definition gains when that count is above zero,
    #: formatted with ``{n}`` (e.g. how many contacts a fallback was used for).
    notes: Mapping[str, str] = field(default_factory=dict)
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


def _standard(settings: Settings) -> tuple[str, ...]:
    return ("standard",)


@dataclass(frozen=True, kw_only=True)
class Metric:
    key: str
    label: str
    unit: str
    #: "higher" or "lower" is better; None for volumes.
    direction: Literal["higher", "lower"] | None
    table: Table
    variants: Mapping[str, Formula]
    #: The variants to try, in order; the first the data supports is used.
    candidates: Callable[[Settings], tuple[str, ...]] = _standard
    #: Survey scores: the (low, high) scale answers are read on when the data does not say
    #: (NPS is always 0-10; CSAT and CES answers carry their own scale, this is the usual one).
    scale: tuple[float, float] | None = None

    def choose(self, context: Context) -> tuple[str, Formula]:
        """The variant used: the first candidate the data supports, else the first candidate
        (whose ``missing`` reason then explains the null)."""
        names = self.candidates(context.settings)
        for name in names:
            if self.variants[name].supported_by(context):
                return name, self.variants[name]
        return names[0], self.variants[names[0]]

    def short_label(self, variant: str | None = None) -> str:
        """ "FCR (one touch)": the label, with the variant (in words: its key's underscores read
        as spaces) when the KPI has more than one."""
        if len(self.variants) == 1 or variant is None:
            return self.label
        return f"{self.label} ({variant.replace('_', ' ')})"

    def definition(self, context: Context, **extra: object) -> str:
        """ "FCR (one touch): % of ...": the label, the variant used, and what it means."""
        variant, formula = self.choose(context)
        return f"{self.short_label(variant)}: {formula.describe(context, **extra)}"


def proportion(
    *,
    definition: str | Callable[[Context], str],
    population: Rows,
    success: Rows,
    population_name: str,
    requires: tuple[str, ...] = (),
    missing: str = "",
    needs: tuple[str, ...] = (),
) -> Formula:
    """A ``Formula`` of kind "proportion": successes as a % of the population."""
    return Formula(
        kind="proportion",
        definition=definition,
        population=population,
        population_name=population_name,
        success=success,
        requires=requires,
        missing=missing,
        needs=needs,
    )


# --- the values a definition sentence is formatted with ----------------------------------------


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
