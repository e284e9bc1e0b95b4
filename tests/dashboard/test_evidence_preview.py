"""The Evidence page shows every piece of text an export will carry, exactly as the pack holds
it, and offers no download until the learner confirms it holds nothing personal."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kpi.engine.filters import Filters
from kpi.evidence import redaction, reflections
from kpi.store.connection import open_store

EVIDENCE = "views/evidence.py"


def _downloads(at) -> dict[str, bool]:
    """Each download button's label and whether it is disabled."""
    return {d.proto.label: d.proto.disabled for d in at.get("download_button")}


@pytest.mark.chromium
def test_the_learner_reads_and_confirms_the_text_before_any_download(
    app_for, seeded_db: Path
) -> None:
    store = open_store(seeded_db)
    learner, colleague = redaction.agents(store)[:2]
    month = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31), agent=(colleague,))
    r = reflections.blank(learner, 2, month, ("sla",))
    first = next(iter(r.sections))
    r = reflections.replace(
        r,
        title="Email replies in March",
        sections={first: f"{colleague} showed me account 12345678. Regards, Priya Patel"},
    )
    r = reflections.save(store, r)
    store.close()

    at = app_for(seeded_db, EVIDENCE)
    at.button(key="export_build").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = [t.value for t in at.text]
    expected = [text for _, text in redaction.preview(at.session_state["evidence.built"].pack)]
    assert shown[-len(expected) :] == expected  # exactly the pack's own text, last on the page
    assert "A colleague showed me [account number]. Regards, [name]" in shown
    assert any(t.endswith("agent: one colleague") for t in shown)
    assert not any(colleague in t or "12345678" in t for t in shown)
    assert redaction.CONFIRM in [c.label for c in at.checkbox]
    locked = _downloads(at)
    assert "Evidence pack (PDF)" in locked and all(locked.values()), locked

    at.checkbox(key="export_confirm").check().run()
    opened = _downloads(at)
    assert opened.keys() == locked.keys() and not any(opened.values()), opened
