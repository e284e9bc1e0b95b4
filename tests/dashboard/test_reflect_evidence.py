"""The Reflect and Evidence pages as a learner and a supervisor use them: start a reflection
from an insight, write it, send it for review, sign it off, and download an evidence pack."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kpi import insights
from kpi.engine.filters import Filters
from kpi.evidence import reflections
from kpi.store.connection import open_store

REFLECT, EVIDENCE = "views/reflect.py", "views/evidence.py"


def _buttons(at, prefix: str) -> list:
    return [b for b in at.button if b.key and b.key.startswith(prefix)]


def test_a_learner_reflects_on_an_insight_and_sends_it_for_review(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, REFLECT)
    assert not at.exception, [e.value for e in at.exception]
    assert at.expander, "insights are listed"
    assert all(b.disabled for b in _buttons(at, "start_")), "no learner, no reflection"
    at.text_input(key="reflect.learner").input("Amelia Booth").run()
    _buttons(at, "start_")[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = open_store(seeded_db)
    (draft,) = reflections.journal(store)
    assert draft.learner == "Amelia Booth" and draft.insight_id and draft.ksbs
    first = next(iter(draft.sections))
    at.text_area(key=f"s_{draft.reflection_id}_{first}").input(
        "<b>What happened</b> in March"
    ).run()
    at.button(key=f"send_{draft.reflection_id}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    sent = reflections.get(store, draft.reflection_id)
    assert sent.status == "ready_for_review"
    assert sent.sections[first] == "<b>What happened</b> in March"
    store.close()


def test_a_supervisor_signs_off_and_the_pack_downloads(app_for, seeded_db: Path) -> None:
    store = open_store(seeded_db)
    month = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    insight = insights.detect(store, month, ("driver",))[0]
    r = reflections.from_insight(insight, "Amelia Booth", 2, store)
    r = reflections.save(store, reflections.replace(r, sections={"description": "Billing rose."}))
    reflections.submit(store, r.reflection_id)
    store.close()

    at = app_for(seeded_db, EVIDENCE)
    assert not at.exception, [e.value for e in at.exception]
    assert "EV-0001" in at.dataframe[0].value["Reference"].tolist()
    at.text_input(key="review_name").input("Sam Supervisor").run()
    at.text_area(key="review_comment").input("Good use of the Pareto chart.").run()
    at.button(key="review_True").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store = open_store(seeded_db)
    assert reflections.get(store, r.reflection_id).status == "reviewed"
    store.close()

    at.button(key="export_build").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = [d.label for d in at.get("download_button")]
    assert "Evidence pack (PDF)" in labels and "Evidence pack (DOCX)" in labels
    assert {"PNG", "SVG", "Interactive HTML", "Numbers (CSV)"} <= set(labels)
