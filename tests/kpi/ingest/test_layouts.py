"""Layouts and mapping files: every built-in parses and is recognised from its own header;
a broken mapping file gets one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.errors import ImportProblem
from kpi.ingest.layouts import (
    builtin_layouts,
    detect_layout,
    get_layout,
    load_mapping,
    mapping_toml,
    parse_layout,
    resolve_headers,
)
from kpi.store.schema import field_map

LAYOUTS = builtin_layouts()
REQUIRED = {
    "zendesk", "freshdesk", "hubspot", "intercom", "helpscout", "chatwoot_csat",
    "jira_service_management", "generic_contacts", "generic_survey",
}  # fmt: skip


def test_the_built_in_layouts_cover_the_common_exports():
    assert set(LAYOUTS) >= REQUIRED


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_built_in_layout_is_complete_and_consistent(name):
    layout = LAYOUTS[name]
    assert layout.builtin and layout.title and layout.detect
    fields = field_map(layout.kind)
    for field_name in layout.columns:
        assert field_name in fields
    for required in (f.name for f in fields.values() if f.required):
        assert required in layout.columns or required in layout.constants
    # Words a layout maps to must be canonical words.
    for field_name, words in layout.values.items():
        choices = fields[field_name].choices
        if choices:
            assert set(words.values()) <= set(choices), (field_name, words)
    for score in layout.scores.values():
        low, high = score.scale
        assert low < high
        assert all(v is None or low <= v <= high for v in score.labels.values())


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_a_layout_is_detected_from_its_own_detect_headers(name):
    layout = LAYOUTS[name]
    headers = [*layout.detect, "Some other column"]
    assert detect_layout(headers, "export.csv").name == name


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_detection_ignores_case_spacing_and_bom_in_headers(name):
    layout = LAYOUTS[name]
    headers = [
        f"\ufeff {h.upper()}  " if i == 0 else h.lower() for i, h in enumerate(layout.detect)
    ]
    assert detect_layout(headers, "export.csv").name == name


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_a_file_with_all_of_a_layouts_columns_is_detected_and_resolves_them_all(name):
    layout = LAYOUTS[name]
    headers = sorted(layout.source_columns() | set(layout.detect))
    assert detect_layout(headers, "export.csv").name == name
    positions = resolve_headers(layout, headers, "export.csv")
    assert set(positions) == layout.source_columns()


def test_an_unknown_header_is_refused_with_the_headers_and_what_to_do():
    with pytest.raises(ImportProblem) as caught:
        detect_layout(["Foo", "Bar"], "mystery.csv")
    message = str(caught.value)
    assert message.startswith(
        "mystery.csv: the layout was not recognised from its header (Foo, Bar)"
    )
    assert "--mapping FILE" in message and "\n" not in message


def test_a_survey_without_a_contact_id_column_is_fine():
    layout = LAYOUTS["generic_survey"]
    positions = resolve_headers(layout, ["response_id", "nps"], "survey.csv")
    assert positions == {"response_id": 0, "nps": 1}


def test_a_missing_required_column_names_it_and_lists_the_files_headers():
    layout = LAYOUTS["generic_contacts"]
    with pytest.raises(ImportProblem) as caught:
        resolve_headers(layout, ["contact_id", "team"], "contacts.csv")
    message = str(caught.value)
    assert "contacts.csv: missing required column 'opened_at' (for opened_at)" in message
    assert "the file has contact_id, team" in message


def test_an_unknown_built_in_layout_lists_the_real_ones():
    with pytest.raises(ImportProblem, match="no built-in layout called 'zendsk'.*zendesk"):
        get_layout("zendsk")


# --- mapping files ---------------------------------------------------------------------------------


def mapping(tmp_path: Path, text: str, name: str = "my_export.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
kind = "contacts"
date_format = "%d-%m-%Y %H:%M"
timezone = "Europe/London"
null_values = ["?", "NA"]

[columns]
contact_id = "number"
opened_at = ["Date", "Time"]
channel = "contact_type"
sla_met = "made_sla"
wait_seconds = { column = "Wait", unit = "minutes" }

[values.status]
"Awaiting User Info" = "pending"

[constants]
channel = "phone"

[scores.csat]
column = "Customer Satisfaction Rating"
scale = [1, 5]
"""


def test_the_design_documents_mapping_file_loads(tmp_path):
    layout = load_mapping(mapping(tmp_path, GOOD))
    assert layout.name == "my_export" and layout.kind == "contacts"
    assert layout.columns["opened_at"].columns == ("Date", "Time")
    assert layout.columns["wait_seconds"].unit == "minutes"
    assert layout.values["status"] == {"awaiting user info": "pending"}
    assert layout.scores["csat"].scale == (1.0, 5.0)
    assert layout.null_values == ("?", "NA")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('kind = "contacts"\ncolour = "red"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         "the mapping file has an unknown key colour"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\nmood = "c"\n',
         "[columns] mood is not a contacts field"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\nwait_seconds = { column = "w", unit = "fortnights" }\n',
         '[columns] wait_seconds unit must be one of seconds, minutes, hours, days, not "fortnights"'),
        ('[columns]\ncontact_id = "a"\nopened_at = { column = "b", format = "%d" }\n',
         "[columns] opened_at has an unknown key format (did you mean date_format?)"),
        ('kind = "tickets"\n[columns]\ncontact_id = "a"\n', 'kind must be one of contacts, responses, intervals, not "tickets"'),
        ('[columns]\ncontact_id = "a"\n', "[columns] must map opened_at (it is required)"),
        ('[columns]\ncontact_id = "a"\nopened_at = 3\n', "[columns] opened_at must be a header, a list of headers or a table"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[scores.happiness]\ncolumn = "h"\n',
         "[scores.happiness] is not one of nps, csat, ces"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[scores.csat]\ncolumn = "c"\nscale = [5, 1]\n',
         "[scores.csat] scale must be [low, high] with low < high, e.g. [1, 5], not [5, 1]"),
        ('duplicates = "sometimes"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         'duplicates must be one of quarantine, keep_last, not "sometimes"'),
        ("[columns\ncontact_id = 'a'\n", "not a valid TOML mapping file"),
        ('timezone = "Mars/Olympus"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         'timezone must be a known time zone name such as "Europe/London" or "UTC", not "Mars/Olympus"'),
        ('date_format = "%Q-%d"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         'date_format "%Q-%d" is not valid ('),
        ('[columns]\ncontact_id = "a"\nopened_at = { column = "b", date_format = "%d/%Q" }\n',
         '[columns] opened_at date_format "%d/%Q" is not valid ('),
        ('[columns]\ncontact_id = { column = "a", extract = "([0-9+" }\nopened_at = "b"\n',
         '[columns] contact_id extract "([0-9+" is not a valid RE2 regular expression'),
        ('ignore_lines = "(unclosed"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         'ignore_lines "(unclosed" is not a valid RE2 regular expression'),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[constants]\nchanel = "phone"\n',
         "[constants] chanel is not a contacts field"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[values.stauts]\n"x" = "open"\n',
         "[values] stauts is not a contacts field"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[values.status]\n"Waiting" = "waiting"\n',
         '[values.status] maps "waiting" to "waiting", which is not one of open, pending'),
    ],
    ids=["unknown-key", "unknown-field", "unit", "column-key", "kind", "required", "type",
         "score-name", "scale", "duplicates", "toml", "timezone", "date-format",
         "column-date-format", "extract", "ignore-lines", "constant-field", "values-field",
         "values-word"],
)  # fmt: skip
def test_a_broken_mapping_file_gets_one_line_naming_the_file(tmp_path, text, words):
    with pytest.raises(ImportProblem) as caught:
        load_mapping(mapping(tmp_path, text, "broken.toml"))
    message = str(caught.value)
    assert message.startswith("broken.toml: ")
    assert words in message
    assert "\n" not in message


def test_a_missing_mapping_file_is_named(tmp_path):
    with pytest.raises(ImportProblem, match="^gone.toml: no such mapping file"):
        load_mapping(tmp_path / "gone.toml")


def test_a_mapping_saved_with_a_bom_still_loads(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeff".encode() + b'[columns]\ncontact_id = "a"\nopened_at = "b"\n')
    assert load_mapping(path).columns["contact_id"].columns == ("a",)


def test_a_plain_score_column_takes_its_default_scale():
    layout = parse_layout(
        {"kind": "responses", "columns": {"response_id": "id", "nps": "NPS"}}, "m.toml"
    )
    assert layout.scores["nps"].column == "NPS" and layout.scores["nps"].scale == (0.0, 10.0)
    assert "nps" not in layout.columns


REAL_HEADERS = {
    "zendesk": (
        "Summation column,Id,Requester,Requester id,Requester external id,Requester email,"
        "Requester domain,Submitter,Assignee,Group,Subject,Tags,Status,Priority,Via,Ticket type,"
        "Created at,Updated at,Assigned at,Organization,Due date,Initially assigned at,Solved at,"
        "Resolution time,Satisfaction Score,Group stations,Assignee stations,Reopens,Replies,"
        "First reply time in minutes,First reply time in minutes within business hours"
    ),
    "freshdesk": (
        "Ticket ID, Subject, Description, Status, Priority, Source, Type, Agent, Group, "
        "Created time, Due by Time, Resolved time, Closed time, Last update time, "
        "Initial response time, Time tracked, First response time (in hrs), "
        "Resolution time (in hrs), Agent interactions, Customer interactions, Resolution status, "
        "First response status, Tags, Survey results, Product"
    ),
    "chatwoot_csat": (
        "Agent Name,Rating,Feedback Comment,Contact Name,Contact Email Address,"
        "Contact Phone Number,Link to the conversation,Recorded date"
    ),
    "cfpb_complaints": (
        "Date received,Product,Sub-product,Issue,Sub-issue,Consumer complaint narrative,"
        "Company public response,Company,State,ZIP code,Tags,Consumer consent provided?,"
        "Submitted via,Date sent to company,Company response to consumer,Timely response?,"
        "Consumer disputed?,Complaint ID"
    ),
}


@pytest.mark.parametrize("name", sorted(REAL_HEADERS))
def test_real_export_headers_are_recognised(name):
    headers = [h.strip() for h in REAL_HEADERS[name].split(",")]
    layout = detect_layout(headers, "export.csv")
    assert layout.name == name
    resolve_headers(layout, headers, "export.csv")  # every column it needs is there


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_built_in_layout_passes_the_checks_a_users_mapping_gets(name):
    import tomllib
    from importlib import resources

    text = (resources.files("kpi.ingest") / "builtin" / f"{name}.toml").read_text(encoding="utf-8")
    layout = parse_layout(tomllib.loads(text), f"{name}.toml", builtin=False)
    assert layout.name == name


# --- issue 14: values that used to import wrong data or end in "unexpected" ------------------------

BASE = '[columns]\ncontact_id = "a"\nopened_at = "b"\n'


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('null_values = "NA"\n' + BASE,
         'null_values must be a list of strings, e.g. ["NA", "-"], not the string "NA".'),
        (BASE + 'escalated = { column = "e", true_values = "YA" }\n',
         '[columns] escalated true_values must be a list of words, e.g. ["done", "yes"], '
         'not the string "YA".'),
        (BASE + '[scores.ces]\ncolumn = "c"\ndirection = "low_is_eassy"\n',
         "[scores.ces] direction must be one of high_is_good, high_is_easy, low_is_good, "
         'low_is_easy, not "low_is_eassy" (did you mean low_is_easy?).'),
        ('[columns]\ncontact_id = { column = "a", extract = "A" }\nopened_at = "b"\n',
         '[columns] contact_id extract "A" has no capture group: put the part to keep in '
         'parentheses, e.g. "^([^(]*)".'),
        (BASE + '[scores.csat]\ncolumn = "c"\nscale = 5\n',
         "[scores.csat] scale must be [low, high] numbers with low < high, e.g. [1, 5], or the "
         'answer words from lowest to highest, e.g. ["Bad", "OK", "Good"], not the number 5.'),
        ('columns = "x"\n',
         'columns must be a table of field = "Header" lines, e.g. contact_id = "Ticket ID", '
         'not the string "x".'),
        (BASE + 'escalated = { column = "Tags", contains = 5 }\n',
         '[columns] escalated contains must be a word to look for, e.g. "complaint", '
         "not the number 5."),
        (BASE + '[scores.csat]\ncolumn = "c"\nscale = ["Bad", "OK", "bad"]\n',
         '[scores.csat] scale holds "bad" twice (words are matched whatever their case).'),
        (BASE + '[scores.csat]\ncolumn = "c"\nlabels = { Good = "yes" }\n',
         '[scores.csat] labels Good must be a number or "" (not an answer), not the string "yes".'),
        ('sheet = 2\n' + BASE, 'sheet must be a sheet name (a string), e.g. "Calls", not the number 2.'),
        (BASE + 'team = { column = "t", optional = "yes" }\n',
         '[columns] team optional must be true or false, not the string "yes".'),
        ('[detect]\nheaders = "Id"\n' + BASE,
         '[detect] headers must be a list of headers, e.g. ["Id", "Created at"], not the string "Id".'),
        (BASE + '[constants]\nchannel = ["phone"]\n',
         '[constants] channel must be one value (a string, a number or true/false), '
         'not the list ["phone"].'),
        (BASE + '[values.status]\n"Waiting" = 2\n',
         '[values.status] Waiting must be a canonical word (a string), e.g. "pending", '
         "not the number 2."),
        (BASE + '[scores.csat]\nscale = [1, 5]\n', '[scores.csat] needs column = "Header".'),
        (BASE + 'team = { column = "t", columns = ["u"] }\n',
         "[columns] team gives both column and columns: keep one."),
        ('missing_columns = "skip"\n' + BASE,
         'missing_columns must be one of error, ignore, not "skip".'),
    ],
    ids=["null-values-string", "true-values-string", "direction-typo", "extract-no-group",
         "scale-number", "columns-string", "contains-number", "scale-word-twice", "label-word",
         "sheet-number", "optional-string", "detect-string", "constant-list", "values-number",
         "score-column-missing", "column-and-columns", "missing-columns"],
)  # fmt: skip
def test_a_wrong_type_or_value_is_refused_with_the_key_and_what_it_expects(tmp_path, text, line):
    with pytest.raises(ImportProblem) as caught:
        load_mapping(mapping(tmp_path, text, "my.toml"))
    assert str(caught.value) == f"my.toml: {line}"


def test_several_problems_name_the_first_and_count_the_rest(tmp_path):
    text = 'null_values = "NA"\nkind = "tickets"\nsheet = 3\n' + BASE
    with pytest.raises(ImportProblem) as caught:
        load_mapping(mapping(tmp_path, text, "my.toml"))
    assert (
        str(caught.value)
        == 'my.toml: kind must be one of contacts, responses, intervals, not "tickets" (and 2 more).'
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (BASE + '[scores.csat]\ncolumn = "c"\ndirection = "low_is_good"\n',
         '[scores.csat] direction "low_is_good" is only for ces'),
        (BASE + '[scores.csat]\ncolumn = "c"\nscale = [1, 5]\nlabels = { Good = 7 }\n',
         '[scores.csat] labels "Good" = 7 is outside the scale [1, 5]'),
        (BASE + '[scores.csat]\ncolumn = "c"\nlabels = { Good = 2, good = 1 }\n',
         '[scores.csat] labels gives "good" two different values'),
        (BASE + '[responses]\nresponded_at = "solved_at"\n',
         '[responses] responded_at must be one of opened_at, first_response_at, resolved_at'),
        (BASE + 'csat = ["Score", "Other"]\n', "[columns] csat is a score: give one header"),
        ('date_format = "dd/mm/yyyy"\n' + BASE,
         'date_format must use strptime codes such as "%d/%m/%Y %H:%M", not "dd/mm/yyyy"'),
        ('[columns]\ncontact_id = { column = "a", extract = "(a)\\\\1" }\nopened_at = "b"\n',
         "is not a valid RE2 regular expression (Pattern failed to parse: invalid escape "
         "sequence: \\1)"),
        ('timezone = "Europe/Londn"\n' + BASE, "(did you mean Europe/London?)"),
        (BASE + '[constants]\nchannel = "telepathy"\n',
         '[constants] channel = "telepathy" is not one of email, phone'),
        (BASE + '[constants]\nstatus = "clsoed"\n', '[constants] status = "clsoed" is not one of'),
    ],
    ids=["direction-not-ces", "label-outside-scale", "label-twice", "responded-at",
         "score-headers", "date-format-no-codes", "backreference", "timezone-typo",
         "constant-not-a-channel", "constant-status-typo"],
)  # fmt: skip
def test_a_value_that_would_be_silently_ignored_or_misread_is_refused(tmp_path, text, words):
    with pytest.raises(ImportProblem) as caught:
        load_mapping(mapping(tmp_path, text, "my.toml"))
    message = str(caught.value)
    assert message.startswith("my.toml: ") and words in message
    assert len(message.splitlines()) == 1


def test_a_catastrophic_backtracking_pattern_is_accepted_because_re2_runs_it_in_linear_time(
    tmp_path,
):
    layout = load_mapping(mapping(tmp_path, 'ignore_lines = "(x+x+)+y"\n' + BASE))
    assert layout.ignore_lines == "(x+x+)+y"


def test_the_documented_values_are_read_as_typed_values(tmp_path):
    text = (
        'null_values = ["NA"]\nsheet = "Calls"\n' + BASE
        + 'escalated = { column = "e", true_values = ["YA"], contains = "esc" }\n'
        + '[scores.ces]\ncolumn = "c"\nscale = [1, 7]\ndirection = "low_is_easy"\n'
        + 'labels = { "Very easy" = 1, "N/A" = "" }\n'
    )  # fmt: skip
    layout = load_mapping(mapping(tmp_path, text))
    assert layout.null_values == ("NA",) and layout.sheet == "Calls"
    assert layout.columns["escalated"].true_values == ("ya",)
    assert layout.columns["escalated"].contains == "esc"
    assert layout.scores["ces"].low_is_good and layout.scores["ces"].scale == (1.0, 7.0)
    assert layout.scores["ces"].labels == {"very easy": 1.0, "n/a": None}


def test_a_folder_or_an_oversized_file_is_not_read_as_a_mapping(tmp_path):
    (tmp_path / "folder.toml").mkdir()
    with pytest.raises(ImportProblem, match=r"^folder.toml: is not a mapping file"):
        load_mapping(tmp_path / "folder.toml")
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 200_000, encoding="utf-8")
    with pytest.raises(ImportProblem, match=r"^big.toml: is too big for a mapping file"):
        load_mapping(big)


def test_a_number_too_long_for_python_is_one_line_not_a_traceback(tmp_path):
    with pytest.raises(ImportProblem, match=r"^long.toml: not a valid TOML mapping file"):
        load_mapping(mapping(tmp_path, "x = " + "9" * 5000 + "\n" + BASE, "long.toml"))


def test_the_built_in_layouts_are_read_once_and_handed_out_as_fresh_dicts():
    first = builtin_layouts()
    first.pop("zendesk")
    second = builtin_layouts()
    assert "zendesk" in second  # the cache is not the caller's dict
    assert second["freshdesk"] is builtin_layouts()["freshdesk"]  # parsed once per process


def test_a_scale_of_answer_words_is_an_ordinal_scale_one_to_k(tmp_path):
    text = BASE + '[scores.csat]\ncolumn = "c"\nscale = ["Bad", "OK", "Good"]\n'
    text += 'labels = { "Offered" = "", "good" = 3 }\n'
    score = load_mapping(mapping(tmp_path, text, "my.toml")).scores["csat"]
    assert score.scale == (1.0, 3.0)
    assert score.words == ("Bad", "OK", "Good")
    assert score.labels == {"bad": 1.0, "ok": 2.0, "good": 3.0, "offered": None}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[scores.nps]\ncolumn = "c"\nscale = ["Bad", "Good"]\n',
         "[scores.nps] scale cannot be words: NPS is always asked 0 to 10; map words to numbers "
         "with labels."),
        ('[scores.csat]\ncolumn = "c"\nscale = ["Bad", "Good"]\nlabels = { Good = 1 }\n',
         '[scores.csat] labels "Good" = 1.0 disagrees with its place in scale (2); keep one.'),
    ],
    ids=["nps-words", "label-disagrees"],
)  # fmt: skip
def test_a_scale_of_words_that_cannot_hold_is_one_line(tmp_path, text, line):
    with pytest.raises(ImportProblem) as caught:
        load_mapping(mapping(tmp_path, BASE + text, "my.toml"))
    assert str(caught.value) == f"my.toml: {line}"


def test_date_format_may_be_a_list_tried_in_order(tmp_path):
    text = 'date_format = ["%d-%m-%Y", "%m/%d/%Y"]\n' + BASE
    layout = load_mapping(mapping(tmp_path, text, "my.toml"))
    assert layout.date_format == ("%d-%m-%Y", "%m/%d/%Y")
    for wrong, said in (
        ("[]", "not the list []"),
        ('["%d-%m-%Y", 5]', 'not the list ["%d-%m-%Y", 5]'),
        ('["%d-%m-%Y", "dd/mm"]', 'must use strptime codes such as "%d/%m/%Y %H:%M", not "dd/mm"'),
    ):
        with pytest.raises(ImportProblem) as caught:
            load_mapping(mapping(tmp_path, f"date_format = {wrong}\n" + BASE, "my.toml"))
        assert str(caught.value).startswith("my.toml: date_format ") and said in str(caught.value)


def test_the_editors_mapping_with_words_labels_and_missing_cells_reads_back(tmp_path):
    text = mapping_toml(
        "responses",
        {"response_id": "Id", "csat": "Satisfaction", "ces": "Effort"},
        scales={"csat": ("Bad", "OK", "Good"), "ces": (1.0, 5.0)},
        labels={"csat": {"Offered": None}, "ces": {"Easy": 1.0}},
        null_values=("n/a", "-"),
    )
    layout = load_mapping(mapping(tmp_path, text, "editor.toml"))
    assert layout.null_values == ("n/a", "-")
    assert layout.scores["csat"].words == ("Bad", "OK", "Good")
    assert layout.scores["csat"].labels["offered"] is None
    assert layout.scores["ces"].scale == (1.0, 5.0) and layout.scores["ces"].labels == {"easy": 1.0}
