"""Evidence packs: the PDF (read back with pypdf) and the DOCX (read back with python-docx) hold
every required section and none of the personal data in the store; charts alone export as PNG,
SVG, offline HTML and CSV, safe to share; the CLI writes the files. Charts render once per
module, through one Kaleido browser."""

from __future__ import annotations

import argparse
import io
import re
from datetime import date
from pathlib import Path

import docx
import pandas as pd
import pytest
from pypdf import PdfReader

from kpi import insights
from kpi.charts import figures, images
from kpi.charts.spec import ChartSpec, shareable
from kpi.cli import evidence_command as cli_evidence
from kpi.engine.filters import Filters
from kpi.evidence import documents, reflections
from kpi.evidence import packs as evidence
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
        "Pareto of complaints by category",
        "zendesk_tickets.csv",
        "call_log.xlsx",
        "Complaint rate:",
        "Colleague",
        "Send the bill explainer",
        "Review on 2026-05-01",
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
    rows = {r["agent"]: r for r in safe.rows}
    assert set(rows) == {"Me", "Colleague 1", "Colleague 2"}
    assert rows["Colleague 1"]["value"] is None and rows["Colleague 1"]["n"] is None
    assert rows["Me"]["value"] == 100.0 and rows["Colleague 2"]["value"] == 50.0
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
    cli_evidence.register(parser.add_subparsers(dest="command"))
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
