"""Personal data never reaches the store: ids become keyed hashes, free text loses emails,
phone, card, account, order, ticket and reference numbers, bank details, postcodes, National
Insurance numbers and people's names, the same way in SQL (at import) and in Python (at
export); dates, times, money, KPI figures and product codes stay."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.ingest.importer import import_file
from kpi.ingest.parsing import Params
from kpi.ingest.privacy import (
    People,
    _may_hold_names,
    is_name_header,
    pseudonym,
    pseudonym_sql,
    replace_names,
    scrub,
    scrub_sql,
)
from kpi.store.connection import open_store

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
    "Refund of £49.99 for 2 items",
    "Meter reading 004512 taken",
    "at 10:30 on Monday",
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


# --- the privacy corpus (issue 12, point 4) ------------------------------------------------------

#: (free text, what must disappear, what must stay). The row's own name cells and the export's
#: agents are NAMES and AGENTS below.
NAMES = ("Emily Garcia", "Zoë Okonjo-Smith")
AGENTS = ("Sarah Jones", "Dev Patel")
BY_PATTERN = [
    ("My account 12345678 was charged twice", ("12345678",), ("was charged twice",)),
    ("account number: 87654321 please", ("87654321",), ("please",)),
    ("order #A-99812 never arrived", ("99812", "A-99812"), ("never arrived",)),
    ("Order no. 55123 and order 55124", ("55123", "55124"), ()),
    ("see ticket 4411 and ticket #4512", ("4411", "4512"), ("see",)),
    ("ref: ZX-1234-99 for the refund of £49.99", ("ZX-1234", "1234-99"), ("£49.99",)),
    ("reference is INC0012345", ("INC0012345",), ()),
    ("case 778812 reopened on 2026-03-03 10:40", ("778812",), ("2026-03-03 10:40",)),
    ("sort code 12-34-56, account 12345678", ("12-34-56", "12345678"), ()),
    ("paid into 20-00-00 55779911 yesterday", ("20-00-00", "55779911"), ("yesterday",)),
    ("I moved to SW1A 1AA last week", ("SW1A 1AA",), ("last week",)),
    ("postcode: m1 1ae", ("m1 1ae",), ()),
    ("NI number QQ 12 34 56 C", ("QQ 12 34 56 C",), ()),
    ("my NI is AB123456C", ("AB123456C",), ()),
    ("customer number 55512 called", ("55512",), ("called",)),
    ("my name is Jane Doe and I am upset", ("Jane", "Doe"), ("I am upset",)),
    ("Hello, my name's Ravi Shankar.", ("Ravi", "Shankar"), ("Hello",)),
    ("I'm Jane, call me back", ("Jane",), ("call me back",)),
    ("this is John Smith from Leeds", ("John", "Smith"), ("from Leeds",)),
    ("Regards, Priya Patel", ("Priya", "Patel"), ("Regards",)),
    ("Thanks, Tom", ("Tom",), ("Thanks",)),
    ("Kind regards,\nMarek Nowak", ("Marek", "Nowak"), ("Kind regards",)),
    ("Dear Mrs Okafor, thank you", ("Okafor",), ("Dear", "thank you")),
    ("Mr Smith and Ms. O'Neil called at 10:30", ("Smith", "O'Neil"), ("called at 10:30",)),
    ("Dr J. Khan rang", ("Khan",), ("rang",)),
    ("Hi Sarah, the refund worked", ("Sarah",), ("the refund worked",)),
    ("write to jane.doe@example.com or 07700 900123", ("jane.doe", "900123"), ("write to",)),
    ("card 4111 1111 1111 1111 declined", ("4111",), ("declined",)),
    (
        "FCR 82.9% (n = 412), SLA 94.1% on 03.03.2026",
        (),
        ("82.9%", "n = 412", "94.1%", "03.03.2026"),
    ),
    ("product code SKU-4471 and model XR-200 fault E404", (), ("SKU-4471", "XR-200", "E404")),
    ("Thanks!\nThe order arrived on Monday", (), ("The order arrived on Monday",)),
    ("It was Monday; this is Not acceptable", (), ("Monday", "Not acceptable")),
    ("Thank you for your help, 5 stars", (), ("Thank you for your help, 5 stars",)),
    ("Hello Team, 3 calls in 2 days at 09:15", (), ("Hello Team", "3 calls in 2 days at 09:15")),
    # A word then a dot or "#:", other separators, and short forms of the words.
    ("acct. 12345678 is wrong", ("12345678",), ("is wrong",)),
    ("Ref. 12345 for the refund", ("12345",), ("for the refund",)),
    ("Account #: 12345678 closed", ("12345678",), ("closed",)),
    ("customer no. 55512 rang", ("55512",), ("rang",)),
    ("member no. 1234 rang", ("1234",), ("rang",)),
    ("my order, 12345678, is late", ("12345678",), ("my", "is late")),
    ("order id - 99887766 lost", ("99887766",), ("lost",)),
    ("claim ref: 77/1234 paid", ("77/1234", "1234"), ("paid",)),
    ("acc 12345678 frozen", ("12345678",), ("frozen",)),
    ("account ending 4321 charged", ("4321",), ("charged",)),
    # ServiceNow-style numbers need no word before them.
    ("INC0012345 still open", ("0012345",), ("still open",)),
    ("see INC 0012345", ("0012345",), ("see",)),
    ("RITM0012345 and CS0012345 raised", ("0012345",), ("raised",)),
    ("REQ0012345, CHG0012345, PRB0012345, SCTASK0012345", ("0012345",), ()),
    # Every number of a list, and short numbers after an explicit label.
    ("ticket 12345 and 12346 merged", ("12345", "12346"), ("merged",)),
    ("tickets 12345, 12346 merged", ("12345", "12346"), ("merged",)),
    ("the ticket number is 99, chased", ("is 99",), ("chased",)),
    ("Ticket ID: 7 closed", ("ID: 7",), ("closed",)),
    # Names after a label, and in lower case after a greeting, sign-off or introduction.
    ("Name: Jane Smith", ("Jane", "Smith"), ("Name:",)),
    ("Customer name: Jane Smith, angry", ("Jane", "Smith"), ("angry",)),
    ("Caller: Jane Smith", ("Jane", "Smith"), ("Caller:",)),
    ("From: Jane Smith", ("Jane", "Smith"), ("From:",)),
    ("Spoke with Jane Smith today", ("Jane", "Smith"), ("today",)),
    ("kind regards\njane", ("regards\njane",), ("kind regards",)),
    ("cheers bob", ("bob",), ("cheers",)),
    ("hi jane, call me", ("hi jane",), ("call me",)),
    ("my name is jane doe and I am upset", ("jane doe",), ("and I am upset",)),
    ("I'm jane doe", ("jane doe",), ("I'm",)),
    ("Hi, I am Jane", ("Jane",), ("Hi, I am",)),
    ("Best,\nAnne", ("Anne",), ("Best",)),
    ("Thx, Anne", ("Anne",), ("Thx",)),
    ("Love, Jane", ("Jane",), ("Love",)),
    ("--\nAnne Smith", ("Anne", "Smith"), ("--",)),
    # Titles in other cases, with an initial or a particle.
    ("mr smith called", ("mr smith",), ("called",)),
    ("MRS OKAFOR called", ("OKAFOR",), ("called",)),
    ("Mrs J Smith called", ("Smith",), ("called",)),
    ("Mr van der Berg called", ("Berg", "van der"), ("called",)),
    ("Ms de la Cruz called", ("Cruz", "de la"), ("called",)),
    # Removed whole, never in part.
    ("Case ID: 5003000000D8cuI reopened", ("5003000000", "D8cuI"), ("reopened",)),
    ("IBAN GB29 NWBK 6016 1331 9268 19 given", ("GB29", "NWBK", "9268", " 19"), ("given",)),
]
#: (text, what it becomes): whole, and read as the right kind of number.
WHOLE = [
    ("Case ID: 5003000000D8cuI", "[ticket number]"),
    ("IBAN GB29 NWBK 6016 1331 9268 19", "[bank details]"),
    ("acct. 998877665", "[account number]"),
    ("INC 0012345", "[ticket number]"),
    ("tickets 12345, 12346", "[ticket number]"),
    ("Account #: 12345678", "[account number]"),
]
#: What looks like a name or a number after a lead but is not one: kept exactly as written.
NOT_PERSONAL = [
    "I am Happy with it",
    "I'm Furious",
    "This is Ridiculous",
    "Thanks, Amazon",
    "Regards, Billing Team",
    "Dear BT",
    "this is Billing",
    "I'm Happy",
    "I'm Still waiting",
    "I am happy with the service",
    "Hi all",
    "Hi There",
    "Hi, my order arrived",
    "Cheers for that",
    "Thanks again for the help",
    "Kind regards, The Support Team",
    "Thank you Customer Services",
    "Hello Monday",
    "ticket 2026-03-03 opened",
    "account 2026-03-03 closed",
    "order on 03/03/2026",
    "case 1 of 3",
    "ticket 3 days old",
    "case 12 of 2026",
    "on 2026-03-03 at 10:40, refund of £49.99 and $10",
    "SLA 94.1% (n = 412), FCR 82.9%",
    "iPhone 15 Pro and Galaxy S24, Windows 10 at 10:30 for 2 hrs",
    "Monday 3 March 2026",
    "Account Manager said",
    "12 ms response, MS Teams, I miss the old app",
    "hi, I'm calling about my bill",
    "I'm moving house, I am writing to complain",
    "Hi, this is Billing",
    "a target of 75.0% (higher is better), hence history; heyday, dearly, regardless",
    "Cheersfully, thanksgiving, bestowed, lovely, brand, dearest",
]
#: Names the patterns cannot know: only the row's name cells and the export's agents tell.
BY_NAME_CELLS = [
    ("Emily Garcia here: the app crashed", ("Emily", "Garcia"), ("the app crashed",)),
    ("EMILY GARCIA again", ("EMILY GARCIA",), ("again",)),
    ("Zoë Okonjo-Smith wrote twice", ("Zoë", "Okonjo"), ("wrote twice",)),
    ("Sarah Jones and Dev Patel were great", ("Sarah", "Jones", "Dev", "Patel"), ("were great",)),
]
CORPUS = BY_PATTERN + BY_NAME_CELLS


@pytest.mark.parametrize(("text", "gone", "kept"), CORPUS, ids=[c[0][:30] for c in CORPUS])
def test_the_privacy_corpus_loses_what_identifies_and_keeps_what_counts(con, text, gone, kept):
    for engine_text in (scrub(text, NAMES, AGENTS), _scrub_in_sql(con, text, NAMES, AGENTS)):
        for secret in gone:
            assert secret not in engine_text, (text, engine_text)
        for word in kept:
            assert word in engine_text, (text, engine_text)


def _scrub_in_sql(con, text: str, names=(), colleagues=()) -> str:
    p = Params()
    value = p(text)
    cells = tuple(f"CAST({p(name)} AS VARCHAR)" for name in names)
    people = People(cells, tuple(colleagues))
    return con.execute(f"SELECT {scrub_sql(value, p, people)}", p.values).fetchone()[0]


@pytest.mark.parametrize(("text", "_gone", "_kept"), CORPUS, ids=[c[0][:30] for c in CORPUS])
def test_sql_and_python_scrub_the_corpus_to_the_same_text(con, text, _gone, _kept):
    assert _scrub_in_sql(con, text, NAMES, AGENTS) == scrub(text, NAMES, AGENTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My account 12345678 was charged", "My [account number] was charged"),
        ("order #A-99812 late", "[order number] late"),
        ("see ticket 4411", "see [ticket number]"),
        ("ref: ZX-1234-99", "[reference]"),
        ("sort code 12-34-56, account 12345678", "[sort code], [account number]"),
        ("at SW1A 1AA", "at [postcode]"),
        ("NI QQ123456C", "NI [National Insurance number]"),
        ("my name is Jane Doe.", "my name is [name]."),
        ("Regards, Priya Patel", "Regards, [name]"),
        ("Dear Mrs Okafor,", "Dear [name],"),
        ("Mr Smith and Ms O'Neil", "[names]"),
        ("account 07700900123", "[account number]"),
    ],
)
def test_what_was_removed_reads_as_words(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize(("text", "expected"), WHOLE)
def test_a_record_number_goes_whole_and_is_named_for_what_it_is(con, text, expected):
    assert scrub(text) == expected
    assert _scrub_in_sql(con, text) == expected


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_feelings_organisations_dates_and_figures_after_a_lead_are_kept(con, text):
    assert scrub(text, NAMES, AGENTS) == text
    assert _scrub_in_sql(con, text, NAMES, AGENTS) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("daniel haigh rang", "[name] rang"),
        ("DANIEL HAIGH rang", "[name] rang"),
        ("Daniel rang", "[name] rang"),
        ("Haigh's queue", "[name]'s queue"),
        ("Li Na rang", "[name] rang"),
        ("Li-ion battery, Li said", "Li-ion battery, Li said"),
        ("Priya-Mistry rang", "[name] rang"),
        ("Daniel, Daniel", "[names]"),
    ],
)
def test_a_name_list_is_found_in_any_case_whole_and_by_parts_of_three_letters(con, text, expected):
    names = ["Daniel Haigh", "Li Na", "Priya Mistry"]
    assert scrub(text, names) == expected
    assert _scrub_in_sql(con, text, names) == expected
    assert scrub(text, (), names) == expected  # the same rule for the colleagues' names


def test_a_name_cell_that_says_no_one_removes_nothing(con):
    text = "n/a - unknown ? none"
    assert scrub(text, ["n/a", "Unknown", "?", "-"]) == text
    assert _scrub_in_sql(con, text, ["n/a", "Unknown", "?", "-"]) == text


@pytest.mark.parametrize(
    ("header", "names"),
    [
        ("Full name", True), ("Requester", True), ("Contact name", True), ("Assignee", True),
        ("assigned_to", True), ("Agent Name", True), ("opened_by", True), ("customerName", True),
        ("Requester id", False), ("Company Name", False), ("Ticket name", False),
        ("Contact ID", False), ("Requester email", False), ("Contact reason [list]", False),
        ("Subject", False), ("Consumer consent provided?", False), ("Customer ref", False),
        ("agent_replies", False), ("Agent wait time in minutes", False), ("Reopens", False),
        ("Assignee stations", False), ("First reply agent name", True),
        ("Reply author name", True), ("Reply agent", True),
    ],
)  # fmt: skip
def test_name_columns_are_known_by_their_headers(header, names):
    assert is_name_header(header) is names


# --- the cheap looks that spare the patterns change nothing -------------------------------------

#: Pieces text and name cells are made of: names, their parts, cases, separators, numbers, leads.
_PIECES = st.sampled_from(
    [
        "Jane", "jane", "JANE", "Smith", "smith", "Li", "Na", "Li Na", "Zoë", "O'Neil", "Okonjo",
        "Jane Smith", "jane smith", "Sarah Jones", "Dev", "Patel", "Hi", "hi", "Regards,", "Mr",
        "Mrs", "account", "order", "ticket", "#", ":", "12345678", "07700 900123", "2025-03-03",
        "a@b.co", "SW1A 1AA", " ", "  ", ",", ", ", "-", "\u00a0", "\u3000", "\n", "\t", "'s", ".", "[name]", "n/a",
    ]
)  # fmt: skip
_TEXTS = st.lists(_PIECES, max_size=12).map("".join)
_CELLS = st.lists(st.one_of(st.none(), _TEXTS), max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXTS, cells=_CELLS)
def test_a_name_the_cheap_look_passes_by_is_never_in_the_text(text, cells):
    """``scrub`` builds a row's own name pattern only where the cheap look says it may match:
    it must never say no where the pattern would change the text."""
    names = [c for c in cells if c is not None]
    if replace_names(text, names, "[name]") != text:
        assert _may_hold_names(text, cells)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXTS, cells=_CELLS, colleagues=st.lists(_TEXTS, max_size=3))
def test_sql_and_python_agree_on_any_text_names_and_colleagues(text, cells, colleagues):
    """The SQL side looks first (one pattern of every rule, then the cheap look for the row's
    names) and skips the rules where neither finds anything; Python runs every rule. Both give
    the same text."""
    with duckdb.connect() as con:
        sql = _scrub_in_sql_cells(con, text, cells, colleagues)
    assert sql == scrub(text, [c for c in cells if c is not None], colleagues)


def _scrub_in_sql_cells(con, text: str, cells, colleagues) -> str:
    p = Params()
    value = p(text)
    sql_cells = tuple(f"CAST({p(c)} AS VARCHAR)" for c in cells)
    people = People(sql_cells, tuple(colleagues))
    return con.execute(f"SELECT {scrub_sql(value, p, people)}", p.values).fetchone()[0]


# --- at import: nothing of the corpus is stored ---------------------------------------------------


def test_no_case_of_the_corpus_survives_into_the_stored_contacts(tmp_path):
    """A contacts export whose name columns (never imported themselves) and agents are also
    removed from every row's free text, with the patterns above."""
    rows = [
        {
            "contact_id": f"T{i}",
            "opened_at": f"2026-03-{i % 28 + 1:02d} 09:00",
            "agent": AGENTS[i % 2],
            "Full name": NAMES[0],
            "Contact name": NAMES[1],
            "Requester": "Ana Lima",
            "subject": f"Ana Lima: case {i}",
            "description": text,
        }
        for i, (text, _, _) in enumerate(CORPUS, 1)
    ]
    unreadable = {**rows[0], "contact_id": "Q1", "opened_at": ""}  # required: quarantined
    rows.append({**unreadable, "description": "Emily Garcia here, account 12345678"})
    path = tmp_path / "contacts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    store = open_store(tmp_path / "store.duckdb")
    try:
        result = import_file(store, path)
        assert (result.rows_read, result.rows_imported) == (len(CORPUS) + 1, len(CORPUS))
        (quarantined,) = store.cursor().execute("SELECT raw FROM quarantine").fetchall()[0]
        stored = dict(
            store.cursor()
            .execute("SELECT contact_id, description FROM contacts ORDER BY contact_id")
            .fetchall()
        )
        subjects = [s for (s,) in store.cursor().execute("SELECT subject FROM contacts").fetchall()]
    finally:
        store.close()
    for i, (text, gone, kept) in enumerate(CORPUS, 1):
        description = stored[f"T{i}"]
        for secret in (*gone, "Emily", "Garcia", "Zoë", "Okonjo"):
            assert secret not in description, (text, description)
        for word in kept:
            assert word in description, (text, description)
    assert all("Ana" not in s and "Lima" not in s and s.startswith("[name]:") for s in subjects)
    assert "[name] here, [account number]" in quarantined  # a quarantined row is kept as safe
    assert "Emily" not in quarantined and "12345678" not in quarantined


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u3000"])
def test_a_name_written_with_a_wide_space_is_found_by_its_parts_in_both_engines(con, space):
    names = [f"Jane{space}Roe", f"{space}Okafor{space}"]
    text = "Roe called; Okafor too"
    assert scrub(text, names) == "[name] called; [name] too"
    assert _scrub_in_sql(con, text, names) == "[name] called; [name] too"
