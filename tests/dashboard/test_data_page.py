"""The Data page: upload and import, the mapping editor, the quarantine download and undo."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from kpi.store import scratch
from kpi.store.batches import importer_name
from tests.dashboard.test_markdown_names import shown

PAGE = "views/data.py"
FRESHDESK = "freshdesk_ticket_export_trial.csv"  # in the real_samples folder


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _upload(at, name: str, content: bytes) -> None:
    at.file_uploader(key="uploads").set_value((name, content, "text/csv"))
    at.run()
    at.button(key="import").click()
    at.run()


@pytest.mark.real_samples
def test_upload_imports_a_recognised_export_and_reports_counts(
    real_samples: Path, app_for, tmp_path: Path
) -> None:
    at = app_for(tmp_path / "store.duckdb", PAGE)
    _upload(at, FRESHDESK, (real_samples / FRESHDESK).read_bytes())
    assert not at.exception
    assert not at.error
    report = "\n".join(t.value for t in at.text)
    assert "layout freshdesk" in report
    assert "rows read 45 = imported 45 + quarantined 0" in report
    assert _metrics(at)["Rows read"] == "45"


def test_unrecognised_export_gets_one_line_error_and_mapping_editor(
    app_for, tmp_path: Path
) -> None:
    content = b"ref;when;who\nA1;03/11/2025 10:00;Sam\nA2;15/11/2025 11:30;Ali\n"
    at = app_for(tmp_path / "store.duckdb", PAGE)
    _upload(at, "odd.csv", content)
    assert not at.exception
    assert len(at.error) == 1
    message = shown(at.error[0].value)
    assert "odd.csv" in message and "not recognised" in message
    # The editor lists the file's columns; map the two required fields and import.
    at.selectbox(key="map_contacts_contact_id").set_value("ref")
    at.selectbox(key="map_contacts_opened_at").set_value("when")
    at.selectbox(key="map_contacts_agent").set_value("who")
    at.run()
    toml = at.code[0].value
    assert 'contact_id = "ref"' in toml and 'opened_at = "when"' in toml
    at.button(key="map_import").click()
    at.run()
    assert not at.exception
    report = "\n".join(t.value for t in at.text)
    assert "rows read 2 = imported 2 + quarantined 0" in report


def test_quarantined_rows_show_and_download_safely(app_for, tmp_path: Path) -> None:
    content = (
        b"contact_id,opened_at,subject\n"
        b"1,2025-03-01 10:00,fine\n"
        b',2025-03-01 11:00,=HYPERLINK("http://x")\n'
        b"3,,no date\n"
    )
    at = app_for(tmp_path / "store.duckdb", PAGE)
    _upload(at, "contacts.csv", content)
    report = "\n".join(t.value for t in at.text)
    assert "rows read 3 = imported 1 + quarantined 2" in report
    download = at.get("download_button")
    labels = [d.proto.label for d in download]
    assert "Download quarantined rows (CSV)" in labels


@pytest.mark.real_samples
def test_undo_removes_a_batch_and_the_history_says_so(
    real_samples: Path, app_for, tmp_path: Path
) -> None:
    at = app_for(tmp_path / "store.duckdb", PAGE)
    _upload(at, FRESHDESK, (real_samples / FRESHDESK).read_bytes())
    at.selectbox(key="undo_batch").set_value(1).run()
    at.button(key="undo").click().run()
    assert not at.exception
    assert any("Batch 1 undone" in s.value for s in at.success)
    assert _metrics(at)["Imported"] == "0"


FIRST = b"contact_id,opened_at,subject\n1,2025-03-01 10:00,first\n2,2025-03-01 11:00,second\n"
# The same two contacts (the first changed) and a new one: one update, one unchanged, one new.
LATER = (
    b"contact_id,opened_at,subject\n1,2025-03-01 10:00,changed\n"
    b"2,2025-03-01 11:00,second\n3,2025-03-02 09:00,third\n"
)


def _two_batches(app_for, tmp_path: Path):
    at = app_for(tmp_path / "store.duckdb", PAGE)
    _upload(at, "contacts.csv", FIRST)
    _upload(at, "contacts_later.csv", LATER)
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_the_undo_picker_names_each_batch_and_chooses_none(app_for, tmp_path: Path) -> None:
    at = _two_batches(app_for, tmp_path)
    picker = at.selectbox(key="undo_batch")
    assert picker.value is None
    named = [o.rsplit(", ", 1) for o in picker.options]
    # When, and by whom: the account that ran the app (local mode has no sign-in).
    when_by = r"\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d UTC by " + re.escape(importer_name())
    assert all(re.fullmatch(when_by, w) for _, w in named), named
    assert [name for name, _ in named] == [
        "Batch 2: contacts_later.csv (layout generic contacts), 3 of 3 rows imported",
        "Batch 1: contacts.csv (layout generic contacts), 2 of 2 rows imported",
    ]
    assert not [b for b in at.button if b.key == "undo"]  # nothing to confirm until a pick


def test_the_imports_table_says_who_made_each_import(app_for, tmp_path: Path) -> None:
    at = _two_batches(app_for, tmp_path)
    table = at.dataframe[0].value
    assert list(table["By"]) == [importer_name(), importer_name()]
    assert "imported_by" not in table.columns


def test_undo_shows_what_will_change_then_does_exactly_that(app_for, tmp_path: Path) -> None:
    at = _two_batches(app_for, tmp_path)
    at.selectbox(key="undo_batch").set_value(2).run()
    preview = shown(at.warning[0].value)
    assert preview.startswith(f"Undoing batch 2 (imported by {importer_name()}) changes")
    # Contact 1 (changed) and 3 (new) go, contact 1's first version comes back; 2 is batch 1's.
    assert "contacts: 2 rows this batch stored removed" in preview
    assert "1 earlier version they replaced restored (1 row fewer in the store)" in preview
    assert _metrics(at)["Imported"] == "5"
    at.button(key="undo").click().run()
    assert not at.exception
    assert any(s.value.startswith("Batch 2 undone: contacts: 2 rows") for s in at.success)
    assert _metrics(at)["Imported"] == "2"
    # The undone batch is no longer offered; the picker is back to no choice.
    picker = at.selectbox(key="undo_batch")
    assert picker.value is None and len(picker.options) == 1
    assert any("Already undone, so not listed: batch 2." in c.value for c in at.caption)


def test_a_refused_undo_says_what_to_undo_first_before_any_button(app_for, tmp_path: Path) -> None:
    at = _two_batches(app_for, tmp_path)
    at.selectbox(key="undo_batch").set_value(1).run()
    assert [shown(e.value) for e in at.error] == [
        "Cannot undo batch 1: batch 2 updated rows that batch 1 imported; undo batch 2 first."
    ]
    assert not [b for b in at.button if b.key == "undo"]


ODD = b"ref;when;who\nA1;03/11/2025 10:00;Sam\nA2;15/11/2025 11:30;Ali\n"
MAPPING = b'name = "odd"\nkind = "contacts"\n[columns]\ncontact_id = "ref"\nopened_at = "when"\n'


def _upload_with_mapping(at, mapping: bytes, name: str = "team_mapping.toml") -> None:
    at.file_uploader(key="uploads").set_value(("odd.csv", ODD, "text/csv"))
    at.radio(key="layout_how").set_value("Use a mapping file").run()
    at.file_uploader(key="mapping_upload").set_value((name, mapping, "application/toml")).run()
    at.button(key="import").click().run()


def test_a_good_uploaded_mapping_imports_the_file(app_for, tmp_path: Path) -> None:
    at = app_for(tmp_path / "store.duckdb", PAGE)
    _upload_with_mapping(at, MAPPING)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "rows read 2 = imported 2 + quarantined 0" in "\n".join(t.value for t in at.text)


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        (b'ignore_lines = "(unclosed"\n' + MAPPING, "ignore_lines"),
        (b"ignore_lines = 5\n" + MAPPING, "ignore_lines"),
        (b'ignore_lines = "(x+x+)+y"\nsheet = 7\n' + MAPPING, "sheet"),
        (b"nonsense = 1\n" + MAPPING, "nonsense"),
        (b"not toml [[[\n", "TOML"),
    ],
    ids=["bad regular expression", "number for a pattern", "number for a sheet", "unknown key",
         "not TOML"],
)  # fmt: skip
def test_a_bad_uploaded_mapping_is_one_error_line_naming_it(
    app_for, tmp_path: Path, mapping: bytes, named: str
) -> None:
    at = app_for(tmp_path / "store.duckdb", PAGE)
    _upload_with_mapping(at, mapping)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1
    message = shown(at.error[0].value)
    assert message.startswith("team_mapping.toml: ") and named in message
    assert "\n" not in message and "Traceback" not in message
    assert _metrics(at)["Imported"] == "0"


def test_the_mapping_editor_offers_each_response_field_once(app_for, tmp_path: Path) -> None:
    at = app_for(tmp_path / "store.duckdb", PAGE)
    at.file_uploader(key="uploads").set_value(("odd.csv", ODD, "text/csv")).run()
    at.radio(key="map_kind").set_value("responses").run()
    assert not at.exception, [e.value for e in at.exception]
    keys = [s.key for s in at.selectbox if s.key and s.key.startswith("map_responses_")]
    assert len(keys) == len(set(keys))
    assert {"map_responses_csat", "map_responses_nps", "map_responses_ces"} <= set(keys)


def test_a_workbook_that_cannot_be_read_is_one_error_line(app_for, tmp_path: Path) -> None:
    at = app_for(tmp_path / "store.duckdb", PAGE)
    at.file_uploader(key="uploads").set_value(("broken.xlsx", b"PK\x03\x04 not a zip", "x")).run()
    # The mapping editor peeks at the headers: one line, no traceback.
    assert not at.exception, [e.value for e in at.exception]
    assert [shown(e.value).split(":")[0] for e in at.error] == ["broken.xlsx"]
    at.button(key="import").click().run()
    # The import says the same: still one error box, the editor points to it.
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and shown(at.error[0].value).startswith("broken.xlsx: ")
    assert any("see the error above" in c.value for c in at.caption)


def test_uploads_go_to_private_scratch_and_are_removed(
    app_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    made: list[Path] = []  # the real scratch folders, noted as they are made

    def noted(name: str) -> Path:
        made.append(real(name))
        return made[-1]

    real = scratch.new_folder
    monkeypatch.setattr(scratch, "new_folder", noted)
    at = app_for(tmp_path / "store.duckdb", PAGE)
    at.file_uploader(key="uploads").set_value(("odd.csv", ODD, "text/csv")).run()  # peeked
    at.button(key="import").click().run()  # imported
    assert not at.exception
    assert "not recognised" in shown(at.error[0].value)  # read from the scratch copy
    assert [p.name.split("-", 1)[1] for p in made] == ["peek", "upload", "peek"]
    assert all(p.parent == scratch.folder() and not p.exists() for p in made)
    assert not [p for p in system_temp.rglob("*") if p.name.startswith(("kpi-upload", "kpi-peek"))]
