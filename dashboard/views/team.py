"""Team: per-agent and per-team figures with n and intervals, in name order (never a league
table); for an apprentice who set "this is me", their figures against the rest of their team."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, choices, components, data, drill, filters
from kpi.charts import figures
from kpi.charts.disclosure import escape_markdown
from kpi.engine.filters import Filters
from kpi.engine.page_data import by_segment, plotted
from kpi.metrics.registry import REGISTRY

KEYS = ("csat", "nps", "fcr", "sla", "first_response_hours", "aht_seconds", "complaint_rate")


def me_against_rest(me: str, chosen: Filters, key: str) -> None:
    found = data.me_against_rest(chosen, me, KEYS)
    st.caption(
        f"Me: {escape_markdown(me)}. The rest of the team: {len(found.rest)} colleagues in "
        f"{escape_markdown(found.where)}, combined."
    )
    if not found.rest:
        st.info("Nobody else in your team has data in this selection.")
        return
    both = found.pair(key)
    if both is not None:
        fig = figures.intervals(
            both, "who", REGISTRY[key].label, found.ours[key].unit, highlight=f"Me ({me})"
        )
        components.chart(fig, "me_vs_rest")
    drill.me_and_rest(found, key, chosen)
    components.table(found.table(), "me against the rest of the team", "me_vs_rest")


def supervisor_view(chosen: Filters, key: str, fields: tuple[str, ...] = ("team", "agent")) -> None:
    metric = REGISTRY[key]
    target = data.settings().target_value(key)
    for field in fields:
        breakdown = data.report(chosen, by=(field,), metrics=KEYS)
        frame = by_segment(breakdown, KEYS)
        shown = plotted(frame, key)
        if not shown.empty:
            pick = components.chart(
                figures.intervals(
                    shown,
                    field,
                    f"{metric.label} by {field}",
                    metric.unit,
                    target,
                    metric.direction,
                ),
                f"{key}_by_{field}",
                pickable=True,  # a click on a dot opens the rows behind it
            )
            drill.clicked(pick, key, breakdown.filters, as_of=breakdown.as_of,
                          widget=f"{key}_by_{field}")  # fmt: skip
        drill.segment_picker(breakdown, key, f"{key}_by_{field}")
        components.table(frame, f"KPIs by {field}", f"kpis_by_{field}")


if components.page(
    "Team",
    "Figures per team and per agent, each with its n and 95% interval and in name order: two "
    "people whose intervals overlap may not differ at all, and hollow grey dots are samples too "
    "small to judge.",
):
    chosen = filters.current()
    choices.bind("kpi", "team_kpi", KEYS, KEYS[0])
    key = st.selectbox(
        "KPI for the chart", KEYS, format_func=lambda k: REGISTRY[k].label, key="team_kpi"
    )
    user = auth.current_user(data.store())
    me = auth.me(data.store())
    if me:
        st.subheader("Me against the rest of my team")
        me_against_rest(me, chosen, key)
    elif user is not None and not user.may("review"):
        # A learner not yet linked to their agent name sees teams, never colleagues by name.
        st.info(
            "Your own figures appear here once an admin links you to your agent name in the "
            "data (`kpi users agents`). Until then, the figures by team:"
        )
        supervisor_view(chosen, key, fields=("team",))
    else:
        st.caption(
            "Supervisor view: every team and agent."
            if user is not None
            else 'Supervisor view. Set "this is me" on the Settings page for an apprentice\'s '
            "view of your own figures against the rest of your team."
        )
        supervisor_view(chosen, key)
