"""Small, pure statistics behind every number the dashboard shows with its n.

Intervals for proportions (Wilson score), NPS (adjusted Wald) and means (Student's t), each
named by ``*_METHOD`` so a result can say which produced it; tests of a change against the
previous period, and XmR control limits with the usual run rules. Nothing here knows about
tables: callers pass counts and series.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special

#: Significance level of the change tests (two-sided).
ALPHA = 0.05
#: XmR limits sit this many mean moving ranges from the centre (3 sigma, sigma = mR / 1.128).
XMR_SCALING = 2.66


@dataclass(frozen=True)
class Interval:
    """A confidence interval; both ends None when there is no data to estimate from."""

    low: float | None
    high: float | None


@dataclass(frozen=True)
class ChangeTest:
    """A change between two periods: difference (second minus first) and its two-sided test.

    ``z`` is the test statistic (Welch's t for means); all None and not significant when a
    sample is empty.
    """

    difference: float | None
    z: float | None
    p_value: float | None
    significant: bool


_NO_TEST = ChangeTest(difference=None, z=None, p_value=None, significant=False)


@functools.cache
def _z(confidence: float) -> float:
    """The two-sided standard normal quantile for a confidence level (1.96 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    return float(special.ndtri(0.5 + confidence / 2))  # the standard normal's quantile


def z_score(confidence: float = 0.95) -> float:
    """The two-sided standard normal quantile every interval here uses (1.96 for 0.95)."""
    return _z(confidence)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion successes / n, as proportions 0..1.

    Unlike the normal (Wald) interval it stays inside 0..1 and is sensible for small n and for
    shares of 0% or 100%.
    """
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return Interval(None, None)
    z, p = _z(confidence), successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # Pin the ends exactly at 0 and 1 where the share is, so rounding never excludes it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def _nps_shares(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    if min(promoters, detractors) < 0 or promoters + detractors > n:
        raise ValueError(f"need promoters + detractors <= n, got {promoters} + {detractors} > {n}")
    return promoters / n, detractors / n


def nps_standard_error(
    promoters: int, detractors: int, n: int, adjusted: bool = False
) -> float | None:
    """Standard error of NPS in points: 100 x sqrt((p + d - (p - d)^2) / n), p and d as shares.

    ``adjusted`` works it out as the NPS interval does (``NPS_METHOD``): after adding one
    promoter, one passive and one detractor (n + 3 answers), so it is above zero for any n > 0
    (six promoters of six: 22.2, where the plain one is 0). None when there are no answers.
    """
    if n == 0:
        return None
    p, d = _nps_shares(promoters, detractors, n)
    if adjusted:
        n = n + 3 * _NPS_PSEUDO
        p, d = (promoters + _NPS_PSEUDO) / n, (detractors + _NPS_PSEUDO) / n
    # The variance is never negative in exact arithmetic; max() absorbs rounding at p or d = 1.
    return 100 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)


def nps(promoters: int, detractors: int, n: int) -> float | None:
    """Net Promoter Score: 100 x (promoters - detractors) / answers; None with no answers."""
    if n == 0:
        return None
    p, d = _nps_shares(promoters, detractors, n)
    return 100 * (p - d)


#: How each interval is worked out, in words a definition can end with.
WILSON_METHOD = "Wilson score interval"
NPS_METHOD = (
    "adjusted Wald interval (one promoter, one passive and one detractor added before the "
    "standard error is worked out, so small or one-sided samples still get an honest width)"
)
MEAN_METHOD = "Student's t interval"
#: Said instead of an interval when every value of a mean is the same.
NO_SPREAD = "no interval: every value is the same, so there is no spread to estimate one from"
#: Said instead of an interval for the mean of one value.
ONE_VALUE = "no interval: one value cannot show how much the mean could vary"

#: Pseudo-answers of each kind (promoter, passive, detractor) the NPS interval adds. Like
#: Agresti and Caffo's one success and one failure per group for a difference of two
#: proportions: the plain (Wald) interval has zero width when every answer is a promoter.
_NPS_PSEUDO = 1


def nps_interval(promoters: int, detractors: int, n: int, confidence: float = 0.95) -> Interval:
    """Adjusted Wald interval for NPS in points, clamped to [-100, 100] (``NPS_METHOD``).

    The shares and their standard error are taken after adding one answer of each kind, so the
    interval keeps a width above zero for any n > 0 (six promoters of six: 23.1 to 100).
    """
    if n == 0:
        return Interval(None, None)
    _nps_shares(promoters, detractors, n)  # refuses impossible counts
    total = n + 3 * _NPS_PSEUDO
    p, d = (promoters + _NPS_PSEUDO) / total, (detractors + _NPS_PSEUDO) / total
    centre = p - d
    half = _z(confidence) * math.sqrt(max(0.0, p + d - centre * centre) / total)
    return Interval(100 * max(-1.0, centre - half), 100 * min(1.0, centre + half))


def t_quantile(probability: float, df: float) -> float:
    """Student's t quantile: ``stats.t.ppf``'s own function without its argument checks, which
    cost 35 times the quantile (a report asks one per mean per cell), and without importing
    ``scipy.stats`` (half a second). Same value, bit for bit, for every df from 1 to 5,000 and at
    1e5-1e7 (fractional df too: Welch's)."""
    if not 0 < probability < 1 or not df > 0:
        raise ValueError(f"no t quantile at probability {probability} with {df} df")
    return float(special.stdtrit(df, probability))


def mean_interval(
    mean: float,
    sd: float | None,
    n: int,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """Student's t interval for a mean (``MEAN_METHOD``); None at both ends with fewer than two
    values or no spread (a zero-width interval would claim a certainty the sample cannot give).
    ``bounds`` (a survey scale's ends) limit the interval: no mean of 1-2 answers can be 3.1."""
    if sd is None or n < 2 or sd <= 0:
        return Interval(None, None)
    margin = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    low, high = mean - margin, mean + margin
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Interval(low, high)


def _test_from_z(difference: float, z: float, alpha: float) -> ChangeTest:
    p_value = float(2 * special.ndtr(-abs(z)))  # the standard normal's upper tail at |z|
    return ChangeTest(difference, z, p_value, p_value < alpha)


def _z_or_limit(difference: float, error: float) -> float:
    # With no variation in either sample any difference is certain and none is no change.
    if error > 0:
        return difference / error
    return math.copysign(math.inf, difference) if difference else 0.0


def two_proportion_test(x1: int, n1: int, x2: int, n2: int, alpha: float = ALPHA) -> ChangeTest:
    """Pooled two-proportion z-test of x2/n2 against x1/n1 (e.g. this period against the last).

    ``difference`` is x2/n2 - x1/n1 as a proportion; not testable when either n is 0.
    """
    if n1 == 0 or n2 == 0:
        return _NO_TEST
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    error = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return _test_from_z(p2 - p1, _z_or_limit(p2 - p1, error), alpha)


def nps_change_test(
    p1: int, d1: int, n1: int, p2: int, d2: int, n2: int, alpha: float = ALPHA
) -> ChangeTest:
    """Change in NPS (points, second minus first): difference / sqrt(SE1^2 + SE2^2).

    The standard errors are the adjusted ones the NPS interval uses (one answer of each kind
    added to each side): with the plain ones, one promoter then one detractor would read as a
    certain change (p = 0), since neither one-sided sample shows any spread.
    """
    first, second = nps(p1, d1, n1), nps(p2, d2, n2)
    se1 = nps_standard_error(p1, d1, n1, adjusted=True)
    se2 = nps_standard_error(p2, d2, n2, adjusted=True)
    if first is None or second is None or se1 is None or se2 is None:
        return _NO_TEST
    difference = second - first
    return _test_from_z(difference, _z_or_limit(difference, math.hypot(se1, se2)), alpha)


def mean_change_test(
    mean1: float,
    sd1: float,
    n1: int,
    mean2: float,
    sd2: float,
    n2: int,
    alpha: float = ALPHA,
) -> ChangeTest:
    """Welch's t-test of mean2 against mean1 from summary figures (sample standard deviations).

    ``z`` holds Welch's t. Not testable with fewer than two values on either side.
    """
    if n1 < 2 or n2 < 2:
        return _NO_TEST
    difference = mean2 - mean1
    # No spread on either side, or one too small to square (a 1e-309 standard deviation).
    if sd1**2 / n1 + sd2**2 / n2 == 0:
        z = _z_or_limit(difference, 0.0)
        return ChangeTest(difference, z, 0.0 if difference else 1.0, bool(difference))
    t, p_value = welch_t(mean2, sd2, n2, mean1, sd1, n1)
    return ChangeTest(difference, t, p_value, p_value < alpha)


def welch_t(
    mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int
) -> tuple[float, float]:
    """Welch's t of mean1 - mean2 and its two-sided p-value, from summary figures: what
    ``scipy.stats.ttest_ind_from_stats(..., equal_var=False)`` works out, in its own steps
    (Welch-Satterthwaite degrees of freedom; 1 when they are undefined), without importing
    ``scipy.stats``, which costs every process half a second to load."""
    v1, v2 = sd1**2 / n1, sd2**2 / n2
    if v1 + v2 == 0:  # no spread: as SciPy's, t is infinite (or undefined) and p 0 (or undefined)
        difference = mean1 - mean2
        return (math.copysign(math.inf, difference), 0.0) if difference else (math.nan, math.nan)
    denominator = v1**2 / (n1 - 1) + v2**2 / (n2 - 1)
    df = (v1 + v2) ** 2 / denominator if denominator else 1.0
    t = (mean1 - mean2) / math.sqrt(v1 + v2)
    return float(t), float(2 * special.stdtr(df, -abs(t)))


def is_small_sample(n: int, minimum: int) -> bool:
    """True when n is below the minimum sample size a figure needs to be read with confidence."""
    return n < minimum


def _is_gap(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except TypeError:  # pandas.NA and other missing markers refuse float()
        return True


def _present(values: Iterable[float | None]) -> list[tuple[int, float]]:
    """(position, value) of the values that are numbers: None, NaN and NA are gaps."""
    return [(i, float(v)) for i, v in enumerate(values) if v is not None and not _is_gap(v)]


# --- XmR (individuals and moving range) control charts ----------------------------------------


@dataclass(frozen=True)
class Signal:
    """A point where the run rules say the process probably changed."""

    index: int
    rule: str
    description: str


@dataclass
class ControlChart:
    """XmR limits: centre (mean) +/- 2.66 x mean moving range, and the signals found."""

    centre: float
    lower: float
    upper: float
    mean_moving_range: float
    signals: list[Signal] = field(default_factory=list)


#: Rule names used in ``Signal.rule``, with what each looks for.
RULES: dict[str, str] = {
    "outside_limits": "Rule 1: a point outside the control limits.",
    "run": "Rule 2: a run of points (8 by default) on one side of the centre line.",
    "trend": "Rule 3: six points in a row steadily increasing or decreasing.",
    "two_of_three": "Rule 4: two of three points in a row beyond two thirds of the way to a limit.",
}


def _side(value: float, centre: float) -> int:
    return (value > centre) - (value < centre)


def _outside_limits(points: list[tuple[int, float]], chart: ControlChart) -> list[Signal]:
    signals = []
    for index, value in points:
        if value > chart.upper or value < chart.lower:
            where = (
                f"above the upper limit ({chart.upper:.4g})"
                if value > chart.upper
                else f"below the lower limit ({chart.lower:.4g})"
            )
            description = f"This value ({value:.4g}) is {where}: something unusual happened."
            signals.append(Signal(index, "outside_limits", description))
    return signals


def _runs(directions: list[int], length: int) -> list[tuple[int, int]]:
    """(position, direction) where a run of ``length`` equal non-zero directions completes.

    A run is reported once, where it reaches the length, however long it goes on.
    """
    found, count = [], 0
    for position, direction in enumerate(directions):
        same = position > 0 and direction == directions[position - 1]
        count = count + 1 if direction and same else (1 if direction else 0)
        if count == length:
            found.append((position, direction))
    return found


def _shift(points: list[tuple[int, float]], chart: ControlChart, length: int) -> list[Signal]:
    # A point exactly on the centre line is on neither side and breaks the run.
    sides = [_side(value, chart.centre) for _, value in points]
    return [
        Signal(
            points[last][0],
            "run",
            f"{length} values in a row {'above' if direction > 0 else 'below'} the average, "
            "ending here: the level has probably shifted.",
        )
        for last, direction in _runs(sides, length)
    ]


def _trend(points: list[tuple[int, float]], length: int) -> list[Signal]:
    # n points steadily rising are n - 1 rises in a row; a repeated value breaks the trend.
    steps = [_side(now, before) for (_, before), (_, now) in zip(points, points[1:], strict=False)]
    return [
        Signal(
            points[last + 1][0],
            "trend",
            f"{length} values in a row steadily {'rising' if direction > 0 else 'falling'}, "
            "ending here: a trend, not noise.",
        )
        for last, direction in _runs(steps, length - 1)
    ]


def _two_of_three(points: list[tuple[int, float]], chart: ControlChart) -> list[Signal]:
    reach = 2 / 3 * (chart.upper - chart.centre)
    signals = []
    for position in range(2, len(points)):
        window = points[position - 2 : position + 1]
        index, value = window[-1]
        for direction, word in ((1, "above"), (-1, "below")):
            beyond = [direction * (v - chart.centre) > reach for _, v in window]
            # Reported at the point that completes the pair, and only if it is itself beyond.
            if reach > 0 and beyond[-1] and sum(beyond) >= 2:
                signals.append(
                    Signal(
                        index,
                        "two_of_three",
                        f"Two of the last three values are far {word} the average (more "
                        "than two thirds of the way to the limit): an early sign of a shift.",
                    )
                )
    return signals


def xmr_limits(
    values: Sequence[float | None], run_length: int = 8, trend_length: int = 6
) -> ControlChart | None:
    """XmR chart of a series (e.g. weekly values): limits, and signals by the four run rules.

    Centre = mean; limits = centre +/- 2.66 x mean moving range (mean absolute difference of
    consecutive points). None and NaN are gaps: skipped, with signal indexes kept as positions in
    ``values``. None with fewer than two points. The lower limit is not clamped at 0.
    """
    if run_length < 2 or trend_length < 3:
        raise ValueError("a run needs at least 2 points and a trend at least 3")
    points = _present(values)
    if len(points) < 2:
        return None
    series = np.array([v for _, v in points])
    centre = float(series.mean())
    moving_range = float(np.abs(np.diff(series)).mean())
    chart = ControlChart(
        centre=centre,
        lower=centre - XMR_SCALING * moving_range,
        upper=centre + XMR_SCALING * moving_range,
        mean_moving_range=moving_range,
    )
    chart.signals = sorted(
        _outside_limits(points, chart)
        + _shift(points, chart, run_length)
        + _trend(points, trend_length)
        + _two_of_three(points, chart),
        key=lambda signal: (signal.index, signal.rule),
    )
    return chart
