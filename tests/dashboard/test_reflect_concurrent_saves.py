"""Two sessions on the Reflect page save the same draft: the first is saved, the second is
refused with the newer text shown beside its own (kept in the form), so nothing is lost; the
learner can load the newer version and carry on from it. The Evidence page refuses a learner's
sign-off of their own reflection and shows a reflection changed after sign-off."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kpi import insights
from kpi.engine.filters import Filters
from kpi.evidence import reflections
from kpi.store.connection import open_store

REFLECT, EVIDENCE = "views/reflect.py", "views/evidence.py"
MARCH = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


def _draft(db: Path) -> reflections.Reflection:
    store = open_store(db)
    insight = insights.detect(store, MARCH, ("driver",))[0]
    r = reflections.save(store, reflections.from_insight(insight, "Amelia Booth", 2, store))
    store.close()
    return r


def test_of_two_sessions_saving_one_draft_the_second_is_refused_and_nothing_is_lost(
    app_for, seeded_db: Path
) -> None:
    r = _draft(seeded_db)
    first_step = next(iter(r.sections))
    field, save = f"s_{r.reflection_id}_{first_step}", f"save_{r.reflection_id}"
    mine, yours = app_for(seeded_db, REFLECT), app_for(seeded_db, REFLECT)  # both open version 1

    mine.text_area(key=field).input("Mine: billing letters confused customers.").run()
    mine.button(key=save).click().run()
    assert not mine.exception and not mine.error, [e.value for e in mine.error]
    assert [s.value.replace("\\", "") for s in mine.success] == ["EV-0001 saved."]

    yours.text_area(key=field).input("Yours: the March bill run went out late.").run()
    yours.button(key=save).click().run()
    assert not yours.exception, [e.value for e in yours.exception]
    assert not yours.success, "a stale save is never told it saved"
    (refusal,) = [e.value.replace("\\", "") for e in yours.error]
    assert "EV-0001 was saved elsewhere" in refusal and "your save was refused" in refusal
    assert "Mine: billing letters confused customers." in [t.value for t in yours.text]
    assert yours.text_area(key=field).value == "Yours: the March bill run went out late."

    store = open_store(seeded_db)
    assert reflections.get(store, r.reflection_id).sections[first_step].startswith("Mine:")
    store.close()

    yours.button(key="load_newer_refused").click().run()
    assert yours.text_area(key=field).value == "Mine: billing letters confused customers."
    yours.text_area(key=field).input("Mine: billing letters confused customers. Yours too.")
    yours.button(key=save).click().run()
    assert [s.value.replace("\\", "") for s in yours.success] == [
        "EV-0001 saved."
    ] and not yours.error
    store = open_store(seeded_db)
    assert reflections.get(store, r.reflection_id).sections[first_step].endswith("Yours too.")
    store.close()


def test_the_learner_cannot_sign_off_their_own_reflection_on_the_evidence_page(
    app_for, seeded_db: Path
) -> None:
    r = _draft(seeded_db)
    store = open_store(seeded_db)
    r = reflections.save(store, reflections.replace(r, sections={"description": "Billing rose."}))
    reflections.submit(store, r.reflection_id)
    store.close()

    at = app_for(seeded_db, EVIDENCE)
    at.text_input(key="review_name").input("Amelia Booth").run()
    at.text_area(key="review_comment").input("I think it is great.").run()
    at.button(key="review_True").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (error,) = [e.value.replace("\\", "") for e in at.error]
    assert (
        error
        == "Amelia Booth wrote EV-0001 and cannot sign it off; ask their supervisor to sign it"
    )

    at.text_input(key="review_name").input("Sam Supervisor").run()
    at.button(key="review_True").click().run()
    assert not at.error, [e.value for e in at.error]
    store = open_store(seeded_db)
    signed = reflections.get(store, r.reflection_id)
    reflections.save(store, reflections.replace(signed, title="Rewritten after signing"))
    store.close()
    at.run()
    assert any("changed after sign-off" in w.value.replace("\\", "") for w in at.warning)
    assert "Changed after sign-off" in at.dataframe[0].value["Status"].tolist()
