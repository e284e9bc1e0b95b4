"""A learner's portfolio: every reflection in one index, the KSB mapping annex, coverage against
the learner's own standard, review-date reminders and a professional-discussion prep sheet, as
data and as one PDF (fpdf2) or DOCX (python-docx) document.

The writers reuse the evidence pack's PDF page and DOCX table (``kpi.evidence.documents``), so a
portfolio looks like the packs it indexes. Learner text goes into a STAR summary as a pack
prints it: other agents' names become "a colleague", then the importer's scrubbing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pandas as pd
from docx import Document
from docx.shared import Mm, Pt
from fpdf import FPDF

from kpi.evidence import coverage, documents, ksbs, redaction, reflections
from kpi.evidence.ksbs import Ksb
from kpi.evidence.learners import Registration, registration
from kpi.evidence.reflections import STATUS_LABELS, Reflection
from kpi.ingest.privacy import scrub
from kpi.store.connection import Store

#: A review date this close (or past) is a reminder.
REMIND_DAYS = 7
#: The sections each STAR letter is drawn from, whichever model the reflection followed.
STAR_SOURCES: dict[str, tuple[str, ...]] = {
    "Situation": ("situation", "description", "what"),
    "Task": ("task", "so_what", "analysis"),
    "Action": ("action", "action_plan", "now_what"),
    "Result": ("result", "evaluation", "conclusion"),
}
#: Longest excerpt of one section in a STAR summary, in characters.
EXCERPT = 220
INDEX_COLUMNS = [
    "Reference",
    "Title",
    "KSBs",
    "Status",
    "Started",
    "Updated",
    "Review date",
    "Signed off",
]


@dataclass(frozen=True)
class Reminder:
    reference: str
    title: str
    review_date: date
    #: Days from today to the review date: negative when it has passed.
    days: int

    @property
    def text(self) -> str:
        """ "EV-0003 Billing complaints: the review date 1 May 2026 passed 12 days ago"."""
        when = f"{self.review_date.day} {self.review_date:%b %Y}"
        if self.days < 0:
            ago = f"{-self.days} day{'s' if self.days != -1 else ''} ago"
            return f"{self.reference} {self.title}: the review date {when} passed {ago}"
        if self.days == 0:
            return f"{self.reference} {self.title}: review it today ({when})"
        ahead = f"{self.days} day{'s' if self.days != 1 else ''}"
        return f"{self.reference} {self.title}: review it in {ahead} ({when})"


@dataclass(frozen=True)
class PrepItem:
    """One KSB of the prep sheet: the reflections' STAR summary and likely questions."""

    ksb: Ksb
    #: (reference, STAR letter, excerpt) drawn from each reflection mapped to the KSB.
    star: tuple[tuple[str, str, str], ...]
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Portfolio:
    learner: str
    registration: Registration
    today: date
    reflections: tuple[Reflection, ...]
    coverage: pd.DataFrame
    reminders: tuple[Reminder, ...]
    prep: tuple[PrepItem, ...]
    #: "EV-0003 ST0071:K2": mappings to another standard's KSB, left out of coverage.
    off_standard: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"Portfolio of evidence: {self.learner}"

    @property
    def summary(self) -> str:
        """One line: the standard, how many reflections, how many KSBs covered."""
        return (
            f"{self.registration.describe}. {len(self.reflections)} reflection"
            f"{'s' if len(self.reflections) != 1 else ''}; "
            f"{coverage.coverage_summary(self.coverage)}"
        )


def build(store: Store, learner: str, today: date | None = None) -> Portfolio:
    """The learner's portfolio as of ``today`` (the local date by default)."""
    name = learner.strip()
    today = today or date.today()
    own = tuple(sorted(reflections.journal(store, learner=name), key=lambda r: r.reference))
    reg = registration(store, name)
    table = coverage.ksb_coverage(store, reg.standard, name)
    clean = _scrubber(store, name)
    return Portfolio(
        learner=name,
        registration=reg,
        today=today,
        reflections=tuple(_scrubbed(r, clean) for r in own),
        coverage=table,
        reminders=tuple(reminders(own, today)),
        prep=tuple(_prep(store, reg.standard, own, clean)),
        off_standard=tuple(coverage.off_standard(store, name)),
    )


def _scrubber(store: Store, learner: str) -> Callable[[str], str]:
    """Text as a pack prints it (``redaction.redact_people``): other agents' names become "a
    colleague", then the importer's scrubbing."""
    agents = redaction.agents(store)

    def clean(text: str) -> str:
        return redaction.redact_people(text, agents, learner)

    return clean


def _scrubbed(r: Reflection, clean: Callable[[str], str]) -> Reflection:
    return replace(r, title=clean(r.title))


def reminders(rows: tuple[Reflection, ...] | list[Reflection], today: date) -> list[Reminder]:
    """Reflections whose SMART review date has passed or falls within ``REMIND_DAYS``, the
    most overdue first."""
    out = [
        Reminder(r.reference, r.title, r.action.review_date, (r.action.review_date - today).days)
        for r in rows
        if r.action.review_date is not None
        and r.action.review_date <= today + timedelta(days=REMIND_DAYS)
    ]
    return sorted(out, key=lambda m: (m.review_date, m.reference))


def index_table(p: Portfolio) -> pd.DataFrame:
    """The portfolio index: one row per reflection, by evidence reference."""
    return pd.DataFrame(
        [
            dict(
                zip(
                    INDEX_COLUMNS,
                    (
                        r.reference,
                        r.title,
                        ", ".join(_code(ref) for ref in r.ksbs) or "none yet",
                        STATUS_LABELS[r.status],
                        _day(r.created_at),
                        _day(r.updated_at),
                        _day(r.action.review_date),
                        _day(r.signed_off_at),
                    ),
                    strict=True,
                )
            )
            for r in p.reflections
        ],
        columns=INDEX_COLUMNS,
    )


def annex_table(p: Portfolio) -> pd.DataFrame:
    """The KSB mapping annex: each KSB of the learner's standard with the reflections that
    evidence it (titles as well as references), gaps included."""
    titles = {r.reference: f"{r.reference} {r.title}" for r in p.reflections}
    return pd.DataFrame(
        {
            "KSB": p.coverage.ksb,
            "Description": p.coverage.description,
            "Evidenced by": [
                "; ".join(titles.get(ref, ref) for ref in refs.split(", ") if ref) or "gap"
                for refs in p.coverage.evidence
            ],
            "Reviewed": p.coverage.reviewed,
        }
    )


def reminder_lines(p: Portfolio) -> list[str]:
    if not p.reminders:
        return [f"No review date has passed or falls in the next {REMIND_DAYS} days."]
    return [m.text for m in p.reminders]


def _code(ref: str) -> str:
    return ref.split(":", 1)[-1]


def _day(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    day = value.date() if hasattr(value, "date") and callable(value.date) else value
    return f"{day.day} {day:%b %Y}" if isinstance(day, date) else str(day)


# --- the professional-discussion prep sheet ---------------------------------------------------


def _prep(
    store: Store, standard: str, own: tuple[Reflection, ...], clean: Callable[[str], str]
) -> list[PrepItem]:
    bank = ksbs.question_bank()
    out = []
    for k in ksbs.catalogue(store, standard):
        mapped = [r for r in own if k.ref in r.ksbs]
        star = tuple(
            (r.reference, letter, text) for r in mapped for letter, text in star_summary(r, clean)
        )
        questions = bank.get(k.ref) or _fallback_questions(k)
        out.append(PrepItem(k, star, questions))
    # The KSBs with evidence first: they are what the discussion will draw on.
    return sorted(out, key=lambda item: not item.star)


def star_summary(r: Reflection, clean: Callable[[str], str] = scrub) -> list[tuple[str, str]]:
    """(STAR letter, first sentences of the matching section) for the sections written."""
    out = []
    for letter, keys in STAR_SOURCES.items():
        text = next((r.sections[k] for k in keys if r.sections.get(k, "").strip()), "")
        if letter == "Result" and not text and r.action.text:
            text = f"Action set: {r.action.describe()}"
        if text.strip():
            out.append((letter, _excerpt(clean(text))))
    return out


def _excerpt(text: str) -> str:
    """The first sentences of ``text`` up to ``EXCERPT`` characters, on one line."""
    flat = " ".join(text.split())
    if len(flat) <= EXCERPT:
        return flat
    sentences = re.split(r"(?<=[.!?])\s+", flat)
    out = ""
    for sentence in sentences:
        if len(out) + len(sentence) > EXCERPT:
            break
        out = f"{out} {sentence}".strip()
    return out or flat[: EXCERPT - 1].rstrip() + "…"


def _fallback_questions(k: Ksb) -> tuple[str, ...]:
    """For a provider's KSB the question bank does not know: built from its own prompt."""
    asks = [k.evidence_prompt] if k.evidence_prompt else []
    return tuple(asks + [f"Give an example from your work that shows: {k.description.lower()}."])


def prep_rows(p: Portfolio) -> list[tuple[str, list[str], list[str]]]:
    """(KSB label, STAR lines, questions) per KSB, for the documents and the page."""
    out = []
    for item in p.prep:
        star = [f"{ref} {letter}: {text}" for ref, letter, text in item.star] or [
            "No reflection evidences this KSB yet: prepare an example from your work."
        ]
        out.append((item.ksb.label, star, list(item.questions)))
    return out


# --- documents --------------------------------------------------------------------------------

PAGE_INTRO = (
    "One learner's evidence in one place: every reflection, the KSBs of their own standard "
    "they cover, reviews coming up, and a sheet to prepare the professional discussion."
)
NO_LEARNER = "No reflection yet: start one on the Reflect page, then come back here."
MODELS_INTRO = (
    "The complaint-handling steps your reflections ask about. Write one step a line, as "
    "'Label: the question to answer'. Saved for everyone using this store."
)
PREP_INTRO = (
    "For each KSB: what your reflections say, as Situation, Task, Action and Result, and "
    "questions an assessor may ask. KSBs with evidence come first."
)
QUESTIONS_HEADING = "Questions you may be asked:"
SECTIONS = (
    "Portfolio index",
    "KSB coverage",
    "Review-date reminders",
    "KSB mapping annex",
    "Professional discussion: prep sheet",
)


def _details(p: Portfolio) -> list[list[str]]:
    return [
        ["Learner", p.learner],
        ["Standard", p.registration.describe],
        ["Prepared on", f"{p.today.day} {p.today:%b %Y}"],
        ["Summary", p.summary],
        ["Note", ksbs.PROVISIONAL],
    ]


def _rows(frame: pd.DataFrame) -> list[list[str]]:
    return [list(map(str, frame.columns))] + [
        ["" if v is None else str(v) for v in row] for row in frame.itertuples(index=False)
    ]


def _coverage_rows(p: Portfolio) -> list[list[str]]:
    return _rows(coverage_table(p))


def coverage_table(p: Portfolio) -> pd.DataFrame:
    """The learner's coverage as the page and documents show it."""
    table = p.coverage[["ksb", "reflections", "reviewed", "evidence"]]
    return table.rename(
        columns={
            "ksb": "KSB",
            "reflections": "Reflections",
            "reviewed": "Reviewed",
            "evidence": "Evidence references",
        }
    )


class _PortfolioPdf(documents._Pdf):
    """The evidence pack's A4 page (its headings kept with what follows, tables, paragraphs),
    set up for a portfolio rather than one pack: its own metadata and footer."""

    def __init__(self, p: Portfolio) -> None:
        FPDF.__init__(self, format="A4")
        self.portfolio = p
        self.unicode = (documents.FONT_DIR / "DejaVuSans.ttf").exists()
        if self.unicode:
            self.add_font("Body", "", str(documents.FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("Body", "B", str(documents.FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.family = "Body" if self.unicode else "Helvetica"
        self.set_auto_page_break(True, margin=15)
        self.set_author(self.text_of(p.learner))
        self.set_title(self.text_of(p.title))
        self.set_subject(self.text_of(f"{p.registration.standard} portfolio of evidence"))
        self.set_lang("en-GB")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7)
        line = f"{self.portfolio.title} · prepared {self.portfolio.today.isoformat()}"
        self.cell(0, 5, self.text_of(f"{line} · page {self.page_no()}"), align="C")


def pdf_bytes(p: Portfolio) -> bytes:
    pdf = _PortfolioPdf(p)
    pdf.add_page()
    pdf.heading(p.title, 15)
    pdf.grid(_details(p), (35, 145))
    pdf.heading(SECTIONS[0])
    if p.reflections:
        pdf.grid(_rows(index_table(p)), (18, 44, 20, 20, 20, 20, 20, 18))
    else:
        pdf.para("No reflection yet.")
    pdf.heading(SECTIONS[1])
    pdf.para(coverage.coverage_summary(p.coverage))
    pdf.grid(_coverage_rows(p), (80, 25, 25, 50))
    for line in off_standard_lines(p):
        pdf.para(line)
    pdf.heading(SECTIONS[2])
    for line in reminder_lines(p):
        pdf.para(line)
    pdf.add_page()
    pdf.heading(SECTIONS[3])
    pdf.grid(_rows(annex_table(p)), (42, 58, 62, 18))
    pdf.add_page()
    pdf.heading(SECTIONS[4])
    pdf.para(PREP_INTRO)
    for label, star, questions in prep_rows(p):
        pdf.keep(30)
        pdf.ln(2)
        pdf.para(label, bold=True)
        for line in star:
            pdf.para(line)
        pdf.para(QUESTIONS_HEADING)
        for question in questions:
            pdf.para(f"\u2022 {question}")
    return bytes(pdf.output())


def off_standard_lines(p: Portfolio) -> list[str]:
    if not p.off_standard:
        return []
    return [
        f"Not counted (mapped to another standard's KSB): {', '.join(p.off_standard)}. "
        f"Map them to {p.registration.standard} KSBs instead."
    ]


def docx_bytes(p: Portfolio) -> bytes:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    doc.core_properties.author = p.learner
    doc.core_properties.title = p.title
    doc.styles["Normal"].font.size = Pt(10)
    doc.add_heading(p.title, 0)
    documents._docx_table(doc, [["Field", "Value"], *_details(p)])
    doc.add_heading(SECTIONS[0], 1)
    if p.reflections:
        documents._docx_table(doc, _rows(index_table(p)))
    else:
        doc.add_paragraph("No reflection yet.")
    doc.add_heading(SECTIONS[1], 1)
    doc.add_paragraph(coverage.coverage_summary(p.coverage))
    documents._docx_table(doc, _coverage_rows(p))
    for line in off_standard_lines(p):
        doc.add_paragraph(line)
    doc.add_heading(SECTIONS[2], 1)
    for line in reminder_lines(p):
        doc.add_paragraph(line)
    doc.add_heading(SECTIONS[3], 1)
    documents._docx_table(doc, _rows(annex_table(p)))
    doc.add_heading(SECTIONS[4], 1)
    doc.add_paragraph(PREP_INTRO)
    for label, star, questions in prep_rows(p):
        doc.add_heading(label, 2)
        for line in star:
            doc.add_paragraph(line)
        doc.add_paragraph(QUESTIONS_HEADING)
        for question in questions:
            doc.add_paragraph(question, style="List Bullet")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def file_name(p: Portfolio, fmt: str) -> str:
    """ "portfolio_amelia-booth.pdf": a safe file name for the learner's portfolio."""
    slug = "-".join(re.findall(r"[a-z0-9]+", p.learner.lower()))[:60] or "learner"
    return f"portfolio_{slug}.{fmt}"
