"""Insight wording a Level 2 reader can follow: the week named, the most recent first, the test
statistics in the details (not the headline), and numbers printed with enough digits that a
value never reads the same as the limit it crossed."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from kpi import insights
from kpi.engine import statistics
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.insights import over_time
from kpi.insights.model import distinct, p_text, week_of
from kpi.store.connection import open_store

WEEK = re.compile(r"\b(\d{1,2} [A-Z][a-z]{2} \d{4})\b")


def test_a_value_just_below_its_limit_never_reads_the_same_as_the_limit() -> None:
    assert distinct(88.9712, 88.9749) == ("88.971", "88.975")
    assert distinct(54.49, 59.2) == ("54.5", "59.2")
    assert distinct(721.0, 621.6, least=0) == ("721", "622")
    chart = statistics.ControlChart(centre=92.0, lower=88.9749, upper=95.0, mean_moving_range=1)
    signal = statistics.Signal(1, "outside_limits", "")
    results = [
        MetricResult("fcr", 91.0, 200, "FCR", "flag", "%"),
        MetricResult("fcr", 88.9712, 200, "FCR", "flag", "%"),
    ]
    sentence = over_time._signal_sentence(
        "FCR", signal, chart, ["2026-01-05", "2026-01-12"], results
    )
    assert sentence == (
        "In the week of 12 Jan 2026, FCR was 88.971%, below the lower limit of 88.975%: "
        "something unusual happened that week."
    )


def test_p_values_read_plainly_in_the_details() -> None:
    assert p_text(2.67e-101) == "p = 2.67e-101"
    assert p_text(0.0) == "p < 1e-300"
    assert p_text(None) == "not testable"
    assert week_of("2026-01-12") == week_of(date(2026, 1, 12)) == "12 Jan 2026"


@pytest.fixture(scope="module")
def found(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("summaries") / "store.duckdb"
    path.write_bytes(seeded_template.read_bytes())
    store = open_store(path)
    try:
        yield insights.detect(store, Filters())
    finally:
        store.close()


def test_no_headline_carries_a_p_value_or_bonferroni(found) -> None:
    for i in found:
        assert not re.search(r"\bp [=<]|Bonferroni|e-\d", f"{i.title} {i.summary}"), i.title
    tested = [i for i in found if i.kind in ("concentration", "driver", "change_point")]
    assert tested and all(re.search(r"\bp [=<] ", i.details) for i in tested)
    assert all("Bonferroni-corrected" in i.details for i in tested)


def test_signals_name_their_weeks_most_recent_first(found) -> None:
    signals = [i for i in found if i.kind == "signal"]
    assert signals
    latest = []
    for i in signals:
        weeks = [date.fromisoformat(_iso(w)) for w in WEEK.findall(i.title)]
        assert weeks == sorted(weeks, reverse=True), i.title
        assert i.summary.startswith(f"In the week of {week_of(weeks[0])}, ")
        assert "XmR" in i.details and "XmR" not in i.summary
        latest.append(weeks[0])
    assert latest == sorted(latest, reverse=True)  # the most recent signal first


def test_no_sentence_says_a_value_is_beyond_a_limit_it_equals(found) -> None:
    for i in found:
        for value, limit in re.findall(r"was (-?[\d.,]+)%?, (?:above|below) the \w+ limit of "
                                       r"(-?[\d.,]+)", i.summary):  # fmt: skip
            assert value != limit, i.summary


def _iso(text: str) -> str:
    day, month, year = text.split()
    return date(int(year), _MONTHS.index(month) + 1, int(day)).isoformat()


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
