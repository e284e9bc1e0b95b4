"""The action check: a reflection's KPIs before and after its dated change, with the test."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kpi.engine.filters import Filters
from kpi.evidence import action_check, reflections
from kpi.store import annotations
from kpi.store.connection import open_store


def test_action_check_uses_the_annotation(seeded_db: Path) -> None:
    store = open_store(seeded_db)
    note = annotations.add(store, date(2026, 1, 12), "New knowledge base")
    r = reflections.blank("Alex", 3, Filters(), ("fcr",))
    r = reflections.save(
        store,
        reflections.replace(
            r,
            annotation_id=note.annotation_id,
            action=reflections.SmartAction("x", "fcr", 75, date(2026, 3, 1)),
        ),
    )
    found = action_check.check(store, r)
    assert found is not None
    _, (fcr,) = found
    assert fcr.change.significant and fcr.after.value > fcr.before.value
    store.close()


def test_the_action_check_reads_before_and_after_with_n_and_the_test(seeded_db: Path) -> None:
    store = open_store(seeded_db)
    note = annotations.add(store, date(2026, 1, 12), "New knowledge base")
    r = reflections.blank("Alex", 3, Filters(), ("fcr",))
    r = reflections.save(store, reflections.replace(r, annotation_id=note.annotation_id))
    found = action_check.check(store, r)
    store.close()
    assert found is not None
    note, comparisons = found
    assert action_check.caption(note) == ("Before and after 12 Jan 2026 (8 weeks each side)")
    (row,) = action_check.table(comparisons).to_dict("records")
    (fcr,) = comparisons
    assert row == {
        "KPI": "FCR",
        "before": f"{fcr.before.value:.1f}%",
        "n before": fcr.before.n,
        "after": f"{fcr.after.value:.1f}%",
        "n after": fcr.after.n,
        "p": fcr.change.p_value,
        "more than chance": "yes",
    }
