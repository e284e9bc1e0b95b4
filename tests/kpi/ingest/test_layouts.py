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
         "unknown keys ['colour']"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\nmood = "c"\n',
         "[columns] mood is not a contacts field"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\nwait_seconds = { column = "w", unit = "fortnights" }\n',
         "unit 'fortnights' is not one of"),
        ('[columns]\ncontact_id = "a"\nopened_at = { column = "b", format = "%d" }\n',
         "[columns] opened_at has unknown keys ['format']"),
        ('kind = "tickets"\n[columns]\ncontact_id = "a"\n', "kind must be 'contacts' or 'responses'"),
        ('[columns]\ncontact_id = "a"\n', "[columns] must map opened_at (it is required)"),
        ('[columns]\ncontact_id = "a"\nopened_at = 3\n', "must be a header, a list of headers or a table"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[scores.happiness]\ncolumn = "h"\n',
         "[scores.happiness] is not one of nps, csat, ces"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[scores.csat]\ncolumn = "c"\nscale = [5, 1]\n',
         "scale must be [low, high]"),
        ('duplicates = "sometimes"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         "duplicates must be 'quarantine' or 'keep_last'"),
        ("[columns\ncontact_id = 'a'\n", "not a valid TOML mapping file"),
        ('timezone = "Mars/Olympus"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         "timezone 'Mars/Olympus' is not valid"),
        ('date_format = "%Q-%d"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         "date_format '%Q-%d' is not valid"),
        ('[columns]\ncontact_id = "a"\nopened_at = { column = "b", date_format = "%d/%Q" }\n',
         "[columns] opened_at date_format '%d/%Q' is not valid"),
        ('[columns]\ncontact_id = { column = "a", extract = "([0-9+" }\nopened_at = "b"\n',
         "[columns] contact_id extract '([0-9+' is not valid"),
        ('ignore_lines = "(unclosed"\n[columns]\ncontact_id = "a"\nopened_at = "b"\n',
         "ignore_lines '(unclosed' is not a valid regular expression"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[constants]\nchanel = "phone"\n',
         "[constants] chanel is not a contacts field"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[values.stauts]\n"x" = "open"\n',
         "[values] stauts is not a contacts field"),
        ('[columns]\ncontact_id = "a"\nopened_at = "b"\n[values.status]\n"Waiting" = "waiting"\n',
         "[values.status] maps 'waiting' to 'waiting', which is not one of open, pending"),
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
