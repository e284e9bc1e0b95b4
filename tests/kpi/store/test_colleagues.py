"""The words for colleagues, in one place: counted in a list of agents, "a colleague" in text."""

from __future__ import annotations

import pytest

from kpi.store.colleagues import ONE_COLLEAGUE, agents_phrase, colleagues_phrase, in_a_sentence


@pytest.mark.parametrize(
    ("agents", "me", "words"),
    [
        (("Amelia Booth", "Daniel Haigh"), "Amelia Booth", "Amelia Booth and one colleague"),
        (("Daniel Haigh", "Rhys Pritchard", "Daniel Haigh"), "Amelia Booth", "two colleagues"),
        (("Amelia Booth",), "Amelia Booth", "Amelia Booth"),
        (("Daniel Haigh",), None, "one colleague"),
    ],
)
def test_the_learner_is_named_and_colleagues_are_counted_never_named(agents, me, words):
    assert agents_phrase(agents, me) == words


def test_one_colleague_reads_as_a_colleague_in_a_sentence_and_is_counted_in_a_list():
    assert (in_a_sentence(1), colleagues_phrase(1)) == (ONE_COLLEAGUE, "one colleague")
    assert in_a_sentence(3) == colleagues_phrase(3) == "three colleagues"
    assert colleagues_phrase(11) == "11 colleagues"
