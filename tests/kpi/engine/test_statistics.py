"""Statistics: worked examples checked by hand, a written-out Wilson reference, and properties."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

from kpi.engine.statistics import (
    RULES,
    ChangeTest,
    Interval,
    is_small_sample,
    mean_change_test,
    nps,
    nps_change_test,
    nps_interval,
    nps_standard_error,
    two_proportion_test,
    wilson_interval,
    xmr_limits,
)

Z95 = 1.959963984540054


def reference_wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval exactly as textbooks write it."""
    p = successes / n
    centre = p + z**2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (centre - spread) / (1 + z**2 / n), (centre + spread) / (1 + z**2 / n)


# --- Wilson -------------------------------------------------------------------------------------


def test_wilson_for_eight_of_ten():
    interval = wilson_interval(8, 10)
    assert interval.low == pytest.approx(0.4902, abs=5e-5)
    assert interval.high == pytest.approx(0.9433, abs=5e-5)


def test_wilson_with_no_answers_has_no_interval():
    assert wilson_interval(0, 0) == Interval(None, None)


def test_wilson_at_all_and_none_touches_the_bound():
    assert wilson_interval(10, 10) == Interval(pytest.approx(0.7225, abs=5e-5), 1.0)
    assert wilson_interval(0, 10) == Interval(0.0, pytest.approx(0.2775, abs=5e-5))


def test_wilson_at_ninety_percent_confidence_is_narrower():
    ninety, ninety_five = wilson_interval(8, 10, 0.90), wilson_interval(8, 10)
    assert ninety_five.low < ninety.low < ninety.high < ninety_five.high


@pytest.mark.parametrize("successes, n", [(-1, 10), (11, 10)])
def test_wilson_refuses_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


counts = st.integers(1, 100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(counts)
def test_wilson_matches_the_written_out_formula(case):
    successes, n = case
    low, high = reference_wilson(successes, n)
    interval = wilson_interval(successes, n)
    assert interval.low == pytest.approx(max(0.0, low), abs=1e-12)
    assert interval.high == pytest.approx(min(1.0, high), abs=1e-12)


@given(counts)
def test_wilson_contains_the_share_and_stays_within_zero_and_one(case):
    successes, n = case
    interval = wilson_interval(successes, n)
    assert 0.0 <= interval.low <= successes / n <= interval.high <= 1.0


@given(counts, st.integers(2, 10))
def test_wilson_narrows_as_n_grows_with_the_same_share(case, factor):
    successes, n = case
    small, large = wilson_interval(successes, n), wilson_interval(successes * factor, n * factor)
    assert large.high - large.low < small.high - small.low


# --- NPS ----------------------------------------------------------------------------------------


def test_nps_worked_example():
    # 50 promoters, 20 detractors of 100: NPS 30; SE = 100 x sqrt((0.5 + 0.2 - 0.09) / 100).
    assert nps(50, 20, 100) == pytest.approx(30.0)
    assert nps_standard_error(50, 20, 100) == pytest.approx(7.8102, abs=1e-4)
    interval = nps_interval(50, 20, 100)
    assert interval.low == pytest.approx(30 - 15.308, abs=1e-3)
    assert interval.high == pytest.approx(30 + 15.308, abs=1e-3)


def test_nps_with_no_answers_has_no_score_or_interval():
    assert nps(0, 0, 0) is None
    assert nps_standard_error(0, 0, 0) is None
    assert nps_interval(0, 0, 0) == Interval(None, None)


def test_nps_when_everyone_is_a_promoter_has_no_spread():
    assert nps_standard_error(40, 0, 40) == 0.0
    assert nps_interval(40, 0, 40) == Interval(100.0, 100.0)


def test_nps_refuses_more_promoters_and_detractors_than_answers():
    with pytest.raises(ValueError):
        nps_standard_error(60, 50, 100)


def test_nps_interval_is_clamped_to_the_scale():
    # Two promoters and one passive: 66.7 +/- 1.96 x 27.2 would overshoot 100.
    interval = nps_interval(2, 0, 3)
    assert interval.high == 100.0 and interval.low > -100.0


nps_counts = st.integers(1, 5000).flatmap(
    lambda n: st.integers(0, n).flatmap(
        lambda p: st.tuples(st.just(p), st.integers(0, n - p), st.just(n))
    )
)


@given(nps_counts)
def test_nps_interval_stays_on_the_scale_and_contains_the_score(case):
    promoters, detractors, n = case
    interval = nps_interval(promoters, detractors, n)
    assert -100.0 <= interval.low <= nps(promoters, detractors, n) <= interval.high <= 100.0


# --- change tests -------------------------------------------------------------------------------


def test_two_proportion_test_worked_example():
    # 40/100 then 60/100: pooled 0.5, SE = sqrt(0.25 x 0.02) = 0.0707, z = 2.828, p = 0.0047.
    result = two_proportion_test(40, 100, 60, 100)
    assert result.difference == pytest.approx(0.2)
    assert result.z == pytest.approx(2.8284, abs=1e-4)
    assert result.p_value == pytest.approx(0.00468, abs=1e-5)
    assert result.significant


def test_two_proportion_test_small_change_is_not_significant():
    result = two_proportion_test(45, 100, 50, 100)
    assert not result.significant and result.p_value > 0.05


def test_change_tests_with_an_empty_period_test_nothing():
    empty = ChangeTest(None, None, None, False)
    assert two_proportion_test(0, 0, 5, 10) == empty
    assert two_proportion_test(5, 10, 0, 0) == empty
    assert nps_change_test(0, 0, 0, 5, 1, 10) == empty
    assert mean_change_test(10.0, 1.0, 1, 12.0, 1.0, 30) == empty


def test_identical_all_or_nothing_periods_show_no_change():
    result = two_proportion_test(10, 10, 20, 20)
    assert (result.difference, result.z, result.p_value, result.significant) == (0, 0, 1, False)


def test_nps_change_test_worked_example():
    # NPS 30 (SE 7.810) then NPS 0 from 30/30/100 (SE 100 x sqrt(0.6/100) = 7.746):
    # z = -30 / sqrt(61 + 60) = -30 / 11.
    result = nps_change_test(50, 20, 100, 30, 30, 100)
    assert result.difference == pytest.approx(-30.0)
    assert result.z == pytest.approx(-30 / 11)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(30 / 11))
    assert result.significant


@given(
    st.lists(st.floats(0, 1000), min_size=2, max_size=30),
    st.lists(st.floats(0, 1000), min_size=2, max_size=30),
)
def test_mean_change_test_agrees_with_welch_on_raw_values(first, second):
    def summary(values):
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        return mean, sd, len(values)

    m1, s1, n1 = summary(first)
    m2, s2, n2 = summary(second)
    assume(s1 > 1e-6 and s2 > 1e-6)
    result = mean_change_test(m1, s1, n1, m2, s2, n2)
    expected = stats.ttest_ind(second, first, equal_var=False)
    assert result.difference == pytest.approx(m2 - m1)
    assert result.z == pytest.approx(expected.statistic, rel=1e-6, abs=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-9)


# --- sample size ------------------------------------------------------------------


def test_small_sample_is_below_the_minimum():
    assert is_small_sample(4, 5) and not is_small_sample(5, 5)


# --- XmR ----------------------------------------------------------------------------------------

STABLE = [10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 12, 9, 10]


def rules(values, **kwargs) -> set[str]:
    chart = xmr_limits(values, **kwargs)
    assert chart is not None
    return {signal.rule for signal in chart.signals}


def test_xmr_limits_worked_example():
    # Mean 2.5; moving ranges 2, 1, 2 -> mean 5/3; limits 2.5 +/- 2.66 x 5/3.
    chart = xmr_limits([1, 3, 2, 4])
    assert chart.centre == pytest.approx(2.5)
    assert chart.mean_moving_range == pytest.approx(5 / 3)
    assert chart.lower == pytest.approx(2.5 - 2.66 * 5 / 3)
    assert chart.upper == pytest.approx(2.5 + 2.66 * 5 / 3)


def test_xmr_needs_two_points():
    assert xmr_limits([]) is None
    assert xmr_limits([5.0]) is None
    assert xmr_limits([5.0, None]) is None


def test_stable_noise_flags_nothing():
    assert rules(STABLE) == set()


def test_a_constant_series_flags_nothing():
    assert rules([7.0] * 12) == set()


def test_a_spike_flags_rule_one_at_the_spike():
    chart = xmr_limits(STABLE[:10] + [30] + STABLE[10:])
    outside = [s for s in chart.signals if s.rule == "outside_limits"]
    assert [s.index for s in outside] == [10]
    assert "above the upper limit" in outside[0].description


def test_a_shift_flags_rule_two_once_where_the_run_reaches_eight():
    values = [10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 14, 15, 14, 13, 14, 15, 14, 13, 14]
    chart = xmr_limits(values)
    runs = [s for s in chart.signals if s.rule == "run"]
    assert [s.index for s in runs] == [17]  # points 10..17 are the eight above the mean of 12
    assert "8 values in a row above the average" in runs[0].description
    assert "outside_limits" not in {s.rule for s in chart.signals}


def test_run_length_is_configurable():
    values = [10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 14, 15, 14, 13, 14, 15]
    assert "run" not in rules(values)
    assert "run" in rules(values, run_length=6)


def test_a_trend_flags_rule_three_at_the_sixth_rising_point():
    values = [10, 11, 9, 10, 12, 10, 9, 11, 10, 9, 10, 11, 12, 13, 14, 10, 11]
    chart = xmr_limits(values)
    trends = [s for s in chart.signals if s.rule == "trend"]
    assert [s.index for s in trends] == [14]  # 9 at index 9, rising to 14 at index 14
    assert "steadily rising" in trends[0].description


def test_a_repeated_value_breaks_a_trend():
    assert "trend" not in rules([9, 10, 11, 11, 12, 13, 14, 10, 11, 9, 10])


def test_two_of_three_far_from_the_centre_flags_rule_four():
    # Stable noise has mean moving range about 1.5, so two thirds of the way to a limit is
    # about 2.7 above the mean: two of three points at +3.5 and +3.6 flag, without crossing.
    values = [*STABLE, 13.9, 10, 14.0, 10, 11, 9, 10]
    chart = xmr_limits(values)
    flagged = [s for s in chart.signals if s.rule == "two_of_three"]
    assert [s.index for s in flagged] == [18]
    assert values[18] < chart.upper
    assert "Two of the last three values are far above" in flagged[0].description


def test_gaps_are_skipped_and_indexes_stay_positions_in_the_input():
    values = [*STABLE[:10], None, 30, float("nan"), pd.NA, *STABLE[10:]]
    chart = xmr_limits(values)
    assert [s.index for s in chart.signals if s.rule == "outside_limits"] == [11]


def test_every_signal_names_a_known_rule_in_plain_english():
    chart = xmr_limits([10, 11, 9, 10, 12, 10, 9, 11, 30, 10, 11, 12, 13, 14, 15, 16, 17, 18])
    assert chart.signals
    for signal in chart.signals:
        assert signal.rule in RULES
        assert signal.description.endswith(".") and "point" not in signal.description


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=60))
def test_xmr_limits_bracket_the_centre_and_signals_point_at_values(values):
    chart = xmr_limits(values)
    assert chart.lower <= chart.centre <= chart.upper
    assert all(0 <= s.index < len(values) for s in chart.signals)
