"""The dashboard over a store of contact-centre interval reports only: its pages have data
(the interval starts give them their dates) and render without an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.ingest.importer import import_file
from kpi.store.connection import open_store
from tests.kpi.cli.test_report_intervals import CSV

PAGES = ("views/overview.py", "views/service_levels.py", "views/team.py", "views/trends.py")


@pytest.fixture
def intervals_db(tmp_path: Path) -> Path:
    source = tmp_path / "queues.csv"
    source.write_text(CSV, encoding="utf-8")
    db = tmp_path / "intervals.duckdb"
    store = open_store(db)
    try:
        import_file(store, source)
    finally:
        store.close()
    return db


@pytest.mark.parametrize("script", PAGES)
def test_a_page_over_interval_reports_only_renders_their_figures(app_for, intervals_db, script):
    at = app_for(intervals_db, script)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    shown = " ".join(str(i.value) for i in at.info)
    assert "holds no contacts or survey answers" not in shown
    assert "Nothing matches these filters" not in shown
    if script in ("views/overview.py", "views/service_levels.py"):
        tiles = {m.label: m.value for m in at.metric}
        # All seven rows: abandoned 2 + 4 + (4 - 2) + 0 + 1 + 0 + (3 - 1) = 11 of
        # 20 + 10 + 38 + 25 + 5 + 8 + 11 = 117 offered (short abandons out of both): 9.4%.
        assert tiles["Abandonment rate"] == "9.4%"
