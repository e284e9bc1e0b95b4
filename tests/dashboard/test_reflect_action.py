"""The Reflect page's SMART action: it names the segment the action is measured on, shows the
before/after check in words with its charts, and refuses a target on the wrong side of the
baseline in an error box."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kpi import insights
from kpi.engine.filters import Filters
from kpi.evidence import reflections
from kpi.store import annotations
from kpi.store.connection import open_store

REFLECT = "views/reflect.py"


def test_the_action_form_names_its_segment_the_check_warns_and_a_wrong_target_is_refused(
    app_for, seeded_db: Path
) -> None:
    store = open_store(seeded_db)
    march = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    billing = next(
        i
        for i in insights.detect(store, march, ("driver",))
        if i.title.startswith("Billing drives complaints")
    )
    note = annotations.add(store, date(2026, 4, 13), "Billing letters rewritten")
    r = reflections.from_insight(billing, "Amelia Booth", 3, store)
    action = reflections.replace(
        r.action,
        text="Rewrite the billing letters so customers understand their charges",
        kpi="complaint_rate",
        target=3.0,
        review_date=date(2026, 6, 30),
    )
    r = reflections.save(
        store, reflections.replace(r, action=action, annotation_id=note.annotation_id)
    )
    store.close()

    at = app_for(seeded_db, REFLECT)
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Measured on category Billing only") for c in captions), captions
    texts = [t.value for t in at.text]
    start = next(
        i for i, t in enumerate(texts) if t.startswith("Category Billing, before and after 13 Apr")
    )
    check = texts[start : start + 3]  # caption, figures, target; the warning in its box
    (warning,) = [w.value.replace("\\", "") for w in at.warning]
    assert warning.startswith("Warning: the before weeks are not a fair baseline")
    assert not any("more than chance" in t for t in [*check, warning])
    assert check[2].startswith("Target met by the review date (30 Jun 2026)")
    assert len(at.get("plotly_chart")) >= 2  # the check's before/after bars and weekly series

    at.number_input(key=f"at_{r.reflection_id}").set_value(12.0).run()
    at.button(key=f"save_{r.reflection_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (error,) = [e.value.replace("\\", "") for e in at.error]  # the box escapes Markdown
    assert "a target of 12.0% for Complaint rate (category Billing) is above its baseline" in error
    assert "16 Feb 2026 - 12 Apr 2026" in error
