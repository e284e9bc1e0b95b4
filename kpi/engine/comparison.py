"""Me against the rest of my team: who "the rest" is, and both sets of results side by side.

The rest of the team is everyone else with data in the teams "me" works in, combined into one
figure (recombined from counts by the engine, never an average of colleagues' rates), so no
colleague is singled out. Whether the two differ is the same test as a change between periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from kpi.engine.report import MetricResult, change
from kpi.engine.tables import format_interval, format_value, result_row
from kpi.metrics.registry import REGISTRY


def colleagues(pairs: pd.DataFrame, me: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(my teams, the other agents in them) from a table of ``team`` and ``agent`` pairs."""
    mine = pairs.loc[pairs.agent == me, "team"].dropna()
    teams = tuple(sorted(set(mine)))
    others = pairs.loc[pairs.team.isin(teams) & (pairs.agent != me), "agent"].dropna()
    return teams, tuple(sorted(set(others)))


def side_by_side(
    ours: Mapping[str, MetricResult], theirs: Mapping[str, MetricResult], keys: Sequence[str]
) -> pd.DataFrame:
    """One row per KPI: my value, n and interval, the rest's, and whether a test says they
    differ (p < 0.05)."""
    rows = []
    for key in keys:
        mine, rest = ours[key], theirs[key]
        differs = change(mine, rest).significant
        rows.append(
            {
                "KPI": REGISTRY[key].label,
                "me": format_value(mine.value, mine.unit),
                "me (n, interval)": format_interval(mine),
                "rest of the team": format_value(rest.value, rest.unit),
                "rest (n, interval)": format_interval(rest),
                "a real difference?": "yes (p < 0.05)" if differs else "not shown by the data",
            }
        )
    return pd.DataFrame(rows)


def pair(mine: MetricResult, rest: MetricResult, me: str) -> pd.DataFrame:
    """The two results as rows (``who``, value, n, interval, small-sample flag) for a chart."""
    return pd.DataFrame(
        [{"who": f"Me ({me})", **result_row(mine)}, {"who": "Rest of the team", **result_row(rest)}]
    )
