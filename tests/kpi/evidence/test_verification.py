"""A signed-off evidence pack can be checked against the store: the PDF and the DOCX verify as
authentic; a copy with one figure changed is altered; an edit in the store after the pack was
made, or a store without the sign-off, says so. The pack prints who signed, their role, the
organisation, the time, the completion date and the verification code."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import docx
import pytest

from kpi import insights
from kpi.engine.filters import Filters
from kpi.evidence import documents, reflections, verification
from kpi.evidence import packs as evidence
from kpi.store.connection import Store, open_store

LEARNER = "Amelia Booth"
MARCH_2026 = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
#: A day long after the sign-off: the pack's export date, never its completion date.
EXPORTED = date(2031, 1, 15)


def _signed(s: Store) -> reflections.Reflection:
    """EV-0001: a reflection on March's billing complaints, sent for review and signed off."""
    driver = next(i for i in insights.detect(s, MARCH_2026, ("driver",)) if "complaints" in i.title)
    r = reflections.from_insight(driver, LEARNER, level=3)
    r = reflections.replace(
        r,
        metrics=("complaint_rate",),
        sections={**r.sections, "description": "Billing complaints doubled in March."},
        action=reflections.SmartAction(
            "Send the bill explainer with every billing reply",
            "complaint_rate",
            3.0,
            date(2026, 5, 1),
        ),
    )
    r = reflections.save(s, r)
    reflections.submit(s, r.reflection_id)
    return reflections.review(s, r.reflection_id, "Sam Supervisor", "Clear analysis.", True)


@pytest.fixture(scope="module")
def signed_db(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("verify") / "store.duckdb"
    shutil.copy(seeded_template, path)
    s = open_store(path)
    _signed(s)
    reflections.set_organisation(s, "Acme Energy Ltd")
    s.close()
    return path


@pytest.fixture
def store(signed_db: Path, tmp_path: Path) -> Store:
    """A private copy of the signed store that a test may change."""
    path = tmp_path / "signed.duckdb"
    shutil.copy(signed_db, path)
    s = open_store(path)
    yield s
    s.close()


def _write(pack: evidence.Pack, folder: Path, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / evidence.file_name(pack, fmt)
    path.write_bytes(documents.pdf_bytes(pack) if fmt == "pdf" else documents.docx_bytes(pack))
    return path


@pytest.fixture
def pack(store: Store) -> evidence.Pack:
    return evidence.build(store, 1, today=EXPORTED)  # no charts drawn: the text is checked


def test_a_signed_pack_prints_signer_role_organisation_time_completion_and_code(
    store: Store, pack: evidence.Pack, tmp_path: Path
) -> None:
    r = reflections.get(store, 1)
    code = reflections.verification_code(r.signed_digest)
    completed = f"{r.submitted_at.day} {r.submitted_at:%b %Y}"
    assert len(code) == 11 and code[5] == "-"
    for fmt in ("pdf", "docx"):
        text = verification.file_text(_write(pack, tmp_path, fmt))
        assert f"Signed off by Sam Supervisor on {completed} {r.signed_off_at:%H:%M} UTC." in text
        assert "Signer's role: not verified" in text
        assert "Organisation: Acme Energy Ltd" in text
        assert f"Completed (sent for review): {completed}" in text
        assert f"Completed {completed}" in text  # in the details table too
        assert "15 Jan 2031" in text and "Completed (sent for review): 15 Jan 2031" not in text
        assert f"Verification code: {code}" in text and verification.code_in(text) == code


def test_without_an_organisation_setting_the_line_is_left_off(store: Store, tmp_path: Path) -> None:
    reflections.set_organisation(store, "")
    text = verification.file_text(_write(evidence.build(store, 1), tmp_path, "pdf"))
    assert "Organisation:" not in text and "Signed off by Sam Supervisor" in text


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_a_pack_as_made_is_authentic_and_unchanged(
    store: Store, pack: evidence.Pack, tmp_path: Path, fmt: str
) -> None:
    verdict = verification.verify(store, _write(pack, tmp_path, fmt))
    assert verdict.authentic and verdict.outcome == verification.AUTHENTIC
    assert "authentic and unchanged" in verdict.message and "EV-0001" in verdict.message
    assert "Sam Supervisor (not verified)" in verdict.message


def test_a_pdf_with_one_figure_changed_is_altered(
    store: Store, pack: evidence.Pack, tmp_path: Path
) -> None:
    first = pack.figures[0]
    assert first.value == "7.6%"  # the billing complaint rate the insight cites
    forged = replace(pack, figures=[replace(first, value="5.6%"), *pack.figures[1:]])
    verdict = verification.verify(store, _write(forged, tmp_path, "pdf"))
    assert verdict.outcome == verification.ALTERED and not verdict.authentic
    assert f"key figure {first.label!r} is not as signed" in verdict.message
    assert "(1 difference from EV-0001" in verdict.message


def test_a_docx_with_one_figure_edited_in_word_is_altered(
    store: Store, pack: evidence.Pack, tmp_path: Path
) -> None:
    path = _write(pack, tmp_path, "docx")
    document = docx.Document(str(path))
    cells = [c for t in document.tables for row in t.rows for c in row.cells if c.text == "7.6%"]
    assert len(cells) == 1
    cells[0].paragraphs[0].runs[0].text = "5.6%"
    edited = tmp_path / "edited.docx"
    document.save(str(edited))
    verdict = verification.verify(store, edited)
    assert verdict.outcome == verification.ALTERED and "key figure" in verdict.message
    assert verification.verify(store, path).authentic  # the original still is


def test_a_changed_sentence_of_the_reflection_is_altered(
    store: Store, pack: evidence.Pack, tmp_path: Path
) -> None:
    sections = [(label, text.replace("doubled", "halved")) for label, text in pack.sections]
    verdict = verification.verify(store, _write(replace(pack, sections=sections), tmp_path, "pdf"))
    assert verdict.outcome == verification.ALTERED and "section" in verdict.message


def test_an_edit_in_the_store_after_the_pack_was_made_is_reported(
    store: Store, pack: evidence.Pack, tmp_path: Path
) -> None:
    path = _write(pack, tmp_path, "pdf")
    r = reflections.get(store, 1)
    reflections.save(store, reflections.replace(r, title="Billing complaints, rewritten"))
    verdict = verification.verify(store, path)
    assert verdict.outcome == verification.STORE_CHANGED
    assert "changed in the store after this pack was made" in verdict.message
    assert "changed after sign-off" in verdict.message
    # A pack of it made now carries no sign-off, only the note that it no longer applies.
    text = verification.file_text(_write(evidence.build(store, 1), tmp_path / "now", "pdf"))
    assert "Signed off by" not in text and "Verification code" not in text
    assert "Changed after sign-off: Sam Supervisor signed it off" in text


def test_a_code_this_store_does_not_know_and_an_unsigned_pack_are_unknown(
    store: Store, pack: evidence.Pack, seeded_db: Path, tmp_path: Path
) -> None:
    path = _write(pack, tmp_path, "pdf")
    other = open_store(seeded_db)  # the same data, but nothing signed in it
    try:
        verdict = verification.verify(other, path)
    finally:
        other.close()
    assert verdict.outcome == verification.UNKNOWN and "no sign-off with verification code" in (
        verdict.message
    )
    unsigned = replace(pack, verification_code="", signed_off="")
    verdict = verification.verify(store, _write(unsigned, tmp_path / "u", "docx"))
    assert verdict.outcome == verification.UNKNOWN and "carries no verification code" in (
        verdict.message
    )


def test_a_file_that_is_not_a_pack_is_refused_in_one_line(store: Store, tmp_path: Path) -> None:
    broken = tmp_path / "pack.pdf"
    broken.write_text("not a pdf")
    with pytest.raises(verification.InvalidChoice, match="pack.pdf cannot be read as a PDF"):
        verification.verify(store, broken)
    (tmp_path / "pack.txt").write_text("Verification code: 00000-00000")
    with pytest.raises(verification.InvalidChoice, match="not a .pdf or .docx"):
        verification.verify(store, tmp_path / "pack.txt")


def test_a_whole_period_figure_is_checked_while_the_data_is_as_signed(
    store: Store, pack: evidence.Pack, tmp_path: Path
) -> None:
    last = pack.figures[-1]
    assert last.label.endswith("whole period")  # worked out from the data, not cited
    forged = replace(pack, figures=[*pack.figures[:-1], replace(last, value="9.9%")])
    path = _write(forged, tmp_path, "pdf")
    # Settings moved on since the sign-off (the organisation was set): the store cannot say
    # whether the figure was forged or the data changed, and says so.
    moved = verification.verify(store, path)
    assert moved.outcome == verification.STORE_CHANGED and "data changed" in moved.message
    signed = store.cursor().execute("SELECT store_version FROM reflection_signoffs").fetchall()
    store.cursor().execute("UPDATE reflection_signoffs SET store_version = ?", [store.version()])
    assert signed != [(store.version(),)]
    assert verification.verify(store, path).outcome == verification.ALTERED
