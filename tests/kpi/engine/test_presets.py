"""Period presets end on the latest day with data and span whole months where they say so."""

from __future__ import annotations

from datetime import date

import pytest

from kpi.engine.filters import Filters
from kpi.engine.presets import PRESETS, preset_range
from kpi.errors import InvalidChoice

LATEST, FIRST = date(2026, 10, 31), date(2025, 5, 1)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("4w", (date(2026, 10, 4), LATEST)),
        ("3m", (date(2026, 8, 1), LATEST)),
        ("12m", (date(2025, 11, 1), LATEST)),
        ("ytd", (date(2026, 1, 1), LATEST)),
        ("all", (FIRST, LATEST)),
    ],
)
def test_presets_end_on_the_latest_data(preset: str, expected: tuple[date, date]) -> None:
    assert preset_range(preset, LATEST, FIRST) == expected


def test_three_months_to_a_month_end_has_whole_months_before_it() -> None:
    start, end = preset_range("3m", LATEST, FIRST)
    previous = Filters(date_from=start, date_to=end).previous_period()
    assert (previous.date_from, previous.date_to) == (date(2026, 5, 1), date(2026, 7, 31))


def test_twelve_months_across_a_year_boundary() -> None:
    assert preset_range("12m", date(2026, 3, 15)) == (date(2025, 4, 1), date(2026, 3, 15))


def test_custom_range_is_taken_as_given_and_put_in_order() -> None:
    assert preset_range("custom", LATEST, custom=(date(2026, 3, 1), date(2026, 3, 31))) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    assert preset_range("custom", LATEST, custom=(date(2026, 3, 31), date(2026, 3, 1)))[0] == date(
        2026, 3, 1
    )


def test_no_data_means_no_range() -> None:
    assert all(preset_range(p, None) == (None, None) for p in PRESETS)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(InvalidChoice, match="unknown period"):
        preset_range("fortnight", LATEST)
