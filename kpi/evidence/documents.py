"""An evidence pack written as PDF (fpdf2) or DOCX (python-docx), section by section.

Both writers walk the same sections in the same order (``packs.SECTION_TITLES``), so a pack
reads the same whichever file a portfolio takes. Text goes in as plain text: no markdown or
markup is interpreted, whatever the learner typed. Both are A4, name the learner as author, give
every chart alt text, and keep a heading on the same page as what it introduces (a chart's label
is never left at the foot of a page with its chart on the next). A chart's full title is drawn
on its image only (the image must stand alone); the heading above it is a short "Chart 2".
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph
from fpdf import FPDF

from kpi.evidence.day_words import day_words
from kpi.evidence.packs import SECTION_TITLES, Pack
from kpi.evidence.reflections import NOT_VERIFIED

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SIGN_LINE = "_" * 28
(
    DETAILS,
    KSBS,
    INSIGHT,
    CHARTS,
    FIGURES,
    MINE,
    SETTINGS,
    PROVENANCE,
    ANONYMISATION,
    REFLECTION,
    ACTION,
    SIGN_OFF,
) = SECTION_TITLES
#: A4 in millimetres, the page a UK portfolio prints on, and the charts' width on it.
A4_WIDTH, A4_HEIGHT, MARGIN_MM, CHART_MM = 210, 297, 20, 170
#: Column widths of the provenance table (in proportion): a file's name and its layout's name
#: (twitter_customer_support) are never broken across lines.
PROVENANCE_WIDTHS = (42, 38, 18, 20, 36, 30)
CUTOFF_NOTE = "the latest record when the reflection began; anything later is not in these figures"


def _details(pack: Pack) -> list[tuple[str, str]]:
    rows = [
        ("Evidence reference", pack.reference),
        ("Learner", pack.learner),
        ("Standard", f"{pack.standard} (Level {pack.level})"),
        ("Date", day_words(pack.created)),
        ("Evidence type", pack.evidence_type),
        ("Period and filters", pack.period),
        ("Data cut-off", pack.cutoff),
        ("Status", pack.status),
    ]
    if pack.completed:  # when it was sent for review; "Date" is the export's
        rows.append(("Completed", pack.completed))
    if pack.indexed:
        rows.append(("Figures", "indexed: first value = 100; volumes hidden"))
    return rows


def _ksb_rows(pack: Pack) -> list[list[str]]:
    return [["KSB", "Description", "Status"]] + [
        [k.label, k.description, k.status] for k in pack.ksbs
    ]


def figure_rows(pack: Pack) -> list[list[str]]:
    """The key figures table, header first (``kpi.evidence.verification`` reads it back)."""
    return [["Figure", "Value", "n", "95% interval"]] + [
        [f.label, f.value, f.n, f.interval or "— (suppressed with its figure)"]
        for f in pack.figures
    ]


def _definitions(pack: Pack) -> list[str]:
    """Each KPI's definition once; the registry's sentence already starts with the KPI's name."""
    return [
        text if text.startswith(label) else f"{label}: {text}"
        for label, text in pack.definitions.items()
    ]


def _provenance_rows(pack: Pack) -> list[list[str]]:
    if not pack.provenance:
        return [["Source"], ["No imported files"]]
    header = list(pack.provenance[0])
    return [header] + [[row[c] for c in header] for row in pack.provenance]


#: Printed before a pack's verification code (``kpi.evidence.verification`` reads it back).
CODE_LABEL = "Verification code"


def _sign_off(pack: Pack) -> list[str]:
    lines = [pack.void_note] if pack.void_note else []
    if pack.supervisor_comment:
        lines.append(f"Supervisor's comment (witness statement): {pack.supervisor_comment}")
    if pack.signed_off:
        lines.append(f"Signed off by {pack.supervisor} on {pack.signed_at or pack.signed_off}.")
        lines.append(f"Signer's role: {pack.signer_role or NOT_VERIFIED}")
        if pack.organisation:
            lines.append(f"Organisation: {pack.organisation}")
    if pack.completed:
        lines.append(f"Completed (sent for review): {pack.completed}")
    if pack.verification_code:
        lines.append(
            f"{CODE_LABEL}: {pack.verification_code} (check this file against the store with "
            "kpi evidence verify FILE)"
        )
    lines += [
        f"Supervisor name: {pack.supervisor or SIGN_LINE}",
        f"Supervisor signature: {SIGN_LINE}   Date: {pack.signed_off or SIGN_LINE}",
        f"Learner signature: {SIGN_LINE}   Date: {SIGN_LINE}",
    ]
    return lines


def _chart_groups(pack: Pack) -> tuple[list[int], list[int]]:
    """Indexes of the charts for the Charts section and for the learner's own figures."""
    count = len(pack.charts)
    split = count - pack.me_charts
    return list(range(split)), list(range(split, count))


def chart_label(index: int) -> str:
    """ "Chart 1": the heading above a chart, whose full title is on the image itself."""
    return f"Chart {index + 1}"


def _alt(pack: Pack, index: int) -> str:
    return pack.alt_texts[index] if index < len(pack.alt_texts) else pack.charts[index].title


def _png_ratio(image: bytes) -> float:
    """Height over width of a PNG, from its header (every pack image is a PNG)."""
    if image[:8] != b"\x89PNG\r\n\x1a\n":
        return 0.6
    width, height = struct.unpack(">II", image[16:24])
    return height / width if width else 0.6


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
        self.set_author(self.text_of(pack.learner))
        self.set_title(self.text_of(f"Evidence pack {pack.reference}: {pack.title}"))
        self.set_subject(self.text_of(f"{pack.standard} evidence, {pack.period}"))
        self.set_lang("en-GB")

    def text_of(self, text: str) -> str:
        # The core fonts only know Latin-1; DejaVu covers the rest.
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7)
        self.cell(0, 5, self.text_of(f"{self.pack.reference} - page {self.page_no()}"), align="C")

    def keep(self, height: float) -> None:
        """Start a new page unless ``height`` mm fit on this one: what follows stays together."""
        if self.will_page_break(height):
            self.add_page()

    def heading(self, text: str, size: int = 13, then: float = 25) -> None:
        """A heading kept on the same page as the first ``then`` mm of what follows it."""
        self.keep(12 + then)
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

    def chart(self, label: str, image: bytes, alt: str) -> None:
        """A chart's short label ("Chart 2") and the chart itself, on one page: the title is
        drawn on the image (it must stand alone as a PNG), so it is not printed twice."""
        height = CHART_MM * _png_ratio(image)
        self.keep(8 + height)
        self.para(label, bold=True)
        self.image(io.BytesIO(image), w=CHART_MM, alt_text=self.text_of(alt))
        self.ln(2)


def pdf_bytes(pack: Pack) -> bytes:
    pdf = _Pdf(pack)
    pdf.add_page()
    pdf.heading(f"Evidence pack {pack.reference}: {pack.title}", 15)
    pdf.heading(DETAILS)
    pdf.grid([[k, v] for k, v in _details(pack)], (40, 140))
    pdf.heading(KSBS)
    pdf.grid(_ksb_rows(pack), (40, 90, 50)) if pack.ksbs else pdf.para("No KSB mapped yet.")
    pdf.heading(INSIGHT)
    for label, text in pack.statement:
        pdf.para(label, bold=True)
        pdf.para(text)
    _pdf_data(pdf, pack)
    _pdf_reflection(pdf, pack)
    return bytes(pdf.output())


def _pdf_charts(pdf: _Pdf, pack: Pack, indexes: list[int]) -> None:
    for i in indexes:
        if i < len(pack.images):
            pdf.chart(chart_label(i), pack.images[i], _alt(pack, i))
        else:  # no image drawn: the title is the only place it is said
            pdf.para(f"{chart_label(i)}: {pack.charts[i].title}")


def _first_chart_height(pack: Pack, indexes: list[int]) -> float:
    if not indexes or indexes[0] >= len(pack.images):
        return 25
    return 8 + CHART_MM * _png_ratio(pack.images[indexes[0]])


def _pdf_data(pdf: _Pdf, pack: Pack) -> None:
    """Charts, key figures, the learner's own figures, definitions, provenance and the
    anonymisation statement."""
    charts, mine = _chart_groups(pack)
    pdf.heading(CHARTS, then=_first_chart_height(pack, charts))
    _pdf_charts(pdf, pack, charts)
    if not charts:
        pdf.para("No chart.")
    pdf.heading(FIGURES)
    pdf.grid(figure_rows(pack), (70, 40, 25, 45))
    pdf.heading(MINE, then=_first_chart_height(pack, mine) if not pack.me else 25)
    if pack.me:
        pdf.grid(pack.me, (30, 60, 60, 30))
    if pack.me_note:
        pdf.para(pack.me_note)
    _pdf_charts(pdf, pack, mine)
    pdf.heading(SETTINGS)
    for line in [*_definitions(pack), *pack.settings_used]:
        pdf.para(line)
    if pack.sla_targets:
        pdf.keep(8 + 5 * len(pack.sla_targets))
        pdf.para("SLA targets (hours)", bold=True)
        pdf.grid(pack.sla_targets, (60, 60, 60))
    pdf.heading(PROVENANCE)
    pdf.para(f"Data cut-off: {pack.cutoff} ({CUTOFF_NOTE}).")
    pdf.para(f"Period: {pack.period}")
    rows = _provenance_rows(pack)
    pdf.grid(rows, PROVENANCE_WIDTHS if len(rows[0]) == len(PROVENANCE_WIDTHS) else None)
    pdf.heading(ANONYMISATION)
    pdf.para(pack.anonymisation)


def _pdf_reflection(pdf: _Pdf, pack: Pack) -> None:
    """The learner's reflection, the SMART action and the sign-off lines."""
    pdf.heading(REFLECTION)
    for label, text in pack.sections:
        pdf.keep(15)
        pdf.para(label, bold=True)
        pdf.para(text)
    if pack.customer_comment:
        pdf.keep(15)
        pdf.para("Customer comment (included by the learner, scrubbed)", bold=True)
        pdf.para(pack.customer_comment)
    pdf.heading(ACTION)
    pdf.para(pack.action)
    for line in pack.action_check:
        pdf.para(line)
    pdf.heading(SIGN_OFF, then=40)
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


def _heading(doc: DocxDocument, text: str, level: int) -> Paragraph:
    """A heading that Word keeps on the page of the paragraph after it."""
    paragraph = doc.add_heading(text, level)
    paragraph.paragraph_format.keep_with_next = True
    return paragraph


def _a4(doc: DocxDocument) -> None:
    for section in doc.sections:
        section.page_width, section.page_height = Mm(A4_WIDTH), Mm(A4_HEIGHT)
        section.left_margin = section.right_margin = Mm(MARGIN_MM)
        section.top_margin = section.bottom_margin = Mm(MARGIN_MM)


def docx_bytes(pack: Pack) -> bytes:
    doc = Document()
    _a4(doc)
    properties = doc.core_properties
    properties.author = properties.last_modified_by = pack.learner
    properties.title = f"Evidence pack {pack.reference}: {pack.title}"
    properties.subject = f"{pack.standard} evidence, {pack.period}"
    properties.language = "en-GB"
    doc.styles["Normal"].font.size = Pt(10)
    doc.add_heading(f"Evidence pack {pack.reference}: {pack.title}", 0)
    _heading(doc, DETAILS, 1)
    _docx_table(doc, [["Field", "Value"], *[[k, v] for k, v in _details(pack)]])
    _heading(doc, KSBS, 1)
    if pack.ksbs:
        _docx_table(doc, _ksb_rows(pack))
    else:
        doc.add_paragraph("No KSB mapped yet.")
    _heading(doc, INSIGHT, 1)
    for label, text in pack.statement:
        _heading(doc, label, 2)
        doc.add_paragraph(text)
    _docx_data(doc, pack)
    _docx_reflection(doc, pack)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _docx_charts(doc: DocxDocument, pack: Pack, indexes: list[int]) -> None:
    for i in indexes:
        drawn = i < len(pack.images)
        label = chart_label(i) if drawn else f"{chart_label(i)}: {pack.charts[i].title}"
        title = doc.add_paragraph(label)
        title.runs[0].bold = True
        title.paragraph_format.keep_with_next = True
        if not drawn:
            continue
        shape = doc.add_picture(io.BytesIO(pack.images[i]), width=Mm(CHART_MM))
        properties = shape._inline.docPr  # python-docx has no public alt-text setter
        properties.set("descr", _alt(pack, i))
        properties.set("title", pack.charts[i].title)


def _docx_data(doc: DocxDocument, pack: Pack) -> None:
    """Charts, key figures, the learner's own figures, definitions, provenance and the
    anonymisation statement."""
    charts, mine = _chart_groups(pack)
    _heading(doc, CHARTS, 1)
    _docx_charts(doc, pack, charts)
    if not charts:
        doc.add_paragraph("No chart.")
    _heading(doc, FIGURES, 1)
    _docx_table(doc, figure_rows(pack))
    _heading(doc, MINE, 1)
    if pack.me:
        _docx_table(doc, pack.me)
    if pack.me_note:
        doc.add_paragraph(pack.me_note)
    _docx_charts(doc, pack, mine)
    _heading(doc, SETTINGS, 1)
    for line in [*_definitions(pack), *pack.settings_used]:
        doc.add_paragraph(line)
    if pack.sla_targets:
        _heading(doc, "SLA targets (hours)", 2)
        _docx_table(doc, pack.sla_targets)
    _heading(doc, PROVENANCE, 1)
    doc.add_paragraph(f"Data cut-off: {pack.cutoff} ({CUTOFF_NOTE}).")
    doc.add_paragraph(f"Period: {pack.period}")
    _docx_table(doc, _provenance_rows(pack))
    _heading(doc, ANONYMISATION, 1)
    doc.add_paragraph(pack.anonymisation)


def _docx_reflection(doc: DocxDocument, pack: Pack) -> None:
    """The learner's reflection, the SMART action and the sign-off lines."""
    _heading(doc, REFLECTION, 1)
    for label, text in pack.sections:
        _heading(doc, label, 2)
        doc.add_paragraph(text)
    if pack.customer_comment:
        _heading(doc, "Customer comment (included by the learner, scrubbed)", 2)
        doc.add_paragraph(pack.customer_comment)
    _heading(doc, ACTION, 1)
    doc.add_paragraph(pack.action)
    for line in pack.action_check:
        doc.add_paragraph(line)
    _heading(doc, SIGN_OFF, 1)
    for line in _sign_off(pack):
        doc.add_paragraph(line)
