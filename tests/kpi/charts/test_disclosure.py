"""Exports name only the learner; small cells are emptied."""

from __future__ import annotations

import pandas as pd

from kpi.charts.disclosure import anonymise, suppress_small


def test_colleagues_become_numbered_and_me_stays() -> None:
    frame = pd.DataFrame({"agent": ["Zoe", "Amy", "Me", "Zoe"], "n": [10, 20, 30, 5]})
    out = anonymise(frame, "agent", me="Me")
    assert list(out.agent) == ["Colleague 1", "Colleague 2", "Me", "Colleague 1"]
    assert list(frame.agent) == ["Zoe", "Amy", "Me", "Zoe"]  # the input is not changed


def test_cells_under_five_are_suppressed_but_labels_stay() -> None:
    frame = pd.DataFrame({"team": ["A", "B"], "value": [100.0, 80.0], "n": [4, 50]})
    out = suppress_small(frame)
    assert out.loc[0, "team"] == "A"
    assert out.loc[0, "value"] is None
    assert out.loc[0, "n"] == "<5"
    assert out.loc[1, "value"] == 80.0
