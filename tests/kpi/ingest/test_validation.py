"""The Pandera models: what a typed value may be, whatever parsed it."""

from __future__ import annotations

import math

import pandas as pd

from kpi.ingest.validation import Failure, failures


def test_an_infinite_number_fails_validation_in_any_numeric_field() -> None:
    contacts = pd.DataFrame(
        {
            "contact_id": ["C1", "C2", "C3"],
            "opened_at": pd.to_datetime(["2025-03-03 09:00"] * 3),
            "wait_seconds": [math.inf, 30.0, None],
            "agent_replies": [1.0, -math.inf, None],
        },
        index=[1, 2, 3],
    )
    responses = pd.DataFrame(
        {"response_id": ["R1", "R2"], "csat": [4.0, -math.inf], "nps": [math.inf, None]},
        index=[1, 2],
    )
    assert infinite(failures("contacts", contacts)) == [(1, "wait_seconds"), (2, "agent_replies")]
    assert infinite(failures("responses", responses, {"csat": (1.0, 5.0)})) == [
        (1, "nps"),
        (2, "csat"),
    ]


def infinite(found: list[Failure]) -> list[tuple[int, str]]:
    """Rows and fields failed as not finite; an empty value never is."""
    return sorted((f.row, f.field) for f in found if f.issue == "is not a finite number")


def test_dates_are_not_bounded_here_but_by_the_imports_limits() -> None:
    # A far date passes Pandera: the check step quarantines its whole row against the
    # import's own clock and floor (kpi.ingest.limits), which a fixed range here cannot know.
    frame = pd.DataFrame(
        {"contact_id": ["C1"], "opened_at": pd.to_datetime(["2099-01-01 10:00"])}, index=[1]
    )
    assert failures("contacts", frame) == []
