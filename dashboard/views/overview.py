"""Overview: the team at a glance, every headline KPI against the previous period and target."""

from __future__ import annotations

import streamlit as st

from dashboard import components, data, drill, filters
from kpi.charts.disclosure import escape_markdown
from kpi.engine.page_data import undated_line
from kpi.engine.report import OVERVIEW_GROUPS

if components.page(
    "Overview",
    "How the team is doing in the chosen period: each number with its sample size (n), 95% "
    "interval, change against the previous period of the same length, and status against target. "
    "Hover over the ? beside a name for its definition; the small lines are the last 12 weeks.",
):
    chosen = filters.current()
    view = data.overview(chosen)
    now = view.current.totals()
    # Interval reports' calls count as data too (a store may hold only those).
    calls = [now[k] for k in OVERVIEW_GROUPS["Calls"] if k in now]
    if not components.no_rows(now["contacts"], now["responses"], *calls):
        components.rag_legend()
        partly = f" ({view.previous_note})" if view.previous_note else ""
        st.caption(
            f"Previous period: {escape_markdown(view.previous.filters.describe())}{partly}. Open "
            f"contacts are judged as of {view.current.as_of:%d %b %Y %H:%M} UTC (the latest "
            "timestamp in the data)."
        )
        if undated := undated_line(data.store(), chosen):
            st.caption(undated)
        trends = {key: t.whole_values for key, t in view.trends.items()}
        for heading, keys in OVERVIEW_GROUPS.items():
            st.subheader(heading)
            results = [now[k] for k in keys]
            drill.tiles(results, chosen, view.changes, trends, as_of=view.current.as_of)
