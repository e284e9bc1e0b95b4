"""Who is using the dashboard, said in the sidebar: local mode says nothing is verified; team
mode without sign-in set up says what to add, and shows no page at all. (Signing in with a real
OpenID Connect provider: test_team_mode.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import NOT_CONFIGURED
from tests.paths import APP


@pytest.fixture
def store_copy(seeded_template: Path, tmp_path: Path) -> Path:
    db = tmp_path / "store.duckdb"
    shutil.copyfile(seeded_template, db)
    return db


def test_local_mode_says_so_in_the_sidebar_and_shows_every_page(monkeypatch, store_copy):
    monkeypatch.setenv("KPI_DB", str(store_copy))
    monkeypatch.delenv("KPI_MODE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Local mode: one person on this computer, no sign-in" in captions
    assert 'labelled "not verified"' in captions
    assert not at.exception and not at.error


def test_team_mode_without_sign_in_set_up_says_what_to_add_and_shows_nothing(
    monkeypatch, store_copy
):
    monkeypatch.setenv("KPI_DB", str(store_copy))
    monkeypatch.setenv("KPI_MODE", "team")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets = {}  # no [auth] section
    at.run()
    assert [e.value for e in at.error] == [NOT_CONFIGURED]
    assert not at.metric and not at.sidebar.caption


def test_a_mistyped_mode_stops_the_app_instead_of_dropping_sign_in(monkeypatch, store_copy):
    monkeypatch.setenv("KPI_DB", str(store_copy))
    monkeypatch.setenv("KPI_MODE", "teams")
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert [e.value for e in at.error] == ["KPI_MODE is 'teams': set it to local or team."]
    assert not at.metric


def test_local_mode_served_beyond_this_computer_says_anyone_can_act(monkeypatch, store_copy):
    from streamlit import config

    monkeypatch.setenv("KPI_DB", str(store_copy))
    monkeypatch.delenv("KPI_MODE", raising=False)
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = AppTest.from_file(str(APP), default_timeout=120).run()
    finally:
        config.set_option("server.address", before)
    (warning,) = [w.value for w in at.sidebar.warning]
    assert warning.startswith("Served on 0.0.0.0 without sign-in: anyone who can reach it")
