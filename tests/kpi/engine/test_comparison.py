"""Me against the rest of my team: the right colleagues, both results, and an honest test."""

from __future__ import annotations

import pandas as pd

from kpi.engine.comparison import colleagues, pair, side_by_side
from kpi.engine.results import MetricResult

PAIRS = pd.DataFrame(
    {
        "team": ["Leeds", "Leeds", "Leeds", "Cardiff", None],
        "agent": ["Priya", "Amelia", "Daniel", "Rhys", "Unassigned"],
    }
)


def csat(x: int, n: int) -> MetricResult:
    return MetricResult("csat", 100 * x / n, n, "d", "auto", "%", ci_low=1.0, ci_high=99.0,
                        numerator=x, denominator=n)  # fmt: skip


def test_the_rest_is_my_team_without_me() -> None:
    assert colleagues(PAIRS, "Priya") == (("Leeds",), ("Amelia", "Daniel"))
    assert colleagues(PAIRS, "Nobody") == ((), ())


def test_side_by_side_says_whether_the_difference_is_real() -> None:
    close = side_by_side({"csat": csat(80, 100)}, {"csat": csat(790, 1000)}, ["csat"])
    far = side_by_side({"csat": csat(95, 100)}, {"csat": csat(700, 1000)}, ["csat"])
    assert close.loc[0, "me"] == "80.0%" and close.loc[0, "rest of the team"] == "79.0%"
    assert close.loc[0, "a real difference?"] == "not shown by the data"
    assert far.loc[0, "a real difference?"] == "yes (p < 0.05)"
    assert far.loc[0, "me (n, interval)"].startswith("n = 100")


def test_pair_rows_for_the_chart() -> None:
    rows = pair(csat(8, 10), csat(70, 100), "Priya")
    assert list(rows.who) == ["Me (Priya)", "Rest of the team"]
    assert list(rows.n) == [10, 100]
