"""Settings: the definitions behind every number (targets, SLA policy, business hours, FCR and
CSAT rules, time zone, minimum n) and "this is me", saved in the store."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, data, settings_inputs
from kpi.charts.disclosure import csv_bytes, escape_markdown
from kpi.errors import KpiError
from kpi.metrics.settings import save_settings
from kpi.store import audit, viewer

st.title("Settings")
st.caption(
    "These choices change what the numbers mean, so every definition (the ? beside each number) "
    "says which rule produced it. The defaults are examples: replace them with your "
    "organisation's own service standards."
)
if message := st.session_state.pop("settings_saved", None):
    st.success(message)

store = data.store()
current = data.settings()
with st.form("settings"):
    st.subheader("Targets")
    targets = settings_inputs.targets(current)
    st.subheader("SLA policy")
    sla, sla_changes = settings_inputs.sla_policy(current)
    st.subheader("Business hours")
    hours = settings_inputs.working_hours(current)
    st.subheader("Definitions")
    changes = settings_inputs.definitions(current)
    st.subheader("This is me")
    me = settings_inputs.this_is_me(data.segment_values()["agent"], viewer.me(store))
    saved = st.form_submit_button("Save settings", type="primary", key="save_settings")

if saved:
    try:
        chosen = settings_inputs.apply(current, targets, sla, {**sla_changes, **changes}, hours)
    except (KpiError, ValueError) as problem:  # a user's impossible choice (InvalidChoice is both)
        st.error(f"Not saved: {escape_markdown(problem)}")
    else:
        # Team mode: the audit log keeps who signed in.
        identity = auth.acting_identity(store)
        save_settings(store, chosen, by=auth.acting_name(), identity=identity)
        viewer.set_me(store, me)
        data.store_changed()
        st.session_state["settings_saved"] = "Saved. Every page now uses these definitions."
        st.rerun()

st.subheader("Audit log")
st.caption(
    "Who imported, undid, changed settings or roles, signed off or exported, and when (UTC), "
    "newest first. The product only ever adds to it."
)
log = audit.as_table(store)
if log.empty:
    st.info("Nothing has been recorded yet.")
else:
    st.dataframe(log.head(200), hide_index=True, width="stretch", key="audit_log")
    st.download_button(
        "Download the audit log (CSV)",
        csv_bytes(log),
        file_name="audit_log.csv",
        mime="text/csv",
        key="audit_download",
    )
