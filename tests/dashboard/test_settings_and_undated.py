"""The Settings page offers the source's own SLA flag; the Feedback and Overview pages count
answers without a date in an all-time view and say so in an "undated" line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kpi.metrics.settings import load_settings
from kpi.store.connection import open_store
from tests.paths import APP

UNDATED_ALL_TIME = (
    "Undated: 2 survey answers have no date. They are counted in these all-time figures, but in "
    "no week or month of the charts over time."
)


def _survey_db(path: Path) -> Path:
    """A store with contacts, three dated answers and two undated ones."""
    store = open_store(path)
    try:
        cur = store.con
        for i, day in enumerate((3, 4, 5)):
            cur.execute(
                "INSERT INTO contacts (source, contact_id, opened_at, status, channel) "
                "VALUES ('t', ?, ?, 'open', 'email')",
                [f"c{i}", datetime(2025, 3, day, 9)],
            )
        answers = [(datetime(2025, 3, d, 12), s) for d, s in ((3, 2), (4, 9), (5, 10))]
        answers += [(None, 10), (None, 10)]
        for i, (when, score) in enumerate(answers):
            cur.execute(
                "INSERT INTO responses (source, response_id, responded_at, nps) "
                "VALUES ('t', ?, ?, ?)",
                [f"r{i}", when, float(score)],
            )
    finally:
        store.close()
    return path


@pytest.fixture
def page_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    def make(script: str, db: Path, **params: str) -> AppTest:
        monkeypatch.setenv("KPI_DB", str(db))
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params.update(params)
        at.run()
        at.switch_page(script).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make


def test_feedback_counts_undated_answers_in_all_time_and_says_so(page_on, tmp_path) -> None:
    at = page_on("views/feedback.py", _survey_db(tmp_path / "s.duckdb"), period="all")
    captions = [c.value for c in at.caption]
    assert UNDATED_ALL_TIME in captions
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Survey responses"] == "5"
    assert tiles["NPS"] == "+60.0"  # 4 promoters, 1 detractor of 5


def test_a_dated_period_leaves_them_out_and_says_how_to_count_them(page_on, tmp_path) -> None:
    db = _survey_db(tmp_path / "s.duckdb")
    at = page_on(
        "views/feedback.py", db, period="custom", to="2025-03-05", **{"from": "2025-03-04"}
    )
    assert (
        "Undated: 2 survey answers have no date, so no dated period includes them. Choose All "
        "time to count them."
    ) in [c.value for c in at.caption]
    assert {m.label: m.value for m in at.metric}["Survey responses"] == "2"


def test_the_overview_counts_undated_answers_in_all_time(page_on, tmp_path) -> None:
    at = page_on("views/overview.py", _survey_db(tmp_path / "s.duckdb"), period="all")
    assert UNDATED_ALL_TIME in [c.value for c in at.caption]
    assert {m.label: m.value for m in at.metric}["Survey responses"] == "5"


def test_settings_offers_the_source_sla_flag_and_saves_it(page_on, seeded_db: Path) -> None:
    at = page_on("views/settings.py", seeded_db)
    choice = at.selectbox(key="sla_variant")
    assert choice.label == "SLA met means" and choice.value == "auto"
    assert choice.options == [
        "Automatic: the targets, else the flag",
        "The targets above (from the times)",
        "The source system's own SLA flag",
    ]
    choice.set_value("source_flag")
    at.button(key="save_settings").click().run()
    assert not at.exception
    store = open_store(seeded_db)
    try:
        assert load_settings(store).sla_variant == "source_flag"
    finally:
        store.close()
