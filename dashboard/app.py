"""Service KPI Dashboard: the entry point (`streamlit run dashboard/app.py`)."""

from __future__ import annotations

import streamlit as st

from dashboard import data, filters
from dashboard.navigation import PAGES
from kpi.charts.disclosure import escape_markdown

st.set_page_config(page_title="Service KPI Dashboard", page_icon="📊", layout="wide")

sections: dict[str, list] = {}
for number, spec in enumerate(PAGES):
    page = st.Page(
        spec.script, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=number == 0
    )
    sections.setdefault(spec.section, []).append(page)

current = st.navigation(sections)
# A store that cannot be opened (locked by a `kpi` command, damaged, read-only, not a store) is
# said once, here, instead of failing in every element of the page; a rerun tries again.
problem = data.store_problem()
if problem:
    st.error(escape_markdown(problem), icon="🚫")
    st.button("Try again", key="retry_store")
    st.stop()
# The picture frame: the global filters, drawn before the page so every page reads the same ones.
filters.sidebar()
current.run()
