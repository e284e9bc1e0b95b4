"""An evidence pack written as PDF (fpdf2) or DOCX (python-docx), section by section.

Both writers walk the same sections in the same order (``evidence.SECTION_TITLES``), so a pack
reads the same whichever file a portfolio takes. Text goes in as plain text: no markdown or
markup is interpreted, whatever the learner typed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.shared import Inches, Pt
from fpdf import FPDF

from kpi.evidence.packs import SECTION_TITLES, Pack

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SIGN_LINE = "_" * 28


def _details(pack: Pack) -> list[tuple[str, str]]:
    return [
        ("Evidence reference", pack.reference),
        ("Learner", pack.learner),
        ("Standard", f"{pack.standard} (Level {pack.level})"),
        ("Date", pack.created.isoformat()),
        ("Evidence type", pack.evidence_type),
        ("Period and filters", pack.period),
        ("Status", pack.status),
    ] + ([("Figures", "indexed: first value = 100; volumes hidden")] if pack.indexed else [])


def _ksb_rows(pack: Pack) -> list[list[str]]:
    return [["KSB", "Description", "Status"]] + [
        [k.label, k.description, k.status] for k in pack.ksbs
    ]


def _figure_rows(pack: Pack) -> list[list[str]]:
    return [["Figure", "Value", "n", "Definition"]] + [
        [f.label, f.value, f.n, f.definition] for f in pack.figures
    ]


def _provenance_rows(pack: Pack) -> list[list[str]]:
    if not pack.provenance:
        return [["Source"], ["No imported files"]]
    header = list(pack.provenance[0])
    return [header] + [[row[c] for c in header] for row in pack.provenance]


def _sign_off(pack: Pack) -> list[str]:
    lines = []
    if pack.supervisor_comment:
        lines.append(f"Supervisor's comment (witness statement): {pack.supervisor_comment}")
    if pack.signed_off:
        lines.append(f"Signed off by {pack.supervisor} on {pack.signed_off}.")
    lines += [
        f"Supervisor name: {pack.supervisor or SIGN_LINE}",
        f"Supervisor signature: {SIGN_LINE}   Date: {pack.signed_off or SIGN_LINE}",
        f"Learner signature: {SIGN_LINE}   Date: {SIGN_LINE}",
    ]
    return lines


# --- PDF -------------------------------------------------------------------------------------------


class _Pdf(FPDF):
    def __init__(self, pack: Pack) -> None:
        super().__init__(format="A4")
        self.pack = pack
        self.unicode = (FONT_DIR / "DejaVuSans.ttf").exists()
        if self.unicode:
            self.add_font("Body", "", str(FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("Body", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.family = "Body" if self.unicode else "Helvetica"
        self.set_auto_page_break(True, margin=15)

    def text_of(self, text: str) -> str:
        # The core fonts only know Latin-1; DejaVu covers the rest.
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7)
        self.cell(0, 5, self.text_of(f"{self.pack.reference} - page {self.page_no()}"), align="C")

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(2)
        self.set_font(self.family, "B", size)
        self.multi_cell(0, 7, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)

    def para(self, text: str, bold: bool = False) -> None:
        self.set_font(self.family, "B" if bold else "", 9)
        self.multi_cell(0, 5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)

    def grid(self, rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None) -> None:
        self.set_font(self.family, "", 8)
        with self.table(col_widths=widths, text_align="LEFT", line_height=4.5) as table:
            for row in rows:
                cells = table.row()
                for value in row:
                    cells.cell(self.text_of(str(value)))
        self.set_font(self.family, "", 9)


def pdf_bytes(pack: Pack) -> bytes:
    pdf = _Pdf(pack)
    pdf.add_page()
    pdf.heading(f"Evidence pack {pack.reference}: {pack.title}", 15)
    pdf.heading(SECTION_TITLES[0])
    pdf.grid([[k, v] for k, v in _details(pack)], (40, 140))
    pdf.heading(SECTION_TITLES[1])
    pdf.grid(_ksb_rows(pack), (40, 90, 50)) if pack.ksbs else pdf.para("No KSB mapped yet.")
    _pdf_data(pdf, pack)
    _pdf_reflection(pdf, pack)
    return bytes(pdf.output())


def _pdf_data(pdf: _Pdf, pack: Pack) -> None:
    """Charts, key figures, provenance and the anonymisation statement."""
    pdf.heading(SECTION_TITLES[2])
    for spec, image in zip(pack.charts, pack.images, strict=False):
        pdf.para(spec.title, bold=True)
        pdf.image(io.BytesIO(image), w=170)
    if not pack.images:
        pdf.para("; ".join(c.title for c in pack.charts) or "No chart.")
    pdf.heading(SECTION_TITLES[3])
    pdf.grid(_figure_rows(pack), (45, 25, 20, 90))
    for label, text in pack.definitions.items():
        pdf.para(f"{label}: {text}")
    pdf.heading(SECTION_TITLES[4])
    pdf.para(f"Period: {pack.period}")
    pdf.grid(_provenance_rows(pack))
    pdf.heading(SECTION_TITLES[5])
    pdf.para(pack.anonymisation)


def _pdf_reflection(pdf: _Pdf, pack: Pack) -> None:
    """The learner's reflection, the SMART action and the sign-off lines."""
    pdf.heading(SECTION_TITLES[6])
    for label, text in pack.sections:
        pdf.para(label, bold=True)
        pdf.para(text)
    if pack.customer_comment:
        pdf.para("Customer comment (included by the learner, scrubbed)", bold=True)
        pdf.para(pack.customer_comment)
    pdf.heading(SECTION_TITLES[7])
    pdf.para(pack.action)
    for line in pack.action_check:
        pdf.para(line)
    pdf.heading(SECTION_TITLES[8])
    for line in _sign_off(pack):
        pdf.para(line)


# --- DOCX ------------------------------------------------------------------------------------------


def _docx_table(doc: DocxDocument, rows: Sequence[Sequence[str]]) -> None:
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            cell = table.cell(r, c)
            cell.text = str(value)
            if r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True


def docx_bytes(pack: Pack) -> bytes:
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10)
    doc.add_heading(f"Evidence pack {pack.reference}: {pack.title}", 0)
    doc.add_heading(SECTION_TITLES[0], 1)
    _docx_table(doc, [["Field", "Value"], *[[k, v] for k, v in _details(pack)]])
    doc.add_heading(SECTION_TITLES[1], 1)
    if pack.ksbs:
        _docx_table(doc, _ksb_rows(pack))
    else:
        doc.add_paragraph("No KSB mapped yet.")
    _docx_data(doc, pack)
    _docx_reflection(doc, pack)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _docx_data(doc: DocxDocument, pack: Pack) -> None:
    """Charts, key figures, provenance and the anonymisation statement."""
    doc.add_heading(SECTION_TITLES[2], 1)
    for spec, image in zip(pack.charts, pack.images, strict=False):
        doc.add_paragraph(spec.title).runs[0].bold = True
        doc.add_picture(io.BytesIO(image), width=Inches(6.2))
    if not pack.images:
        doc.add_paragraph("; ".join(c.title for c in pack.charts) or "No chart.")
    doc.add_heading(SECTION_TITLES[3], 1)
    _docx_table(doc, _figure_rows(pack))
    for label, text in pack.definitions.items():
        doc.add_paragraph(f"{label}: {text}")
    doc.add_heading(SECTION_TITLES[4], 1)
    doc.add_paragraph(f"Period: {pack.period}")
    _docx_table(doc, _provenance_rows(pack))
    doc.add_heading(SECTION_TITLES[5], 1)
    doc.add_paragraph(pack.anonymisation)


def _docx_reflection(doc: DocxDocument, pack: Pack) -> None:
    """The learner's reflection, the SMART action and the sign-off lines."""
    doc.add_heading(SECTION_TITLES[6], 1)
    for label, text in pack.sections:
        doc.add_heading(label, 2)
        doc.add_paragraph(text)
    if pack.customer_comment:
        doc.add_heading("Customer comment (included by the learner, scrubbed)", 2)
        doc.add_paragraph(pack.customer_comment)
    doc.add_heading(SECTION_TITLES[7], 1)
    doc.add_paragraph(pack.action)
    for line in pack.action_check:
        doc.add_paragraph(line)
    doc.add_heading(SECTION_TITLES[8], 1)
    for line in _sign_off(pack):
        doc.add_paragraph(line)
