"""Settings: the definitions behind every number (targets, SLA policy, business hours, FCR and
CSAT rules, time zone, minimum n) and "this is me", saved in the store."""

from __future__ import annotations

from datetime import time
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from dashboard import data
from kpi import viewer
from kpi.calendar import REGIONS
from kpi.metrics import REGISTRY
from kpi.settings import CSAT_RULES, FCR_VARIANTS, HOURS, save_settings
from kpi.settings_form import settings_from_tables, sla_table, targets_table

st.title("Settings")
st.caption(
    "These choices change what the numbers mean, so every definition (the ? beside each number) says which rule "
    "produced it. The defaults are examples: replace them with your organisation's own service standards."
)
if message := st.session_state.pop("settings_saved", None):
    st.success(message)

store = data.store()
current = data.settings()
hours = current.calendar()
with st.form("settings"):
    st.subheader("Targets")
    st.caption(
        "A KPI with no target shows no red/amber/green status. Direction: whether above the target is good."
    )
    targets = st.data_editor(
        targets_table(current),
        hide_index=True,
        disabled=["key", "KPI"],
        key="targets_editor",
        column_config={"direction": st.column_config.SelectboxColumn(options=["higher", "lower"])},
    )
    st.subheader("SLA policy")
    sla = st.data_editor(
        sla_table(current), hide_index=True, disabled=["priority"], key="sla_editor"
    )
    left, right = st.columns(2)
    counted = left.radio(
        "Count response and resolution times in",
        HOURS,
        index=HOURS.index(current.hours),
        horizontal=True,
    )
    default_priority = right.selectbox(
        "Contacts with no priority are held to",
        list(sla.priority),
        index=list(sla.priority).index(current.sla_default_priority),
    )
    st.subheader("Business hours")
    weekday, saturday, region = st.columns(3)
    mon = hours.weekly.get(0, ("09:00", "17:00"))
    opens = weekday.time_input("Monday-Friday open", time.fromisoformat(mon[0]))
    closes = weekday.time_input("Monday-Friday close", time.fromisoformat(mon[1]))
    sat = hours.weekly.get(5)
    sat_open = saturday.checkbox("Open on Saturday", value=sat is not None)
    sat_hours = (
        saturday.time_input("Saturday open", time.fromisoformat((sat or ("09:00",))[0])),
        saturday.time_input("Saturday close", time.fromisoformat((sat or ("09:00", "13:00"))[1])),
    )
    holidays = region.selectbox("Bank holidays", REGIONS, index=REGIONS.index(hours.region))
    st.subheader("Definitions")
    a, b, c = st.columns(3)
    fcr = a.selectbox(
        "First-contact resolution",
        ["auto", *FCR_VARIANTS],
        index=["auto", *FCR_VARIANTS].index(current.fcr_variant),
        help=REGISTRY["fcr"].label
        + ": auto = the first of flag, one_touch, no_repeat the data supports",
    )
    window = a.number_input(
        "Repeat window (days, no_repeat)", 1, 90, current.fcr_repeat_window_days
    )
    csat = b.selectbox(
        "CSAT satisfied =",
        CSAT_RULES,
        index=CSAT_RULES.index(current.csat_rule),
        help="auto: top 2 points of 4+ point scales, top point of 2-3 point scales",
    )
    zones = sorted(available_timezones())
    timezone = c.selectbox("Reporting time zone", zones, index=zones.index(current.timezone))
    minimum_n = c.number_input(
        "Minimum n (smaller samples are flagged)", 1, 1000, current.minimum_n, key="minimum_n"
    )
    st.subheader("This is me")
    agents = [None, *data.segment_values()["agent"]]
    me = viewer.me(store)
    chosen_me = st.selectbox(
        "Which agent are you? (the Team page then shows you against the rest of your team)",
        agents,
        index=agents.index(me) if me in agents else 0,
        key="this_is_me",
        format_func=lambda a: a or "nobody: I am a supervisor",
    )
    saved = st.form_submit_button("Save settings", type="primary", key="save_settings")

if saved:
    weekly = {str(d): [f"{opens:%H:%M}", f"{closes:%H:%M}"] for d in range(5)}
    if sat_open:
        weekly["5"] = [f"{sat_hours[0]:%H:%M}", f"{sat_hours[1]:%H:%M}"]
    try:
        chosen = settings_from_tables(
            current, pd.DataFrame(targets), pd.DataFrame(sla)
        ).with_changes(
            hours=counted,
            sla_default_priority=default_priority,
            fcr_variant=fcr,
            fcr_repeat_window_days=int(window),
            csat_rule=csat,
            timezone=timezone,
            minimum_n=int(minimum_n),
            business_hours={"timezone": timezone, "weekly": weekly, "region": holidays},
        )
        hours_check = chosen.calendar()  # raises on impossible hours
        save_settings(store, chosen)
        viewer.set_me(store, chosen_me)
    except ValueError as problem:
        st.error(f"Not saved: {problem}")
    else:
        data.store_changed()
        st.session_state["settings_saved"] = "Saved. Every page now uses these definitions."
        st.rerun()
