"""Service KPI Dashboard: the entry point (`streamlit run dashboard/app.py`)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Service KPI Dashboard", page_icon="📊", layout="wide")

PAGES = {
    "Data": [
        st.Page("views/data.py", title="Data import and quality", icon="📥", url_path="data"),
    ],
}

page = st.navigation(PAGES)
page.run()
