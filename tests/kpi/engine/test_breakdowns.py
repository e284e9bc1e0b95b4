"""Distributions, breach heat map, backlog age, score counts and drivers on the sample data: each
adds up to the engine's own figure for the same rows, and the planted patterns show."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from kpi.engine import breakdowns
from kpi.engine.backend import CACHE
from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.metrics.settings import Settings, save_settings
from kpi.store.connection import open_store

PERIOD = Filters(date_from=date(2026, 8, 1), date_to=date(2026, 10, 31))
MARCH = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


@pytest.fixture(scope="module")
def store(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("breakdowns") / "store.duckdb"
    shutil.copy(seeded_template, path)
    store = open_store(path)
    yield store
    store.close()


@pytest.fixture
def empty():
    store = open_store(":memory:")
    yield store
    store.close()


def total(store, filters, key):
    return report(store, filters, metrics=(key,)).total().metrics[key]


def test_data_range_and_filter_values(store) -> None:
    assert breakdowns.data_range(store) == (date(2025, 5, 1), date(2026, 10, 31))
    values = breakdowns.segment_values(store)
    assert values["team"] == ["BrightwaterHelp", "Cardiff Care", "Leeds Care"]  # + the social desk
    assert "Bethan Morgan" in values["agent"]
    assert values["priority"] == ["high", "low", "normal", "urgent"]


def test_time_buckets_add_up_to_the_kpis_n(store) -> None:
    buckets = breakdowns.time_distribution(store, PERIOD)
    for key in ("first_response_hours", "resolution_hours"):
        assert buckets[key].sum() == total(store, PERIOD, key).n
    assert list(buckets.bucket)[0] == "0-1 h" and list(buckets.bucket)[-1] == "over 80 h"


def test_breaches_are_the_sla_population_not_met(store) -> None:
    grid = breakdowns.breach_heatmap(store, PERIOD)
    sla = total(store, PERIOD, "sla")
    assert len(grid) == 7 * 24
    assert grid.outcomes.sum() == sla.n
    assert grid.breached.sum() == sla.n - sla.numerator


def test_monday_morning_email_breaches_stand_out(store) -> None:
    grid = breakdowns.breach_heatmap(store, Filters(channel=("email",)))
    monday_morning = grid[(grid.day == "Mon") & grid.hour.between(8, 11)].breached.mean()
    other_mornings = grid[(grid.day != "Mon") & grid.hour.between(8, 11)].breached.mean()
    assert monday_morning > 3 * other_mornings


def test_each_channels_grid_from_one_query_is_its_own_filtered_grid(store) -> None:
    grids = breakdowns.breach_heatmaps_by_channel(store, PERIOD)
    assert set(grids) == {"chat", "email", "phone", "social", "web"}
    for channel, grid in grids.items():
        alone = breakdowns.breach_heatmap(store, replace(PERIOD, channel=(channel,)))
        assert_frame_equal(grid.reset_index(drop=True), alone)
    whole = breakdowns.breach_heatmap(store, PERIOD)
    assert sum(g.outcomes.sum() for g in grids.values()) == whole.outcomes.sum()


def test_stricter_targets_make_more_breaches(seeded_db: Path) -> None:
    store = open_store(seeded_db)
    before = breakdowns.breach_heatmap(store, PERIOD).breached.sum()
    strict = {p: (0.5, 2) for p in ("low", "normal", "high", "urgent")}
    save_settings(store, Settings(sla_targets=strict))
    after = breakdowns.breach_heatmap(store, PERIOD).breached.sum()
    store.close()
    assert after > before > 0


def test_backlog_age_adds_up_to_the_backlog(store) -> None:
    ages = breakdowns.backlog_age(store, PERIOD)
    assert ages.contacts.sum() == total(store, PERIOD, "backlog").value
    earlier = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31), channel=("email",))
    assert (
        breakdowns.backlog_age(store, earlier).contacts.sum()
        == total(store, earlier, "backlog").value
    )


CONTACT_BREAKDOWNS = (
    breakdowns.time_distribution,
    breakdowns.breach_heatmap,
    breakdowns.backlog_age,
)


def test_a_new_date_range_reuses_the_compiled_breakdowns_with_the_same_figures(
    store, seeded_db: Path
) -> None:
    before = [breakdown(store, PERIOD) for breakdown in CONTACT_BREAKDOWNS]  # compiled (or kept)
    compiled = CACHE.compilations
    got = [breakdown(store, MARCH) for breakdown in CONTACT_BREAKDOWNS]
    # A range without contacts has the same shape too: an empty heat map, no new query.
    nothing = Filters(date_from=date(2020, 1, 1), date_to=date(2020, 1, 31))
    assert breakdowns.breach_heatmap(store, nothing).outcomes.sum() == 0
    assert CACHE.compilations == compiled  # the dates are parameters of the same SQL
    assert not got[0].equals(before[0]) and not got[1].equals(before[1])
    # The same data in another store has SQL of its own: compiled afresh, the same figures.
    fresh = open_store(seeded_db)
    try:
        expected = [breakdown(fresh, MARCH) for breakdown in CONTACT_BREAKDOWNS]
    finally:
        fresh.close()
    assert CACHE.compilations == compiled + len(CONTACT_BREAKDOWNS)
    for reused, compiled_afresh in zip(got, expected, strict=True):
        assert_frame_equal(reused, compiled_afresh)


@pytest.mark.parametrize(("score", "key"), [("csat", "csat"), ("ces", "ces"), ("nps", "nps")])
def test_score_counts_add_up_to_the_answers(store, score: str, key: str) -> None:
    counts = breakdowns.score_counts(store, PERIOD, score)
    assert counts.answers.sum() == total(store, PERIOD, key).n
    if score == "csat":  # Zendesk's Good/Bad and the survey's 1-5 are kept apart
        assert set(counts.scale) == {"1-2", "1-5"}


def test_drivers_match_the_engine_and_show_the_billing_spike(store) -> None:
    complaints = breakdowns.drivers(store, MARCH, "complaints")
    assert sum(complaints.values()) == total(store, MARCH, "complaint_rate").numerator
    detractors = breakdowns.drivers(store, MARCH, "detractors")
    assert sum(detractors.values()) == total(store, MARCH, "nps").extra["detractors"]
    assert breakdowns.pareto(complaints).category.iloc[0] == "Billing"
    repeats = breakdowns.drivers(store, MARCH, "repeats")
    assert min(repeats.values()) >= 0 and sum(repeats.values()) > 0
    with pytest.raises(ValueError, match="unknown driver"):
        breakdowns.drivers(store, MARCH, "moans")


def test_pareto_orders_causes_and_marks_the_vital_few() -> None:
    frame = breakdowns.pareto({"a": 10, "b": 60, "c": 25, "d": 5, None: 0})
    assert list(frame.category) == ["b", "c", "a", "d"]
    assert list(frame.cumulative_share) == [60.0, 85.0, 95.0, 100.0]
    # b alone is under 80%, so c (which crosses the line) is vital too; a and d are not.
    assert list(frame.vital_few) == [True, True, False, False]
    assert breakdowns.pareto({}).empty


def test_an_empty_store_gives_empty_tables(empty) -> None:
    assert breakdowns.data_range(empty) == (None, None)
    assert breakdowns.time_distribution(empty, Filters()).first_response_hours.sum() == 0
    assert breakdowns.breach_heatmap(empty, Filters()).breached.sum() == 0
    assert breakdowns.backlog_age(empty, Filters()).contacts.sum() == 0
    assert breakdowns.score_counts(empty, Filters(), "nps").empty
    assert breakdowns.pareto(breakdowns.drivers(empty, Filters(), "complaints")).empty


def test_score_answers_are_split_by_scale_with_each_score_as_a_bar_label() -> None:
    counts = pd.DataFrame(
        {
            "scale": ["1-5", "1-5", "1-10", "1-10"],
            "score": [4.0, 5.0, 7.5, 10.0],
            "answers": [3, 9, 1, 2],
        }
    )
    parts = breakdowns.by_scale(counts, "csat")
    assert [p.scale for p in parts] == ["1-10", "1-5"]  # in text order, as the page lays them out
    assert [p.title for p in parts] == ["CSAT answers (scale 1-10)", "CSAT answers (scale 1-5)"]
    assert list(parts[0].counts.score) == ["7.5", "10"]
    assert list(parts[1].counts.answers) == [3, 9]


def test_every_root_cause_driver_says_what_it_counts() -> None:
    assert list(breakdowns.DRIVERS) == ["complaints", "detractors", "repeats"]
    assert breakdowns.DRIVERS["detractors"] == "Detractors (NPS 0-6)"
