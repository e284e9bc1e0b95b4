"""Private by default: customer ids become keyed hashes; free text loses emails, phones, cards.

Both run as SQL over whole columns at import, so no personal value is ever stored.
"""

from __future__ import annotations

import hashlib
import re

from kpi.ingest.parsing import Params

# RE2 (DuckDB) and Python's re agree on these patterns; tests check both.
EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
# Card-like: 13-19 digits, optionally grouped by spaces or dashes.
CARD = r"\b(?:[0-9][ -]?){12,18}[0-9]\b"
# Phone numbers: +44 / 0 prefixed UK numbers and other international forms, 9+ digits in all
# (up to three spaces, dots or dashes between two), so dates and short lists of numbers are kept;
# an area code in brackets, "(07700) 900456", counts towards them, and "+44 (0)20 ..." is whole.
PHONE = (
    r"(?:\+[0-9]{1,3}[ .-]?(?:\(0\)[ .-]?)?)?"
    r"(?:\(0?[0-9]{2,5}\)[ .-]?[0-9](?:[ .-]{0,3}[0-9]){5,}|[0-9](?:[ .-]{0,3}[0-9]){8,})"
)

REPLACEMENTS = ((EMAIL, "[email removed]"), (CARD, "[number removed]"), (PHONE, "[phone removed]"))
# A date and time has as many digits as a phone number ("2025-03-03 10:40", "03.03.2025 10:40"):
# the separators of a real date (day and month 1-31, year 19xx or 20xx, not run on by another
# "-digit" group as a phone number would be) are swapped for placeholders the phone pattern does
# not join on, and put back after, so dates in text survive scrubbing whole and phone numbers
# written like dates ("+44-20-7946-0958", "06.12.34.56.78") do not.
_DAY = "(0?[1-9]|[12][0-9]|3[01])"
_YEAR = "((?:19|20)[0-9]{2})"
_END = "($|[^-.0-9]|[-.][^0-9])"  # what follows: not another digit group
DATE_GUARDS = (
    (rf"\b{_YEAR}-{_DAY}-{_DAY}{_END}", "\\1\x01\\2\x01\\3\\4"),
    (rf"\b{_DAY}-{_DAY}-{_YEAR}{_END}", "\\1\x01\\2\x01\\3\\4"),
    (rf"\b{_DAY}\.{_DAY}\.{_YEAR}{_END}", "\\1\x02\\2\x02\\3\\4"),
)
PLACEHOLDERS = (("\x01", "-"), ("\x02", "."))
HASH_LENGTH = 16


def scrub_sql(value: str, p: Params) -> str:
    """An expression for ``value`` with personal data patterns replaced by markers."""
    for pattern, guarded in DATE_GUARDS:
        value = f"regexp_replace({value}, {p(pattern)}, {p(guarded)}, 'g')"
    for pattern, marker in REPLACEMENTS:
        value = f"regexp_replace({value}, {p(pattern)}, {p(marker)}, 'g')"
    for placeholder, separator in PLACEHOLDERS:
        value = f"replace({value}, {p(placeholder)}, {p(separator)})"
    return value


def scrub(text: str) -> str:
    """The same scrubbing in Python, for text that never passes through the store."""
    for pattern, guarded in DATE_GUARDS:
        text = re.sub(pattern, guarded, text)
    for pattern, marker in REPLACEMENTS:
        text = re.sub(pattern, marker, text)
    for placeholder, separator in PLACEHOLDERS:
        text = text.replace(placeholder, separator)
    return text


def pseudonym(value: str | None, key: str) -> str | None:
    """``pseudonym_sql`` in Python, for values that never pass through the store's SQL."""
    if value is None:
        return None
    return hashlib.sha256(f"{key}|{value}".encode()).hexdigest()[:HASH_LENGTH]


def pseudonym_sql(value: str, key: str, p: Params) -> str:
    """A keyed hash of a customer id: stable within one store, meaningless outside it."""
    return f"left(sha256({p(key)} || '|' || {value}), {HASH_LENGTH})"
