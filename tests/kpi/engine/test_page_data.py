"""What the pages show, worked out in kpi: segment order, the rows a chart shows, control limits
with small samples as gaps, import totals, changes against the previous period, and me against
the rest of my team in one call."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from kpi.engine import page_data
from kpi.engine.comparison import me_against_rest
from kpi.engine.filters import Filters
from kpi.engine.report import overview, report
from kpi.engine.results import MetricResult
from kpi.engine.tables import long_frame
from kpi.metrics.registry import REGISTRY
from kpi.store.connection import Store, open_store
from tests.kpi.stores import make_store

MARCH = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


@pytest.fixture
def store(seeded_db: Path) -> Store:
    s = open_store(seeded_db)
    yield s
    s.close()


def test_priorities_read_urgent_first_and_empty_segments_are_left_out(store: Store) -> None:
    found = report(store, MARCH, by=("priority",), metrics=("sla",))
    frame = page_data.by_segment(found, ("sla",), drop_empty=True)
    order = [p for p in ("urgent", "high", "normal", "low") if p in set(frame.priority)]
    assert list(dict.fromkeys(frame.priority)) == order
    assert (frame.n > 0).all() and "All" not in set(frame.priority)


def test_other_segments_read_in_name_order_never_by_value(store: Store) -> None:
    found = report(store, MARCH, by=("agent",), metrics=("csat", "contacts"))
    frame = page_data.by_segment(found, ("csat", "contacts"))
    named = [a for a in dict.fromkeys(frame.agent) if isinstance(a, str)]  # unassigned last
    assert named == sorted(named)
    shown = page_data.plotted(frame, "csat")
    assert set(shown.key) == {"csat"} and shown.value.notna().all()


def test_control_limits_leave_small_samples_as_gaps() -> None:
    frame = pd.DataFrame({"value": [80.0, 81.0, 79.0, 80.0, 5.0],
                          "small_sample": [False, False, False, False, True]})  # fmt: skip
    chart = page_data.control_chart(frame)
    assert chart is not None and not chart.signals  # the tiny last week sets off nothing
    assert page_data.control_chart(frame.assign(small_sample=True)) is None


def test_dated_drops_undated_rows_and_counts_are_numerators() -> None:
    frame = pd.DataFrame({"period": ["2026-03-01", "undated"], "value": [2.0, 1.0],
                          "numerator": [4, None]})  # fmt: skip
    assert list(page_data.dated(frame).period) == ["2026-03-01"]
    assert list(page_data.counts(frame).value) == [4.0, 0.0]


def test_import_totals_leave_out_undone_batches() -> None:
    batches = pd.DataFrame({"batch_id": [2, 1], "rows_read": [10, 7], "rows_imported": [8, 7],
                            "rows_quarantined": [2, 0], "undone_at": [None, pd.Timestamp("2026-03-01")]})  # fmt: skip
    totals = page_data.import_totals(batches)
    assert (totals.read, totals.imported, totals.quarantined) == (10, 8, 2)
    assert totals.read == totals.imported + totals.quarantined
    assert page_data.active_batches(batches) == [2]
    assert page_data.import_totals(batches.iloc[0:0]) == page_data.ImportTotals(0, 0, 0)
    assert page_data.active_batches(batches.iloc[0:0]) == []


def test_compare_tests_changes_only_for_a_closed_period(store: Store) -> None:
    now, changes = page_data.compare(store, MARCH, ("contacts", "csat"))
    assert set(now) >= {"contacts", "csat"} and set(changes) == {"contacts", "csat"}
    assert now["contacts"].n > 0
    _, open_ended = page_data.compare(store, Filters(), ("contacts",))
    assert open_ended == {}


def test_me_against_rest_is_one_call_with_both_sides(store: Store) -> None:
    pairs = long_frame(report(store, MARCH, by=("team", "agent"), metrics=("contacts",)),
                       ("contacts",), totals=False)  # fmt: skip
    me = str(pairs.dropna(subset=["team", "agent"]).agent.iloc[0])  # the social desk has none
    mine_only = Filters(date_from=MARCH.date_from, date_to=MARCH.date_to, agent=(me,))
    found = me_against_rest(store, mine_only, me, ("csat", "contacts"))  # agent filter ignored
    assert me not in found.rest and found.rest and found.teams
    assert found.where == ", ".join(found.teams)
    assert list(found.table()["KPI"]) == [REGISTRY["csat"].label, REGISTRY["contacts"].label]
    both = found.pair("contacts")
    assert both is not None and list(both.who) == [f"Me ({me})", "Rest of the team"]
    nobody = me_against_rest(store, MARCH, "Nobody at all", ("csat",))
    assert nobody.rest == () and nobody.pair("csat") is None


def test_a_time_distribution_is_headed_by_its_median_and_90th_percentile() -> None:
    result = MetricResult("resolution_hours", 5.2, 40, "", "standard", "hours", extra={"p90": 31.0})
    assert page_data.time_title(result) == "Resolution time: median 5.2 h, p90 31.0 h"
    empty = MetricResult("first_response_hours", None, 0, "", "standard", "hours")
    assert page_data.time_title(empty) == "First response time: median —, p90 —"


# --- answers without a date ----------------------------------------------------------------------


def _survey_store():
    """Three dated answers (2, 9 and 10 on 3-5 March) and two undated (10 and 10), one of them
    from the email channel."""
    dated = [
        {"responded_at": datetime(2025, 3, day, 12), "nps": score, "channel": "phone"}
        for day, score in ((3, 2), (4, 9), (5, 10))
    ]
    undated = [{"nps": 10, "channel": "phone"}, {"nps": 10, "channel": "email"}]
    return make_store(responses=dated + undated)


ALL_TIME = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 5))  # the data's whole span


def test_all_time_counts_undated_answers_and_says_so() -> None:
    store = _survey_store()
    now, changes = page_data.compare(store, ALL_TIME, ("nps", "responses"))
    # 5 answers: promoters 9, 10, 10, 10; detractor 2 -> NPS 100 x (4 - 1) / 5 = 60.
    assert now["responses"].value == 5 and now["nps"].n == 5
    assert now["nps"].value == pytest.approx(60.0)
    assert "Answers with no date are included" in now["nps"].definition
    assert changes["nps"].difference is None  # nothing before the data's first day
    line = page_data.undated_line(store, ALL_TIME)
    assert line == (
        "Undated: 2 survey answers have no date. They are counted in these all-time figures, "
        "but in no week or month of the charts over time."
    )


def test_a_dated_period_leaves_undated_answers_out_and_says_how_to_count_them() -> None:
    store = _survey_store()
    part = Filters(date_from=date(2025, 3, 4), date_to=date(2025, 3, 5))
    now, _ = page_data.compare(store, part, ("nps", "responses"))
    assert now["responses"].value == 2
    assert "no date" not in now["nps"].definition
    assert page_data.undated_line(store, part) == (
        "Undated: 2 survey answers have no date, so no dated period includes them. Choose All "
        "time to count them."
    )


def test_the_undated_line_counts_only_the_chosen_segments() -> None:
    store = _survey_store()
    email = Filters(date_from=date(2025, 3, 3), date_to=date(2025, 3, 5), channel=("email",))
    assert page_data.undated_line(store, email).startswith("Undated: 1 survey answer has no date.")
    assert page_data.undated_line(store, Filters(channel=("chat",))) is None


def test_the_overview_counts_undated_answers_in_all_time() -> None:
    view = overview(_survey_store(), ALL_TIME)
    assert view.current.totals()["responses"].value == 5
    assert view.current.totals()["nps"].n == 5


def test_score_bars_count_undated_answers_in_all_time_as_the_tiles_do() -> None:
    from kpi.engine import breakdowns

    store = _survey_store()
    all_time = breakdowns.score_counts(store, ALL_TIME, "nps")
    assert dict(zip(all_time.score, all_time.answers, strict=True)) == {2: 1, 9: 1, 10: 3}
    part = Filters(date_from=date(2025, 3, 4), date_to=date(2025, 3, 5))
    assert breakdowns.score_counts(store, part, "nps").answers.sum() == 2
