"""Private by default: customer ids become keyed hashes; free text loses what identifies a person.

One rule, two engines: the importer scrubs whole columns in SQL (``scrub_sql``, DuckDB's RE2) so
no personal value is ever stored, and every export scrubs its text again in Python (``scrub``,
the same patterns through ``re``). Free text loses emails, phone and card numbers, account,
order, ticket and reference numbers (after their word, "acct. 12345678", "Account #: 1234",
every number of a list, or alone in ServiceNow's form, "INC0012345"), bank details and IBANs, UK
postcodes and National Insurance numbers, and people's names: the names the row itself holds in
its name columns (``People``), the colleagues' names (both by ``name_pattern``, the one rule for a
list of names, which the evidence packs use too), a title with a surname ("Mrs Okafor", "mr
smith", "Ms de la Cruz"), and a name after an introduction, a greeting, a sign-off or a label
("my name is jane doe", "Hi Sarah", "Best,\nAnne", "Caller: Jane Smith"), unless the word after
it is a feeling, an organisation's word or a common word ("I'm Furious", "Regards, Billing
Team", ``NOT_NAMES``). Each is replaced by words that read as a sentence ("[account number]",
"[name]"), and names side by side become "[names]". Dates, times, money, percentages and product
codes stay.

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
#: A record number after its word: "12345678", "#A-99812", "ZX-1234-99", "INC0012345", "77/1234"
#: (three characters at least, one of them a digit, or shorter with a "/" or "-" group), or a
#: number an earlier rule already replaced, with anything it ran into ("5003000000D8cuI").
RECORD_ID = (
    r"(?:#?(?:[A-Za-z]{1,5}[-/]?)?[0-9](?:[A-Za-z0-9]{2,}|[A-Za-z0-9]?[-/][A-Za-z0-9]+)"
    r"(?:[-/][A-Za-z0-9]+)*"
    r"|\[(?:phone|number) removed\][A-Za-z0-9]*)"
)
#: After an explicit label ("ticket number is 99", "Ticket ID: 7", "ticket: #12") any number goes.
SHORT_ID = r"#?[0-9][A-Za-z0-9]*(?:[-/][A-Za-z0-9]+)*"
_LABEL = r"(?:number|num|no|nr|id|ref|reference|ending(?:\s+in)?)"
#: Between the words and the number: "#:", ":", "=", a comma or a dash ("order id - 99887766").
_SEPARATOR = r"\s*(?:[:#=]{1,2}|,|--?)?\s*"
_QUALIFIER = rf"\.?(?:\s*{_LABEL}\b\.?)?(?:\s*(?:is|was)\b)?{_SEPARATOR}"
_LABELLED = rf"\.?(?:\s*{_LABEL}\b\.?(?:\s*(?:is|was)\b)?{_SEPARATOR}|\s*:?\s*#\s*)"
_REFERENCES = (
    r"ref|reference|booking|invoice|policy|claim"
    r"|(?:customer|member|membership)\s+(?:number|no|id|ref)"
)
RECORD_WORDS = (
    (r"(?:bank\s+|customer\s+)?(?:account|acct|acc|a/c)", "[account number]"),
    (r"orders?", "[order number]"),
    (r"(?:ticket|case|incident|job)s?", "[ticket number]"),
    (rf"(?:{_REFERENCES})", "[reference]"),
)
#: ServiceNow-style numbers need no word before them: "INC0012345", "RITM 0012345", "CS0012345".
SERVICE_DESK_ID = r"\b(?:INC|RITM|REQ|CHG|PRB|SCTASK|TASK|CS|PRJ)[ ]?[0-9]{5,}\b"
#: An IBAN, with its spaces ("GB29 NWBK 6016 1331 9268 19"), and the word before it.
IBAN = (
    r"(?:(?i:\biban\b)[ \t]*:?[ \t]*)?"
    r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b"
)
_MARKERS = r"\[(?:account number|order number|ticket number|reference)\]"
#: The numbers after the first of a list ("ticket 12345 and 12346", "tickets 12345, 12346").
LIST_OF_IDS = (
    rf"({_MARKERS})(?:[ \t]*(?:,|/|&|\band\b|\bor\b)[ \t]*"
    r"(?:#?[0-9][A-Za-z0-9]{2,}(?:[-/][A-Za-z0-9]+)*|\[(?:phone|number) removed\][A-Za-z0-9]*))+"
)


def _record(words: str) -> str:
    return (
        rf"(?i:\b{words}\b)(?:(?i:{_LABELLED})(?:{RECORD_ID}|{SHORT_ID})"
        rf"|(?i:{_QUALIFIER}){RECORD_ID})"
    )


NUMBERS = (
    (EMAIL, "[email removed]"),
    (SERVICE_DESK_ID, "[ticket number]"),
    (IBAN, "[bank details]"),
    (NI_NUMBER, "[National Insurance number]"),
    (BANK_DETAILS, "[bank details]"),
    (SORT_CODE, "[sort code]"),
    (POSTCODE_WORD, "[postcode]"),
    (POSTCODE, "[postcode]"),
    (CARD, "[number removed]"),
    (PHONE, "[phone removed]"),
    *((_record(words), marker) for words, marker in RECORD_WORDS),
    (LIST_OF_IDS, "\\1"),
)

# --- names in the text itself ---------------------------------------------------------------------

#: Titles written as titles ("Mr", "Dr."), then a capitalised surname, maybe after initials and
#: particles ("Mrs J Smith", "Mr van der Berg", "Ms de la Cruz").
TITLES = r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord)\.?"
#: "mr" and "mrs" in lower or upper case, then a surname in any case ("mr smith", "MRS OKAFOR");
#: not "ms" or "dr" in those cases, which are milliseconds, "MS Teams" and drives as often.
TITLES_ANY_CASE = r"\b(?:mr|mrs|MR|MRS)\b\.?"
_INITIALS = rf"(?:[{UPPER}]\.?[ \t]+)*"
_PARTICLES = r"(?:(?i:van|von|der|den|de|del|della|la|le|du|da|di|dos|das|bin|ibn|ap)[ \t]+)*"
#: A lower-case word of two letters or more, as a name after an explicit lead ("hi jane").
LOWER_WORD = rf"[a-zß-öø-ÿ][{LETTER}'’-]*[{LETTER}]"
ANY_CASE_WORD = rf"[{LETTER}](?:[{LETTER}'’-]*[{LETTER}]|\.)"
#: Words that lead into a name: introductions, greetings, sign-offs (any case); after these a
#: name in lower case is taken too ("hi jane", "my name is jane doe", "kind regards\njane").
INTRODUCTIONS = (
    r"my name is|my name['’]s|name is|i am|i['’]m|"
    r"dear|hi|hello|hey|good morning|good afternoon|"
    r"kind regards|best regards|warm regards|many regards|regards|best wishes|all the best|"
    r"cheers|sincerely|yours sincerely|yours faithfully|yours truly"
)
#: Leads after which only a capitalised name is taken.
CAPITAL_LEADS = (
    r"this is|many thanks|thanks again|thanks|thank you|"
    r"spoke with|spoke to|speaking with|speaking to|talked to|talking to"
)
#: Labels with a colon ("Name: Jane Smith", "Customer name: ...", "Caller: ...", "From: ...").
LABELS = r"name|caller|from|customer|contact|requester|requestor"
#: Short sign-offs, with the comma that makes them one ("Best,\nAnne", "Thx, Anne", "Love, Jane").
SIGN_OFFS = r"best|thx|thanx|ta|love|br|warmly|yours"
# Each lead is a whole word ("hi", never the start of "higher").
_STRONG_LEAD = rf"(?i:\b(?:{INTRODUCTIONS})\b)[ \t]*[,:!.-]?\s*"
_LEAD = (
    rf"(?:(?i:\b(?:{INTRODUCTIONS}|{CAPITAL_LEADS})\b)[ \t]*[,:!.-]?"
    rf"|(?i:\b(?:{LABELS})\b)[ \t]*:|(?i:\b(?:{SIGN_OFFS})\b)[ \t]*,|--[ \t]*\n)\s*"
)
#: Words after such a lead that are not names, in any case ("Thanks, The order ...", "this is
#: Monday's", "I'm Not happy", "I am Happy with it", "Regards, Billing Team", "Dear BT"): guarded
#: like dates, so the name rules pass them by. Feelings, an organisation's words and the commonest
#: small words; a lower-case word ending like an adjective or a verb ("-ing", "-ed", "-ous") too.
NOT_NAMES = (
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|"
    "May|June|July|August|September|October|November|December|The|This|That|These|Those|It|"
    "Its|We|My|Our|Your|You|He|She|They|All|Team|Everyone|Everybody|There|Sir|Madam|Please|"
    "Hi|Hello|Not|Very|So|Sorry|Just|Still|Also|And|But|Thanks|Thank|Regards|Kind|Best|"
    "Customer|Customers|Support|Service|Services|Ticket|Order|Account|Again|Today|Tomorrow|"
    "Yesterday|Now|Here|What|When|Why|How|If|In|On|At|For|To|No|Yes|Ok|OK|Okay|Great|Good|Bad|"
    "A|An|Of|From|With|About|As|By|Is|Was|Be|Been|Really|Quite|Too|Much|Lots|Loads|Guys|Folks|"
    "Mate|Once|Anyway|Happy|Unhappy|Sad|Glad|Pleased|Angry|Upset|Furious|Annoyed|Livid|Fed|"
    "Disappointed|Confused|Worried|Concerned|Fine|Well|Sure|Afraid|Unable|Able|Ready|Done|Back|"
    "New|Ridiculous|Unacceptable|Terrible|Awful|Appalled|Shocked|Satisfied|Dissatisfied|Billing|"
    "Sales|Accounts|Complaints|Amazon|BT|Company|Department|Dept|Helpdesk|Management|Manager|"
    "Staff|Agent|Someone|Somebody|Anyone|Anybody|Nobody|Him|Her|Them|Us|Me|Yours|Madame|Who|"
    "Where|Which|Hope|Can|Could|Would|Should|Have|Has|Had|Do|Does|Did|Got|Need|Want|Another|"
    "One|Your|Her|His|Their|Everything|Nothing|Morning|Afternoon|Evening|Again|Or|Ltd|Plc|I"
)
_NOT_A_NAME = rf"((?i:{NOT_NAMES})|[a-z]{{3,}}(?:ing|ed|ous|ful|ive|able|ible))\b"
_GUARD_AFTER_LEAD = (rf"({_LEAD}){_NOT_A_NAME}", "\\1\x03\\2")
NAME_GUARDS = (
    # Twice: a guarded word can itself be a lead ("Hi, I'm calling"), which one pass skips.
    _GUARD_AFTER_LEAD,
    _GUARD_AFTER_LEAD,
    # The second word of a lower-case name: "my name is jane and ..." keeps "and".
    (rf"({_STRONG_LEAD}{LOWER_WORD}[ \t]+){_NOT_A_NAME}", "\\1\x03\\2"),
)
NAMES_IN_TEXT = (
    (
        rf"{TITLES}[ \t]+(?:{_INITIALS}{_PARTICLES}{NAME_WORD}(?:[ \t-]+{NAME_WORD})?|\[name\])",
        NAME_MARK,
    ),
    (
        rf"{TITLES_ANY_CASE}[ \t]+{_INITIALS}{_PARTICLES}{ANY_CASE_WORD}(?:[ \t-]+{NAME_WORD})?",
        NAME_MARK,
    ),
    *NAME_GUARDS,
    (rf"({_LEAD}){NAME}", f"\\1{NAME_MARK}"),
    (rf"({_STRONG_LEAD}){LOWER_WORD}(?:[ \t]+{LOWER_WORD})?", f"\\1{NAME_MARK}"),
)
#: "[name] [name]" (a first name and a surname found by two rules) is one "[name]", and
#: "[name] and [name]" reads as "[names]".
NAMES_TOGETHER = (
    (r"\[name\](?:[ -]\[name\])+", NAME_MARK),
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
    (rf"\b{_YEAR}-{_DAY}-{_DAY}{_END}", "\x03\\1\x01\\2\x01\\3\\4"),
    (rf"\b{_DAY}-{_DAY}-{_YEAR}{_END}", "\x03\\1\x01\\2\x01\\3\\4"),
    (rf"\b{_DAY}\.{_DAY}\.{_YEAR}{_END}", "\x03\\1\x02\\2\x02\\3\\4"),
    (rf"\b{_DAY}/{_DAY}/{_YEAR}{_END}", "\x03\\1\x04\\2\x04\\3\\4"),
)
#: The guards' marks: a date's separators, and the mark before a date or a word that is not a
#: name (so no rule that needs a word or a number to start there matches it).
PLACEHOLDERS = (("\x01", "-"), ("\x02", "."), ("\x04", "/"), ("\x03", ""))
HASH_LENGTH = 16
#: At most this many colleagues' names are searched for in every row (one pattern of them all);
#: each row's own name cells are always searched.
MAX_COLLEAGUES = 300
_NEVER = r"([^\s\S])([^\s\S])"  # matches nothing (RE2 and re), with the two groups a name has
_SPECIAL = r"([\\.^$|?*+()\[\]{}-])"
_ESCAPE = r"\\\1"  # a backslash, then the character
#: Spaces other than ASCII's that a name may be written with (no-break, thin, em, ideographic):
#: literal characters, which both RE2 and Python read in a character class.
WIDE_SPACES = (
    "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
_SPLIT = "[ \\t\\n\\r\\f\\v," + WIDE_SPACES + "]+"  # spelt out: RE2's \\s is ASCII and has no \\v
#: What ``strip`` and SQL's ``trim`` take off a name cell's ends, the same in both engines
#: (Python's own ``strip()`` takes more, SQL's ``trim()`` only spaces).
BLANKS = " \t\n\r\f\v" + WIDE_SPACES
_OWN_NAME = f"\\1{NAME_MARK}\\2"
#: A part of a name is searched for alone when it has this many letters at least.
MIN_PART_LETTERS = 3
#: Cells that say no one: not names.
NO_ONE = frozenset({"n/a", "na", "none", "null", "unknown", "unassigned", "nobody", "-", "?"})


@dataclass(frozen=True)
class People:
    """Whose names a row's text may hold, beyond what the patterns find.

    ``row_names``: SQL expressions for the row's own name cells (customer, requester, contact,
    agent), each removed from that row's text, whole (any case) or by its parts (as
    written). ``colleagues``: names removed from every row's text in the same way.
    """

    row_names: tuple[str, ...] = ()
    colleagues: tuple[str, ...] = ()


def _escaped(name: str) -> str:
    return re.sub(_SPECIAL, _ESCAPE, name)


def _parts(name: str) -> list[str]:
    """A name's parts, split as SQL splits them."""
    return re.split(_SPLIT, name, flags=re.ASCII)


def _trim(value: str, p: Params) -> str:
    """SQL for ``value.strip(BLANKS)``."""
    return f"trim({value}, {p(BLANKS)})"


def _is_name(cell: str) -> bool:
    """A cell that names someone: two letters at least, not a word for no one."""
    return len(re.findall(f"[{LETTER}]", cell)) >= 2 and cell.lower() not in NO_ONE


def _is_part(part: str) -> bool:
    """A part of a name searched for on its own: three letters or more, so "Li" of "Li Na" is
    found only in the whole name, never in "Li-ion battery"."""
    return _is_name(part) and len(re.findall(f"[{LETTER}]", part)) >= MIN_PART_LETTERS


def name_pattern(names: Iterable[str], keep: Iterable[str] = ()) -> str | None:
    """One pattern for ``names``: each whole (any case: "daniel haigh", "DANIEL HAIGH") or any
    of its parts of three letters or more (as written), between non-letters; None when there is
    no name. ``keep``: names (and their parts) that stay, such as the learner's own."""
    kept_whole = {k.strip(BLANKS).lower() for k in keep}
    kept_parts = {p for k in keep for p in _parts(k.strip(BLANKS))}
    kept = {n.strip(BLANKS) for n in names if n and _is_name(n.strip(BLANKS))} - {""}
    kept = {n for n in kept if n.lower() not in kept_whole}
    wholes: list[str] = []
    parts: set[str] = set()
    for name in sorted(kept, key=len, reverse=True):
        wholes.append(f"(?i:{_escaped(name)})")
        parts.update(_escaped(p) for p in _parts(name) if _is_part(p) and p not in kept_parts)
    if not wholes:
        return None
    alternatives = wholes + sorted(parts, key=len, reverse=True)
    return rf"(^|[^{LETTER}0-9_])(?:{'|'.join(alternatives)})($|[^{LETTER}0-9_])"


def replace_names(text: str, names: Iterable[str], mark: str, keep: Iterable[str] = ()) -> str:
    """``text`` with every name of ``names`` (``name_pattern``) replaced by ``mark``: "[name]"
    at import, "a colleague" in a pack. The one rule for names a list holds."""
    pattern = name_pattern(names, keep)
    if pattern is None:
        return text
    # Twice: a name right after another ("Jane, Jane") shares the letter between them.
    for _ in range(2):
        text = _sub(pattern, f"\\1{mark}\\2", text)
    return text


def _name_pattern_sql(names: str, p: Params) -> str:
    """``name_pattern`` built in SQL from a list column, row by row (NULL when it is empty)."""
    three = f"regexp_matches(x, {p(f'[{LETTER}](?s:.*)[{LETTER}](?s:.*)[{LETTER}]')})"
    is_name = f"lambda x: {_is_name_sql('x', p)}"
    is_part = f"lambda x: {three} AND {_is_name_sql('x', p)}"
    kept = f"list_filter(list_transform({names}, lambda x: {_trim('x', p)}), {is_name})"
    escaped = f"lambda x: regexp_replace(x, {p(_SPECIAL)}, {p(_ESCAPE)}, 'g')"
    wholes = f"list_transform({kept}, {escaped})"
    parts = (
        f"list_transform(list_filter(flatten(list_transform({kept}, lambda x: "
        f"string_split_regex(x, {p(_SPLIT)}))), {is_part}), {escaped})"
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


#: Name cells are split on these (``_SPLIT``'s characters) to look for their parts in text.
_SEPARATORS = ("\t", "\n", "\r", "\f", "\v", ",", *WIDE_SPACES)
#: A name with more parts than this may be in any text (its parts are not all looked for).
PARTS_LOOKED_FOR = 4


def _may_hold_names(text: str, names: Sequence[str | None], colleagues: Sequence[str] = ()) -> bool:
    """Whether ``text`` may hold one of ``names`` as ``name_pattern`` finds them: all of a
    name's parts appear in it (any case), or one of three characters or more does. Cheap, and
    never false when the pattern would match (a whole name holds its parts, and a part searched
    for alone has three letters at least), so the pattern is compiled only where it may match."""
    lowered = text.lower()
    searched = set(colleagues)
    for name in names:
        if name is None or name in searched or not _is_name(name.strip(BLANKS)):
            continue
        spaced = name
        for separator in _SEPARATORS:
            spaced = spaced.replace(separator, " ")
        spaced = spaced.strip(" ")
        if spaced.count(" ") >= PARTS_LOOKED_FOR:
            return True
        parts = [part.lower() for part in spaced.split(" ")]
        if all(not t or t in lowered for t in parts) or any(
            len(t) >= MIN_PART_LETTERS and t in lowered for t in parts
        ):
            return True
    return False


def _may_hold_names_sql(
    text: str, cells: Sequence[str], colleagues: Sequence[str], p: Params
) -> str:
    """``_may_hold_names`` in SQL over a row's name cells: plain string functions, each value
    computed once (bound by a one-item list's lambda: DuckDB repeats a repeated expression)."""
    if not cells:
        return "false"
    # Binding a value costs about as much as the check itself: a colleague's name (the agent
    # in most rows) is searched for in every row already, so only other names are checked.
    known = (
        f"NOT list_contains({p(list(colleagues))}::VARCHAR[], {{cell}})" if colleagues else "true"
    )
    parts = [f"lower(split_part(n, ' ', {i}))" for i in range(1, PARTS_LOOKED_FOR + 1)]
    every = " AND ".join(f"(t{i} = '' OR contains(lo, t{i}))" for i in range(len(parts)))
    some = " OR ".join(
        f"(length(t{i}) >= {MIN_PART_LETTERS} AND contains(lo, t{i}))" for i in range(len(parts))
    )
    many = f"length(n) - length(replace(n, ' ', '')) >= {PARTS_LOOKED_FOR}"
    looked = f"{many} OR ({every}) OR {some}"
    for i, part in reversed(list(enumerate(parts))):
        looked = f"list_transform([{part}], lambda t{i}: {looked})[1]"
    looks, checks = [], []
    for cell in cells:
        spaced = cell
        for separator in _SEPARATORS:
            spaced = f"replace({spaced}, {p(separator)}, ' ')"
        checked = f"{cell} IS NOT NULL AND {known.format(cell=cell)} AND {_is_name_sql(cell, p)}"
        checks.append(f"({checked})")
        # CASE, not AND: DuckDB works out both sides of an AND for every row.
        looks.append(
            f"CASE WHEN {checked} THEN list_transform([trim({spaced})], lambda n: {looked})[1] "
            "ELSE false END"
        )
    bound = f"list_transform([lower({text})], lambda lo: coalesce({' OR '.join(looks)}, false))[1]"
    return f"CASE WHEN {' OR '.join(checks)} THEN {bound} ELSE false END"


def _is_name_sql(cell: str, p: Params) -> str:
    """``_is_name`` in SQL: two letters at least (on any lines), not a word for no one."""
    trimmed = _trim(cell, p)
    letters = f"regexp_matches({trimmed}, {p(f'[{LETTER}](?s:.*)[{LETTER}]')})"
    no_one = f"lower({trimmed}) NOT IN ({', '.join(p(w) for w in sorted(NO_ONE))})"
    return f"{letters} AND {no_one}"


def _searched(colleagues: Sequence[str]) -> tuple[str, ...]:
    """The colleagues whose names every row's text is searched for."""
    return tuple(colleagues[:MAX_COLLEAGUES])


def _rules(colleagues: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Every fixed rule in order; the row's own names come between numbers and names."""
    rules = [*DATE_GUARDS, *NUMBERS]
    pattern = name_pattern(_searched(colleagues))
    if pattern:
        # Twice, as ``replace_names``: "Priya-Mistry" and "Jane, Jane" share the edge between.
        rules += [(pattern, _OWN_NAME)] * 2
    return rules


def scrub_sql(value: str, p: Params, people: People | None = None) -> str:
    """An expression for ``value`` with personal data replaced by words that say what it was."""
    people = people or People()
    original = value
    rules = _rules(people.colleagues)
    for pattern, replacement in rules:
        value = f"regexp_replace({value}, {p(pattern)}, {p(replacement)}, 'g')"
    may = "false"
    if people.row_names:
        cells = f"[{', '.join(people.row_names)}]"
        own = f"coalesce({_name_pattern_sql(cells, p)}, {p(_NEVER)})"
        named = value
        # Twice: a name right after another ("Jane, Jane") shares the letter between them.
        for _ in range(2):
            named = f"regexp_replace({named}, {own}, {p(_OWN_NAME)}, 'g')"
        # A row's own pattern is compiled for that row alone: only where it may match.
        may = _may_hold_names_sql(original, people.row_names, _searched(people.colleagues), p)
        value = f"CASE WHEN {may} THEN {named} ELSE {value} END"
    for pattern, replacement in (*NAMES_IN_TEXT, *NAMES_TOGETHER):
        value = f"regexp_replace({value}, {p(pattern)}, {p(replacement)}, 'g')"
    for placeholder, separator in PLACEHOLDERS:
        value = f"replace({value}, {p(placeholder)}, {p(separator)})"
    # Most text holds nothing to scrub: one pass of every rule at once finds it, and the chain
    # of rules (a pass each) runs only where that pass found something. The same text either
    # way: when no rule matches the text as it is, no rule changes it, so no later rule sees
    # anything new.
    anything = p(_any_rule(rules))
    return f"CASE WHEN regexp_matches({original}, {anything}) OR {may} THEN {value} ELSE {original} END"


def _any_rule(rules: Sequence[tuple[str, str]]) -> str:
    """One pattern that matches where any of ``rules``, the name rules or the guards' marks do."""
    patterns = [pattern for pattern, _ in (*rules, *NAMES_IN_TEXT, *NAMES_TOGETHER)]
    marks = "".join(placeholder for placeholder, _ in PLACEHOLDERS)
    return "|".join([*(f"(?:{pattern})" for pattern in patterns), f"[{marks}]"])


def scrub(text: str, names: Iterable[str] = (), colleagues: Sequence[str] = ()) -> str:
    """The same scrubbing in Python, for text that never passes through the store: ``names``
    are the row's own (or the export's) names, ``colleagues`` names searched for everywhere."""
    original = text
    for pattern, replacement in _rules(colleagues):
        text = _sub(pattern, replacement, text)
    names = list(names)
    if _may_hold_names(
        original, names, _searched(colleagues)
    ):  # as ``scrub_sql``, so both give the same text
        text = replace_names(text, names, NAME_MARK)
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
#: Words of a count or a time kept about a person ("Agent replies", "Requester wait time in
#: minutes"): not a name, unless the header says name ("First reply agent name").
MEASURE_WORDS = frozenset(
    re.findall(
        r"\w+",
        "replies reopens touches stations messages comments calls wait duration minutes "
        "seconds hours",
    )
)


def is_name_header(header: str) -> bool:
    """Whether a source column's header says it holds people's names: "Full name", "Requester",
    "Contact name", "Assignee", "assigned_to" (not "Requester id", "Company Name")."""
    words = set(re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", header).lower()))
    if not words or words & NOT_A_NAME or {"ticket", "name"} <= words:
        return False
    if words & MEASURE_WORDS and "name" not in words:
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
