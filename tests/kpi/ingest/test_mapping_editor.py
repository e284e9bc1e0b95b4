"""What the mapping editor's boxes say, read into a mapping's values (kpi.ingest.mapping_editor)."""

from __future__ import annotations

import pytest

from kpi.errors import ImportProblem
from kpi.ingest.mapping_editor import labels_from_text, scale_from_text, words


@pytest.mark.parametrize(
    ("text", "scale"),
    [("", None), ("1-5", (1.0, 5.0)), (" 0 to 10 ", (0.0, 10.0)),
     ("Bad, OK, Good", ("Bad", "OK", "Good")), ("Very hard,Hard, Easy ", ("Very hard", "Hard", "Easy"))],
)  # fmt: skip
def test_a_scale_is_numbers_low_to_high_or_answer_words_lowest_first(text, scale):
    assert scale_from_text("csat", text) == scale


@pytest.mark.parametrize(
    ("text", "line"),
    [("5-1", "csat scale '5-1': the low end must come first, e.g. 1-5."),
     ("Good", "csat scale 'Good': give numbers such as 1-5, or two or more answer words lowest "
              "first, such as Bad, OK, Good.")],
)  # fmt: skip
def test_a_scale_typed_wrongly_says_what_to_type(text, line):
    with pytest.raises(ImportProblem) as caught:
        scale_from_text("csat", text)
    assert str(caught.value) == line


def test_labels_map_words_to_scores_and_an_empty_score_is_not_an_answer():
    assert labels_from_text("csat", "Good = 2, Bad=1, Offered =") == {
        "Good": 2.0,
        "Bad": 1.0,
        "Offered": None,
    }
    assert labels_from_text("csat", "") == {}


@pytest.mark.parametrize(
    ("text", "said"),
    [("Good", "write word = score"), ("Good = great", "'great' is not a number"),
     ("= 2", "write word = score"), ("Good = inf", "finite number")],
)  # fmt: skip
def test_labels_typed_wrongly_are_one_line(text, said):
    with pytest.raises(ImportProblem) as caught:
        labels_from_text("csat", text)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_missing_cells_are_comma_separated_words():
    assert words(" NA, -, ,n/a ") == ("NA", "-", "n/a")
