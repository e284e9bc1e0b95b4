"""Statistics: worked examples checked by hand, a written-out Wilson reference, and properties."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
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
    mean_interval,
    nps,
    nps_change_test,
    nps_interval,
    nps_standard_error,
    t_quantile,
    two_proportion_test,
    welch_t,
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


def reference_adjusted_nps(promoters: int, detractors: int, n: int, z: float = Z95):
    """The adjusted Wald NPS interval written out: one answer of each kind added."""
    total = n + 3
    p, d = (promoters + 1) / total, (detractors + 1) / total
    half = z * math.sqrt((p + d - (p - d) ** 2) / total)
    return max(-100.0, 100 * (p - d - half)), min(100.0, 100 * (p - d + half))


def test_nps_worked_example():
    # 50 promoters, 20 detractors of 100: NPS 30; SE = 100 x sqrt((0.5 + 0.2 - 0.09) / 100).
    assert nps(50, 20, 100) == pytest.approx(30.0)
    assert nps_standard_error(50, 20, 100) == pytest.approx(7.8102, abs=1e-4)
    # Interval: 51 and 21 of 103 -> 0.29126 +/- 1.96 x sqrt((0.69903 - 0.08483) / 103).
    interval = nps_interval(50, 20, 100)
    assert interval.low == pytest.approx(13.99, abs=1e-2)
    assert interval.high == pytest.approx(44.26, abs=1e-2)


def test_nps_with_no_answers_has_no_score_or_interval():
    assert nps(0, 0, 0) is None
    assert nps_standard_error(0, 0, 0) is None
    assert nps_interval(0, 0, 0) == Interval(None, None)


def test_six_promoters_of_six_get_an_interval_with_width_not_100_to_100():
    # By hand: 7 promoters and 1 detractor of 9 -> centre 6/9 = 0.6667; variance
    # 8/9 - (6/9)^2 = 0.4444; SE sqrt(0.4444 / 9) = 0.2222; 1.96 x 0.2222 = 0.4355.
    assert nps_standard_error(6, 0, 6) == 0.0  # the plain standard error has no spread
    interval = nps_interval(6, 0, 6)
    assert interval.low == pytest.approx(23.11, abs=1e-2)
    assert interval.high == 100.0


@pytest.mark.parametrize(
    "promoters, detractors, low, high",
    [
        # 2 promoters and 1 detractor of 4: centre 0.25, SE sqrt(0.6875 / 4) = 0.4146.
        (1, 0, -56.26, 100.0),
        (0, 1, -100.0, 56.26),
        # 1 of each of 4 around a passive: centre 0, SE sqrt(0.5 / 4) = 0.3536.
        (0, 0, -69.30, 69.30),
    ],
)
def test_one_answer_gets_a_wide_interval(promoters, detractors, low, high):
    interval = nps_interval(promoters, detractors, 1)
    assert interval.low == pytest.approx(low, abs=1e-2)
    assert interval.high == pytest.approx(high, abs=1e-2)


def test_nps_refuses_more_promoters_and_detractors_than_answers():
    with pytest.raises(ValueError):
        nps_standard_error(60, 50, 100)
    with pytest.raises(ValueError):
        nps_interval(60, 50, 100)


def test_nps_interval_is_clamped_to_the_scale():
    # Four promoters of four: 5 and 1 of 7 -> 0.571 + 1.96 x 0.2474 would overshoot 100.
    interval = nps_interval(4, 0, 4)
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


@given(nps_counts)
def test_nps_interval_matches_the_written_out_reference_and_has_width(case):
    promoters, detractors, n = case
    low, high = reference_adjusted_nps(promoters, detractors, n)
    interval = nps_interval(promoters, detractors, n)
    assert interval.low == pytest.approx(low, abs=1e-9)
    assert interval.high == pytest.approx(high, abs=1e-9)
    assert interval.high - interval.low > 0


@given(counts)
def test_wilson_has_width_whenever_there_are_answers(case):
    successes, n = case
    interval = wilson_interval(successes, n)
    assert interval.high - interval.low > 0


# --- means --------------------------------------------------------------------------------------


def test_mean_interval_worked_example():
    # Mean 4, sd 1, n = 9: t(0.975, 8) = 2.306; 2.306 x 1 / 3 = 0.7687.
    interval = mean_interval(4.0, 1.0, 9)
    assert interval.low == pytest.approx(3.2313, abs=1e-4)
    assert interval.high == pytest.approx(4.7687, abs=1e-4)


@pytest.mark.parametrize("sd, n", [(0.0, 6), (None, 1), (1.0, 1), (None, 0)])
def test_a_mean_without_spread_or_with_one_value_has_no_interval(sd, n):
    assert mean_interval(5.0, sd, n) == Interval(None, None)


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
    # NPS 30 then NPS 0 from 30/30/100. The standard errors are the adjusted ones (one
    # answer of each kind added): 51 and 21 of 103 -> SE 100 x sqrt((72/103 - (30/103)^2)
    # / 103) = 7.722; 31 and 31 of 103 -> 100 x sqrt((62/103) / 103) = 7.645; z = -2.761.
    result = nps_change_test(50, 20, 100, 30, 30, 100)
    se1 = 100 * math.sqrt((72 / 103 - (30 / 103) ** 2) / 103)
    se2 = 100 * math.sqrt((62 / 103) / 103)
    assert (se1, se2) == (pytest.approx(7.722, abs=1e-3), pytest.approx(7.645, abs=1e-3))
    assert result.difference == pytest.approx(-30.0)
    assert result.z == pytest.approx(-30 / math.hypot(se1, se2))
    assert result.z == pytest.approx(-2.761, abs=1e-3)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(30 / math.hypot(se1, se2)))
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


def test_the_adjusted_nps_standard_error_is_never_zero_when_there_are_answers():
    # Six promoters of six: 7 promoters and 1 detractor of 9 -> 100 x sqrt((8/9 - (6/9)^2) / 9).
    assert nps_standard_error(6, 0, 6) == 0.0
    assert nps_standard_error(6, 0, 6, adjusted=True) == pytest.approx(22.222, abs=1e-3)
    assert nps_standard_error(0, 0, 0, adjusted=True) is None
    # The adjusted error matches the half-width of the NPS interval on the same counts.
    se = nps_standard_error(50, 20, 100, adjusted=True)
    interval = nps_interval(50, 20, 100)
    assert 1.959964 * se == pytest.approx((interval.high - interval.low) / 2, abs=1e-3)


def test_one_promoter_then_one_detractor_is_not_a_certain_change():
    # Plain standard errors are 0 on both sides, so the plain test would give p = 0.
    # Adjusted: 2 promoters and 1 detractor of 4, and the mirror image: each SE is
    # 100 x sqrt((3/4 - (1/4)^2) / 4) = 41.46; z = -200 / (41.46 x sqrt 2) = -3.411.
    result = nps_change_test(1, 0, 1, 0, 1, 1)
    se = 100 * math.sqrt((3 / 4 - (1 / 4) ** 2) / 4)
    assert result.difference == pytest.approx(-200.0)
    assert result.z == pytest.approx(-200 / (se * math.sqrt(2)))
    assert result.z == pytest.approx(-3.411, abs=1e-3)
    assert 0 < result.p_value < 0.001 and result.significant


def test_the_t_quantile_is_scipys_t_distribution_quantile_exactly() -> None:
    for df in [*range(1, 400), 1_000, 100_000, 10_000_000]:
        for probability in (0.9, 0.95, 0.975, 0.995):
            expected = float(stats.t.ppf(probability, df))
            assert t_quantile(probability, df) == expected
    with pytest.raises(ValueError, match="no t quantile"):
        t_quantile(0.975, 0)


@given(
    st.floats(-1e6, 1e6),
    st.floats(0, 1e4),
    st.integers(2, 100_000),
    st.floats(-1e6, 1e6),
    st.floats(0, 1e4),
    st.integers(2, 100_000),
)
def test_welchs_t_is_scipys_from_summary_figures(m1, s1, n1, m2, s2, n2) -> None:
    with np.errstate(all="ignore"):  # SciPy divides by a zero spread; ours says so
        expected = stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False)
    t, p = welch_t(m1, s1, n1, m2, s2, n2)
    assert t == pytest.approx(float(expected.statistic), rel=1e-12, abs=1e-300, nan_ok=True)
    assert p == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300, nan_ok=True)


def test_a_spread_too_small_to_square_is_no_spread_not_a_crash() -> None:
    # 1e-309 squared is 0: Welch's denominator vanishes (Hypothesis found it).
    found = mean_change_test(0.0, 0.0, 2, 1.0, 1.12286604009273e-309, 2)
    assert found.z == math.inf and found.p_value == 0.0 and found.significant
    same = mean_change_test(0.0, 0.0, 2, 0.0, 1.12286604009273e-309, 2)
    assert same.z == 0.0 and same.p_value == 1.0 and not same.significant


def test_the_t_quantile_takes_welchs_fractional_degrees_of_freedom() -> None:
    for df in (1.5, 2.25, 17.8, 1234.5):
        assert t_quantile(0.975, df) == float(stats.t.ppf(0.975, df))


def test_no_kpi_or_dashboard_module_loads_scipy_stats() -> None:
    # scipy.stats costs every process about half a second to import; the engine needs only
    # three of scipy.special's functions (kpi.engine.statistics).
    code = (
        "import sys, kpi.cli.main, kpi.cli.report_command, kpi.engine.report, "
        "kpi.insights.like_for_like, kpi.engine.intervals; "
        "print('scipy.stats' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "False"
