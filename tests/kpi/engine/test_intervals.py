"""Interval reports in a report: call KPIs pooled by calls where a row has no call-level rows,
one source per figure (never both), and the definition says which."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from random import Random

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
    # The total is wider than one queue: a queue only the interval reports cover is not in it.
    assert source_note(both["asa_seconds"]) == (
        "from call-level rows (interval reports left out; queues they alone cover are not counted)"
    )
    assert "A queue or period whose calls only interval reports hold is not in this figure" in (
        both["asa_seconds"].definition
    )
    assert source_note(alone["asa_seconds"]) is None
    assert source_note(pooled["csat"]) is None


# --- a store of interval reports only: its weeks and its queues (issue 9, point 2) -------------

#: Two queues over three weeks (Mondays 5, 12 and 19 January 2026; London is on UTC then):
#: (day, hour, queue, offered, answered, abandoned, short, within, wait total, handle total).
#: Tech has no interval in the week of the 12th.
WEEKS = [
    (5, 9, "Billing", 20, 18, 2, 0, 15, 360.0, 5400.0),
    (5, 10, "Billing", 10, 6, 4, 0, 3, 300.0, 1800.0),
    (13, 9, "Billing", 40, 36, 4, 2, 30, 720.0, 9000.0),
    (21, 9, "Billing", 25, 25, 0, 0, 25, 125.0, 7500.0),
    (6, 9, "Tech", 5, 4, 1, 0, 4, 40.0, 1600.0),
    (23, 9, "Tech", 8, 8, 0, 0, 6, 160.0, 2400.0),
    (23, 10, "Tech", 12, 9, 3, 1, 5, 270.0, 3600.0),
]
WEEK_STARTS = ["2026-01-05", "2026-01-12", "2026-01-19"]


def intervals_only(rows=WEEKS, contacts=()) -> Store:
    """A store holding interval rows and nothing else (no answers; no contacts unless given)."""
    store = make_store(contacts=contacts)
    for i, (day, hour, queue, *figures) in enumerate(rows):
        store.con.execute(
            """INSERT INTO intervals (source, interval_id, interval_start, queue, offered,
                answered, abandoned, short_abandoned, answered_within, wait_seconds_total,
                handle_seconds_total, threshold_seconds) VALUES
                ('test', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 20)""",
            [f"w{i}", datetime(2026, 1, day, hour), queue, *figures],
        )
    return store


def figures(metrics) -> tuple:
    """(abandoned, offered, answered within, offered, ASA, AHT, answered) of a row."""
    abandonment, level = metrics["abandonment_rate"], metrics["service_level"]
    asa, aht = metrics["asa_seconds"], metrics["aht_seconds"]
    assert asa.n == aht.n
    return (
        abandonment.numerator, abandonment.denominator, level.numerator, level.denominator,
        asa.value, aht.value, asa.n,
    )  # fmt: skip


def test_a_store_of_interval_reports_only_has_a_row_for_each_week_they_cover():
    weekly = report(intervals_only(), grain="week", metrics=CALL_KPIS)
    rows = {row.period: figures(row.metrics) for row in weekly.rows}
    assert list(rows) == WEEK_STARTS
    # Week of the 5th: abandoned 2 + 4 + 1 = 7 of 20 + 10 + 5 = 35 offered (20%); answered
    # within 15 + 3 + 4 = 22 of 35; wait 360 + 300 + 40 = 700 s over 18 + 6 + 4 = 28 answered
    # (ASA 25 s); handle 5400 + 1800 + 1600 = 8800 s over 28 (AHT 314.3 s).
    assert rows["2026-01-05"] == (7, 35, 22, 35, 25.0, 8800 / 28, 28)
    # Week of the 12th: Billing alone; 2 short abandons leave both counts: 4 - 2 = 2 of
    # 40 - 2 = 38; within 30 of 38; ASA 720 / 36 = 20 s; AHT 9000 / 36 = 250 s.
    assert rows["2026-01-12"] == (2, 38, 30, 38, 20.0, 250.0, 36)
    # Week of the 19th: abandoned 0 + 0 + (3 - 1) = 2 of 25 + 8 + (12 - 1) = 44; within
    # 25 + 6 + 5 = 36 of 44; wait 125 + 160 + 270 = 555 s over 25 + 8 + 9 = 42 answered
    # (13.2 s); handle 7500 + 2400 + 3600 = 13500 s over 42 (321.4 s).
    assert rows["2026-01-19"] == (2, 44, 36, 44, 555 / 42, 13500 / 42, 42)
    assert all(row.metrics["asa_seconds"].variant == "intervals" for row in weekly.rows)


def test_a_store_of_interval_reports_only_has_its_days_and_months_too():
    daily = report(intervals_only(), grain="day", metrics=("abandonment_rate",))
    counted = {
        row.period: row.metrics["abandonment_rate"].denominator
        for row in daily.rows
        if row.metrics["abandonment_rate"].n
    }
    assert counted == {
        "2026-01-05": 30, "2026-01-06": 5, "2026-01-13": 38, "2026-01-21": 25, "2026-01-23": 19,
    }  # fmt: skip
    assert [row.period for row in daily.rows][0] == "2026-01-05" and len(daily.rows) == 19
    monthly = report(intervals_only(), grain="month", metrics=("abandonment_rate",))
    [january] = monthly.rows
    assert january.period == "2026-01-01"
    assert (
        january.metrics["abandonment_rate"].numerator,
        january.metrics["abandonment_rate"].n,
    ) == (11, 117)


def test_each_queue_of_the_interval_reports_has_its_row_in_each_week():
    by_queue = report(intervals_only(), by=("category",), grain="week", metrics=CALL_KPIS)
    rows = {
        (row.segment.get("category"), row.period): figures(row.metrics) for row in by_queue.rows
    }
    # Billing, week of the 5th: abandoned 2 + 4 = 6 of 30 (20%); the naive mean of the two
    # rows' rates, (10% + 40%) / 2 = 25%, is not it. ASA 660 / 24 = 27.5 s, not (20 + 50) / 2.
    assert rows["Billing", "2026-01-05"] == (6, 30, 18, 30, 27.5, 300.0, 24)
    assert rows["Billing", "2026-01-12"] == (2, 38, 30, 38, 20.0, 250.0, 36)
    assert rows["Billing", "2026-01-19"] == (0, 25, 25, 25, 5.0, 300.0, 25)
    assert rows["Tech", "2026-01-05"] == (1, 5, 4, 5, 10.0, 400.0, 4)
    # Tech, week of the 19th: (3 - 1) abandoned of 8 + (12 - 1) = 19; within 6 + 5 = 11 of
    # 19; ASA (160 + 270) / (8 + 9) = 25.3 s; AHT (2400 + 3600) / 17 = 352.9 s.
    assert rows["Tech", "2026-01-19"] == (2, 19, 11, 19, 430 / 17, 6000 / 17, 17)
    # A week without the queue's intervals has its row, with nothing in it.
    assert rows["Tech", "2026-01-12"] == (None, None, None, None, None, None, 0)
    [quiet] = [
        r for r in by_queue.rows if r.segment == {"category": "Tech"} and r.period == WEEK_STARTS[1]
    ]
    assert quiet.metrics["asa_seconds"].reason == (
        "no answered calls with a wait time in this selection, in call-level rows or interval "
        "reports"
    )
    assert {key[0] for key in rows} == {None, "Billing", "Tech"}  # None: the total rows


def pooled_reference(rows) -> dict[tuple[str | None, str], tuple]:
    """The call KPIs of each (queue, week) and each week's total, worked out in plain Python:
    abandoned / offered and within / offered (short abandons out of both), total wait and
    handle time / answered."""
    cells: dict[tuple[str | None, str], list] = {}
    for day, _hour, queue, offered, answered, abandoned, short, within, wait, handle in rows:
        monday = date(2026, 1, day) - timedelta(days=date(2026, 1, day).weekday())
        for cell in ((queue, monday.isoformat()), (None, monday.isoformat())):
            sums = cells.setdefault(cell, [0, 0, 0, 0, 0.0, 0.0])
            for i, value in enumerate((abandoned - short, offered - short, within, answered)):
                sums[i] += value
            sums[4] += wait
            sums[5] += handle
    return {
        cell: (
            100 * abandoned / offered, 100 * within / offered, wait / answered, handle / answered
        )
        for cell, (abandoned, offered, within, answered, wait, handle) in cells.items()
    }  # fmt: skip


def test_interval_kpis_by_queue_and_week_agree_with_a_plain_python_pooled_reference():
    random = Random(9)
    rows = []
    for i in range(60):
        offered = random.randint(1, 80)
        answered = random.randint(1, offered)
        abandoned = offered - answered
        short = random.randint(0, min(abandoned, offered - 1))
        within = random.randint(0, answered)
        wait, handle = answered * random.uniform(2, 90), answered * random.uniform(120, 600)
        queue = random.choice(["Billing", "Tech", "Sales"])
        rows.append((1 + i % 28, 8 + i % 9, queue, offered, answered, abandoned, short, within,
                     round(wait, 1), round(handle, 1)))  # fmt: skip
    expected = pooled_reference(rows)
    by_queue = report(intervals_only(rows), by=("category",), grain="week", metrics=CALL_KPIS)
    seen = set()
    for row in by_queue.rows:
        cell = (row.segment.get("category"), row.period)
        if cell not in expected:
            assert row.metrics["abandonment_rate"].n == 0, cell
            continue
        seen.add(cell)
        got = [row.metrics[k].value for k in ("abandonment_rate", "service_level")]
        got += [row.metrics[k].value for k in ("asa_seconds", "aht_seconds")]
        assert all(math.isclose(a, b) for a, b in zip(got, expected[cell], strict=True)), cell
    assert seen == set(expected)


def calls(day: int, queue: str, *waits: float) -> list[dict]:
    """Answered call-level rows of one queue and day, handled in 100 s each."""
    return [
        {"opened_at": datetime(2026, 1, day, 11, i), "category": queue, "channel": "phone",
         "answered": True, "abandoned": False, "wait_seconds": wait, "handle_seconds": 100.0}
        for i, wait in enumerate(waits)
    ]  # fmt: skip


def test_a_queue_and_week_both_sources_cover_counts_once_from_the_call_level_rows():
    # Billing's calls of the week of the 5th, one by one (the interval reports hold 24 answered
    # calls there too): 3 answered calls waiting 10, 20 and 60 s.
    store = intervals_only(contacts=calls(5, "Billing", 10.0, 20.0, 60.0))
    by_queue = report(store, by=("category",), grain="week", metrics=CALL_KPIS)
    rows = {(row.segment.get("category"), row.period): row.metrics for row in by_queue.rows}
    billing = rows["Billing", "2026-01-05"]["asa_seconds"]
    # ASA (10 + 20 + 60) / 3 = 30 s of 3 calls: never 3 + 24 calls, never (90 + 660) / 27.
    assert (billing.value, billing.n) == (30.0, 3) and billing.variant != "intervals"
    assert source_note(billing) == "from call-level rows (interval reports left out)"
    assert billing.extra["interval_calls_left_out"] == 24
    # The queue's other weeks, and the queue only the interval reports hold, use those.
    assert rows["Billing", "2026-01-12"]["asa_seconds"].value == 20.0
    tech = rows["Tech", "2026-01-05"]["asa_seconds"]
    assert (tech.value, tech.n, source_note(tech)) == (10.0, 4, "from interval reports (1 row)")
    # The week's total row has call-level rows, so it is theirs alone (it keeps one source per
    # figure) and says that the interval reports' calls were left out.
    total = rows[None, "2026-01-05"]["asa_seconds"]
    assert (total.value, total.n) == (30.0, 3) and total.extra["interval_calls_left_out"] == 28
    for metrics in rows.values():
        for key in CALL_KPIS:
            result = metrics[key]
            assert not (
                "interval_rows" in result.extra and "interval_calls_left_out" in result.extra
            )


def test_named_periods_give_a_queue_only_the_interval_reports_hold_its_row():
    from kpi.engine.report import report_periods

    periods = {
        "first": Filters(date_from=date(2026, 1, 5), date_to=date(2026, 1, 11)),
        "last": Filters(date_from=date(2026, 1, 19), date_to=date(2026, 1, 25)),
    }
    both = report_periods(intervals_only(), periods, by=("category",), metrics=CALL_KPIS)
    rows = {(row.segment.get("category"), row.period): row.metrics for row in both.rows}
    assert rows["Tech", "first"]["abandonment_rate"].denominator == 5
    assert rows["Tech", "last"]["abandonment_rate"].denominator == 19
    assert rows[None, "last"]["abandonment_rate"].denominator == 44


def test_the_data_range_and_the_filter_values_include_the_interval_reports():
    from kpi.engine.breakdowns import data_range, segment_values

    store = intervals_only()
    assert data_range(store) == (date(2026, 1, 5), date(2026, 1, 23))
    assert segment_values(store)["category"] == ["Billing", "Tech"]
    # The default as-of is the latest instant in the data: here the last interval's start.
    assert report(store, metrics=("contacts",)).as_of == datetime(2026, 1, 23, 10)


def test_an_interval_falls_in_the_local_week_it_starts_in_across_the_clock_change():
    store = make_store()
    # London moves to BST at 01:00 UTC on Sunday 29 March 2026: 23:30 UTC that evening is
    # 00:30 on Monday 30 March, local time, so in the next week; 00:30 UTC is still Sunday.
    for i, (start, offered) in enumerate(
        ((datetime(2026, 3, 29, 0, 30), 10), (datetime(2026, 3, 29, 23, 30), 7))
    ):
        store.con.execute(
            "INSERT INTO intervals (source, interval_id, interval_start, queue, offered, "
            "answered, abandoned) VALUES ('test', ?, ?, 'Billing', ?, ?, 1)",
            [f"d{i}", start, offered, offered - 1],
        )
    weekly = report(store, grain="week", metrics=("abandonment_rate",))
    offered = {row.period: row.metrics["abandonment_rate"].denominator for row in weekly.rows}
    assert offered == {"2026-03-23": 10, "2026-03-30": 7}


def test_a_mixed_store_takes_each_row_from_one_source_as_a_plain_python_reference_does():
    """Random call-level rows for some queue-weeks, interval reports for all: each figure of a
    row is its calls' where it has any, else its intervals' pooled, never a mix of both."""
    random = Random(19)
    queues, mondays = ("Billing", "Tech", "Sales"), (5, 12, 19, 26)
    intervals, contacts = [], []
    for queue in queues:
        for monday in mondays:
            for _ in range(random.randint(1, 3)):
                offered = random.randint(5, 40)
                answered = random.randint(1, offered)
                intervals.append((monday + random.randint(0, 4), random.randint(8, 17), queue,
                                  offered, answered, offered - answered, 0, answered,
                                  float(answered * random.randint(5, 60)), answered * 300.0))  # fmt: skip
            if random.random() < 0.5:
                for _ in range(random.randint(1, 6)):
                    answered = random.random() < 0.8
                    contacts.append({
                        "opened_at": datetime(2026, 1, monday + random.randint(0, 4), 12),
                        "category": queue, "channel": "phone", "answered": answered,
                        "abandoned": not answered, "wait_seconds": float(random.randint(10, 90)),
                        "handle_seconds": 200.0,
                    })  # fmt: skip
    by_queue = report(
        intervals_only(intervals, contacts), by=("category",), grain="week",
        metrics=("asa_seconds", "abandonment_rate"),
    )  # fmt: skip
    pooled = pooled_reference(intervals)
    sources = set()
    for row in by_queue.rows:
        queue, week = row.segment.get("category"), row.period
        monday = date.fromisoformat(week)
        mine = [
            c for c in contacts
            if (queue is None or c["category"] == queue)
            and monday <= c["opened_at"].date() < monday + timedelta(days=7)
        ]  # fmt: skip
        # One source per figure: a figure with call-level rows takes theirs alone, else the
        # interval reports' pooled (ASA from intervals where every call was abandoned).
        waits = [c["wait_seconds"] for c in mine if c["answered"]]
        abandonment = row.metrics["abandonment_rate"]
        if mine:
            assert abandonment.variant != "intervals", (queue, week)
            assert abandonment.denominator == len(mine)
            assert abandonment.numerator == sum(c["abandoned"] for c in mine)
        else:
            assert abandonment.variant == "intervals", (queue, week)
            assert math.isclose(abandonment.value, pooled[queue, week][0])
        asa = row.metrics["asa_seconds"]
        sources.add((bool(mine), bool(waits)))
        if waits:
            assert asa.variant != "intervals" and asa.n == len(waits), (queue, week)
            assert math.isclose(asa.value, sum(waits) / len(waits))
        else:
            assert asa.variant == "intervals", (queue, week)
            assert math.isclose(asa.value, pooled[queue, week][2])
    # Rows of calls, rows of intervals, and rows of calls whose ASA the intervals give.
    assert sources == {(True, True), (False, False), (True, False)}


def test_an_interval_report_without_a_team_gives_no_team_row_of_its_own():
    # The interval rows carry a queue but no team: by team they belong to no segment. As a
    # "(none)" team they would count again the calls the named teams' rows already have.
    contacts = [{**c, "team": "Leeds Care"} for c in emails("Billing")] + emails("Tech")
    by_team = report(intervals_only(contacts=contacts), by=("team",), metrics=CALL_KPIS)
    interval_rows = [
        row.segment for row in by_team.rows
        if row.segment and source_note(row.metrics["abandonment_rate"]) is not None
    ]  # fmt: skip
    assert interval_rows == []
    assert by_team.totals()["abandonment_rate"].denominator == 35 + 38 + 44  # all weeks' calls
