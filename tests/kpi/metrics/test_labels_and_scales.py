"""What pages read from the registry instead of working it out: a KPI's short label, and the
range a survey-score filter spans."""

from __future__ import annotations

from datetime import datetime

import pytest

from kpi.errors import InvalidChoice
from kpi.metrics.registry import KEYS, PROFILE_ALL, REGISTRY, Context, score_range, short_label
from kpi.metrics.settings import Settings


def test_short_label_is_the_label_of_a_single_variant_kpi():
    assert short_label("first_response_hours") == "First response time"
    assert short_label("resolution_hours", "standard") == "Resolution time"


def test_short_label_names_the_variant_of_a_kpi_with_several():
    assert short_label("fcr", "one_touch") == "FCR (one touch)"
    assert short_label("sla", "source_flag") == "SLA (source flag)"
    assert short_label("fcr") == "FCR"


@pytest.mark.parametrize("settings", [Settings(), Settings(fcr_variant="no_repeat")])
def test_short_label_is_what_the_definition_starts_with(settings):
    context = Context(settings, datetime(2025, 1, 1), frozenset(PROFILE_ALL))
    for key in KEYS:
        variant, _ = REGISTRY[key].choose(context)
        definition = REGISTRY[key].definition(context)
        assert definition.startswith(f"{short_label(key, variant)}: ")


def test_short_label_of_an_unknown_kpi_is_refused():
    with pytest.raises(InvalidChoice, match="unknown KPI 'speed'"):
        short_label("speed")


def test_score_range_without_data_is_the_usual_scale():
    assert score_range("nps") == (0.0, 10.0)
    assert score_range("csat") == (1.0, 5.0)
    assert score_range("ces") == (1.0, 7.0)


def test_score_range_spans_every_scale_the_answers_use():
    # As kpi.engine.breakdowns.score_counts lists them: a 1-2 (Good/Bad) and a 1-10 CSAT.
    assert score_range("csat", ["1-2", "1-10", "1-2"]) == (1.0, 10.0)
    assert score_range("csat", [(0.0, 4.0)]) == (0.0, 4.0)
    assert score_range("ces", ["1-5"]) == (1.0, 5.0)


def test_score_range_refuses_a_kpi_that_is_not_a_score_and_unreadable_scales():
    with pytest.raises(InvalidChoice, match="not a survey score"):
        score_range("fcr")
    with pytest.raises(InvalidChoice, match="low-high"):
        score_range("csat", ["five"])
