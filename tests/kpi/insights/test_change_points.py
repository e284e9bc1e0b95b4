"""Step changes found without a dated note: the best single split of a weekly rate, tested with
a two-proportion z-test Bonferroni-corrected over the splits tried, kept only when the new
level holds (a spike is not a step)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi import insights
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.insights import change_points
from kpi.store import annotations as notes
from kpi.store.connection import open_store


def _weeks(rates: list[float], n: int = 400) -> list[MetricResult]:
    return [
        MetricResult("fcr", 100.0 * r, n, "FCR", "flag", "%", numerator=round(r * n)) for r in rates
    ]


def test_the_best_split_is_the_week_the_level_moved() -> None:
    rates = [0.62, 0.64, 0.63, 0.61, 0.63, 0.62, 0.64, 0.63, 0.62, 0.63]
    rates += [0.75, 0.76, 0.74, 0.75, 0.77, 0.75, 0.74, 0.76]
    step = change_points.best_step("fcr", _weeks(rates))
    assert step is not None and step.index == 10
    assert step.splits == len(rates) - 2 * change_points.MIN_SIDE + 1
    assert change_points._held(step, _weeks(rates))


def test_a_flat_series_has_no_step() -> None:
    rates = [0.62, 0.64, 0.63, 0.61, 0.63, 0.62, 0.64, 0.63] * 2
    assert change_points.best_step("fcr", _weeks(rates)) is None


def test_a_spike_of_a_few_weeks_is_not_a_lasting_step() -> None:
    rates = [0.63] * 8 + [0.80, 0.82, 0.81] + [0.63] * 9
    step = change_points.best_step("fcr", _weeks(rates))
    assert step is None or not change_points._held(step, _weeks(rates))


def test_too_few_weeks_for_a_split_each_side_give_nothing() -> None:
    assert change_points.best_step("fcr", _weeks([0.6] * 6 + [0.8] * 5)) is None


@pytest.fixture(scope="module")
def found(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("steps") / "store.duckdb"
    path.write_bytes(seeded_template.read_bytes())
    store = open_store(path)
    try:
        assert notes.all_annotations(store) == []  # no dated note to lean on
        yield insights.detect(store, Filters(), ("change_point",))
    finally:
        store.close()


def test_the_samples_fcr_step_is_found_from_the_week_of_12_january_2026(found) -> None:
    fcr = next(i for i in found if i.metrics == ("fcr",))
    assert fcr.title == "FCR up from the week of 12 Jan 2026: 63.1% before, 75.4% since (better)"
    assert fcr.summary.startswith("From the week of 12 Jan 2026, FCR moved to a new level")
    assert "p " not in fcr.summary and "Bonferroni" in fcr.details
    assert [f.label for f in fcr.figures] == ["FCR, before 12 Jan 2026", "FCR, from 12 Jan 2026"]
    assert all(f.n > 1000 for f in fcr.figures)


def test_the_planted_one_month_spikes_are_not_called_steps(found) -> None:
    # March 2026's billing spike lifts complaints and lowers CSAT for a month only.
    assert not [i for i in found if i.metrics in (("complaint_rate",), ("csat",))]
