"""Me against the rest of my team: who "the rest" is, and both sets of results side by side.

The rest of the team is everyone else with data in the teams "me" works in, combined into one
figure (recombined from counts by the engine, never an average of colleagues' rates), so no
colleague is singled out. Whether the two differ is the same test as a change between periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from kpi.engine.change import change
from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.engine.results import MetricResult
from kpi.engine.tables import format_interval, format_value, long_frame, result_row
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings
from kpi.store.connection import Store


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


@dataclass(frozen=True)
class MeAgainstRest:
    """What the Team page shows an apprentice: my teams, the colleagues combined as "the rest",
    and both sets of results (empty when nobody else in my teams has data)."""

    me: str
    teams: tuple[str, ...]
    rest: tuple[str, ...]
    keys: tuple[str, ...] = ()
    ours: Mapping[str, MetricResult] = field(default_factory=dict)
    theirs: Mapping[str, MetricResult] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return ", ".join(self.teams) or "no team"

    def pair(self, key: str) -> pd.DataFrame | None:
        """``pair`` of one KPI for a chart, or None when either side has no value."""
        if not self.rest:
            return None
        both = pair(self.ours[key], self.theirs[key], self.me)
        return both if both.value.notna().all() else None

    def table(self) -> pd.DataFrame:
        """``side_by_side`` of every KPI compared."""
        return side_by_side(self.ours, self.theirs, self.keys)


def me_against_rest(
    store: Store,
    filters: Filters,
    me: str,
    keys: Sequence[str],
    settings: Settings | None = None,
) -> MeAgainstRest:
    """My results against the rest of my teams' for ``keys``. "me" decides who is compared,
    so the agent filter is ignored; every other filter applies to both sides."""
    everyone = replace(filters, agent=())
    pairs = report(store, everyone, by=("team", "agent"), metrics=("contacts",), settings=settings)
    teams, rest = colleagues(long_frame(pairs, ("contacts",), totals=False), me)
    if not rest:
        return MeAgainstRest(me, teams, rest, tuple(keys))
    ours = report(store, replace(everyone, agent=(me,)), metrics=keys, settings=settings)
    theirs = report(
        store, replace(everyone, agent=rest, team=teams), metrics=keys, settings=settings
    )
    return MeAgainstRest(me, teams, rest, tuple(keys), ours.totals(), theirs.totals())
