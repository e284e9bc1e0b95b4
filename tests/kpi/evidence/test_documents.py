"""The PDF and DOCX writers on a pack made by hand (no store, no browser): a chart's title never
sits at the foot of a page with its chart on the next, sections never end a page, the DOCX is
A4 with the learner as author and alt text on every picture, definitions are printed once."""

from __future__ import annotations

import io
import re
from datetime import date

import docx
from PIL import Image
from pypdf import PdfReader

from kpi.charts.spec import ChartSpec
from kpi.evidence import documents
from kpi.evidence.packs import SECTION_TITLES, KeyFigure, Pack

LEARNER = "Amelia Booth"


def _png(shade: int, width: int = 1350, height: int = 726) -> bytes:
    """A chart-sized PNG; each its own shade (a PDF stores identical images once)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (0, 114, shade)).save(buffer, "PNG")
    return buffer.getvalue()


def _pack(charts: int = 5) -> Pack:
    specs = [
        ChartSpec(
            "line", f"Chart {i}: CSAT by week, all contacts, n = {100 + i}", "week", "value", ()
        )
        for i in range(1, charts + 1)
    ]
    return Pack(
        reference="EV-0009",
        title="Many charts",
        learner=LEARNER,
        level=2,
        standard="ST0072",
        created=date(2026, 4, 1),
        evidence_type="Product evidence and reflective account",
        period="1 Mar 2026 - 31 Mar 2026",
        status="Draft",
        ksbs=[],
        charts=specs,
        images=[_png(100 + i) for i in range(len(specs))],
        figures=[
            KeyFigure(
                "CSAT, whole period", "80.0%", "120", "CSAT: % of answers 4-5", "72.1% to 86.3%"
            )
        ],
        definitions={"CSAT": "CSAT: % of answers scoring 4 or 5", "FCR": "% resolved first time"},
        provenance=[
            {"source file": "survey_responses.csv", "dates in the file": "2026-01-01 to 2026-03-31"}
        ],
        anonymisation="Aggregates only.",
        sections=[("Situation", "Text " * 200)],
        customer_comment="",
        action="Do a thing. Measure: CSAT to 85",
        action_check=[],
        supervisor="",
        supervisor_comment="",
        signed_off="",
        statement=[("What the data showed", "CSAT fell."), ("How it was tested", "A test.")],
        cutoff="31 Mar 2026 17:00 UTC",
        alt_texts=[f"Line chart: chart {i}" for i in range(1, charts + 1)],
    )


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_pdf_keeps_each_chart_label_on_the_page_of_its_chart_and_titles_once() -> None:
    pack = _pack()
    pages = PdfReader(io.BytesIO(documents.pdf_bytes(pack))).pages
    seen = 0
    for page in pages:
        text = _flat(page.extract_text())
        labels = re.findall(r"\bChart \d+\b", text)
        assert len(labels) == len(page.images)
        # The title is drawn on the image only, never printed again above it.
        assert not any(spec.title in text for spec in pack.charts)
        seen += len(labels)
        # No section heading is the last line of a page.
        assert not any(
            text.endswith(f"{h} EV-0009 - page {pages.index(page) + 1}") for h in SECTION_TITLES
        )
    assert seen == len(pack.charts)


def test_pdf_prints_each_definition_once_with_its_name() -> None:
    text = _flat(
        "\n".join(
            p.extract_text() for p in PdfReader(io.BytesIO(documents.pdf_bytes(_pack()))).pages
        )
    )
    assert text.count("CSAT: % of answers scoring 4 or 5") == 1 and "CSAT: CSAT:" not in text
    assert "FCR: % resolved first time" in text
    assert "Data cut-off: 31 Mar 2026 17:00 UTC" in text
    assert "72.1% to 86.3%" in text  # the key figure's interval


def test_docx_is_a4_by_the_learner_with_alt_text_and_headings_kept_with_next() -> None:
    pack = _pack(2)
    document = docx.Document(io.BytesIO(documents.docx_bytes(pack)))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert document.core_properties.author == LEARNER
    assert document.core_properties.title == "Evidence pack EV-0009: Many charts"
    alts = [s._inline.docPr.get("descr") for s in document.inline_shapes]
    assert alts == pack.alt_texts
    labels = [p for p in document.paragraphs if re.fullmatch(r"Chart \d+", p.text)]
    assert [p.text for p in labels] == ["Chart 1", "Chart 2"]
    assert all(p.paragraph_format.keep_with_next for p in labels)
    assert not any(p.text in {s.title for s in pack.charts} for p in document.paragraphs)
    headings = [p for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert {h.text for h in headings} >= set(SECTION_TITLES)
    assert all(h.paragraph_format.keep_with_next for h in headings)
