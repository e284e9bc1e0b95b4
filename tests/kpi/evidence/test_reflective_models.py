"""HEAT and LATER: LATER follows the revision notes' wording by default, and a learner edits
either model as plain lines ("Label: question") without losing what they wrote under a step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kpi.errors import InvalidChoice
from kpi.evidence import reflective_models
from kpi.store.connection import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "m.duckdb")
    yield s
    s.close()


def test_later_reads_listen_apologise_thank_explain_or_empathise_resolve() -> None:
    steps = reflective_models.complaint_models()["LATER"]
    assert [label for _, label, _ in steps] == [
        "Listen",
        "Apologise",
        "Thank",
        "Explain / Empathise",
        "Resolve",
    ]
    keys = [k for k, _, _ in reflective_models.prompts("Gibbs", 2, complaint=True)]
    assert [k for k in keys if k.startswith("later.")] == [
        "later.listen",
        "later.apologise",
        "later.thank",
        "later.explain",
        "later.resolve",
    ]


def test_a_learner_rewrites_later_as_lines_and_keeps_the_other_model(store: Store) -> None:
    text = reflective_models.model_text("LATER", store)
    assert text.splitlines()[2] == "Thank: How did you thank the customer for raising it?"
    edited = text.replace("Explain / Empathise", "Empathise").replace(
        "Thank: How did you thank the customer for raising it?", "Thank: Did you say thanks?"
    )
    steps = reflective_models.save_model_text(store, "LATER", edited)
    assert steps[2] == ["thank", "Thank", "Did you say thanks?"]
    assert steps[3][:2] == ["explain", "Empathise"]  # same place, same key: the text stays
    models = reflective_models.complaint_models(store)
    assert models["HEAT"] == reflective_models.DEFAULT_COMPLAINT_MODELS["HEAT"]
    prompts = reflective_models.prompts("Gibbs", 2, store=store, complaint=True)
    assert ("later.thank", "LATER: Thank", "Did you say thanks?") in prompts


def test_a_line_without_a_label_is_refused_in_one_line(store: Store) -> None:
    with pytest.raises(InvalidChoice) as refused:
        reflective_models.save_model_text(store, "LATER", "Listen: fine\njust a question")
    assert str(refused.value) == (
        "LATER, line 2: write each step as 'Label: the question to answer'"
    )
    with pytest.raises(InvalidChoice, match="unknown model 'LEARN'"):
        reflective_models.model_text("LEARN", store)
