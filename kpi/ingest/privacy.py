"""Private by default: customer ids become keyed hashes; free text loses what identifies a person.

One rule, two engines: the importer scrubs whole columns in SQL (``scrub_sql``, DuckDB's RE2) so
no personal value is ever stored, and every export scrubs its text again in Python (``scrub``,
the same patterns through ``re``). Free text loses emails, phone and card numbers, account,
order, ticket and reference numbers, bank details, UK postcodes and National Insurance numbers,
and people's names: the names the row itself holds in its name columns (``People``), the
colleagues' names, a title with a surname ("Mrs Okafor"), and a name after an introduction,
a greeting or a sign-off ("my name is Jane Doe", "Hi Sarah", "Regards, Priya Patel"). Each is
replaced by words that read as a sentence ("[account number]", "[name]"), and names side by side
become "[names]". Dates, times, money, percentages and product codes stay.

A kept PII library was considered: Presidio's analyser needs a spaCy model downloaded at run
time (not possible here), and import scrubs in SQL, which a Python library cannot do; these
patterns are written for both engines (no look-around, no back-references) and tests check that
both give the same text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kpi.ingest.parsing import Params

# --- what a name looks like -----------------------------------------------------------------------

#: Latin letters with their accented forms (RE2's \b and [A-Z] are ASCII only).
UPPER = "A-ZÀ-ÖØ-Þ"
LETTER = "A-Za-zÀ-ÖØ-öø-ÿ"
#: A capitalised word ("Jane", "O'Neil", "Jean-Luc", "Zoë") or an initial ("J.").
NAME_WORD = rf"[{UPPER}](?:[{LETTER}'’-]*[{LETTER}]|\.)"
#: One to three such words on one line.
NAME = rf"{NAME_WORD}(?:[ \t]+{NAME_WORD}){{0,2}}"
NAME_MARK = "[name]"

# --- numbers that point at a person's records ----------------------------------------------------

EMAIL = r"[A-Za-z0-9][A-Za-z0-9._%+'-]*@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
# Card-like: 13-19 digits, optionally grouped by spaces or dashes.
CARD = r"\b(?:[0-9][ -]?){12,18}[0-9]\b"
# Phone numbers: +44 / 0 prefixed UK numbers and other international forms, 9+ digits in all
# (up to three spaces, dots or dashes between two), so dates and short lists of numbers are kept;
# an area code in brackets, "(07700) 900456", counts towards them, and "+44 (0)20 ..." is whole.
PHONE = (
    r"(?:\+[0-9]{1,3}[ .-]?(?:\(0\)[ .-]?)?)?"
    r"(?:\(0?[0-9]{2,5}\)[ .-]?[0-9](?:[ .-]{0,3}[0-9]){5,}|[0-9](?:[ .-]{0,3}[0-9]){8,})"
)
NI_NUMBER = r"(?i:\b[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b)"
SORT_CODE = r"(?i:\bsort[ -]?code\b)\s*[:#]?\s*[0-9]{2}[ -]?[0-9]{2}[ -]?[0-9]{2}\b"
# A sort code and an account number side by side, without the words.
BANK_DETAILS = r"\b[0-9]{2}-[0-9]{2}-[0-9]{2}[ \t]*[,/]?[ \t]*[0-9]{8}\b"
# Written in capitals with its space ("SW1A 1AA"), or after the word postcode in any form; the
# inward letters are those Royal Mail uses, so "A1 2ND" in a product name is rarer still.
POSTCODE = r"\b[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][ABD-HJLNP-UW-Z]{2}\b"
POSTCODE_WORD = r"(?i:\bpost ?code\b\s*[:#]?\s*[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b)"
#: A record number after its word: "12345678", "#A-99812", "ZX-1234-99", "INC0012345" (three
#: characters at least, one of them a digit), or a number an earlier rule already replaced.
RECORD_ID = (
    r"(?:#?(?:[A-Za-z]{1,5}[-/]?)?[0-9][A-Za-z0-9]{2,}(?:[-/][A-Za-z0-9]+)*"
    r"|\[(?:phone|number) removed\])"
)
_QUALIFIER = r"(?:\s*(?:number|num|no|nr|id|ref|reference)\b\.?)?(?:\s*(?:is|was)\b)?\s*[:#=]?\s*"
_REFERENCES = (
    r"ref|reference|booking|invoice|policy|claim"
    r"|(?:customer|member|membership)\s+(?:number|no|id|ref)"
)
RECORD_WORDS = (
    (r"(?:bank\s+|customer\s+)?(?:account|acct|a/c)", "[account number]"),
    (r"orders?", "[order number]"),
    (r"(?:ticket|case|incident|job)s?", "[ticket number]"),
    (rf"(?:{_REFERENCES})", "[reference]"),
)


def _record(words: str) -> str:
    return rf"(?i:\b{words}\b{_QUALIFIER}){RECORD_ID}"


NUMBERS = (
    (EMAIL, "[email removed]"),
    (NI_NUMBER, "[National Insurance number]"),
    (BANK_DETAILS, "[bank details]"),
    (SORT_CODE, "[sort code]"),
    (POSTCODE_WORD, "[postcode]"),
    (POSTCODE, "[postcode]"),
    (CARD, "[number removed]"),
    (PHONE, "[phone removed]"),
    *((_record(words), marker) for words, marker in RECORD_WORDS),
)

# --- names in the text itself ---------------------------------------------------------------------

TITLES = r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord)\.?"
#: Words that lead into a name: introductions, greetings, sign-offs (any case).
INTRODUCTIONS = (
    r"my name is|my name['’]s|name is|i am|i['’]m|this is|"
    r"dear|hi|hello|hey|good morning|good afternoon|"
    r"kind regards|best regards|warm regards|many regards|regards|best wishes|all the best|"
    r"many thanks|thanks again|thanks|thank you|cheers|sincerely|yours sincerely|"
    r"yours faithfully|yours truly"
)
_LEAD = rf"(?i:\b(?:{INTRODUCTIONS}))[ \t]*[,:!.-]?\s*"
#: Capitalised words after such a lead that are not names ("Thanks, The order ...", "this is
#: Monday's", "I'm Not happy"): guarded like dates, so the name rule passes them by.
NOT_NAMES = (
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|"
    "May|June|July|August|September|October|November|December|The|This|That|These|Those|It|"
    "Its|We|My|Our|Your|You|He|She|They|All|Team|Everyone|Everybody|There|Sir|Madam|Please|"
    "Hi|Hello|Not|Very|So|Sorry|Just|Still|Also|And|But|Thanks|Thank|Regards|Kind|Best|"
    "Customer|Customers|Support|Service|Services|Ticket|Order|Account|Again|Today|Tomorrow|"
    "Yesterday|Now|Here|What|When|Why|How|If|In|On|At|For|To|No|Yes|Ok|OK|Okay|Great|Good|Bad"
)
NAME_GUARD = (rf"({_LEAD})({NOT_NAMES})\b", "\\1\x03\\2")
NAMES_IN_TEXT = (
    (rf"{TITLES}[ \t]+(?:{NAME_WORD}(?:[ \t-]+{NAME_WORD})?|\[name\])", NAME_MARK),
    NAME_GUARD,
    (rf"({_LEAD}){NAME}", f"\\1{NAME_MARK}"),
)
#: "[name] [name]" (a first name and a surname found by two rules) is one "[name]", and
#: "[name] and [name]" reads as "[names]".
NAMES_TOGETHER = (
    (r"\[name\](?: \[name\])+", NAME_MARK),
    (r"\[name\](?:(?:,? and |, | & |/)\[name\])+", "[names]"),
)

# --- dates survive --------------------------------------------------------------------------------

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
PLACEHOLDERS = (("\x01", "-"), ("\x02", "."), ("\x03", ""))
HASH_LENGTH = 16
#: At most this many colleagues' names are searched for in every row (one pattern of them all);
#: each row's own name cells are always searched.
MAX_COLLEAGUES = 300
_NEVER = r"([^\s\S])([^\s\S])"  # matches nothing (RE2 and re), with the two groups a name has
_SPECIAL = r"([\\.^$|?*+()\[\]{}-])"
_ESCAPE = r"\\\1"  # a backslash, then the character
_SPLIT = r"[\s,]+"
_OWN_NAME = f"\\1{NAME_MARK}\\2"
#: Cells that say no one: not names.
NO_ONE = frozenset({"n/a", "na", "none", "null", "unknown", "unassigned", "nobody", "-", "?"})


@dataclass(frozen=True)
class People:
    """Whose names a row's text may hold, beyond what the patterns find.

    ``row_names``: a SQL expression for a list of the row's own name cells (customer, requester,
    contact, agent), each removed from that row's text, whole (any case) or by its parts (as
    written). ``colleagues``: names removed from every row's text in the same way.
    """

    row_names: str | None = None
    colleagues: tuple[str, ...] = ()


def _escaped(name: str) -> str:
    return re.sub(_SPECIAL, _ESCAPE, name)


def _is_name(cell: str) -> bool:
    """A cell that names someone: two letters at least, not a word for no one."""
    return len(re.findall(f"[{LETTER}]", cell)) >= 2 and cell.lower() not in NO_ONE


def name_pattern(names: Iterable[str]) -> str | None:
    """One pattern for ``names``: each whole (any case) or any of its parts of two letters or
    more (as written), between non-letters; None when there is no name."""
    kept = {n.strip() for n in names if n and _is_name(n.strip())}
    wholes: list[str] = []
    parts: set[str] = set()
    for name in sorted(kept, key=len, reverse=True):
        wholes.append(f"(?i:{_escaped(name)})")
        parts.update(_escaped(p) for p in re.split(_SPLIT, name) if _is_name(p))
    if not wholes:
        return None
    alternatives = wholes + sorted(parts, key=len, reverse=True)
    return rf"(^|[^{LETTER}0-9_])(?:{'|'.join(alternatives)})($|[^{LETTER}0-9_])"


def _name_pattern_sql(names: str, p: Params) -> str:
    """``name_pattern`` built in SQL from a list column, row by row (NULL when it is empty)."""
    letters = f"regexp_matches(x, {p(f'[{LETTER}].*[{LETTER}]')})"
    is_name = f"lambda x: {letters} AND lower(x) NOT IN ({', '.join(p(w) for w in sorted(NO_ONE))})"
    kept = f"list_filter(list_transform({names}, lambda x: trim(x)), {is_name})"
    escaped = f"lambda x: regexp_replace(x, {p(_SPECIAL)}, {p(_ESCAPE)}, 'g')"
    wholes = f"list_transform({kept}, {escaped})"
    parts = (
        f"list_transform(list_filter(flatten(list_transform({kept}, lambda x: "
        f"string_split_regex(x, {p(_SPLIT)}))), {is_name}), {escaped})"
    )
    alternatives = (
        f"array_to_string(list_transform({wholes}, lambda x: '(?i:' || x || ')'), '|') || "
        f"CASE WHEN len({parts}) > 0 THEN '|' || array_to_string({parts}, '|') ELSE '' END"
    )
    edge = f"[^{LETTER}0-9_]"
    return (
        f"CASE WHEN len({kept}) > 0 THEN "
        f"{p(f'(^|{edge})(?:')} || {alternatives} || {p(f')($|{edge})')} END"
    )


def _rules(colleagues: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Every fixed rule in order; the row's own names come between numbers and names."""
    rules = [*DATE_GUARDS, *NUMBERS]
    pattern = name_pattern(colleagues[:MAX_COLLEAGUES])
    if pattern:
        rules.append((pattern, _OWN_NAME))
    return rules


def scrub_sql(value: str, p: Params, people: People | None = None) -> str:
    """An expression for ``value`` with personal data replaced by words that say what it was."""
    people = people or People()
    for pattern, replacement in _rules(people.colleagues):
        value = f"regexp_replace({value}, {p(pattern)}, {p(replacement)}, 'g')"
    if people.row_names:
        own = f"coalesce({_name_pattern_sql(people.row_names, p)}, {p(_NEVER)})"
        # Twice: a name right after another ("Jane, Jane") shares the letter between them.
        for _ in range(2):
            value = f"regexp_replace({value}, {own}, {p(_OWN_NAME)}, 'g')"
    for pattern, replacement in (*NAMES_IN_TEXT, *NAMES_TOGETHER):
        value = f"regexp_replace({value}, {p(pattern)}, {p(replacement)}, 'g')"
    for placeholder, separator in PLACEHOLDERS:
        value = f"replace({value}, {p(placeholder)}, {p(separator)})"
    return value


def scrub(text: str, names: Iterable[str] = (), colleagues: Sequence[str] = ()) -> str:
    """The same scrubbing in Python, for text that never passes through the store: ``names``
    are the row's own (or the export's) names, ``colleagues`` names searched for everywhere."""
    for pattern, replacement in _rules(colleagues):
        text = _sub(pattern, replacement, text)
    own = name_pattern(names)
    if own:
        for _ in range(2):
            text = _sub(own, _OWN_NAME, text)
    for pattern, replacement in (*NAMES_IN_TEXT, *NAMES_TOGETHER):
        text = _sub(pattern, replacement, text)
    for placeholder, separator in PLACEHOLDERS:
        text = text.replace(placeholder, separator)
    return text


def _sub(pattern: str, replacement: str, text: str) -> str:
    # ASCII: RE2's \b, \s and \d are ASCII, so Python's must be too for the same text.
    return re.sub(pattern, replacement, text, flags=re.ASCII)


# --- which columns of an export name a person ----------------------------------------------------

#: Header words that mean a column holds a person's name...
PERSON_WORDS = frozenset(
    re.findall(
        r"\w+",
        "requester requestor customer contact caller reporter assignee agent owner submitter "
        "client user person author advisor adviser",
    )
)
#: ...unless the header also says it holds something else.
NOT_A_NAME = frozenset(
    re.findall(
        r"\w+",
        "id ids email mail phone mobile number no ref count date time at type group team queue "
        "company organisation organization org product file brand site domain host channel "
        "status segment satisfaction rating score tags tag reason category source method via "
        "language country city tier level plan consent",
    )
)


def is_name_header(header: str) -> bool:
    """Whether a source column's header says it holds people's names: "Full name", "Requester",
    "Contact name", "Assignee", "assigned_to" (not "Requester id", "Company Name")."""
    words = set(re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", header).lower()))
    if not words or words & NOT_A_NAME or {"ticket", "name"} <= words:
        return False
    if "name" in words or words & PERSON_WORDS:
        return True
    return {"assigned", "to"} <= words or (
        "by" in words and bool(words & {"opened", "created", "resolved", "closed", "updated"})
    )


# --- pseudonyms -----------------------------------------------------------------------------------


def pseudonym(value: str | None, key: str) -> str | None:
    """``pseudonym_sql`` in Python, for values that never pass through the store's SQL."""
    if value is None:
        return None
    return hashlib.sha256(f"{key}|{value}".encode()).hexdigest()[:HASH_LENGTH]


def pseudonym_sql(value: str, key: str, p: Params) -> str:
    """A keyed hash of a customer id: stable within one store, meaningless outside it."""
    return f"left(sha256({p(key)} || '|' || {value}), {HASH_LENGTH})"
