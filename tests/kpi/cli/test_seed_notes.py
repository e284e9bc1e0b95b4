"""`kpi seed` adds the sample team's dated note: the day the sample planted its knowledge-base
change, so the before/after check has a change to test."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kpi.cli import main as cli
from kpi.sample.story import DATED_NOTES, KB_CHANGE_DAY
from kpi.store import annotations as notes
from kpi.store.connection import open_store
from tests.paths import SAMPLE_DATA


def test_seeding_adds_the_knowledge_base_note_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "seeded.duckdb"
    assert cli.main(["seed", "--db", str(db), "--from", str(SAMPLE_DATA)]) == 0
    out = capsys.readouterr().out
    assert "added the dated note 2026-01-12: New knowledge-base articles live" in out
    assert cli.main(["seed", "--db", str(db), "--from", str(SAMPLE_DATA)]) == 0  # not again
    store = open_store(db)
    try:
        found = notes.all_annotations(store)
    finally:
        store.close()
    assert [(n.on_date, n.text) for n in found] == list(DATED_NOTES)
    assert found[0].on_date == KB_CHANGE_DAY == date(2026, 1, 12)
