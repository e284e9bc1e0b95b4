"""A learner's portfolio: the index of their own reflections, coverage against their own
standard (never pooled with another learner's), review-date reminders, the KSB annex and the
prep sheet, read back from the PDF (pypdf) and the DOCX (python-docx); the CLI writes it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from kpi.cli import main as cli
from kpi.engine.filters import Filters
from kpi.errors import InvalidChoice
from kpi.evidence import coverage, ksbs, learners, portfolio, reflections
from kpi.evidence.reflections import SmartAction
from kpi.store.connection import Store, open_store

TODAY = date(2026, 11, 30)
AMELIA, OWEN = "Amelia Booth", "Owen Jenkins"


def _reflection(store: Store, learner: str, title: str, refs: tuple[str, ...], **kw) -> int:
    r = reflections.blank(learner, 2, Filters(), ("fcr",))
    r = replace(r, title=title, ksbs=refs, **kw)
    saved = reflections.save(store, r)
    assert saved.reflection_id is not None
    return saved.reflection_id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "p.duckdb")
    _reflection(
        s,
        AMELIA,
        "Billing complaints in March",
        ("ST0072:S5", "ST0072:K6"),
        sections={
            "situation": "Billing complaints rose in March. Jo rang on 07700 900123 about it.",
            "task": "I owned the billing queue.",
            "action": "I sent the bill explainer with every billing reply.",
            "result": "Complaints in my queue fell from 3.2% to 2.4%.",
        },
        action=SmartAction("Send the bill explainer with every billing reply", "fcr", 80.0,
                           date(2026, 11, 20)),
    )  # fmt: skip
    _reflection(
        s,
        AMELIA,
        "FCR after the knowledge base",
        ("ST0072:B6",),
        sections={"situation": "FCR went up in January."},
        action=SmartAction("Use the knowledge base on every call", "fcr", 80.0, date(2026, 12, 5)),
    )
    _reflection(
        s,
        AMELIA,
        "Later review",
        ("ST0072:K1",),
        action=SmartAction("Something for the new year", "fcr", 80.0, date(2027, 1, 15)),
    )
    _reflection(s, OWEN, "Owen's reflection", ("ST0072:K2", "ST0072:K6"))
    yield s
    s.close()


def test_coverage_is_the_learners_own_not_pooled_across_the_store(store: Store) -> None:
    mine = coverage.learner_coverage(store, AMELIA).set_index("ref")
    pooled = coverage.ksb_coverage(store, "ST0072").set_index("ref")
    assert mine.loc["ST0072:K6", "reflections"] == 1
    assert pooled.loc["ST0072:K6", "reflections"] == 2
    assert mine.loc["ST0072:K2", "reflections"] == 0  # Owen's evidence is not Amelia's
    assert mine.loc["ST0072:K6", "evidence"] == "EV-0001"
    assert coverage.coverage_summary(mine.reset_index()).startswith("4 of 18 KSBs")


def test_a_team_leader_is_counted_against_st0384_and_other_standards_are_left_out(
    store: Store,
) -> None:
    learners.register(store, OWEN, "ST0384", "1.1")
    table = coverage.learner_coverage(store, OWEN)
    assert set(table.ref.str.split(":").str[0]) == {"ST0384"}
    assert table.reflections.sum() == 0
    assert coverage.off_standard(store, OWEN) == ["EV-0004 ST0072:K2", "EV-0004 ST0072:K6"]
    p = portfolio.build(store, OWEN, TODAY)
    assert p.registration.describe == "ST0384 Team leader or supervisor (Level 3), version 1.1"
    assert portfolio.off_standard_lines(p) == [
        "Not counted (mapped to another standard's KSB): EV-0004 ST0072:K2, EV-0004 ST0072:K6. "
        "Map them to ST0384 KSBs instead."
    ]


def test_mapping_a_ksb_of_another_standard_is_refused_in_one_line(store: Store) -> None:
    learners.check_mapping(store, AMELIA, ["ST0072:K1"])
    with pytest.raises(InvalidChoice) as refused:
        learners.check_mapping(store, AMELIA, ["ST0072:K1", "ST0384:finance"])
    assert str(refused.value) == (
        "ST0384:finance belongs to ST0384, but Amelia Booth is on ST0072; "
        "map the reflection to ST0072 KSBs only"
    )
    with pytest.raises(InvalidChoice, match="unknown standard 'ST9999'; choose from"):
        learners.register(store, AMELIA, "ST9999")


def test_a_learner_nobody_registered_is_on_the_standard_of_their_latest_reflection(
    store: Store,
) -> None:
    found = learners.registration(store, AMELIA)
    assert (found.standard, found.version, found.recorded) == ("ST0072", "", False)
    assert learners.learners(store) == [AMELIA, OWEN]


def test_reminders_list_review_dates_past_or_within_seven_days_only(store: Store) -> None:
    p = portfolio.build(store, AMELIA, TODAY)
    assert portfolio.reminder_lines(p) == [
        "EV-0001 Billing complaints in March: the review date 20 Nov 2026 passed 10 days ago",
        "EV-0002 FCR after the knowledge base: review it in 5 days (5 Dec 2026)",
    ]
    later = portfolio.build(store, AMELIA, date(2026, 1, 1))
    assert portfolio.reminder_lines(later) == [
        "No review date has passed or falls in the next 7 days."
    ]


def test_the_index_lists_only_the_learners_reflections_with_their_ksbs_and_dates(
    store: Store,
) -> None:
    table = portfolio.index_table(portfolio.build(store, AMELIA, TODAY))
    assert table.Reference.tolist() == ["EV-0001", "EV-0002", "EV-0003"]
    assert table.KSBs.tolist() == ["K6, S5", "B6", "K1"]
    assert table.Status.tolist() == ["Draft"] * 3
    assert table["Review date"].tolist() == ["20 Nov 2026", "5 Dec 2026", "15 Jan 2027"]


def test_the_prep_sheet_gives_a_star_summary_and_questions_per_ksb(store: Store) -> None:
    p = portfolio.build(store, AMELIA, TODAY)
    evidenced = [item.ksb.ref for item in p.prep if item.star]
    assert evidenced == ["ST0072:K1", "ST0072:K6", "ST0072:S5", "ST0072:B6"]
    assert [item.ksb.ref for item in p.prep[:4]] == evidenced  # KSBs with evidence come first
    first = p.prep[1]
    assert [letter for _, letter, _ in first.star] == ["Situation", "Task", "Action", "Result"]
    situation = first.star[0][2]
    assert "900123" not in situation and "Billing complaints rose in March." in situation
    assert first.questions == ksbs.question_bank()["ST0072:K6"]
    gap = next(item for item in p.prep if item.ksb.ref == "ST0072:B5")
    assert gap.star == () and len(gap.questions) == 2


def test_every_ksb_of_every_standard_has_likely_questions() -> None:
    bank = ksbs.question_bank()
    assert {k.ref for k in ksbs.builtin()} <= set(bank)
    assert all(len(q) >= 2 and len(set(q)) == len(q) for q in bank.values())


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_pdf_holds_the_index_coverage_reminders_annex_and_prep_sheet(store: Store) -> None:
    p = portfolio.build(store, AMELIA, TODAY)
    data = portfolio.pdf_bytes(p)
    reader = PdfReader(io.BytesIO(data))
    text = " ".join(_pdf_text(data).split())
    for section in portfolio.SECTIONS:
        assert section in text
    for expected in (
        "Portfolio of evidence: Amelia Booth",
        "EV-0001",
        "FCR after the knowledge base",
        "4 of 18 KSBs have evidence",
        "passed 10 days ago",
        "ST0072 B6 Right first time",
        "How is customer satisfaction measured here",
        "Complaints in my queue fell from 3.2% to 2.4%.",
    ):
        assert expected in text, expected
    assert "Owen" not in text and "900123" not in text
    assert reader.metadata is not None and reader.metadata.author == AMELIA
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points


def test_the_docx_is_a4_with_the_learner_as_author_and_the_same_sections(store: Store) -> None:
    p = portfolio.build(store, AMELIA, TODAY)
    document = docx.Document(io.BytesIO(portfolio.docx_bytes(p)))
    section = document.sections[0]
    width, height = section.page_width, section.page_height
    assert width is not None and height is not None
    assert (round(width.mm), round(height.mm)) == (210, 297)
    assert document.core_properties.author == AMELIA
    headings = [
        par.text
        for par in document.paragraphs
        if par.style is not None and str(par.style.name).startswith("Heading")
    ]
    assert all(s in headings for s in portfolio.SECTIONS)
    cells = {c.text for t in document.tables for row in t.rows for c in row.cells}
    assert {"EV-0001", "EV-0002", "EV-0003"} <= cells


def test_the_cli_writes_the_portfolio_and_refuses_an_unknown_learner(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = store.path
    store.close()
    out = tmp_path / "out"
    code = cli.main(["portfolio", "--learner", AMELIA, "--format", "docx", "--out", str(out),
                     "--db", str(path)])  # fmt: skip
    assert code == 0
    assert (out / "portfolio_amelia-booth.docx").stat().st_size > 0
    assert capsys.readouterr().out.strip().endswith("portfolio_amelia-booth.docx")
    code = cli.main(["portfolio", "--learner", "Nobody", "--db", str(path), "--out", str(out)])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "kpi: no reflection by 'Nobody' in the store; start one on the Reflect page"
    )
    code = cli.main(["portfolio", "--learner", OWEN, "--standard", "st0384", "--version", "1.1",
                     "--db", str(path), "--out", str(out)])  # fmt: skip
    assert code == 0
    reopened = open_store(path)
    try:
        assert learners.registration(reopened, OWEN).standard == "ST0384"
    finally:
        reopened.close()
