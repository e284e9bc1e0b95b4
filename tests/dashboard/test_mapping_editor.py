"""The Data page's mapping editor for survey answers: each score's scale (numbers or answer
words), its labels and the cells that mean missing, written into the mapping it imports with."""

from __future__ import annotations

from pathlib import Path

from dashboard import data
from tests.dashboard.test_markdown_names import shown

PAGE = "views/data.py"
SURVEY = (
    b"Id,Answered,Satisfaction,Effort\n"
    b"R1,2025-03-03 09:00,Good,2\n"
    b"R2,2025-03-04 10:00,Bad,n/a\n"
    b"R3,2025-03-05 11:00,OK,5\n"
    b"R4,2025-03-06 12:00,Offered,3\n"
)


def _responses_editor(at):
    at.file_uploader(key="uploads").set_value(("survey.csv", SURVEY, "text/csv")).run()
    at.radio(key="map_kind").set_value("responses").run()
    at.selectbox(key="map_responses_response_id").set_value("Id")
    at.selectbox(key="map_responses_responded_at").set_value("Answered")
    at.selectbox(key="map_responses_csat").set_value("Satisfaction")
    at.selectbox(key="map_responses_ces").set_value("Effort").run()
    return at


def test_the_editor_for_answers_runs_with_one_box_per_field(app_for, tmp_path: Path) -> None:
    at = _responses_editor(app_for(tmp_path / "store.duckdb", PAGE))
    assert not at.exception, [e.value for e in at.exception]
    keys = [w.key for w in [*at.selectbox, *at.text_input] if w.key]
    assert len(keys) == len(set(keys))
    # Each score picked gets its scale and labels; the cells meaning missing are asked once.
    assert at.text_input(key="map_responses_csat_scale").value == "1-5"
    assert at.text_input(key="map_responses_ces_scale").value == "1-7"
    assert "map_responses_nps_scale" not in keys
    assert "map_nulls" in keys


def test_a_scale_of_words_labels_and_missing_cells_import_as_written(
    app_for, tmp_path: Path
) -> None:
    db = tmp_path / "store.duckdb"
    at = _responses_editor(app_for(db, PAGE))
    at.text_input(key="map_responses_csat_scale").set_value("Bad, OK, Good")
    at.text_input(key="map_responses_csat_labels").set_value("Offered =")
    at.text_input(key="map_nulls").set_value("n/a").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    toml = at.code[0].value
    assert 'scale = ["Bad", "OK", "Good"]' in toml
    assert 'labels = { "Offered" = "" }' in toml
    assert 'null_values = ["n/a"]' in toml
    at.button(key="map_import").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    said = "\n".join(t.value for t in at.text)
    assert "rows read 4 = imported 4 + quarantined 0" in said
    con = data.store().cursor()  # the app's own connection: the file is open read-write
    answers = con.execute(
        "SELECT response_id, csat, csat_scale_max, ces FROM responses ORDER BY 1"
    ).fetchall()
    words = con.execute("SELECT value, label FROM scale_labels ORDER BY value").fetchall()
    assert answers == [
        ("R1", 3.0, 3.0, 2.0),
        ("R2", 1.0, 3.0, None),  # "n/a" is missing, not an unreadable effort score
        ("R3", 2.0, 3.0, 5.0),
        ("R4", None, 3.0, 3.0),  # "Offered" is not an answer
    ]
    assert words == [(1.0, "Bad"), (2.0, "OK"), (3.0, "Good")]


def test_a_scale_typed_wrongly_is_one_line_saying_what_to_type(app_for, tmp_path: Path) -> None:
    at = _responses_editor(app_for(tmp_path / "store.duckdb", PAGE))
    at.text_input(key="map_responses_csat_scale").set_value("5-1").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [shown(e.value) for e in at.error] == [
        "csat scale '5-1': the low end must come first, e.g. 1-5."
    ]
    at.text_input(key="map_responses_csat_scale").set_value("1-5")
    at.text_input(key="map_responses_csat_labels").set_value("Good = great").run()
    assert [shown(e.value) for e in at.error] == [
        "csat labels 'Good = great': 'great' is not a number."
    ]


def test_a_mapping_not_complete_yet_says_what_it_lacks_instead_of_an_import_button(
    app_for, tmp_path: Path
) -> None:
    at = app_for(tmp_path / "store.duckdb", PAGE)
    at.file_uploader(key="uploads").set_value(("survey.csv", SURVEY, "text/csv")).run()
    assert not at.exception and not at.error
    assert [shown(i.value) for i in at.info if "Not ready" in i.value] == [
        "Not ready to import with yet: mapping.toml: [columns] must map contact_id (it is "
        "required)."
    ]
    assert not [b for b in at.button if b.key == "map_import"]
