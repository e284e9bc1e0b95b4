"""The Portfolio page: a learner's index, coverage against their own standard, reminders,
downloads, and colleagues' names kept out of the prep sheet."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from kpi.engine.filters import Filters
from kpi.evidence import learners, reflections
from kpi.evidence.reflections import SmartAction
from kpi.store.connection import open_store

LEARNER = "Amelia Booth"


def _with_reflections(db: Path) -> None:
    store = open_store(db)
    try:
        r = reflections.blank(LEARNER, 2, Filters(), ("fcr",))
        r = replace(
            r,
            title="FCR after the knowledge base",
            ksbs=("ST0072:B6",),
            sections={"situation": "FCR rose in January; Daniel Haigh and Rhys showed me how."},
            action=SmartAction(
                "Use the knowledge base on every call", "fcr", 80.0, date.today() + timedelta(3)
            ),
        )
        reflections.save(store, r)
        other = replace(reflections.blank("Owen Jenkins", 2, Filters()), ksbs=("ST0072:K2",))
        reflections.save(store, other)
        learners.register(store, "Owen Jenkins", "ST0384", "1.1")
    finally:
        store.close()


def test_the_portfolio_page_shows_the_learners_index_coverage_and_reminders(
    app_for, seeded_db: Path
) -> None:
    _with_reflections(seeded_db)
    at = app_for(seeded_db, "views/portfolio.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="portfolio.learner").value == LEARNER
    index, table, annex = (t.value for t in at.dataframe)
    assert index.Reference.tolist() == ["EV-0001"]
    assert index.KSBs.tolist() == ["B6"]
    covered = table.set_index("KSB")
    assert covered.loc["ST0072 B6 Right first time", "Reflections"] == 1
    assert covered.loc["ST0072 K2 Understanding the organisation", "Reflections"] == 0
    assert len(annex) == 18
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # Markdown-escaped
    assert "EV-0001 FCR after the knowledge base: review it in 3 days" in warnings
    texts = " ".join(t.value for t in at.text)
    assert "EV-0001 Situation: FCR rose in January; two colleagues showed me how." in texts
    assert "Daniel" not in texts and "Rhys" not in texts
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Portfolio (PDF)", "Portfolio (DOCX)"]


def test_a_team_leader_is_shown_against_st0384(app_for, seeded_db: Path) -> None:
    _with_reflections(seeded_db)
    at = app_for(seeded_db, "views/portfolio.py")
    at.selectbox(key="portfolio.learner").set_value("Owen Jenkins").run()
    _, table, _ = (t.value for t in at.dataframe[-3:])
    assert set(table.KSB.str.split().str[0]) == {"ST0384"}
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # Markdown-escaped
    assert "EV-0002 ST0072:K2" in warnings and "Map them to ST0384 KSBs instead." in warnings


def test_the_evidence_page_counts_coverage_per_learner_against_their_standard(
    app_for, seeded_db: Path
) -> None:
    _with_reflections(seeded_db)
    at = app_for(seeded_db, "views/evidence.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="coverage_learner").value == LEARNER
    covered = at.dataframe[1].value.set_index("KSB")
    assert covered.loc["ST0072 B6 Right first time", "Reflections"] == 1
    assert covered.loc["ST0072 K2 Understanding the organisation", "Reflections"] == 0  # Owen's
    at.selectbox(key="coverage_learner").set_value("Owen Jenkins").run()
    caption = " ".join(c.value for c in at.caption).replace("\\", "")  # Markdown-escaped
    assert "ST0384" in caption and "version 1.1" in caption
    assert all(k.startswith("ST0384") for k in at.dataframe[1].value["KSB"])
