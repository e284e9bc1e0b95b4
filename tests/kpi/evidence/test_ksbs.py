"""The KSBs a reflection can be mapped to come from the catalogue, its learner's standard only."""

from __future__ import annotations

from kpi.evidence.ksbs import LEVEL_STANDARD, catalogue, ksbs_for


def test_the_learners_own_standard_comes_first() -> None:
    offered = ksbs_for(None, LEVEL_STANDARD[2], 2)
    own = [k for k in catalogue() if k.standard == LEVEL_STANDARD[2]]
    assert own and offered[: len(own)] == own


def test_only_the_learners_own_standard_is_offered() -> None:
    for standard in ("ST0072", "ST0071", "ST0384"):
        offered = ksbs_for(None, standard, 3)
        assert offered and {k.standard for k in offered} == {standard}
        assert len({k.ref for k in offered}) == len(offered)  # each KSB once
