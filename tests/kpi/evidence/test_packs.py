"""Evidence packs: the PDF (read back with pypdf) and the DOCX (read back with python-docx) hold
every required section and none of the personal data in the store; charts alone export as PNG,
SVG, offline HTML and CSV, safe to share; the CLI writes the files. Charts render once per
module, through one Kaleido browser."""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pandas as pd
import pytest
from PIL import Image
from pypdf import PdfReader

from kpi import insights
from kpi.charts import figures, images
from kpi.charts.spec import ChartSpec, shareable
from kpi.cli import evidence_command as cli_evidence
from kpi.engine import breakdowns
from kpi.engine.filters import Filters
from kpi.evidence import documents, reflections
from kpi.evidence import packs as evidence
from kpi.ingest.importer import import_file
from kpi.insights.insight_segment import Segment
from kpi.metrics.settings import Settings, load_settings, save_settings
from kpi.store import viewer
from kpi.store.connection import Store, open_store
from tests.paths import SAMPLE_DATA

LEARNER = "Amelia Booth"
MARCH_2026 = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


@pytest.fixture(scope="module")
def store(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("evidence") / "store.duckdb"
    path.write_bytes(seeded_template.read_bytes())
    s = open_store(path)
    driver = next(i for i in insights.detect(s, MARCH_2026, ("driver",)) if "complaints" in i.title)
    r = reflections.from_insight(driver, LEARNER, level=3)
    r = reflections.replace(
        r,
        metrics=("complaint_rate",),
        sections={
            **r.sections,
            "description": "Billing complaints doubled. Daniel Haigh and Rhys helped me sort "
            "the queue; Bethan Morgan took the calls.",
            "analysis": "The March bill run confused customers <b>not bold</b>.",
        },
        customer_comment="My bill doubled! Ring 07700 900123 or jo.bloggs@example.com",
        action=reflections.SmartAction(
            "Send the bill explainer with every billing reply",
            "complaint_rate",
            3.0,
            date(2026, 5, 1),
        ),
    )
    r = reflections.save(s, r)
    reflections.submit(s, r.reflection_id)
    reflections.review(s, r.reflection_id, "Sam Supervisor", "Clear analysis; agreed action.", True)
    sla = reflections.blank(LEARNER, 2, MARCH_2026, ("sla",))
    sla = reflections.replace(sla, sections={"situation": "Email SLA slipped in March."})
    reflections.save(s, sla)  # EV-0002: no insight, an SLA trend
    viewer.set_me(s, LEARNER)  # the store knows which agent the learner is
    yield s
    s.close()


@pytest.fixture(scope="module")
def rendered(store: Store):
    with images.renderer() as renderer:
        pack = evidence.build(store, 1, renderer)
        small = insights.detect(store, Filters(), ("small_sample",))[0].chart
        alone = {
            fmt: evidence.chart_file(small, fmt, renderer, me=LEARNER) for fmt in ("png", "svg")
        }
    alone.update({fmt: evidence.chart_file(small, fmt, me=LEARNER) for fmt in ("html", "csv")})
    return pack, documents.pdf_bytes(pack), documents.docx_bytes(pack), alone


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _personal_data(store: Store) -> list[str]:
    """What must never leave: customer keys, raw ids, emails, names, other agents' names."""
    cur = store.cursor()
    keys = cur.execute("SELECT DISTINCT customer_key FROM contacts WHERE customer_key IS NOT NULL")
    columns = ["Requester", "Requester id", "Requester email"]
    tickets = pd.read_csv(SAMPLE_DATA / "zendesk_tickets.csv", usecols=columns, dtype=str)
    agents = cur.execute("SELECT DISTINCT agent FROM contacts WHERE agent IS NOT NULL")
    return [
        *(r[0] for r in keys.fetchall()),
        *(v for c in columns for v in tickets[c].dropna().unique()),
        *(r[0] for r in agents.fetchall() if r[0] != LEARNER),
        "jo.bloggs@example.com",
        "07700 900123",
    ]


@pytest.mark.chromium
@pytest.mark.parametrize("reader", [_pdf_text, _docx_text], ids=["pdf", "docx"])
def test_pack_holds_every_section_and_no_personal_data(rendered, store: Store, reader) -> None:
    pack, pdf, docx_data, _ = rendered
    text = _flat(reader(pdf if reader is _pdf_text else docx_data))
    for title in evidence.SECTION_TITLES:
        assert title in text, title
    for needed in (
        "EV-0001",
        LEARNER,
        "ST0071",
        "S2",
        "Chart 1",
        "zendesk_tickets.csv",
        "call_log.xlsx",
        "Complaint rate:",
        "Colleague",
        "Send the bill explainer",
        "Measure: Complaint rate to 3.0% for all contacts",
        "Review on 1 May 2026",
        "Sam Supervisor",
        "Clear analysis",
        "[phone removed]",
        "<b>not bold</b>",
    ):
        assert _flat(needed) in text, needed
    assert "n" in [c.lower() for c in text.split()] or "n =" in text
    # The learner's own name is there by design (a customer may share it).
    leaked = [value for value in _personal_data(store) if value in text and value != LEARNER]
    assert leaked == []
    # Ids of the raw exports: Zendesk requester numbers never appear next to a label; call refs.
    assert not re.search(r"\bAC\d{6}\b", text)
    assert not re.search(r"[\w.]+@[\w.]+\.\w+", text)


@pytest.mark.chromium
def test_pack_images_and_figures(rendered) -> None:
    pack, pdf, _, _ = rendered
    assert len(pack.images) == len(pack.charts) >= 2
    assert all(i.startswith(b"\x89PNG") for i in pack.images)
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2
    assert all(f.n and f.definition for f in pack.figures)
    assert pack.signed_off and pack.status == "Reviewed"


@pytest.mark.chromium
def test_file_names_are_safe_ascii(rendered) -> None:
    pack = rendered[0]
    for ext in ("pdf", "docx", "png"):
        name = evidence.file_name(pack, ext, "chart 1")
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", name) and len(name) < 100
    assert evidence.safe_name('Café & £ "quotes"') == "Cafe-quotes"


@pytest.mark.chromium
def test_a_chart_alone_exports_safely(rendered) -> None:
    _, _, _, alone = rendered
    assert alone["png"].startswith(b"\x89PNG")
    assert b"<svg" in alone["svg"][:500]
    page = alone["html"].decode()
    assert not re.search(r"<script[^>]*src=", page)  # plotly.js inline: opens offline
    assert len(page) > 1_000_000
    table = pd.read_csv(io.BytesIO(alone["csv"]), encoding="utf-8-sig")
    assert set(table.agent) <= {f"Colleague {i}" for i in range(1, 20)} | {LEARNER}
    assert "Bethan Morgan" not in alone["csv"].decode("utf-8-sig")
    for blob in (alone["svg"], alone["html"]):
        assert b"Bethan" not in blob and b"Daniel Haigh" not in blob


def test_an_indexed_pack_hides_volumes(store: Store) -> None:
    pack = evidence.build(store, 1, None, indexed=True)
    assert pack.indexed and pack.images == []
    assert all("index" in c.title for c in pack.charts)
    assert all(not f.n.replace(",", "").isdigit() for f in pack.figures)
    assert all(not row["rows imported"].replace(",", "").isdigit() for row in pack.provenance)
    assert reflections.get(store, 1).as_of is not None


def test_small_cells_are_suppressed_and_indexed_mode_hides_volumes() -> None:
    spec = ChartSpec(
        "bars",
        "t",
        "agent",
        "value",
        (
            {"agent": "Me", "value": 80.0, "n": 40},
            {"agent": "Other", "value": 100.0, "n": 3},
            {"agent": "Third", "value": 40.0, "n": 50},
        ),
        lines={"target": 60.0},
    )
    safe = shareable(spec, me="Me", indexed=True)
    me, other, third = safe.rows  # rows keep their order; colleagues' numbers follow no rank
    assert {me["agent"], other["agent"], third["agent"]} == {"Me", "Colleague 1", "Colleague 2"}
    assert other["value"] is None and other["n"] is None
    assert me["value"] == 100.0 and third["value"] == 50.0
    assert safe.lines["target"] == 75.0 and "index" in safe.title


def test_missing_chromium_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(images.shutil, "which", lambda name: None)
    with pytest.raises(images.ChromiumMissing, match="apt-get install chromium"):
        images.ChartRenderer().start()


def test_user_text_is_escaped_in_figures() -> None:
    spec = ChartSpec(
        "bars",
        "<script>x</script>",
        "category",
        "count",
        ({"category": "<b>", "count": 3, "n": 9},),
    )
    fig = figures.figure(spec)
    assert "<script>" not in fig.layout.title.text and "&lt;script&gt;" in fig.layout.title.text


@pytest.mark.chromium
def test_cli_writes_chart_pngs_and_csvs(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    parser = argparse.ArgumentParser(prog="kpi")
    cli_evidence.register(parser.add_subparsers(dest="command"), "evidence")
    db = tmp_path / "copy.duckdb"
    store.con.execute("CHECKPOINT")
    db.write_bytes(Path(store.path).read_bytes())
    args = parser.parse_args(
        ["evidence", "1", "--format", "png", "--out", str(tmp_path / "out"), "--db", str(db)]
    )
    assert args.func(args) == 0
    written = sorted((tmp_path / "out").iterdir())
    assert {p.suffix for p in written} == {".png", ".csv"}
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", p.name) for p in written)
    missing = parser.parse_args(["evidence", "99", "--out", str(tmp_path), "--db", str(db)])
    assert missing.func(missing) == 2
    assert "no reflection 99" in capsys.readouterr().err


@pytest.mark.chromium
def test_every_chart_of_a_pack_downloads_as_four_files_safe_to_share(store: Store) -> None:
    with images.renderer() as renderer:
        pack = evidence.build(store, 1, renderer)
        files = evidence.chart_files(pack, renderer)
    assert [f.title for f in files] == [spec.title for spec in pack.charts] != []
    for f in files:
        assert f.png.startswith(b"\x89PNG") and b"<svg" in f.svg[:500]
        assert not re.search(r"<script[^>]*src=", f.html.decode())
        assert not pd.read_csv(io.BytesIO(f.csv), encoding="utf-8-sig").empty
        for blob in (f.svg, f.html, f.csv):
            assert b"Bethan" not in blob and b"Daniel Haigh" not in blob


# --- charts that stand alone, the insight, settings, provenance, the learner's own figures -------


@pytest.fixture(scope="module")
def sla_rendered(store: Store):
    """EV-0002, an SLA reflection with no insight, as a pack and its PDF and DOCX."""
    with images.renderer() as renderer:
        pack = evidence.build(store, 2, renderer)
        files = evidence.chart_files(pack, renderer)
    return pack, documents.pdf_bytes(pack), documents.docx_bytes(pack), files


def _pages(data: bytes) -> list[tuple[str, int]]:
    """(flattened text, number of images) of each page of a PDF."""
    return [
        (_flat(page.extract_text()), len(page.images)) for page in PdfReader(io.BytesIO(data)).pages
    ]


@pytest.mark.chromium
def test_every_chart_title_names_kpi_segment_period_and_n(rendered, sla_rendered) -> None:
    for pack, pdf in ((rendered[0], rendered[1]), (sla_rendered[0], sla_rendered[1])):
        text = _flat(_pdf_text(pdf))
        mine = pack.charts[len(pack.charts) - pack.me_charts :]
        for i, spec in enumerate(pack.charts):
            if spec in mine:  # the comparison's own scope: the team, every agent in it
                assert ", your team, " in spec.title and "every agent in it" in spec.title
            else:
                assert "all contacts" in spec.title or "all survey answers" in spec.title
            assert re.search(r"n = [\d,]+ (contacts|answers)", spec.title), spec.title
            assert re.search(r"(1 Mar 2026 to 31 Mar 2026|w/c 2 Mar 2026 to w/c 23 Mar 2026)",
                             spec.title), spec.title  # fmt: skip
            assert spec.x_title and spec.y_title and "value" not in spec.y_title.lower()
            # The title is on the image only; the heading above it is a short label.
            assert _flat(spec.title) not in text and f"Chart {i + 1}" in text
    trend = next(c for c in sla_rendered[0].charts if c.x == "week")
    assert (trend.x_title, trend.y_title) == ("Week starting (Monday)", "SLA (%)")
    pareto = rendered[0].charts[0]
    assert (pareto.x_title, pareto.y_title) == ("Category", "Complaints (number)")


@pytest.mark.chromium
def test_weekly_charts_leave_out_the_part_weeks_and_say_so(sla_rendered) -> None:
    trend = next(c for c in sla_rendered[0].charts if c.x == "week")
    weeks = [row["week"] for row in trend.rows]
    # 1 Mar 2026 is a Sunday and 31 Mar a Tuesday: both end weeks are part weeks.
    assert weeks[0] == "2026-03-02" and weeks[-1] == "2026-03-23" and len(weeks) == 4
    assert trend.subtitle == (
        "Whole weeks only: part weeks w/c 23 Feb 2026 (1 of 7 days) and w/c 30 Mar 2026 "
        "(2 of 7 days) left out"
    )
    fig = figures.figure(trend)
    assert list(fig.layout.xaxis.ticktext)[0] == "w/c 2 Mar 2026"


@pytest.mark.chromium
def test_charts_carry_targets_and_the_pareto_its_80_percent_line(rendered, sla_rendered) -> None:
    trend = next(c for c in sla_rendered[0].charts if c.x == "week")
    assert trend.lines["target"] == 90.0  # the team's SLA target
    complaints = next(c for c in rendered[0].charts if c.x == "week")
    assert complaints.lines["SMART target 3.0%"] == 3.0  # the learner's own target
    fig = figures.figure(rendered[0].charts[0])
    assert list(fig.layout.yaxis2.ticktext) == ["0%", "20%", "40%", "60%", "80%", "100%"]
    assert fig.layout.yaxis2.title.text == "Cumulative share of the total (%)"
    cut = [s for s in fig.layout.shapes if s.yref == "y2"]
    assert [(s.y0, s.y1) for s in cut] == [(80.0, 80.0)]
    assert any(a.text == "80% line" for a in fig.layout.annotations)


@pytest.mark.chromium
def test_every_exported_image_has_the_footer(rendered, sla_rendered) -> None:
    pack, files = sla_rendered[0], sla_rendered[3]
    footer = (
        f"{LEARNER} · evidence EV-0002 · data cut-off {pack.cutoff} · source: "
        "call_log.xlsx, queue_intervals.csv, social_threads.csv, survey_responses.csv, "
        "zendesk_tickets.csv"
    )  # every file whose rows fall in the pack's period
    assert all(spec.footer == footer for spec in pack.charts)
    for spec, f in zip(pack.charts, files, strict=True):
        svg = f.svg.decode()
        assert "Amelia Booth · evidence EV-0002 · data cut-off" in svg
        assert "zendesk_tickets.csv" in svg and "SLA" in svg
        assert spec.title.split(",")[0] in svg  # the title is on the image too
    # The standalone chart of an insight carries the footer it is given.
    _, _, _, alone = rendered
    assert alone["png"].startswith(b"\x89PNG")


@pytest.mark.chromium
@pytest.mark.parametrize("which", ["rendered", "sla_rendered"])
def test_chart_headings_share_a_page_with_their_charts(which, request) -> None:
    pack, pdf = request.getfixturevalue(which)[:2]
    pages = _pages(pdf)
    labels = 0
    for text, count in pages:  # every "Chart n" label on a page has its image there
        here = re.findall(r"\bChart \d+\b", text)
        assert len(here) == count, text
        labels += len(here)
    assert labels == len(pack.charts)
    headings = [t for t in evidence.SECTION_TITLES]
    for text, _ in pages:  # no section heading is the last thing on a page
        assert not any(text.rstrip().endswith(h) for h in headings)


@pytest.mark.chromium
@pytest.mark.parametrize("reader", [_pdf_text, _docx_text], ids=["pdf", "docx"])
def test_pack_states_the_insight_and_its_test_in_plain_words(rendered, reader) -> None:
    pack, pdf, docx_data, _ = rendered
    text = _flat(reader(pdf if reader is _pdf_text else docx_data))
    labels = [label for label, _ in pack.statement]
    assert labels[:3] == ["What the data showed", "In plain words", "How it was tested"]
    assert _flat(evidence.TEST_WORDS["driver"]) in text
    assert "Billing drives complaints" in text and "more than chance" in text
    assert "Bonferroni" in text


@pytest.mark.chromium
@pytest.mark.parametrize("reader", [_pdf_text, _docx_text], ids=["pdf", "docx"])
def test_sla_definition_once_with_its_target_hours(sla_rendered, reader) -> None:
    _, pdf, docx_data, _ = sla_rendered
    text = _flat(reader(pdf if reader is _pdf_text else docx_data))
    assert text.count("% of contacts that met every target that applies") == 1
    assert "SLA targets (hours)" in text and "First response (hours)" in text
    assert "a contact with no priority is held to the normal targets" in text
    assert "Team target for SLA: 90.0% (higher is better)" in text
    assert "Complaint rate: Complaint rate:" not in _flat(_pdf_text(pdf))
    assert re.search(r"urgent\s*1\s*8\b", text) or "urgent 1 8" in text


@pytest.mark.chromium
def test_key_figures_do_not_repeat_the_definition(rendered) -> None:
    text = _flat(_pdf_text(rendered[1]))
    assert "Complaint rate: Complaint rate:" not in text
    assert text.count("Complaint rate: % of contacts that are complaints") == 1
    assert "95% interval" in text


@pytest.mark.chromium
@pytest.mark.parametrize("reader", [_pdf_text, _docx_text], ids=["pdf", "docx"])
def test_pack_gives_the_data_cut_off_and_each_source_files_dates(
    sla_rendered, store: Store, reader
) -> None:
    pack, pdf, docx_data, _ = sla_rendered
    text = _flat(reader(pdf if reader is _pdf_text else docx_data))
    as_of = reflections.get(store, 2).as_of
    assert pack.cutoff == f"{as_of.day} {as_of:%b %Y %H:%M} UTC"
    assert f"Data cut-off: {pack.cutoff}" in text
    cur = store.cursor()
    for row in pack.provenance:
        (batch,) = cur.execute(
            "SELECT batch_id FROM imports WHERE file_name = ?", [row["source file"]]
        ).fetchone()
        first, last = cur.execute(
            "SELECT min(d), max(d) FROM (SELECT opened_at AS d FROM contacts WHERE batch_id = ? "
            "UNION ALL SELECT responded_at FROM responses WHERE batch_id = ? "
            "UNION ALL SELECT interval_start FROM intervals WHERE batch_id = ?)",
            [batch, batch, batch],
        ).fetchone()
        # Days in the store's time zone, as the pack's period is read (instants are UTC).
        zone = ZoneInfo(load_settings(store).timezone)
        first, last = (d.replace(tzinfo=UTC).astimezone(zone) for d in (first, last))
        days = f"{first.day} {first:%b %Y} to {last.day} {last:%b %Y}"
        assert row["dates in the file"] == days  # "1 May 2025 to 31 Oct 2026", never ISO
        assert row["source file"] in text


@pytest.mark.chromium
@pytest.mark.parametrize("reader", [_pdf_text, _docx_text], ids=["pdf", "docx"])
def test_pack_shows_the_learners_own_figures_against_the_rest(
    sla_rendered, store: Store, reader
) -> None:
    pack, pdf, docx_data, _ = sla_rendered
    text = _flat(reader(pdf if reader is _pdf_text else docx_data))
    header, row = pack.me
    assert header == ["KPI", "Me", "Rest of the team", "A real difference?"]
    assert row[0] == "SLA"
    for side in row[1:3]:
        assert re.fullmatch(r"[\d.]+% \(n = [\d,]+; 95% interval [\d.]+% to [\d.]+%\)", side)
    assert evidence.SECTION_TITLES[5] in text and _flat(evidence.ME_NOTE) in text
    chart = pack.charts[-1]
    # n sits in the bar's label under the axis, not on the error bars.
    assert [r["who"] for r in chart.rows] == [
        f"Me ({LEARNER}), n = {chart.rows[0]['n']:,}",
        f"Rest of the team, n = {chart.rows[1]['n']:,}",
    ]
    assert chart.n is None
    assert all(r["n"] >= 5 and r["ci_low"] < r["value"] < r["ci_high"] for r in chart.rows)
    assert "Colleague" not in " ".join(str(r) for r in chart.rows)  # no one ranked


def test_without_this_is_me_the_pack_says_how_to_show_your_figures(store: Store) -> None:
    viewer.set_me(store, None)
    try:
        pack = evidence.build(store, 2, None)
    finally:
        viewer.set_me(store, LEARNER)
    assert pack.me == [] and pack.me_note == evidence.NO_ME and pack.me_charts == 0
    assert "this is me" in pack.me_note


@pytest.mark.chromium
def test_docx_is_a4_by_the_learner_with_alt_text_on_every_chart(rendered) -> None:
    pack, _, docx_data, _ = rendered
    document = docx.Document(io.BytesIO(docx_data))
    for section in document.sections:
        assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    assert document.core_properties.author == LEARNER
    shapes = document.inline_shapes
    assert len(shapes) == len(pack.charts) >= 3
    for shape, spec in zip(shapes, pack.charts, strict=True):
        alt = shape._inline.docPr.get("descr")
        assert alt.startswith(("Line chart", "Bar chart", "Pareto", "Heat map"))
        assert spec.title in alt and spec.y_title in alt
    headings = [p for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings and all(p.paragraph_format.keep_with_next for p in headings)


@pytest.mark.chromium
def test_pdf_names_the_learner_and_describes_its_charts(rendered) -> None:
    _, pdf, _, _ = rendered
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata.author == LEARNER
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    assert pdf.count(b"/Alt") >= len(rendered[0].charts)


@pytest.mark.chromium
def test_pdf_pages_rendered_as_images_show_every_chart(
    rendered, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each page drawn as a PNG (poppler's pdftoppm): kept as an artifact to look at, and each
    page that holds charts shows the charts' blue. KPI_ARTIFACTS names a folder to keep them in."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    folder = Path(os.environ.get("KPI_ARTIFACTS") or tmp_path_factory.mktemp("pages"))
    folder.mkdir(parents=True, exist_ok=True)
    pdf = folder / "EV-0001.pdf"
    pdf.write_bytes(rendered[1])
    subprocess.run([tool, "-png", "-r", "50", str(pdf), str(folder / "EV-0001-page")], check=True)
    shots = sorted(folder.glob("EV-0001-page-*.png"))
    pages = _pages(rendered[1])
    assert len(shots) == len(pages)
    for shot, (_, charts) in zip(shots, pages, strict=True):
        with Image.open(shot) as page:
            colours = page.convert("RGB").getcolors(maxcolors=1 << 20) or []
        blue = sum(count for count, (r, g, b) in colours if r < 40 and 90 < g < 140 and b > 150)
        assert (blue > 500) == (charts > 0), shot.name


def test_a_pack_by_another_learner_never_prints_this_is_me_figures(store: Store) -> None:
    viewer.set_me(store, "Someone Else")
    try:
        pack = evidence.build(store, 2, None)
    finally:
        viewer.set_me(store, LEARNER)
    assert pack.me == [] and pack.me_note == evidence.NOT_THE_LEARNER and pack.me_charts == 0
    assert "Someone Else" not in " ".join(c.title for c in pack.charts)


@pytest.fixture(scope="module")
def billing_pack(store: Store) -> evidence.Pack:
    """A reflection on all contacts with an agent filter naming a colleague, whose SMART
    action is for category Billing only."""
    other = next(a for a in _team_agents(store) if a != LEARNER)
    r = reflections.blank(LEARNER, 3, replace_agents(MARCH_2026, (LEARNER, other)),
                          ("complaint_rate",))  # fmt: skip
    r = reflections.replace(
        r,
        title="Billing complaints",
        action=reflections.SmartAction(
            "Send the bill explainer",
            "complaint_rate",
            3.0,
            date(2026, 5, 1),
            Segment(category=("Billing",)),
        ),  # fmt: skip
    )
    saved = reflections.save(store, r)
    return evidence.build(store, saved.reflection_id, None)


def _team_agents(store: Store) -> list[str]:
    rows = store.cursor().execute("SELECT DISTINCT agent FROM contacts WHERE agent IS NOT NULL")
    return sorted(str(a) for (a,) in rows.fetchall())


def replace_agents(filters: Filters, agents: tuple[str, ...]) -> Filters:
    return Filters(date_from=filters.date_from, date_to=filters.date_to, agent=agents)


def test_the_smart_target_is_not_drawn_on_a_chart_of_another_segment(billing_pack) -> None:
    trend = next(c for c in billing_pack.charts if c.x == "week")
    assert not any(name.startswith("SMART target") for name in trend.lines)
    assert trend.title.endswith(
        "SMART target applies to category Billing, shown on its before/after chart"
    )


def test_me_against_rest_titles_say_the_comparisons_own_scope(billing_pack) -> None:
    mine = billing_pack.charts[len(billing_pack.charts) - billing_pack.me_charts :]
    assert mine != []
    for spec in mine:
        # The comparison drops the agent filter and covers the learner's team: the title says
        # so and never repeats the pack's "agent: Amelia Booth and a colleague".
        assert "agent" not in spec.title.replace("every agent in it", "")
        assert ", your team, 1 Mar 2026 to 31 Mar 2026, every agent in it, n = " in spec.title
        n = sum(int(r["n"]) for r in spec.rows)
        assert spec.title.endswith(f"n = {n:,} contacts")


def test_the_smart_action_has_its_unit_and_dates_read_as_words(billing_pack) -> None:
    assert billing_pack.action == (
        "Send the bill explainer. Measure: Complaint rate to 3.0% for category Billing. "
        "Review on 1 May 2026"
    )
    assert re.search(r"Anonymised on \d{1,2} [A-Z][a-z]{2} \d{4}\.", billing_pack.anonymisation)
    assert all(re.fullmatch(r"\d{1,2} \w{3} \d{4} to \d{1,2} \w{3} \d{4}",
                            row["dates in the file"]) for row in billing_pack.provenance)  # fmt: skip


def test_every_key_figure_has_an_interval_or_says_why_not(rendered) -> None:
    pack = rendered[0]
    for f in pack.figures:
        assert re.fullmatch(r"-?[\d.]+% to -?[\d.]+%", f.interval) or f.interval == (
            evidence.NO_INTERVAL
        ), f
    # A rate from the insight with no interval of its own gets one worked out from its n.
    rate = next(f for f in pack.figures if f.label.startswith("Complaint rate, Billing")
                or "Billing" in f.label)  # fmt: skip
    assert rate.interval != evidence.NO_INTERVAL


def test_the_anonymisation_statement_says_what_the_pack_does(rendered) -> None:
    words = _flat(rendered[0].anonymisation)
    assert "numbered by a keyed hash of their name, never by their rank" in words
    assert 'becomes "a colleague" (two of them "two colleagues")' in words
    assert "a filter that names a colleague says so without the name" in words


def test_a_source_files_dates_are_days_in_the_stores_time_zone(tmp_path: Path) -> None:
    # 23:30 UTC on 31 May is 00:30 on 1 June in London (BST): the pack's period is read in
    # London days, so the file's dates are too, and a June pack counts the file as a source.
    export = tmp_path / "late.csv"
    export.write_text("contact_id,opened_at,channel\nl1,2025-06-01 00:30,email\n")
    store = open_store(":memory:")
    try:
        import_file(store, export, layout="generic_contacts")  # read as London time
        (opened,) = store.cursor().execute("SELECT opened_at FROM contacts").fetchone()
        assert opened == datetime(2025, 5, 31, 23, 30)  # kept as UTC
        june = evidence._provenance(
            store, False, date(2025, 6, 1), date(2025, 6, 30), "Europe/London"
        )
        assert [row["dates in the file"] for row in june] == ["1 Jun 2025 to 1 Jun 2025"]
        in_utc = evidence._provenance(store, False, None, None, "UTC")
        assert [row["dates in the file"] for row in in_utc] == ["31 May 2025 to 31 May 2025"]
    finally:
        store.close()


def test_a_stores_own_time_zone_bounds_the_pack_and_its_files_alike(tmp_path: Path) -> None:
    # Los Angeles: 18:00 on 30 April is 01:00 UTC on 1 May. The pack's period and the file's
    # days are both Los Angeles days, so the file that holds the pack's only contact is listed.
    export = tmp_path / "late.csv"
    export.write_text("contact_id,opened_at,channel\nl1,2025-05-01 02:00,email\n")
    store = open_store(":memory:")
    try:
        import_file(store, export, layout="generic_contacts")  # read as London time (BST)
        save_settings(store, Settings(timezone="America/Los_Angeles"))
        (opened,) = store.cursor().execute("SELECT opened_at FROM contacts").fetchone()
        assert opened == datetime(2025, 5, 1, 1)
        first, last = breakdowns.data_range(store)
        assert (first, last) == (date(2025, 4, 30), date(2025, 4, 30))
        listed = evidence._provenance(store, False, first, last, "America/Los_Angeles")
        assert [row["dates in the file"] for row in listed] == ["30 Apr 2025 to 30 Apr 2025"]
    finally:
        store.close()
