"""Service levels: SLA compliance by priority and channel, response and resolution times, when
breaches happen, the backlog and its age, and the phone queue."""

from __future__ import annotations

import streamlit as st

from dashboard import components, data, drill, filters
from kpi.charts import figures
from kpi.engine.change import mark_parts
from kpi.engine.page_data import by_segment, plotted, time_title
from kpi.engine.tables import long_frame

SLA_KEYS = ("sla", "sla_first_response", "sla_resolution")
TIME_KEYS = ("first_response_hours", "resolution_hours")
CALL_KEYS = ("service_level", "abandonment_rate", "asa_seconds", "aht_seconds")

if components.page(
    "Service levels",
    "Whether contacts were answered and resolved within the targets for their priority (set on "
    "the Settings page), how long they took, when breaches cluster, and what is still open.",
):
    chosen = filters.current()
    now, changes = data.compare(chosen, ("contacts", *SLA_KEYS, "backlog", *TIME_KEYS, *CALL_KEYS))
    # Interval reports' calls count as data too (a store may hold only those).
    if not components.no_rows(now["contacts"], *(now[k] for k in CALL_KEYS)):
        components.rag_legend()
        shown = [now[k] for k in (*SLA_KEYS, "backlog", *TIME_KEYS)]
        drill.tiles(shown, chosen, changes, per_row=3)
        target = data.settings().target_value("sla")
        st.subheader("SLA compliance by priority and by channel")
        by_priority, by_channel = st.columns(2)
        frames = {}
        for column, field in ((by_priority, "priority"), (by_channel, "channel")):
            breakdown = data.report(chosen, by=(field,), metrics=SLA_KEYS)
            frame = by_segment(breakdown, SLA_KEYS, drop_empty=True)
            sla = plotted(frame, "sla")
            with column:
                # A click on a dot opens the rows behind it, as the list under the chart does.
                pick = components.chart(
                    figures.intervals(
                        sla,
                        field,
                        f"SLA by {field}",
                        "%",
                        target,
                        "higher",
                    ),
                    f"sla_by_{field}",
                    pickable=True,
                )
                drill.clicked(
                    pick, "sla", breakdown.filters, as_of=breakdown.as_of, widget=f"sla_by_{field}"
                )
                drill.segment_picker(breakdown, "sla", f"sla_by_{field}")
            frames[field] = frame
        # The tables under both charts, full width: side by side, half a 1440 px window cuts
        # their last columns off.
        for tab, (field, frame) in zip(
            st.tabs([f"Table: SLA by {field}" for field in frames]), frames.items(), strict=True
        ):
            with tab:
                components.table(frame, f"SLA by {field}", f"sla_by_{field}")

        st.subheader("Response and resolution times")
        buckets = data.breakdown("time_distribution", chosen)
        for column, key in zip(st.columns(2), TIME_KEYS, strict=True):
            title = time_title(now[key])
            with column:
                components.chart(
                    figures.bars(buckets, "bucket", key, title, "time taken", "contacts"),
                    f"dist_{key}",
                )

        st.subheader("When breaches happen")
        heat = data.breakdown("breach_heatmap", chosen)
        components.chart(
            figures.heatmap(heat, "SLA breaches by the weekday and hour contacts were opened"),
            "breach_heatmap",
        )

        st.subheader("Backlog")
        weekly, ages = st.columns(2)
        weeks = data.report(chosen, grain="week", metrics=("backlog",))
        backlog = mark_parts(long_frame(weeks, ("backlog",)), weeks)
        with weekly:
            components.chart(
                figures.trend(backlog, "Backlog", "count", notes=components.notes(chosen)),
                "backlog_trend",
            )
        with ages:
            age = data.breakdown("backlog_age", chosen)
            components.chart(
                figures.bars(
                    age, "age", "contacts", "Age of open contacts", "age", "open contacts"
                ),
                "backlog_age",
            )

        st.subheader("Calls")
        drill.tiles([now[k] for k in CALL_KEYS], chosen, changes)
