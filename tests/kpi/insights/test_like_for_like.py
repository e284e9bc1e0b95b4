"""Before/after windows are whole weeks of equal length inside the data, and the effect comes
with its 95% interval (checked against published worked examples)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.insights.like_for_like import Windows, after_warnings, effect, effect_text, windows

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


def test_an_nps_difference_has_the_interval_of_its_two_adjusted_standard_errors() -> None:
    before = MetricResult(
        "nps", 20.0, 100, "", "standard", "points", extra={"promoters": 40, "detractors": 20}
    )
    after = MetricResult(
        "nps", 30.0, 100, "", "standard", "points", extra={"promoters": 45, "detractors": 15}
    )
    e = effect(before, after)
    # Adjusted as the NPS interval is: 41 and 21 of 103, then 46 and 16 of 103.
    # SE1 = 100 x sqrt((62/103 - (20/103)^2) / 103), SE2 = 100 x sqrt((62/103 - (30/103)^2) / 103)
    v1 = (62 / 103 - (20 / 103) ** 2) / 103
    v2 = (62 / 103 - (30 / 103) ** 2) / 103
    half = 1.959964 * ((v1 + v2) ** 0.5) * 100
    assert e.difference == pytest.approx(10.0)
    assert (e.low, e.high) == (pytest.approx(10 - half), pytest.approx(10 + half))


def _nps(promoters: int, detractors: int, n: int) -> MetricResult:
    value = 100 * (promoters - detractors) / n
    extra = {"promoters": promoters, "detractors": detractors}
    return MetricResult("nps", value, n, "", "standard", "points", extra=extra)


def test_an_nps_difference_of_all_promoters_both_sides_still_has_an_interval() -> None:
    # Worked by hand. Six promoters of six, then eight of eight: NPS +100 both sides, so the
    # plain standard errors are 0 and the interval would read "+0.0 (+0.0 to +0.0)".
    # Adjusted: 7 promoters and 1 detractor of 9 -> SE 100 x sqrt((8/9 - (6/9)^2) / 9) = 22.22;
    # 9 and 1 of 11 -> SE 100 x sqrt((10/11 - (8/11)^2) / 11) = 18.59;
    # half-width 1.96 x sqrt(22.22^2 + 18.59^2) = 56.78.
    e = effect(_nps(6, 0, 6), _nps(8, 0, 8))
    se1 = 100 * ((8 / 9 - (6 / 9) ** 2) / 9) ** 0.5
    se2 = 100 * ((10 / 11 - (8 / 11) ** 2) / 11) ** 0.5
    assert (se1, se2) == (pytest.approx(22.22, abs=0.01), pytest.approx(18.59, abs=0.01))
    assert e.difference == 0.0
    assert e.high == pytest.approx(1.959964 * (se1**2 + se2**2) ** 0.5)
    assert e.high == pytest.approx(56.78, abs=0.01) and e.low == pytest.approx(-e.high)
    assert effect_text(e, "points") == "+0.0 NPS points (95% interval -56.8 to +56.8)"


def _week(complaints: int, n: int) -> MetricResult:
    value = 100 * complaints / n
    return MetricResult("complaint_rate", value, n, "", "standard", "%", numerator=complaints)


def test_a_spike_in_the_after_weeks_is_named_and_its_neighbours_are_not() -> None:
    # Eight after weeks of 200 contacts at about 4%, two of them at 20%.
    counts = [8, 40, 38, 7, 9, 8, 10, 7]
    series = [
        (date(2025, 6, 2) + timedelta(days=7 * i), _week(c, 200)) for i, c in enumerate(counts)
    ]
    after = Filters(date_from=date(2025, 6, 2), date_to=date(2025, 7, 27))
    found = after_warnings("complaint_rate", series, after)
    assert list(found) == [date(2025, 6, 9), date(2025, 6, 16)]
    assert found[date(2025, 6, 9)].startswith(
        "in the week of 9 Jun 2025 Complaint rate was 20.0% (n = 200), a spike above the other "
        "after weeks"
    )
    calm = [(day, _week(8, 200)) for day, _ in series]
    assert after_warnings("complaint_rate", calm, after) == {}
