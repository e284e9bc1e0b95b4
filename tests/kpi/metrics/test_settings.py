"""KPI definitions: the documented defaults (README glossary), validation, and the round trip through the store."""

from __future__ import annotations

import pytest

from kpi.errors import InvalidChoice
from kpi.metrics.business_hours import BusinessHours
from kpi.metrics.settings import (
    SETTINGS_KEY,
    KpiTarget,
    Settings,
    SlaTarget,
    load_settings,
    save_settings,
)
from kpi.store.connection import open_store


def test_defaults_are_the_designed_ones():
    s = Settings()
    assert s.fcr_variant == "auto" and s.fcr_repeat_window_days == 7
    assert s.csat_rule == "auto" and s.ces_easy_top == 3
    assert s.short_abandon_seconds == 5 and s.service_level_seconds == 20
    assert s.sla_targets == {
        "urgent": SlaTarget(1, 8),
        "high": SlaTarget(4, 16),
        "normal": SlaTarget(8, 40),
        "low": SlaTarget(16, 80),
    }
    assert s.hours == "business" and s.timezone == "Europe/London" and s.minimum_n == 30
    assert s.targets["abandonment_rate"] == KpiTarget(5, "lower")
    assert s.calendar() == BusinessHours()
    assert s.hours_label() == (
        "business hours (Mon-Fri 09:00-17:00 Europe/London, england-and-wales bank holidays)"
    )


def test_round_trip_through_the_store():
    store = open_store(":memory:")
    assert load_settings(store) == Settings()  # nothing saved yet: defaults
    chosen = Settings(
        fcr_variant="no_repeat",
        fcr_repeat_window_days=3,
        sla_channel_targets={"phone": {"urgent": (0.5, 2)}},
        business_hours=BusinessHours(weekly={0: ("08:00", "18:00")}, region="scotland").to_dict(),
        targets={"csat": {"value": 90, "direction": "higher"}},
    )
    save_settings(store, chosen)
    loaded = load_settings(store)
    assert loaded == chosen
    assert loaded.sla_channel_targets["phone"]["urgent"] == SlaTarget(0.5, 2)
    assert loaded.calendar().region == "scotland"
    assert "Mon 08:00-18:00" in loaded.hours_label()


def test_partial_and_unknown_keys_keep_defaults():
    store = open_store(":memory:")
    store.set_setting(SETTINGS_KEY, {"minimum_n": 10, "from_a_newer_version": True})
    s = load_settings(store)
    assert s.minimum_n == 10 and s.fcr_variant == "auto"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fcr_variant": "fast"}, "fcr_variant 'fast'"),
        ({"sla_variant": "flag"}, "sla_variant 'flag' is not one of auto, targets, source_flag"),
        ({"csat_rule": "mean"}, "csat_rule"),
        ({"hours": "office"}, "hours"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"sla_targets": {"critical": (1, 2)}}, "SLA target priority 'critical'"),
        ({"sla_channel_targets": {"fax": {"low": (1, 2)}}}, "SLA target channel 'fax'"),
        ({"ces_easy_top": 7}, "ces_easy_top"),
        ({"minimum_n": 0}, "minimum_n"),
        ({"minimum_n": 10**20}, "minimum_n must be a whole number from 1 to 100000"),
        ({"targets": {"nps": {"value": 150}}}, r"nps target must be between -100 and \+100"),
        ({"targets": {"csat": {"value": -1}}}, r"csat target must be between 0 and 100 \(%\)"),
        (
            {"sla_targets": {"normal": (1e308, 40)}},
            r"normal first response target must be more than 0 and at most 8760 hours",
        ),
        ({"sla_targets": {"normal": (8, 0)}}, "normal resolution target must be more than 0"),
        ({"sla_channel_targets": {"chat": {"low": (1, 9000)}}}, "chat low resolution target"),
        ({"targets": {"csat": {"value": 80, "direction": "up"}}}, "direction"),
    ],
)
def test_invalid_settings_are_refused_with_a_message(change, message):
    with pytest.raises(InvalidChoice, match=message):
        Settings(**change)


def test_sla_target_lookup():
    s = Settings(sla_channel_targets={"phone": {"urgent": (0.25, 1)}})
    assert s.sla_target("urgent", "phone") == SlaTarget(0.25, 1)
    assert s.sla_target("urgent", "email") == SlaTarget(1, 8)
    assert s.sla_target(None) == SlaTarget(8, 40)  # no priority: the default priority's
    assert Settings(sla_default_priority="low").sla_target(None) == SlaTarget(16, 80)


def test_a_kpi_without_a_target_has_no_target_value() -> None:
    settings = Settings(targets={"csat": KpiTarget(85, "higher")})
    assert settings.target_value("csat") == 85
    assert settings.target_value("contacts") is None


def test_targets_at_the_ends_of_their_kpis_range_are_kept():
    settings = Settings(
        targets={"nps": {"value": -100}, "csat": {"value": 100}},
        sla_targets={"normal": (8760, 8760)},
        minimum_n=100_000,
    )
    assert settings.target_value("nps") == -100 and settings.minimum_n == 100_000
