"""Complaints and root causes: complaint rate and volume, and the categories that drive
complaints, detractors and repeat contacts (Pareto, with the 80% line)."""

from __future__ import annotations

import streamlit as st

from dashboard import choices, components, data, drill, filters
from kpi.charts import figures
from kpi.charts.points import DRIVER_DRILLS, pareto_picks, with_picks
from kpi.engine.breakdowns import DRIVERS, pareto
from kpi.engine.change import mark_parts
from kpi.engine.page_data import counts
from kpi.engine.tables import long_frame

if components.page(
    "Complaints and root causes",
    "Which contact reasons cause most of the pain. The Pareto chart sorts categories by count; "
    "the blue bars are the few that together make up 80%, where a fix helps most.",
):
    chosen = filters.current()
    keys = ("contacts", "responses", "complaint_rate", "escalation_rate", "reopen_rate")
    now, changes = data.compare(chosen, keys)
    if not components.no_rows(now["contacts"], now["responses"]):
        components.rag_legend()
        drill.tiles(
            [now[k] for k in ("complaint_rate", "escalation_rate", "reopen_rate")],
            chosen,
            changes,
            per_row=3,
        )

        months = data.report(chosen, grain="month", metrics=("complaint_rate",))
        monthly = mark_parts(long_frame(months, ("complaint_rate",)), months)
        # Each bar drills into its month's complaints only (the rate's successes), so the rows
        # number the bar's height.
        volume = with_picks(counts(monthly), only="successes")
        rate_column, volume_column = st.columns(2)
        with rate_column:
            pick = components.chart(
                figures.trend(
                    monthly, "Complaint rate", "%", notes=components.notes(chosen), grain="month"
                ),
                "complaint_rate_trend",
                pickable=True,
            )
            drill.clicked(pick, "complaint_rate", months.filters, "month", months.as_of,
                          "complaint_rate_trend")  # fmt: skip
        with volume_column:
            pick = components.chart(
                figures.period_bars(volume, "Complaints per month", "complaints", "month"),
                "complaint_volume",
                pickable=True,
            )
            drill.clicked(pick, "complaint_rate", months.filters, "month", months.as_of,
                          "complaint_volume")  # fmt: skip

        st.subheader("What drives them")
        choices.bind("count", "driver", list(DRIVERS), "complaints")
        driver = (
            st.segmented_control(
                "Count",
                list(DRIVERS),
                format_func=lambda d: DRIVERS[d],
                key="driver",
            )
            or "complaints"
        )
        ranked = pareto(data.breakdown("drivers", chosen, driver))
        if ranked.empty:
            st.info(f"No {DRIVERS[driver].lower()} in this selection.")
        else:
            # A click on a bar opens its category's complaints or detractors.
            pick = components.chart(
                figures.pareto(
                    pareto_picks(ranked, driver), "category", f"{DRIVERS[driver]} by category"
                ),
                f"pareto_{driver}",
                pickable=driver in DRIVER_DRILLS,
            )
            if driver in DRIVER_DRILLS:
                drill.clicked(pick, DRIVER_DRILLS[driver][0], chosen, widget=f"pareto_{driver}")
            components.table(ranked, f"{driver} by category", f"pareto_{driver}")
