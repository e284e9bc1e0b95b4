"""The Data page: upload and import, the mapping editor, the quarantine download and undo."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert "odd.csv" in at.error[0].value and "not recognised" in at.error[0].value
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
    at.selectbox(key="undo_batch").set_value(1)
    at.button(key="undo").click()
    at.run()
    assert not at.exception
    assert any("Batch 1 undone" in s.value for s in at.success)
    assert _metrics(at)["Imported"] == "0"
