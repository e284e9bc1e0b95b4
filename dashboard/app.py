"""Service KPI Dashboard: the entry point (`streamlit run dashboard/app.py`)."""

from __future__ import annotations

import streamlit as st

from dashboard.navigation import PAGES

st.set_page_config(page_title="Service KPI Dashboard", page_icon="📊", layout="wide")

sections: dict[str, list] = {}
for spec in PAGES:
    page = st.Page(spec.script, title=spec.title, icon=spec.icon, url_path=spec.url_path)
    sections.setdefault(spec.section, []).append(page)

st.navigation(sections).run()
