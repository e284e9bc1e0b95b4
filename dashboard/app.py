"""Service KPI Dashboard: the entry point (`streamlit run dashboard/app.py`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="Service KPI Dashboard", page_icon="📊", layout="wide")

PAGES = {
    "Data": [
        st.Page(VIEWS / "data.py", title="Data import and quality", icon="📥", url_path="data"),
    ],
}

page = st.navigation(PAGES)
page.run()
