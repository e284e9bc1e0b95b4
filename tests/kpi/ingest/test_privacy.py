"""Personal data never reaches the store: ids become keyed hashes, free text loses emails,
phone numbers and card numbers, the same way in SQL (at import) and in Python."""

from __future__ import annotations

import duckdb
import pytest

from kpi.ingest.parsing import Params
from kpi.ingest.privacy import pseudonym, pseudonym_sql, scrub, scrub_sql

SCRUBBED = [
    ("write to jane.doe@example.com today", "write to [email removed] today"),
    ("b.smith+help@example.co.uk", "[email removed]"),
    ("O'Neil@mail.example.org asked", "[email removed] asked"),
    ("call 07700 900123 please", "call [phone removed] please"),
    ("ring +44 20 7946 0958", "ring [phone removed]"),
    ("ring +44 (0)20 7946 0958", "ring [phone removed]"),
    ("mobile (07700) 900456", "mobile [phone removed]"),
    ("office 0113 496 0123.", "office [phone removed]."),
    ("tel:07700900123", "tel:[phone removed]"),
    ("card 4111 1111 1111 1111 declined", "card [number removed] declined"),
    ("card 5500-0000-0000-0004", "card [number removed]"),
    ("card 4111111111111111", "card [number removed]"),
    ("a@b.co and 07700 900999", "[email removed] and [phone removed]"),
    ("call 07700  900123 or 07700 - 900124", "call [phone removed] or [phone removed]"),
    ("US +1 415-555-0100", "US [phone removed]"),
    ("on 2025-03-03 10:40 call 07700 900123", "on 2025-03-03 10:40 call [phone removed]"),
    ("card 4111-1111-1111-1111 on 03.03.2025", "card [number removed] on 03.03.2025"),
    # Phone numbers written like dates are still phone numbers.
    ("ring +44-20-7946-0958", "ring [phone removed]"),
    ("ring 44-20-7946-0958", "ring [phone removed]"),
    ("appelez 06.12.34.56.78", "appelez [phone removed]"),
    ("ring 01-23-4567 89", "ring [phone removed]"),
    ("ring 12-03-2025-4567", "ring [phone removed]"),
]
KEPT = [
    "order 1234 is late",
    "Refund of £49.99 for 2 items",
    "Meter reading 004512 taken",
    "at 10:30 on Monday",
    "see ticket #4512",
    "the @team handle",
    "paid on 2025-03-03, refunded 2025-03-10",
    "opened 2025-03-03 10:40, chased 2025-03-04T09:15:00",
    "visit on 03.03.2025 10:40 and 04-03-2025 11:15",
    "from 2025-03-03 to 2025-03-04 09:15, and 12/03/2025 10:40",
    "rooms 1 2 3 4 5 checked",
    "Café, naïve; “quoted”",
    "",
]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def pseudonym_sql_value(con, key: str, value: str | None) -> str | None:
    p = Params()
    return con.execute(f"SELECT {pseudonym_sql(p(value), key, p)}", p.values).fetchone()[0]


@pytest.mark.parametrize(("text", "expected"), SCRUBBED)
def test_emails_phones_and_card_numbers_are_replaced_by_markers(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_words_and_short_numbers_are_kept(text):
    assert scrub(text) == text


@pytest.mark.parametrize("text", [t for t, _ in SCRUBBED] + KEPT)
def test_sql_and_python_scrub_the_same_way(con, text):
    p = Params()
    value = p(text)
    assert con.execute(f"SELECT {scrub_sql(value, p)}", p.values).fetchone()[0] == scrub(text)


def test_pseudonyms_are_stable_per_key_and_differ_between_keys(con):
    first = pseudonym_sql_value(con, "k1", "jane.doe@example.com")
    assert first == pseudonym_sql_value(con, "k1", "jane.doe@example.com")
    assert first != pseudonym_sql_value(con, "k1", "john@example.com")
    assert first != pseudonym_sql_value(con, "k2", "jane.doe@example.com")
    assert len(first) == 16 and "jane" not in first
    assert pseudonym_sql_value(con, "k1", None) is None  # no customer, no key


def test_the_pseudonym_key_is_a_parameter_not_sql_text(con):
    assert pseudonym_sql_value(con, "x' || 'y", "c1") == pseudonym_sql_value(con, "x' || 'y", "c1")


@pytest.mark.parametrize("value", ["jane.doe@example.com", "CUST-1", "Caller 2403", "ü ß"])
def test_the_python_pseudonym_is_the_sql_one(con, value):
    assert pseudonym(value, "store-key") == pseudonym_sql_value(con, "store-key", value)
