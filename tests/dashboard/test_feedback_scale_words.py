"""The Feedback page shows an ordinal scale's words on its score slider (issue 9)."""

from __future__ import annotations

from pathlib import Path

from kpi.ingest.importer import import_file
from kpi.store.connection import open_store

PAGE = "views/feedback.py"
ANSWERS = "Id,Answered,Satisfaction,Comment\n" + "".join(
    f"R{i},2025-03-{3 + i % 20:02d} 10:00,{('Bad', 'OK', 'Good')[i % 3]},comment {i}\n"
    for i in range(30)
)
MAPPING = """kind = "responses"
[columns]
response_id = "Id"
responded_at = "Answered"
comment = "Comment"
[scores.csat]
column = "Satisfaction"
scale = ["Bad", "OK", "Good"]
"""


def test_the_score_slider_shows_the_words_of_a_scale_of_words(app_for, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    (tmp_path / "answers.csv").write_text(ANSWERS)
    (tmp_path / "words.toml").write_text(MAPPING)
    store = open_store(db)
    try:
        import_file(store, tmp_path / "answers.csv", mapping=tmp_path / "words.toml")
    finally:
        store.close()
    at = app_for(db, PAGE)
    at.selectbox(key="comment_score").set_value("csat").run()
    assert not at.exception, [e.value for e in at.exception]
    slider = at.select_slider(key="comment_range")
    assert slider.options == ["1 · Bad", "2 · OK", "3 · Good"]
    assert slider.value == (1.0, 3.0)
    counts = [c.value for c in at.caption if " comments (newest first" in c.value]
    slider.set_range(3.0, 3.0).run()
    assert not at.exception, [e.value for e in at.exception]
    narrowed = [c.value for c in at.caption if " comments (newest first" in c.value]
    assert counts[0].startswith("30 comments") and narrowed[0].startswith("10 comments")
