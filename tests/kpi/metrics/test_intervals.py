"""Call KPIs pooled from interval reports: worked examples checked by hand, a plain-Python
reference, and the naive per-row average that gives a different (wrong) answer."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.engine.backend import CACHE
from kpi.metrics.intervals import KEYS, RatioSums, pooled, sums
from kpi.store.connection import Store, open_store

#: Three interval rows, figures chosen to check by hand.
WORKED = [
    # offered, answered, abandoned, short, within, wait total, handle total
    dict(offered=10, answered=8, abandoned=2, short_abandoned=1, answered_within=6,
         wait_seconds_total=160.0, handle_seconds_total=2400.0),
    dict(offered=50, answered=45, abandoned=5, short_abandoned=0, answered_within=40,
         wait_seconds_total=900.0, handle_seconds_total=13500.0),
    dict(offered=4, answered=4, abandoned=0, short_abandoned=0, answered_within=4,
         wait_seconds_total=20.0, handle_seconds_total=1000.0),
]  # fmt: skip


def interval_store(rows: list[dict]) -> Store:
    """A real in-memory store whose intervals table holds ``rows`` (30-minute intervals)."""
    store = open_store(":memory:")
    start = datetime(2026, 1, 5, 9)
    for i, row in enumerate(rows):
        row = {
            "source": "test",
            "interval_id": f"i{i}",
            "interval_start": start + timedelta(minutes=30 * i),
            "queue": "Billing",
            "threshold_seconds": 20.0,
            **row,
        }
        marks = ", ".join("?" for _ in row)
        store.con.execute(
            f"INSERT INTO intervals ({', '.join(row)}) VALUES ({marks})", list(row.values())
        )
    return store


def pooled_figures(store: Store) -> dict:
    t = CACHE.backend_of(store).table("intervals")
    record = t.aggregate(**sums(t)).execute().to_dict("records")[0]
    return pooled(record)


def test_abandonment_pools_abandoned_calls_over_offered_calls_less_short_abandons():
    figure = pooled_figures(interval_store(WORKED))["abandonment_rate"]
    # (2 - 1) + 5 + 0 = 6 abandoned of (10 - 1) + 50 + 4 = 63 offered.
    assert (figure.x, figure.n) == (6, 63)
    assert math.isclose(figure.value, 100 * 6 / 63)  # 9.52%


def test_service_level_is_answered_within_the_threshold_over_offered_calls():
    figure = pooled_figures(interval_store(WORKED))["service_level"]
    # 6 + 40 + 4 = 50 of 63 offered (short abandons left out): 79.37%.
    assert (figure.x, figure.n) == (50, 63)
    assert math.isclose(figure.value, 100 * 50 / 63)


def test_asa_is_total_wait_over_answered_calls_and_its_n_is_calls_not_rows():
    figure = pooled_figures(interval_store(WORKED))["asa_seconds"]
    # (160 + 900 + 20) / (8 + 45 + 4) = 1080 / 57 = 18.95 s, n = 57 calls from 3 rows.
    assert math.isclose(figure.value, 1080 / 57)
    assert (figure.n, figure.rows) == (57, 3)


def test_aht_is_total_handle_time_over_answered_calls():
    figure = pooled_figures(interval_store(WORKED))["aht_seconds"]
    # (2400 + 13500 + 1000) / 57 = 16900 / 57 = 296.49 s.
    assert math.isclose(figure.value, 16900 / 57)
    assert figure.n == 57


def test_averaging_each_rows_rate_gives_a_different_answer_than_pooling():
    figures = pooled_figures(interval_store(WORKED))
    naive = {
        # The per-row figures an interval report shows, averaged as if each row were one call.
        "abandonment_rate": sum(100 * r["abandoned"] / r["offered"] for r in WORKED) / 3,
        "asa_seconds": sum(r["wait_seconds_total"] / r["answered"] for r in WORKED) / 3,
        "aht_seconds": sum(r["handle_seconds_total"] / r["answered"] for r in WORKED) / 3,
        "service_level": sum(100 * r["answered_within"] / r["offered"] for r in WORKED) / 3,
    }
    # 10% vs 9.52%; 15 s vs 18.95 s; 283.3 s vs 296.5 s; 80.0% vs 79.4%.
    assert math.isclose(naive["abandonment_rate"], 10.0)
    assert math.isclose(naive["asa_seconds"], 15.0)
    for key in KEYS:
        assert abs(naive[key] - figures[key].value) > 0.4, key


def test_the_ratio_standard_error_is_the_spread_of_rows_around_the_pooled_ratio():
    ratio = pooled_figures(interval_store(WORKED))["asa_seconds"].ratio
    r = 1080 / 57
    residuals = [160 - r * 8, 900 - r * 45, 20 - r * 4]  # 8.42, 47.37, -55.79
    by_hand = math.sqrt(3 / 2 * sum(e * e for e in residuals)) / 57
    assert math.isclose(ratio.standard_error(), by_hand)
    assert math.isclose(by_hand, 1.5829, abs_tol=1e-4)


def test_one_row_has_no_ratio_standard_error():
    assert RatioSums(y=100.0, x=5.0, k=1, yy=1e4, xy=500.0, xx=25.0).standard_error() is None


def test_a_row_without_the_counts_a_kpi_needs_is_left_out_of_it():
    rows = [*WORKED, dict(offered=30, answered=None, abandoned=None, answered_within=None)]
    figures = pooled_figures(interval_store(rows))
    assert figures["abandonment_rate"].n == 63  # the row with no abandoned count adds nothing
    assert figures["asa_seconds"].n == 57


def test_no_rows_give_no_figures():
    figures = pooled_figures(interval_store([]))
    assert all(figures[k].n == 0 and figures[k].value is None for k in KEYS)


# --- against a plain-Python reference ---------------------------------------------------------

counts = st.integers(0, 400)


@st.composite
def interval_rows(draw: st.DrawFn) -> dict:
    offered = draw(counts)
    answered = draw(st.integers(0, offered))
    abandoned = offered - answered
    short = draw(st.integers(0, abandoned))
    return dict(
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        answered_within=draw(st.integers(0, answered)),
        wait_seconds_total=float(answered * draw(st.integers(0, 300))),
        handle_seconds_total=float(answered * draw(st.integers(30, 900))),
    )


def reference(rows: list[dict]) -> dict[str, float | None]:
    """The pooled KPIs written out in plain Python, row by row."""
    offered = sum(r["offered"] - r["short_abandoned"] for r in rows)
    abandoned = sum(r["abandoned"] - r["short_abandoned"] for r in rows)
    within = sum(r["answered_within"] for r in rows)
    answered = sum(r["answered"] for r in rows if r["answered"] > 0)
    wait = sum(r["wait_seconds_total"] for r in rows if r["answered"] > 0)
    handle = sum(r["handle_seconds_total"] for r in rows if r["answered"] > 0)
    return {
        "abandonment_rate": 100 * abandoned / offered if offered else None,
        "service_level": 100 * within / offered if offered else None,
        "asa_seconds": wait / answered if answered else None,
        "aht_seconds": handle / answered if answered else None,
    }


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(interval_rows(), max_size=12))
def test_pooled_kpis_match_a_plain_python_reference(rows):
    figures = pooled_figures(interval_store(rows))
    expected = reference(rows)
    for key in KEYS:
        if expected[key] is None:
            assert figures[key].value is None, key
        else:
            assert math.isclose(figures[key].value, expected[key], rel_tol=1e-9), key
