"""The only module that owns Streamlit caches: the store connection for this process."""

from __future__ import annotations

import streamlit as st

from kpi.store import Store, default_path, open_store


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """One connection per process (DuckDB allows one writer); each thread gets its cursor."""
    return open_store(default_path())


def store_changed() -> None:
    """After an import or undo: cached results computed from the store are stale."""
    st.cache_data.clear()
