"""Annotations are stored, listed by date, filtered by a range and deleted; text stays text."""

from __future__ import annotations

from datetime import date

import pytest

from kpi.errors import InvalidChoice
from kpi.store import annotations
from kpi.store.connection import open_store


@pytest.fixture
def store():
    store = open_store(":memory:")
    yield store
    store.close()


def test_add_list_and_delete(store) -> None:
    later = annotations.add(store, date(2026, 3, 3), "  New refund   process ")
    earlier = annotations.add(store, date(2026, 1, 12), "Knowledge base relaunched")
    assert [a.text for a in annotations.all_annotations(store)] == [
        "Knowledge base relaunched",
        "New refund process",
    ]
    assert annotations.between(store, date(2026, 2, 1), None) == [later]
    assert annotations.between(store, None, date(2026, 2, 1)) == [earlier]
    annotations.delete(store, earlier.annotation_id)
    assert annotations.all_annotations(store) == [later]


def test_text_that_looks_like_sql_or_html_is_kept_verbatim(store) -> None:
    text = "'); DROP TABLE contacts; -- <script>alert(1)</script>"
    annotations.add(store, date(2026, 3, 3), text)
    assert annotations.all_annotations(store)[0].text == text
    assert store.count("contacts") == 0  # the table is still there


@pytest.mark.parametrize("text", ["", "   ", "x" * (annotations.MAX_TEXT + 1)])
def test_empty_or_long_text_is_refused_as_an_invalid_choice(store, text: str) -> None:
    with pytest.raises(InvalidChoice):
        annotations.add(store, date(2026, 3, 3), text)
