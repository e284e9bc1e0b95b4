"""Every page renders on sample data and on an empty store; a new page cannot go untested."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.navigation import PAGES
from tests.paths import ROOT

VIEWS = ROOT / "dashboard" / "views"
VIEW_SCRIPTS = sorted(f"views/{p.name}" for p in VIEWS.glob("*.py") if p.name != "__init__.py")


def test_every_view_file_is_in_the_navigation() -> None:
    assert sorted(p.script for p in PAGES) == VIEW_SCRIPTS


@pytest.mark.parametrize("script", VIEW_SCRIPTS)
def test_view_renders_on_sample_data(app_for, seeded_db: Path, script: str) -> None:
    at = app_for(seeded_db, script)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "every page has a title"


@pytest.mark.parametrize("script", VIEW_SCRIPTS)
def test_view_renders_on_an_empty_store(app_for, tmp_path: Path, script: str) -> None:
    at = app_for(tmp_path / "empty.duckdb", script)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
