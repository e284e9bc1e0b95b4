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
    settings_from_tables,
    sla_table,
    targets_table,
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
