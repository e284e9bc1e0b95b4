"""The words of ordinal survey scales (kpi.store.scales)."""

from __future__ import annotations

from kpi.store.connection import Store
from kpi.store.scales import record_scale_labels, scale_labels, score_choices


def test_the_words_of_a_scale_are_kept_by_source_and_score_and_replaced_when_reworded(
    store: Store,
) -> None:
    cur = store.cursor()
    record_scale_labels(cur, "survey_a", "csat", ["Bad", "OK", "Good"])
    record_scale_labels(cur, "survey_a", "ces", ["Hard", "Easy"])
    assert scale_labels(store, "csat") == {1.0: "Bad", 2.0: "OK", 3.0: "Good"}
    record_scale_labels(cur, "survey_a", "csat", ["Poor", "Great"])
    assert scale_labels(store, "csat") == {1.0: "Poor", 2.0: "Great"}
    assert scale_labels(store, "ces") == {1.0: "Hard", 2.0: "Easy"}
    assert scale_labels(store, "nps") == {}


def test_two_sources_wording_one_point_differently_show_both_words(store: Store) -> None:
    cur = store.cursor()
    record_scale_labels(cur, "a", "csat", ["Bad", "Good"])
    record_scale_labels(cur, "b", "csat", ["Bad", "Fine"])
    assert scale_labels(store, "csat") == {1.0: "Bad", 2.0: "Fine / Good"}


def test_a_slider_shows_each_point_with_its_word_where_it_has_one() -> None:
    assert score_choices({1.0: "Bad", 3.0: "Good"}, 1.0, 4.0) == {
        1.0: "1 · Bad",
        2.0: "2",
        3.0: "3 · Good",
        4.0: "4",
    }
