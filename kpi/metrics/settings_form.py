"""Settings as the editable tables the Settings page shows, and back.

Kept apart from ``kpi.metrics.settings`` (the definitions themselves): this is only their layout
as rows a person edits, validated on the way back.
"""

from __future__ import annotations

import math
from datetime import time
from typing import Any, cast

import pandas as pd

from kpi.errors import InvalidChoice
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Direction, KpiTarget, Settings, SlaTarget
from kpi.store.schema import PRIORITIES

#: The columns of the tables a person edits. The KPI's key is the targets table's index (kept
#: for saving, never shown).
KPI, TARGET, UNIT, BETTER = "KPI", "Target", "Unit", "Better when"
PRIORITY, FIRST_RESPONSE, RESOLUTION = "Priority", "First response (hours)", "Resolution (hours)"
#: What an empty target shows (the KPI then has no red/amber/green status).
NO_TARGET = "no target"

#: A KPI's unit as the Targets table says it beside the target.
UNIT_WORDS = {
    "%": "% (0-100)",
    "points": "NPS points (-100 to +100)",
    "hours": "hours",
    "seconds": "seconds",
    "count": "count",
    "score": "mean score",
}

#: The settings' choices in words, for the Settings page (the stored values are keys).
CHOICE_WORDS: dict[str, str] = {
    # FCR variants.
    "auto": "Automatic: the first rule the data supports",
    "flag": "Resolved-at-first-contact flag from the source system",
    "one_touch": "One touch: closed after at most one reply, never reopened",
    "no_repeat": "No repeat: the customer did not contact again within the window",
    # CSAT rules.
    "top_box": "Top box: only the highest score",
    "top_2_box": "Top two: the two highest scores",
    # Hours.
    "business": "Business hours",
    "calendar": "Calendar hours (24/7)",
    # Bank-holiday regions.
    "england-and-wales": "England and Wales",
    "scotland": "Scotland",
    "northern-ireland": "Northern Ireland",
    "none": "No bank holidays",
}
#: The CSAT rule "auto" reads differently from the FCR one.
CSAT_AUTO = "Automatic: top two of 4+ point scales, top score of 2-3 point scales"


def choice_words(choice: str, setting: str = "") -> str:
    """A setting's stored choice in words ("one_touch" -> "One touch: ..."); the CSAT rule's
    "auto" has its own wording."""
    if setting == "csat_rule" and choice == "auto":
        return CSAT_AUTO
    return CHOICE_WORDS.get(choice, choice.replace("_", " "))


def targets_table(settings: Settings) -> pd.DataFrame:
    """One row per KPI that has a direction, indexed by its key: KPI, target (empty = none),
    its unit, and whether higher or lower is better."""
    rows, keys = [], []
    for key, metric in REGISTRY.items():
        if metric.direction is None:
            continue
        target = settings.targets.get(key)
        keys.append(key)
        rows.append(
            {
                KPI: metric.label,
                TARGET: target.value if target else None,
                UNIT: UNIT_WORDS.get(metric.unit, metric.unit),
                BETTER: target.direction if target else metric.direction,
            }
        )
    index = pd.Index(keys, name="key")
    return pd.DataFrame(rows, columns=[KPI, TARGET, UNIT, BETTER], index=index).astype(
        {TARGET: float}
    )


def sla_table(settings: Settings) -> pd.DataFrame:
    rows = []
    for priority in reversed(PRIORITIES):  # urgent first, as service standards list them
        target = settings.sla_targets.get(priority)
        rows.append(
            {
                PRIORITY: priority,
                FIRST_RESPONSE: float(target.first_response_hours) if target else None,
                RESOLUTION: float(target.resolution_hours) if target else None,
            }
        )
    return pd.DataFrame(rows).astype({FIRST_RESPONSE: float, RESOLUTION: float})


def _number(value: Any) -> float | None:
    """A table cell as a number; None for an empty cell (None, NaN or "")."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return float(value)


def settings_from_tables(settings: Settings, targets: pd.DataFrame, sla: pd.DataFrame) -> Settings:
    """``settings`` with the targets and SLA policy the edited tables describe. Raises
    InvalidChoice (a ValueError) for a negative or missing SLA target."""
    return settings.with_changes(targets=_kpi_targets(targets), sla_targets=_sla_targets(sla))


def _kpi_targets(targets: pd.DataFrame) -> dict[str, KpiTarget]:
    """The KPI targets of the rows with a target; an empty target means none."""
    chosen = {}
    for key, value, direction in zip(targets.index, targets[TARGET], targets[BETTER], strict=True):
        number = _number(value)
        if number is not None:
            # Settings validates the direction, with a message naming the KPI.
            chosen[str(key)] = KpiTarget(number, cast(Direction, direction))
    return chosen


def _sla_targets(sla: pd.DataFrame) -> dict[str, SlaTarget]:
    """The SLA targets per priority; every priority needs both, and both positive."""
    chosen = {}
    for priority, first_text, resolution_text in zip(
        sla[PRIORITY], sla[FIRST_RESPONSE], sla[RESOLUTION], strict=True
    ):
        first, resolution = _number(first_text), _number(resolution_text)
        if first is None or resolution is None or first <= 0 or resolution <= 0:
            raise InvalidChoice(
                f"the {priority} priority needs positive first-response and resolution targets"
            )
        chosen[str(priority)] = SlaTarget(first, resolution)
    return chosen


def business_hours(
    weekdays: tuple[time, time],
    saturday: tuple[time, time] | None,
    region: str,
    timezone: str,
) -> dict[str, Any]:
    """The settings' business-hours dict: the same hours Monday to Friday, Saturday optional."""
    weekly = {str(day): [f"{weekdays[0]:%H:%M}", f"{weekdays[1]:%H:%M}"] for day in range(5)}
    if saturday is not None:
        weekly["5"] = [f"{saturday[0]:%H:%M}", f"{saturday[1]:%H:%M}"]
    return {"timezone": timezone, "weekly": weekly, "region": region}
