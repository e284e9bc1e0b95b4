"""Redaction in evidence: colleagues become "a colleague" ("two colleagues" side by side), a
filter never names one, and the preview the learner confirms is exactly the text the PDF and
DOCX hold, with nothing of the privacy corpus left in them or in a chart's files."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from kpi.charts.spec import ChartSpec
from kpi.engine.filters import Filters
from kpi.evidence import documents, redaction, reflections
from kpi.evidence import packs as evidence
from kpi.evidence.pack_charts import segment_words
from kpi.evidence.redaction import colleagues_phrase, redact_filters, redact_people
from kpi.insights.insight_segment import Segment
from kpi.store.connection import Store, open_store
from tests.kpi.ingest.test_privacy import BY_PATTERN

AGENTS = ["Sarah Jones", "Tom Brown", "Amy Li", "Priya Shah"]
ME = "Priya Shah"
MARCH_2026 = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sarah helped me.", "A colleague helped me."),
        ("I asked Sarah Jones and Tom.", "I asked two colleagues."),
        ("Sarah Jones, Tom Brown and Amy Li were off", "Three colleagues were off"),
        ("Tom's idea. Sarah agreed", "A colleague's idea. A colleague agreed"),
        ("Priya Shah (me) and Tom", "Priya Shah (me) and a colleague"),
        ("Amy Li", "Amy Li"),  # a part under three letters is not searched for; the whole is
    ],
)
def test_colleagues_are_redacted_so_that_it_reads_naturally(text: str, expected: str) -> None:
    if text == "Amy Li":
        expected = "A colleague"
    assert redact_people(text, AGENTS, ME) == expected


def test_never_a_colleague_and_a_colleague() -> None:
    text = redact_people("Sarah and Tom, then Amy & Sarah", AGENTS, ME)
    assert "a colleague and a colleague" not in text.lower()
    assert text == "Two colleagues, then two colleagues"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My colleague Sarah Jones helped.", "My colleague helped."),
        ("my colleagues Sarah and Tom showed me", "my colleagues showed me"),
        ("my teammate tom brown too", "my teammate too"),
    ],
)
def test_a_name_after_colleague_is_dropped_not_doubled(text: str, expected: str) -> None:
    assert redact_people(text, AGENTS, ME) == expected


def test_redaction_also_scrubs_as_the_importer_does() -> None:
    text = redact_people(
        "Tom took ticket 4411 for account 12345678; Regards, Jo Bloggs", AGENTS, ME
    )
    assert text == "A colleague took [ticket number] for [account number]; Regards, [name]"


@pytest.mark.parametrize(("count", "words"), [(1, "one colleague"), (2, "two colleagues"),
                                              (10, "ten colleagues"), (12, "12 colleagues")])  # fmt: skip
def test_colleagues_are_counted_in_words(count: int, words: str) -> None:
    assert colleagues_phrase(count) == words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("daniel haigh took it", "A colleague took it"),
        ("DANIEL HAIGH took it", "A colleague took it"),
        ("Marcus' queue was long", "A colleague's queue was long"),
        ("I shared Marcus' queue", "I shared a colleague's queue"),
        ("Anita-Mistry helped", "A colleague helped"),
        ("Li-ion battery swapped by Li Na", "Li-ion battery swapped by a colleague"),
        ("Li said so", "Li said so"),  # under three letters: only the whole name is searched
        ("Priya Shah and Priya Mistry", "Priya Shah and a colleague"),
    ],
)
def test_colleagues_are_found_by_the_importers_name_rule(text: str, expected: str) -> None:
    agents = [*AGENTS, "Daniel Haigh", "Marcus Reid", "Anita Mistry", "Priya Mistry", "Li Na"]
    assert redact_people(text, agents, ME) == expected


def test_a_filter_that_names_a_colleague_is_redacted() -> None:
    march = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31), channel=("email",))
    assert redact_filters(replace(march, agent=("Sarah Jones",)), ME) == (
        "1 Mar 2026 - 31 Mar 2026; channel: email; agent: one colleague"
    )
    assert redact_filters(replace(march, agent=(ME,)), ME).endswith("agent: Priya Shah")
    both = redact_filters(replace(march, agent=(ME, "Tom Brown", "Amy Li")), ME)
    assert both.endswith("agent: Priya Shah and two colleagues")
    assert redact_filters(march, ME) == march.describe()


@pytest.mark.parametrize(
    ("agents", "words"),
    [
        ((ME, "Tom Brown"), "Priya Shah and one colleague"),
        (("Tom Brown", "Amy Li"), "two colleagues"),
        ((ME,), "Priya Shah"),
    ],
)
def test_filters_segments_and_chart_titles_name_colleagues_alike(agents, words) -> None:
    """One pack, one wording: the "Period and filters" row, an action's segment and the charts'
    segment words all count colleagues the same way (issue 12: "the learner and one colleague"
    in the header beside "Amelia Booth and a colleague" in chart titles)."""
    march = replace(MARCH_2026, agent=agents)
    assert redact_filters(march, ME).endswith(f"agent: {words}")
    assert Segment(agent=agents).describe(me=ME) == f"agent {words}"
    assert segment_words(march, ME) == f"agent: {words}"


# --- a whole pack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("redaction") / "store.duckdb"
    path.write_bytes(seeded_template.read_bytes())
    s = open_store(path)
    yield s
    s.close()


@pytest.fixture(scope="module")
def written(store: Store):
    """A reflection filtered to one colleague, whose every text holds the privacy corpus."""
    learner, colleague, other = redaction.agents(store)[:3]
    corpus = " | ".join(text for text, _, _ in BY_PATTERN)
    r = reflections.blank(learner, 3, replace(MARCH_2026, agent=(colleague,)), ("sla",))
    first = next(iter(r.sections))
    r = replace(
        r,
        title=f"Working with {colleague}",
        sections={first: f"{colleague} and {other} showed me the queue. {corpus}"},
        customer_comment=corpus,
        supervisor_comment=f"Good work with {other}. {corpus}",
    )
    r = reflections.save(store, r)
    pack = evidence.build(store, r.reflection_id)
    return pack, learner, [colleague, other], documents.pdf_bytes(pack), documents.docx_bytes(pack)


def _pdf_text(data: bytes) -> str:
    """The PDF's text without its page footers ("EV-0001 - page 3"), which a paragraph running
    onto the next page would otherwise contain."""
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    return re.sub(r"\n?EV-\d{4} - page \d+\n?", " ", "\n".join(pages))


def _docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_no_case_of_the_corpus_and_no_colleague_survives_into_a_pack(written, kind) -> None:
    pack, learner, colleagues, pdf, docx_data = written
    text = _flat(_pdf_text(pdf) if kind == "pdf" else _docx_text(docx_data))
    # The provenance's import times and the pack's dates are the program's own words, and they
    # may hold any digits a secret holds ("17:19 UTC" or "19 Dec 2026" beside an IBAN ending in
    # 19, on the day the tests run): not the learner's text.
    own = re.sub(r"\b\d{2}:\d{2} UTC\b", "[time] UTC", text)
    own = re.sub(r"\b\d{1,2} [A-Z][a-z]{2} \d{4}\b", "[date]", own)
    for source, gone, kept in BY_PATTERN:
        for secret in gone:
            assert _flat(secret) not in own, (source, secret)
        for word in kept:
            assert _flat(word) in text, (source, word)
    for name in colleagues:
        assert name not in text
    assert "a colleague and a colleague" not in text.lower()
    assert "Two colleagues showed me the queue" in text
    assert "agent: one colleague" in text  # the "Period and filters" row
    assert learner in text


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_the_preview_is_exactly_the_text_the_pack_writes(written, kind) -> None:
    pack, _, _, pdf, docx_data = written
    text = _flat(_pdf_text(pdf) if kind == "pdf" else _docx_text(docx_data))
    shown = redaction.preview(pack)
    whats = [what for what, _ in shown]
    assert {"Title", "Period and filters", "Customer comment", "Supervisor's comment"} <= set(whats)
    for what, words in shown:
        assert _flat(words) in text, (what, words)


@pytest.mark.chromium
def test_a_chart_png_and_csv_name_no_colleague(written) -> None:
    _, learner, colleagues, _, _ = written
    spec = ChartSpec(
        "bars",
        "SLA by agent",
        "agent",
        "value",
        tuple(
            {"agent": a, "value": 80.0 + i, "n": 30} for i, a in enumerate([learner, *colleagues])
        ),
    )
    csv_text = evidence.chart_file(spec, "csv", me=learner).decode("utf-8-sig")
    svg_text = evidence.chart_file(spec, "svg", me=learner).decode()
    png = evidence.chart_file(spec, "png", me=learner)
    assert png.startswith(b"\x89PNG")
    for name in colleagues:
        assert name not in csv_text and name not in svg_text
    assert "Colleague 1" in csv_text and "Colleague 2" in csv_text and learner in csv_text
