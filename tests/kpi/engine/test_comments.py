"""Comment search: words (any case, all of them), score range, category through the contact,
newest first; search text is a value, never SQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from kpi.engine.comments import search
from kpi.engine.filters import Filters
from kpi.store.connection import open_store


@pytest.fixture
def store():
    store = open_store(":memory:")
    cur = store.cursor()
    cur.execute(
        "INSERT INTO contacts (source, contact_id, opened_at, category, channel) VALUES "
        "('t', 'c1', '2026-03-02 10:00', 'Billing', 'email'), "
        "('t', 'c2', '2026-03-03 10:00', 'Faults', 'phone')"
    )
    rows = [
        ("r1", "c1", datetime(2026, 3, 4, 9), 2, "My BILL went up"),
        ("r2", "c2", datetime(2026, 3, 5, 9), 9, "Engineer fixed the fault, bill fine"),
        ("r3", "c1", datetime(2026, 4, 1, 9), 10, "Great help with my bill"),
        ("r4", "c2", datetime(2026, 3, 6, 9), 5, None),
    ]
    for rid, cid, when, nps, comment in rows:
        cur.execute(
            "INSERT INTO responses (source, response_id, contact_id, responded_at, nps, comment) "
            "VALUES ('t', ?, ?, ?, ?, ?)",
            [rid, cid, when, nps, comment],
        )
    yield store
    store.close()


MARCH = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


def test_words_any_case_newest_first_within_the_period(store) -> None:
    found = search(store, MARCH, "bill")
    assert list(found.comment) == ["Engineer fixed the fault, bill fine", "My BILL went up"]


def test_every_word_must_appear(store) -> None:
    assert list(search(store, Filters(), "bill great").comment) == ["Great help with my bill"]


def test_score_range_and_category_from_the_linked_contact(store) -> None:
    detractors = search(store, MARCH, score="nps", score_range=(0, 6))
    assert list(detractors.comment) == ["My BILL went up"]
    billing = search(store, Filters(category=("Billing",)))
    assert set(billing.category) == {"Billing"} and len(billing) == 2


def test_search_text_is_a_value_not_sql(store) -> None:
    assert search(store, Filters(), "'; DROP TABLE responses; --").empty
    assert store.count("responses") == 4


def test_empty_store_and_bad_score(store) -> None:
    assert search(open_store(":memory:"), Filters(), "x").empty
    with pytest.raises(ValueError, match="no score"):
        search(store, Filters(), score="stars", score_range=(1, 2))
