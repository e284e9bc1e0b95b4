"""A repeated interval in an interval report (the same queue and start twice) is set aside
naming both rows and the start as the file writes it, never the UTC key the import made from
it (issue 9, left over from stop 17): in London summer time 09:00 is 08:00 UTC."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.ingest.importer import import_file, top_reasons
from kpi.store.connection import open_store

#: A generic interval report for one July morning, UK dates; the 09:00 Billing interval is
#: exported twice (rows 1 and 3), and once more in ISO form (row 5).
REPORT = """interval_start,queue,offered,answered,abandoned,asa_seconds
14/07/2026 09:00,Billing,10,9,1,21
14/07/2026 09:30,Billing,12,12,0,18
14/07/2026 09:00,Billing,10,9,1,21
14/07/2026 09:00,Care,4,4,0,12
2026-07-14 09:00,Billing,11,9,2,25
"""


@pytest.fixture
def store():
    opened = open_store(":memory:")
    yield opened
    opened.close()


def report(folder: Path, text: str = REPORT) -> Path:
    path = folder / "queue intervals 14 July.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_repeated_interval_names_both_rows_and_the_start_as_written(tmp_path, store):
    result = import_file(store, report(tmp_path))
    assert result.layout == "generic_intervals"
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (5, 3, 2)
    found = store.con.execute(
        "SELECT row_number, reason, value FROM quarantine ORDER BY row_number"
    ).fetchall()
    assert found == [
        (
            3,
            "duplicate interval_id: rows 1 and 3 are both queue 'Billing' at "
            "'14/07/2026 09:00' (as the file writes it)",
            "14/07/2026 09:00 Billing",
        ),
        (
            5,
            "duplicate interval_id: rows 1 and 5 are both queue 'Billing' at the same start, "
            "written '14/07/2026 09:00' and '2026-07-14 09:00'",
            "2026-07-14 09:00 Billing",
        ),
    ]
    # The UTC hour (08:00 in British Summer Time) is in no reason.
    assert not any("08:00" in reason for _, reason, _ in found)


def test_the_import_summary_groups_repeated_intervals_as_one_problem(tmp_path, store):
    result = import_file(store, report(tmp_path))
    assert result.batch_id is not None
    ((problem, count, example),) = top_reasons(
        store.con.cursor(), "quarantine", "reason", result.batch_id
    )
    assert (problem, count) == ("duplicate interval_id …", 2)
    assert example.startswith("row 3: duplicate interval_id: rows 1 and 3")


def test_a_repeated_agent_interval_names_queue_and_agent(tmp_path, store):
    text = (
        "interval_start,queue,agent,offered,answered\n"
        "14/07/2026 09:00,Billing,Asha,5,5\n"
        "14/07/2026 09:00,Billing,Ben,3,3\n"
        "14/07/2026 09:00,Billing,Asha,5,4\n"
    )
    result = import_file(store, report(tmp_path, text))
    assert (result.rows_imported, result.rows_quarantined) == (2, 1)
    ((reason,),) = store.con.execute("SELECT reason FROM quarantine").fetchall()
    assert reason == (
        "duplicate interval_id: rows 1 and 3 are both queue 'Billing', agent 'Asha' at "
        "'14/07/2026 09:00' (as the file writes it)"
    )
