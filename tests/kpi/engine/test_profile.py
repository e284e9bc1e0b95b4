"""The data profile: rows from an unrelated year are pointed out rather than stretching every
axis."""

from __future__ import annotations

from datetime import datetime, timedelta

from kpi.engine.profile import stray_dates
from tests.kpi.stores import make_store


def test_rows_from_an_unrelated_year_are_pointed_out():
    recent = [{"opened_at": datetime(2026, 7, 1) + timedelta(days=d)} for d in range(30)]
    old = [{"opened_at": datetime(2019, 3, 4, 10)}] * 3
    assert stray_dates(make_store(recent)) is None
    notice = stray_dates(make_store(recent + old))
    assert notice is not None and notice.startswith(
        "3 rows are dated 4 Mar 2019 - 4 Mar 2019, more than a year before the rest of the data "
        "(1 Jul 2026 - 30 Jul 2026)"
    )
