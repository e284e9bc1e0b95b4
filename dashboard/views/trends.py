"""Trends: any KPI over time, split by a field, with its target, XmR control limits and the
team's dated annotations."""

from __future__ import annotations

from typing import get_args

import streamlit as st

from dashboard import choices, components, data, drill, filters
from kpi.charts import figures
from kpi.charts.disclosure import escape_markdown
from kpi.engine.change import mark_parts, whole_periods
from kpi.engine.filters import SEGMENT_FIELDS
from kpi.engine.page_data import control_chart, dated
from kpi.engine.tables import long_frame
from kpi.engine.timeline import Grain, period_label
from kpi.metrics.registry import KEYS, REGISTRY

if components.page(
    "Trends",
    "Any KPI by day, week or month. Without a split, the grey lines are XmR control limits "
    "(mean ± 2.66 × mean moving range): points outside them, or runs the rules flag, are "
    "highlighted as signals; everything else is ordinary variation.",
):
    chosen = filters.current()
    left, middle, right = st.columns(3)
    choices.bind("kpi", "trend_kpi", KEYS, "csat")
    key = left.selectbox("KPI", KEYS, format_func=lambda k: REGISTRY[k].label, key="trend_kpi")
    choices.bind("grain", "trend_grain", get_args(Grain), "week")
    grain: Grain = middle.segmented_control("By", get_args(Grain), key="trend_grain") or "week"
    # "" is "no split": a None value would read as "nothing chosen" and show a placeholder.
    choices.bind("split", "trend_split", ["", *SEGMENT_FIELDS], "")
    split = (
        right.selectbox(
            "Split by",
            ["", *SEGMENT_FIELDS],
            format_func=lambda f: f or "nothing (total)",
            key="trend_split",
        )
        or None
    )
    metric, target = REGISTRY[key], data.settings().target_value(key)
    report = data.report(chosen, by=(split,) if split else (), grain=grain, metrics=(key,))
    frame = mark_parts(dated(long_frame(report, (key,), totals=not split)), report)
    notes = components.notes(chosen)
    if frame.empty or not frame.n.any():
        components.empty_state("No data for this KPI with these filters.")
    else:
        control = None if split else control_chart(whole_periods(frame))
        fig = figures.trend(
            frame,
            metric.label,
            metric.unit,
            split,
            target,
            metric.direction,
            control,
            notes,
            grain,
        )
        # A click on a point opens the rows behind it; the list under the chart does the same.
        pick = components.chart(fig, f"trend_{key}", pickable=True)
        drill.clicked(pick, key, report.filters, grain, report.as_of, f"trend_{key}")
        drill.period_picker(report, key, f"trend_{key}")
        for signal in control.signals if control else []:
            when, what = period_label(frame.period.iloc[signal.index], grain), signal.description
            st.caption(escape_markdown(f"Signal at {when}: {what}"))
        components.table(
            frame,  # a part period's label says so (kpi.engine.tables.for_people)
            f"{metric.label} by {grain}",
            f"trend_{key}_{grain}",
            grain,
        )

    st.subheader("Annotations")
    st.caption("Dated notes shown on every trend chart, e.g. a process change or a system outage.")
    components.annotation_editor(chosen.date_to)
