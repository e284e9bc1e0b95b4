"""The global filters' URL form: a choice survives the round trip; unknown values do not."""

from __future__ import annotations

from datetime import date

from dashboard.filters import PARAMS, Choice, from_params, to_params
from kpi.engine.filters import SEGMENT_FIELDS

OPTIONS = {"channel": ["email", "phone"], "team": ["Leeds Care"], "agent": [], "priority": [],
           "category": ["Billing"]}  # fmt: skip


def as_lists(params):
    return {k: v if isinstance(v, list) else [v] for k, v in params.items()}


def test_round_trip() -> None:
    choice = Choice("custom", (date(2026, 3, 1), date(2026, 3, 31)),
                    {"channel": ("email", "phone"), "category": ("Billing",)})  # fmt: skip
    params = to_params(choice)
    assert params == {"period": "custom", "from": "2026-03-01", "to": "2026-03-31",
                      "channel": ["email", "phone"], "category": ["Billing"]}  # fmt: skip
    assert from_params(as_lists(params), OPTIONS) == choice


def test_a_preset_carries_no_dates() -> None:
    assert to_params(Choice("12m")) == {"period": "12m"}


def test_bad_values_fall_back_or_drop() -> None:
    params = {"period": ["fortnight"], "from": ["31/03/2026"], "channel": ["fax", "email"]}
    choice = from_params(params, OPTIONS)
    assert choice.preset == "3m"
    assert choice.custom == (None, None)
    assert dict(choice.segments) == {"channel": ("email",)}


def test_choice_to_filters() -> None:
    first, latest = date(2025, 5, 1), date(2026, 10, 31)
    filters = Choice("3m", segments={"team": ("Leeds Care",)}).filters(first, latest)
    assert (filters.date_from, filters.date_to, filters.team) == (
        date(2026, 8, 1),
        latest,
        ("Leeds Care",),
    )
    half_picked = Choice("custom", (date(2026, 3, 1), None)).filters(first, latest)
    assert half_picked.date_to == latest


def test_every_parameter_the_filters_write_is_declared() -> None:
    # PARAMS is what app.py keeps in the URL beside a page's own choices, and what README lists.
    everything = Choice("custom", (date(2026, 3, 1), date(2026, 3, 31)),
                        {name: ("x",) for name in SEGMENT_FIELDS})  # fmt: skip
    assert set(to_params(everything)) == set(PARAMS)
