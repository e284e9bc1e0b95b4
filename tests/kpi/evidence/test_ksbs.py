"""The KSBs a reflection can be mapped to come from the catalogue and the learner's level."""

from __future__ import annotations

from kpi.evidence.ksbs import LEVEL_STANDARD, catalogue, ksbs_for


def test_the_learners_own_standard_comes_first() -> None:
    offered = ksbs_for(None, LEVEL_STANDARD[2], 2)
    own = [k for k in catalogue() if k.standard == LEVEL_STANDARD[2]]
    assert own and offered[: len(own)] == own


def test_a_level_3_learner_is_not_offered_level_2_wording() -> None:
    offered = ksbs_for(None, LEVEL_STANDARD[3], 3)
    assert offered and all(k.level >= 3 for k in offered)
    assert {k.standard for k in offered} > {LEVEL_STANDARD[3]}  # other Level 3 standards too


def test_a_level_2_learner_may_stretch_to_level_3_ksbs() -> None:
    offered = ksbs_for(None, LEVEL_STANDARD[2], 2)
    assert any(k.level == 3 for k in offered)
    assert len({k.ref for k in offered}) == len(offered)  # each KSB once
