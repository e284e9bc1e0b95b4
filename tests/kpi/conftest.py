"""Fixtures shared by the kpi tests."""

from __future__ import annotations

import pytest

from kpi.store.connection import open_store


@pytest.fixture
def store(tmp_path):
    """A fresh store file in the test's folder."""
    opened = open_store(tmp_path / "store.duckdb")
    yield opened
    opened.close()
