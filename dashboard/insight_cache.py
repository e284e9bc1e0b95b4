"""Cached insight detection for the Reflect page (kept apart from dashboard/data.py, whose author
may fold it in): detection runs several engine queries, so results are cached per filters and
store version, like every other result computed from the store."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from kpi import insights
from kpi.engine.filters import Filters
from kpi.insights import Insight
from kpi.store.connection import Store


@st.cache_data(show_spinner="Looking for patterns...", max_entries=32)
def _detect(_store: Store, version: str, filters: Filters) -> list[Insight]:
    return insights.detect(_store, filters)


def detect(filters: Filters) -> list[Insight]:
    """Every insight for the filters, most striking first within each kind."""
    return _detect(data.store(), data.version(), filters)
