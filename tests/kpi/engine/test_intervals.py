"""Interval reports in a report: call KPIs pooled by calls where a row has no call-level rows,
one source per figure (never both), and the definition says which."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from scipy import stats

from kpi.engine.filters import Filters
from kpi.engine.intervals import source_note
from kpi.engine.report import report
from kpi.engine.statistics import wilson_interval
from kpi.store.connection import Store
from tests.kpi.stores import make_store

#: (day, queue, offered, answered, abandoned, short, within, wait total, handle total)
WORKED = [
    (5, "Billing", 10, 8, 2, 1, 6, 160.0, 2400.0),
    (5, "Billing", 50, 45, 5, 0, 40, 900.0, 13500.0),
    (6, "Tech", 4, 4, 0, 0, 4, 20.0, 1000.0),
]
CALL_KPIS = ("aht_seconds", "asa_seconds", "abandonment_rate", "service_level")


def with_intervals(store: Store, rows=WORKED) -> Store:
    for i, (day, queue, *figures) in enumerate(rows):
        store.con.execute(
            """INSERT INTO intervals (source, interval_id, interval_start, queue, offered,
                answered, abandoned, short_abandoned, answered_within, wait_seconds_total,
                handle_seconds_total, threshold_seconds) VALUES
                ('test', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 20)""",
            [f"i{i}", datetime(2026, 1, day, 9) + timedelta(minutes=30 * i), queue, *figures],
        )
    return store


def emails(*categories: str, day: int = 5) -> list[dict]:
    """Contacts with no call data, so that the report has rows for these categories and days."""
    return [
        {"opened_at": datetime(2026, 1, day, 10), "category": c, "channel": "email"}
        for c in categories
    ]


def test_a_report_over_interval_reports_pools_the_call_kpis_by_calls():
    store = with_intervals(make_store(contacts=emails("Billing")))
    totals = report(store).totals()
    abandonment = totals["abandonment_rate"]
    assert (abandonment.numerator, abandonment.denominator, abandonment.n) == (6, 63, 63)
    wilson = wilson_interval(6, 63)
    assert math.isclose(abandonment.ci_low, 100 * wilson.low)
    assert math.isclose(abandonment.ci_high, 100 * wilson.high)
    assert abandonment.variant == "intervals"
    assert "(interval reports)" in abandonment.definition
    assert "Wilson score interval" in abandonment.definition
    assert math.isclose(totals["service_level"].value, 100 * 50 / 63)
    assert math.isclose(totals["aht_seconds"].value, 16900 / 57)


def test_a_pooled_average_has_the_ratio_estimators_interval_worked_by_hand():
    asa = report(with_intervals(make_store(contacts=emails("Billing")))).totals()["asa_seconds"]
    r = 1080 / 57
    error = math.sqrt(1.5 * ((160 - 8 * r) ** 2 + (900 - 45 * r) ** 2 + (20 - 4 * r) ** 2)) / 57
    margin = stats.t.ppf(0.975, 2) * error  # 4.303 x 1.583 = 6.81 s
    assert math.isclose(asa.value, r) and asa.n == 57
    assert math.isclose(asa.ci_low, r - margin) and math.isclose(asa.ci_high, r + margin)
    assert math.isclose(asa.ci_low, 12.137, abs_tol=1e-3)
    assert "ratio-estimator interval" in asa.definition


def test_where_call_rows_and_interval_reports_cover_a_selection_only_the_call_rows_count():
    calls = [
        {"opened_at": datetime(2026, 1, 5, 9), "category": "Billing", "channel": "phone",
         "answered": True, "abandoned": False, "wait_seconds": 10.0, "handle_seconds": 200.0},
        {"opened_at": datetime(2026, 1, 5, 9, 5), "category": "Billing", "channel": "phone",
         "answered": True, "abandoned": False, "wait_seconds": 30.0, "handle_seconds": 400.0},
    ]  # fmt: skip
    alone = report(make_store(contacts=calls)).totals()
    both = report(with_intervals(make_store(contacts=calls))).totals()
    for key in CALL_KPIS:
        assert both[key].value == alone[key].value and both[key].n == alone[key].n, key
        assert "From call-level rows; interval reports also cover" in both[key].definition
    assert both["asa_seconds"].value == 20.0 and both["asa_seconds"].n == 2


def test_each_category_row_takes_its_own_queues_intervals():
    store = with_intervals(make_store(contacts=emails("Billing", "Tech")))
    rows = {r.segment.get("category"): r.metrics for r in report(store, by=("category",)).rows}
    assert rows["Billing"]["abandonment_rate"].denominator == 59  # (10 - 1) + 50
    assert rows["Tech"]["abandonment_rate"].denominator == 4
    assert rows[None]["abandonment_rate"].denominator == 63  # the total row


def test_intervals_fall_in_the_local_day_they_start_in():
    store = with_intervals(make_store(contacts=emails("Billing") + emails("Tech", day=6)))
    by_day = report(
        store, grain="day", filters=Filters(date_from=date(2026, 1, 5), date_to=date(2026, 1, 6))
    )
    asa = {row.period: row.metrics["asa_seconds"] for row in by_day.rows if not row.segment}
    assert math.isclose(asa["2026-01-05"].value, 1060 / 53)
    assert asa["2026-01-06"].value == 5.0


def test_a_filter_on_a_queue_reads_only_that_queues_intervals():
    store = with_intervals(make_store(contacts=emails("Billing", "Tech")))
    tech = report(store, filters=Filters(category=("Tech",))).totals()
    assert tech["asa_seconds"].value == 5.0 and tech["asa_seconds"].n == 4


def test_a_filter_interval_reports_cannot_answer_leaves_the_call_kpis_without_them():
    store = with_intervals(make_store(contacts=emails("Billing")))
    urgent = report(store, filters=Filters(priority=("urgent",))).totals()
    assert all(
        urgent[key].value is None and urgent[key].variant != "intervals" for key in CALL_KPIS
    )


def test_one_interval_row_gives_an_average_without_an_interval():
    store = with_intervals(make_store(contacts=emails("Tech")), rows=WORKED[2:])
    aht = report(store).totals()["aht_seconds"]
    assert aht.value == 250.0 and aht.ci_low is None and aht.ci_high is None
    assert "one interval row" in aht.definition


def test_each_call_kpi_says_in_a_few_words_which_source_it_is_from():
    calls = [{"opened_at": datetime(2026, 1, 5, 9), "category": "Billing", "answered": True,
              "abandoned": False, "wait_seconds": 10.0, "handle_seconds": 200.0}]  # fmt: skip
    pooled = report(with_intervals(make_store(contacts=emails("Billing")))).totals()
    both = report(with_intervals(make_store(contacts=calls))).totals()
    alone = report(make_store(contacts=calls)).totals()
    assert source_note(pooled["asa_seconds"]) == "from interval reports (3 rows)"
    assert source_note(both["asa_seconds"]) == "from call-level rows (interval reports left out)"
    assert source_note(alone["asa_seconds"]) is None
    assert source_note(pooled["csat"]) is None
