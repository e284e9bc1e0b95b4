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


def targets_table(settings: Settings) -> pd.DataFrame:
    """One row per KPI that has a direction: key, label, target (empty = none), direction."""
    rows = []
    for key, metric in REGISTRY.items():
        if metric.direction is None:
            continue
        target = settings.targets.get(key)
        rows.append(
            {
                "key": key,
                "KPI": metric.label,
                "target": target.value if target else None,
                "direction": target.direction if target else metric.direction,
            }
        )
    return pd.DataFrame(rows, columns=["key", "KPI", "target", "direction"])


def sla_table(settings: Settings) -> pd.DataFrame:
    rows = []
    for priority in reversed(PRIORITIES):  # urgent first, as service standards list them
        target = settings.sla_targets.get(priority)
        rows.append(
            {
                "priority": priority,
                "first response (hours)": float(target.first_response_hours) if target else None,
                "resolution (hours)": float(target.resolution_hours) if target else None,
            }
        )
    return pd.DataFrame(rows).astype({"first response (hours)": float, "resolution (hours)": float})


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
    for row in targets.itertuples():
        value = _number(row.target)
        if value is not None:
            # Settings validates the direction, with a message naming the KPI.
            chosen[str(row.key)] = KpiTarget(value, cast(Direction, row.direction))
    return chosen


def _sla_targets(sla: pd.DataFrame) -> dict[str, SlaTarget]:
    """The SLA targets per priority; every priority needs both, and both positive."""
    chosen = {}
    for row in sla.itertuples(index=False):  # priority, first response, resolution
        priority, first, resolution = row[0], _number(row[1]), _number(row[2])
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
