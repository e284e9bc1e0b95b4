"""Before/after windows are whole weeks of equal length inside the data, and the effect comes
with its 95% interval (checked against published worked examples)."""

from __future__ import annotations

from datetime import date

import pytest

from kpi.engine.results import MetricResult
from kpi.insights.like_for_like import Windows, effect, effect_text, windows

DATA = (date(2025, 1, 1), date(2025, 12, 31))


def _window(on: date, data: tuple[date | None, date | None] = DATA) -> Windows:
    found = windows(on, data)
    assert isinstance(found, Windows), found
    return found


def test_a_monday_change_gets_eight_whole_weeks_each_side() -> None:
    w = _window(date(2025, 6, 2))
    assert (w.before.date_from, w.before.date_to) == (date(2025, 4, 7), date(2025, 6, 1))
    assert (w.after.date_from, w.after.date_to) == (date(2025, 6, 2), date(2025, 7, 27))
    assert w.weeks == 8 and w.notes == ()


def test_the_week_of_a_midweek_change_is_left_out_and_said() -> None:
    w = _window(date(2025, 6, 5))
    assert w.before.date_to == date(2025, 6, 1) and w.after.date_from == date(2025, 6, 9)
    assert w.notes == (
        "The week of the change (2 Jun 2025) is left out: it mixes days before and after "
        "5 Jun 2025.",
    )


def test_both_sides_shrink_to_the_shorter_and_say_why() -> None:
    # The data start on Wednesday 1 Jan: the first whole week is 6-12 Jan, three before 27 Jan.
    w = _window(date(2025, 1, 27))
    assert w.weeks == 3 and w.before.days == w.after.days == 21
    assert w.notes[-1] == (
        "3 whole weeks each side, not 8: the data hold only 3 before the change, and both "
        "sides are kept the same length."
    )
    assert windows(date(2025, 12, 29), DATA) == ("the data hold no whole week from 29 Dec 2025 yet")


def _rate(x: int, n: int) -> MetricResult:
    return MetricResult("fcr", 100.0 * x / n, n, "", "standard", "%", numerator=x, denominator=n)


@pytest.mark.parametrize(
    ("before", "after", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, method 10, examples (a) and (b).
        ((48, 80), (56, 70), 5.24, 33.39),
        ((3, 10), (9, 10), 17.05, 80.90),
    ],
)
def test_a_rate_difference_has_newcombes_hybrid_score_interval(
    before: tuple[int, int], after: tuple[int, int], low: float, high: float
) -> None:
    e = effect(_rate(*before), _rate(*after))
    assert e.low == pytest.approx(low, abs=0.01) and e.high == pytest.approx(high, abs=0.01)
    assert effect_text(e, "%").endswith(f"(95% interval {e.low:+.1f} to {e.high:+.1f})")


def test_an_nps_difference_has_the_interval_of_its_two_standard_errors() -> None:
    before = MetricResult(
        "nps", 20.0, 100, "", "standard", "points", extra={"promoters": 40, "detractors": 20}
    )
    after = MetricResult(
        "nps", 30.0, 100, "", "standard", "points", extra={"promoters": 45, "detractors": 15}
    )
    e = effect(before, after)
    # SE1 = 100 x sqrt((0.4 + 0.2 - 0.04) / 100), SE2 = 100 x sqrt((0.45 + 0.15 - 0.09) / 100)
    half = 1.959964 * ((0.56 / 100 + 0.51 / 100) ** 0.5) * 100
    assert e.difference == pytest.approx(10.0)
    assert (e.low, e.high) == (pytest.approx(10 - half), pytest.approx(10 + half))
