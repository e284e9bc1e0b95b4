"""AppTest fixtures: a fresh Streamlit cache and a store chosen by the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.paths import APP


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    # Streamlit caches outlive an AppTest within one pytest process (ARCHITECTURE.md, Known
    # pitfalls): clear them around each test.
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, str], AppTest]:
    """An AppTest of the whole app on a given store, switched to one page and run."""

    def make(db: Path, script: str) -> AppTest:
        monkeypatch.setenv("KPI_DB", str(db))
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        at.switch_page(script)
        at.run()
        return at

    return make
