"""Reports laid out as tables, and numbers written with their unit."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.engine.results import MetricResult
from kpi.engine.tables import format_change, format_interval, format_value, long_frame
from kpi.metrics.settings import Settings
from kpi.store.connection import open_store


@pytest.fixture
def store():
    store = open_store(":memory:")
    for i, (channel, complaint) in enumerate([("email", True), ("email", False), ("phone", False)]):
        store.cursor().execute(
            "INSERT INTO contacts (source, contact_id, opened_at, channel, complaint) "
            "VALUES ('t', ?, ?, ?, ?)",
            [f"c{i}", datetime(2026, 3, 2 + i, 10), channel, complaint],
        )
    yield store
    store.close()


def test_long_frame_has_a_row_per_segment_and_kpi(store) -> None:
    result = report(store, Filters(), by=("channel",), settings=Settings(hours="calendar"),
                    metrics=("complaint_rate", "contacts"))  # fmt: skip
    frame = long_frame(result, ("complaint_rate",))
    assert list(frame.channel) == ["All", "email", "phone"]
    assert list(frame.numerator) == [1, 1, 0]
    assert list(frame.n) == [3, 2, 1]
    assert "period" not in frame
    assert list(long_frame(result, ("contacts",), totals=False).channel) == ["email", "phone"]


def test_long_frame_by_period(store) -> None:
    filters = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    result = report(store, filters, grain="week", metrics=("contacts",))
    frame = long_frame(result, ("contacts",))
    assert list(frame.period) == ["2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16",
                                  "2026-03-23", "2026-03-30"]  # fmt: skip
    assert frame.value.sum() == 3


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(82.68, "%", "82.7%"), (34.75, "points", "+34.8"), (1.04, "hours", "1.0 h"),
     (604.7, "seconds", "605 s"), (6208.0, "count", "6,208"), (None, "%", "—")],
)  # fmt: skip
def test_format_value(value, unit, text) -> None:
    assert format_value(value, unit) == text


def test_format_interval_and_change() -> None:
    result = MetricResult("csat", 82.7, 1865, "d", "auto", "%", ci_low=80.9, ci_high=84.3)
    assert format_interval(result) == "n = 1,865 · 95% CI 80.9% to 84.3%"
    median = MetricResult("first_response_hours", 1.0, 10, "d", "s", "hours", extra={"p90": 6.5})
    assert format_interval(median) == "n = 10 · p90 6.5 h"
    assert format_change(-2.34, "%") == "-2.3 pts"
    assert format_change(-30, "seconds") == "−30 s"
