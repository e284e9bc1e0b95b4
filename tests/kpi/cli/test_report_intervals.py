"""`kpi report` over a store of interval reports only: a row per week, and per queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpi.cli.main import main
from kpi.store.connection import open_store

#: A generic interval CSV (kpi/ingest/builtin/generic_intervals.toml): two queues, three weeks.
CSV = """interval_start,interval_minutes,queue,offered,answered,abandoned,short_abandoned,answered_within,threshold_seconds,wait_seconds_total,handle_seconds_total
2026-01-05 09:00,30,Billing,20,18,2,0,15,20,360,5400
2026-01-05 10:00,30,Billing,10,6,4,0,3,20,300,1800
2026-01-13 09:00,30,Billing,40,36,4,2,30,20,720,9000
2026-01-21 09:00,30,Billing,25,25,0,0,25,20,125,7500
2026-01-06 09:00,30,Tech,5,4,1,0,4,20,40,1600
2026-01-23 09:00,30,Tech,8,8,0,0,6,20,160,2400
2026-01-23 10:00,30,Tech,12,9,3,1,5,20,270,3600
"""


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A store file holding the imported interval report and nothing else."""
    source = tmp_path / "queues.csv"
    source.write_text(CSV, encoding="utf-8")
    path = str(tmp_path / "store.duckdb")
    assert main(["import", str(source), "--db", path]) == 0
    assert "rows read 7 = imported 7 + quarantined 0" in capsys.readouterr().out
    return path


def test_report_by_week_and_queue_prints_a_row_for_each_queue_and_week(db, capsys):
    argv = ["report", "--grain", "week", "--by", "category", "--db", db]
    assert main([*argv, "--kpis", "abandonment_rate,asa_seconds"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    headings = [line for line in out.splitlines() if " | 2026-" in line]
    assert headings == [
        "all | 2026-01-05", "all | 2026-01-12", "all | 2026-01-19",
        "category: Billing | 2026-01-05", "category: Billing | 2026-01-12",
        "category: Billing | 2026-01-19",
        "category: Tech | 2026-01-05", "category: Tech | 2026-01-12",
        "category: Tech | 2026-01-19",
    ]  # fmt: skip
    # Tech, week of the 19th: 2 of 19 offered abandoned (10.5%), ASA 430 / 17 = 25 s.
    tech = out[out.index("category: Tech | 2026-01-19") :]
    assert "10.5%       19" in tech and "25 s       17" in tech
    assert "from interval reports (2 rows)" in tech


def test_report_by_week_as_json_carries_the_pooled_counts(db, capsys):
    argv = ["report", "--grain", "week", "--db", db, "--format", "json"]
    assert main([*argv, "--kpis", "abandonment_rate,service_level"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    counts = {
        row["period"]: (
            row["metrics"]["abandonment_rate"]["numerator"],
            row["metrics"]["abandonment_rate"]["denominator"],
            row["metrics"]["service_level"]["numerator"],
        )
        for row in rows
    }
    # Worked by hand in tests/kpi/engine/test_intervals.py (WEEKS holds the same rows).
    assert counts == {
        "2026-01-05": (7, 35, 22),
        "2026-01-12": (2, 38, 30),
        "2026-01-19": (2, 44, 36),
    }


def test_report_by_week_of_an_empty_store_prints_no_rows_and_no_error(tmp_path, capsys):
    path = str(tmp_path / "empty.duckdb")
    open_store(path).close()
    assert main(["report", "--grain", "week", "--db", path]) == 0
    out, err = capsys.readouterr()
    assert "unexpected" not in err and " | 20" not in out
