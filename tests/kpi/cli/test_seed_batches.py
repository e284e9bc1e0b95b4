"""`kpi seed` imports every committed sample file as its own batch, by the layout that recognises
it, so a new user's store holds every kind of input: tickets, calls, survey answers, the call
queues' interval report and the public social queue's message threads."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.cli import main as cli
from kpi.engine.intervals import LEFT_OUT
from kpi.engine.report import report
from kpi.sample import FILE_NAMES, INTERVALS_FILE, THREADS_FILE
from kpi.store.connection import open_store
from kpi.store.quarantine import imports_table
from tests.paths import SAMPLE_DATA


def test_seeding_imports_each_sample_file_as_its_own_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "seeded.duckdb"
    assert cli.main(["seed", "--db", str(db), "--from", str(SAMPLE_DATA)]) == 0
    assert f"seeded {db}" in capsys.readouterr().out
    store = open_store(db)
    try:
        batches = imports_table(store)
        totals = report(store).totals()
        social = report(store, by=("channel",)).rows
    finally:
        store.close()
    layouts = dict(zip(batches["file_name"], batches["layout"], strict=True))
    assert layouts == {
        "call_log.xlsx": "call_log",
        INTERVALS_FILE: "generic_intervals",
        THREADS_FILE: "twitter_customer_support",
        "survey_responses.csv": "generic_survey",
        "zendesk_tickets.csv": "zendesk",
    }
    assert set(layouts) == set(FILE_NAMES)
    assert (batches["rows_read"] == batches["rows_imported"]).all()
    assert batches["rows_quarantined"].sum() == 0
    read = dict(zip(batches["file_name"], batches["rows_read"], strict=True))
    assert (read[INTERVALS_FILE], read[THREADS_FILE]) == (4_108, 3_668)
    # 22,823 tickets + 15,812 calls + 1,071 social threads.
    assert totals["contacts"].n == 39_706
    # The call KPIs come from the call log; the interval report holds the same calls.
    assert totals["abandonment_rate"].extra[LEFT_OUT] == 15_691
    (row,) = [r for r in social if r.segment == {"channel": "social"}]
    # Zendesk's 2,354 answered Twitter and Facebook tickets + the 1,071 answered threads.
    assert row.metrics["first_response_hours"].n == 2_354 + 1_071
