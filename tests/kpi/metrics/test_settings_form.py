"""The Settings page's tables round-trip to Settings, and bad SLA targets are refused."""

from __future__ import annotations

import pytest

from kpi.errors import InvalidChoice
from kpi.metrics.settings import Settings
from kpi.metrics.settings_form import settings_from_tables, sla_table, targets_table
from kpi.store import viewer
from kpi.store.connection import open_store


def test_tables_round_trip() -> None:
    settings = Settings()
    back = settings_from_tables(settings, targets_table(settings), sla_table(settings))
    assert back == settings


def test_an_edited_target_and_sla_policy() -> None:
    settings = Settings()
    targets, sla = targets_table(settings), sla_table(settings)
    targets.loc[targets.key == "first_response_hours", ["target", "direction"]] = [4.0, "lower"]
    targets.loc[targets.key == "nps", "target"] = None  # no target any more
    sla.loc[sla.priority == "urgent", "first response (hours)"] = 0.5
    changed = settings_from_tables(settings, targets, sla)
    assert changed.targets["first_response_hours"].value == 4.0
    assert changed.targets["first_response_hours"].direction == "lower"
    assert "nps" not in changed.targets
    assert changed.sla_targets["urgent"].first_response_hours == 0.5


def test_a_missing_sla_target_is_refused() -> None:
    sla = sla_table(Settings())
    sla.loc[sla.priority == "low", "resolution (hours)"] = None
    with pytest.raises(InvalidChoice, match="low priority"):
        settings_from_tables(Settings(), targets_table(Settings()), sla)


def test_this_is_me_is_kept_and_cleared() -> None:
    store = open_store(":memory:")
    assert viewer.me(store) is None
    viewer.set_me(store, "Bethan Morgan")
    assert viewer.me(store) == "Bethan Morgan"
    viewer.set_me(store, None)
    assert viewer.me(store) is None


def test_business_hours_from_the_form() -> None:
    from datetime import time

    from kpi.metrics.settings_form import business_hours

    hours = business_hours((time(8), time(20)), (time(9), time(13)), "scotland", "Europe/London")
    assert hours["weekly"]["0"] == ["08:00", "20:00"] and hours["weekly"]["5"] == ["09:00", "13:00"]
    assert "6" not in hours["weekly"]
    closed = business_hours((time(9), time(17)), None, "none", "Europe/London")
    assert Settings(business_hours=closed).calendar().weekly.get(5) is None
