"""A report by day, week or month of a store with no dated data: no rows (or only the undated
answers' row), never an error."""

from __future__ import annotations

import pytest

from kpi.engine.report import report
from tests.kpi.stores import make_store


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_an_empty_store_by_period_has_no_rows(grain):
    assert report(make_store(), grain=grain).rows == []
    assert report(make_store(), grain=grain, by=("category",)).rows == []


def test_a_store_of_undated_answers_by_week_has_only_the_undated_row():
    store = make_store(responses=[{"nps": 9}, {"nps": 10}, {"nps": 3}])
    [row] = report(store, grain="week", metrics=("nps", "responses")).rows
    assert row.period == "undated"
    # 2 promoters and 1 detractor of 3 answers: (2 - 1) / 3 = +33.3.
    assert row.metrics["responses"].n == 3 and round(row.metrics["nps"].value, 1) == 33.3
