"""A real browser downloads an evidence pack from the Evidence page of the running app.

Extends the dashboard's browser test (its helpers are reused): the store holds one signed-off
reflection before the app starts, the browser builds the pack and downloads the PDF.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from pypdf import PdfReader

from kpi import insights
from kpi.engine.filters import Filters
from kpi.evidence import redaction, reflections
from kpi.store.connection import open_store
from tests.dashboard.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    _errors,
    _settle,
    running_app,
)

pytestmark = pytest.mark.chromium


def _seed_reflection(db: Path) -> None:
    store = open_store(db)
    month = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    insight = insights.detect(store, month, ("driver",))[0]
    r = reflections.from_insight(insight, "Amelia Booth", 3, store)
    r = reflections.save(store, reflections.replace(r, sections={"description": "Billing rose."}))
    reflections.submit(store, r.reflection_id)
    reflections.review(store, r.reflection_id, "Sam Supervisor", "Well evidenced.", True)
    store.close()


@pytest.fixture(scope="module")
def evidence_url(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("browser_evidence") / "store.duckdb"
    db.write_bytes(seeded_template.read_bytes())
    _seed_reflection(db)
    with running_app(db, tmp_path_factory.mktemp("logs")) as url:
        yield url


def test_the_evidence_page_downloads_a_pack(evidence_url: str) -> None:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(f"{evidence_url}/evidence")
        _settle(page)
        assert _errors(page) == []
        page.get_by_role("button", name="Build evidence pack").click()
        _settle(page)
        assert _errors(page) == []
        # Downloads stay locked until the learner has read the preview and said so.
        assert page.get_by_role("button", name="Evidence pack (PDF)").is_disabled()
        page.get_by_text(redaction.CONFIRM).click()
        _settle(page)
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Evidence pack (PDF)").click()
        download = info.value
        assert re.fullmatch(r"[A-Za-z0-9_.-]+\.pdf", download.suggested_filename)
        data = Path(download.path()).read_bytes()
        browser.close()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "EV-0001" in text and "Supervisor review and sign-off" in text
