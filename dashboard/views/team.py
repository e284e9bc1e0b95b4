"""Team: per-agent and per-team figures with n and intervals, in name order (never a league
table); for an apprentice who set "this is me", their figures against the rest of their team."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import charts, components, data, filters
from kpi import viewer
from kpi.disclosure import anonymise, suppress_small
from kpi.engine import change
from kpi.exports import csv_bytes
from kpi.metrics import REGISTRY
from kpi.tables import format_interval, format_value, long_frame

KEYS = ("csat", "nps", "fcr", "sla", "first_response_hours", "aht_seconds", "complaint_rate")


def me_against_rest(me: str, chosen) -> None:
    teams = long_frame(
        data.report(replace(chosen, agent=()), by=("team", "agent"), metrics=("contacts",)),
        ("contacts",),
        totals=False,
    )
    mine = sorted(set(teams.loc[teams.agent == me, "team"].dropna()))
    rest = sorted(set(teams.loc[teams.team.isin(mine) & (teams.agent != me), "agent"].dropna()))
    st.caption(
        f"Me: {me}. The rest of the team: {len(rest)} colleagues in {', '.join(mine) or 'no team'}, combined."
    )
    if not rest:
        st.info("Nobody else in your team has data in this selection.")
        return
    ours = data.report(replace(chosen, agent=(me,))).total().metrics
    theirs = data.report(replace(chosen, agent=tuple(rest), team=tuple(mine))).total().metrics
    rows = []
    for key in KEYS:
        difference = change(ours[key], theirs[key])
        rows.append(
            {
                "KPI": REGISTRY[key].label,
                "me": format_value(ours[key].value, ours[key].unit),
                "me (n, interval)": format_interval(ours[key]),
                "rest of the team": format_value(theirs[key].value, theirs[key].unit),
                "rest (n, interval)": format_interval(theirs[key]),
                "a real difference?": "yes (p < 0.05)"
                if difference.significant
                else "not shown by the data",
            }
        )
        pair = pd.DataFrame(
            [
                {"who": f"Me ({me})", **_row(ours[key])},
                {"who": "Rest of the team", **_row(theirs[key])},
            ]
        )
        if key == st.session_state.get("team_kpi", "csat") and pair.value.notna().all():
            components.chart(
                charts.intervals(
                    pair, "who", REGISTRY[key].label, ours[key].unit, highlight=f"Me ({me})"
                ),
                "me_vs_rest",
            )
    components.table(pd.DataFrame(rows), "me against the rest of the team", "me_vs_rest")


def _row(result) -> dict:
    return {
        "value": result.value,
        "n": result.n,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "small_sample": result.small_sample,
    }


def supervisor_view(chosen, key: str) -> None:
    metric = REGISTRY[key]
    target = data.settings().targets.get(key)
    for field in ("team", "agent"):
        frame = long_frame(
            data.report(chosen, by=(field,), metrics=KEYS), KEYS, totals=False
        ).sort_values(field)
        shown = frame[(frame.key == key) & frame.value.notna()]
        if not shown.empty:
            components.chart(
                charts.intervals(
                    shown,
                    field,
                    f"{metric.label} by {field}",
                    metric.unit,
                    target.value if target else None,
                    metric.direction,
                ),
                f"{key}_by_{field}",
            )
        wide = frame.drop(columns=["key"])
        st.dataframe(wide.round(2), hide_index=True, width="stretch")
        export = suppress_small(anonymise(wide, "agent") if field == "agent" else wide)
        st.download_button(
            f"Download by {field} (CSV; colleagues anonymised, cells under 5 suppressed)",
            csv_bytes(export),
            file_name=f"kpis_by_{field}.csv",
            mime="text/csv",
            key=f"download_{field}",
        )


if components.page(
    "Team",
    "Figures per team and per agent, each with its n and 95% interval and in name order: two "
    "people whose intervals overlap may not differ at all, and hollow grey dots are samples too "
    "small to judge.",
):
    chosen = filters.current()
    key = st.selectbox(
        "KPI for the chart", KEYS, format_func=lambda k: REGISTRY[k].label, key="team_kpi"
    )
    me = viewer.me(data.store())
    if me:
        st.subheader("Me against the rest of my team")
        me_against_rest(me, chosen)
    else:
        st.caption(
            'Supervisor view. Set "this is me" on the Settings page for an apprentice\'s view of your own figures against the rest of your team.'
        )
        supervisor_view(chosen, key)
