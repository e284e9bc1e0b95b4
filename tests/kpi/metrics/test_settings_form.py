"""The Settings page's tables round-trip to Settings, and bad SLA targets are refused."""

from __future__ import annotations

import pytest

from kpi.errors import InvalidChoice
from kpi.metrics.settings import Settings
from kpi.metrics.settings_form import (
    BETTER,
    FIRST_RESPONSE,
    PRIORITY,
    RESOLUTION,
    TARGET,
    choice_words,
    setting_keys,
    settings_from_tables,
    sla_table,
    targets_table,
    with_settings,
)
from kpi.store import viewer
from kpi.store.connection import open_store
from tests.kpi.engine.test_tables import RAW_KEY


def test_tables_round_trip() -> None:
    settings = Settings()
    back = settings_from_tables(settings, targets_table(settings), sla_table(settings))
    assert back == settings


def test_an_edited_target_and_sla_policy() -> None:
    settings = Settings()
    targets, sla = targets_table(settings), sla_table(settings)
    targets.loc["first_response_hours", [TARGET, BETTER]] = [4.0, "lower"]
    targets.loc["nps", TARGET] = None  # no target any more
    sla.loc[sla[PRIORITY] == "urgent", FIRST_RESPONSE] = 0.5
    changed = settings_from_tables(settings, targets, sla)
    assert changed.targets["first_response_hours"].value == 4.0
    assert changed.targets["first_response_hours"].direction == "lower"
    assert "nps" not in changed.targets
    assert changed.sla_targets["urgent"].first_response_hours == 0.5


def test_a_missing_sla_target_is_refused() -> None:
    sla = sla_table(Settings())
    sla.loc[sla[PRIORITY] == "low", RESOLUTION] = None
    with pytest.raises(InvalidChoice, match="low priority"):
        settings_from_tables(Settings(), targets_table(Settings()), sla)


def test_the_tables_a_person_edits_show_words_not_keys() -> None:
    targets, sla = targets_table(Settings()), sla_table(Settings())
    shown = [*targets.columns, *sla.columns, *targets.astype(str).to_numpy().ravel()]
    assert not [text for text in map(str, shown) if RAW_KEY.match(text)]
    assert targets.loc["first_response_hours", "KPI"] == "First response time"
    assert targets.loc["csat", "Unit"] == "% (0-100)"
    assert list(sla.columns) == ["Priority", "First response (hours)", "Resolution (hours)"]


def test_every_choice_on_the_settings_page_reads_as_words() -> None:
    from kpi.metrics.business_hours import REGIONS
    from kpi.metrics.settings import CSAT_RULES, FCR_VARIANTS, HOURS

    for choice in ("auto", *FCR_VARIANTS, *HOURS, *REGIONS):
        assert not RAW_KEY.match(choice_words(choice)) and choice_words(choice)[0].isupper()
    assert choice_words("one_touch").startswith("One touch")
    assert choice_words("england-and-wales") == "England and Wales"
    assert [choice_words(r, "csat_rule").split(":")[0] for r in CSAT_RULES] == [
        "Automatic", "Top box", "Top two"]  # fmt: skip


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


# --- every setting by key (`kpi settings`, `kpi report --set`) ----------------------------------


def test_every_plain_setting_has_a_key_with_words_and_allowed_values() -> None:
    from dataclasses import fields

    keys = setting_keys(Settings())
    compound = {"sla_targets", "sla_channel_targets", "business_hours", "targets"}
    for f in fields(Settings):
        if f.name not in compound:
            assert f.name in keys, f.name
    for key in keys.values():
        assert key.description.endswith(".") and key.allowed, key.key
        assert key.value(Settings()) == key.default(), key.key
    assert {"sla_targets.urgent.resolution_hours", "targets.csat", "targets.csat.direction",
            "business_hours.saturday", "business_hours.region"} <= set(keys)  # fmt: skip


def test_setting_keys_read_and_change_values() -> None:
    s = with_settings(
        Settings(),
        [
            "sla_variant=source_flag",
            "minimum_n = 12",
            "sla_targets.urgent.resolution_hours=6",
            "targets.csat=80",
            "targets.fcr=no target",
            "business_hours.saturday=09:00-13:00",
            "business_hours.friday=closed",
            "sla_channel_targets.chat.urgent=0.5/4",
        ],
    )
    assert s.sla_variant == "source_flag" and s.minimum_n == 12
    assert s.sla_targets["urgent"].resolution_hours == 6.0
    assert s.sla_targets["urgent"].first_response_hours == 1.0  # untouched
    assert s.targets["csat"].value == 80.0 and "fcr" not in s.targets
    assert s.calendar().weekly[5] == ("09:00", "13:00") and 4 not in s.calendar().weekly
    assert s.sla_channel_targets["chat"]["urgent"].resolution_hours == 4.0
    keys = setting_keys(s)
    assert keys["sla_channel_targets.chat.urgent"].value(s) == "0.5/4"
    assert keys["targets.fcr"].value(s) == "no target"
    assert keys["business_hours.friday"].value(s) == "closed"


def test_the_time_zone_moves_the_business_hours_with_it() -> None:
    s = with_settings(Settings(), ["business_hours.saturday=10:00-12:00", "timezone=Europe/Dublin"])
    assert s.timezone == "Europe/Dublin" and s.calendar().timezone == "Europe/Dublin"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("sla_variant=flag", "sla_variant cannot be 'flag'; allowed: auto, targets, source_flag"),
        ("minimum_n=abc", "minimum_n cannot be 'abc' (not a whole number); allowed: a whole"),
        (
            "minimum_n=0",
            "minimum_n cannot be '0' (minimum_n must be a whole number from 1 to 100000)",
        ),
        ("service_level_seconds=0", "allowed: seconds, more than 0"),
        ("business_hours.monday=17:00-09:00", "Opening time 17:00 must be before closing"),
        ("timezone=Mars/Olympus", "timezone cannot be 'Mars/Olympus'"),
        ("targets.csat.direction=up", "allowed: higher, lower"),
        ("targets.ces.direction=lower", "set its value first"),
        ("sla_channel_targets.chat.urgent=fast", "allowed: FIRST/RESOLUTION hours"),
        ("minimum_n", "is not KEY=VALUE"),
        ("minimun_n=3", "there is no setting 'minimun_n'; did you mean minimum_n?"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_what_is_allowed(assignment, message) -> None:
    with pytest.raises(InvalidChoice) as raised:
        with_settings(Settings(), [assignment])
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_sla_choice_reads_as_words() -> None:
    assert choice_words("source_flag", "sla_variant") == "The source system's own SLA flag"
    assert choice_words("auto", "sla_variant") == "Automatic: the targets, else the flag"
