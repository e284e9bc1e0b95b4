"""In a real browser (issue 14, points 13 and 14): team, agent and category names written as
Markdown are shown as text, never as a link or an external image, and no table's own toolbar
offers "Download as CSV" (the app's own buttons anonymise colleagues and neutralise formulas;
comments are not downloadable at all).

Reuses the dashboard's browser test helpers; the store is the sample data plus tickets of a team
whose names are Markdown (tests/dashboard/test_markdown_names.py).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from kpi.ingest.importer import import_file
from kpi.store.connection import open_store
from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, _errors, _settle, running_app
from tests.dashboard.test_markdown_names import TEAM, _export

pytestmark = pytest.mark.chromium

EVIL = "evil.example"
#: The pages that show team, agent and category names (and the Data page, which lists files);
#: the Overview is served at the root.
NAMED = ("", "feedback", "complaints", "team", "trends", "reflect", "data")


@pytest.fixture(scope="module")
def app_url(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("markdown-browser")
    db, export = folder / "store.duckdb", folder / "markdown_names.csv"
    db.write_bytes(seeded_template.read_bytes())
    export.write_bytes(_export())
    store = open_store(db)
    import_file(store, export)
    store.close()
    with running_app(db, folder) as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser.new_page(viewport={"width": 1400, "height": 1000})
        browser.close()


def _open(page: Page, app_url: str, path: str, **params: str) -> None:
    query = urllib.parse.urlencode({"period": "12m", **params})
    page.goto(f"{app_url}/{path}?{query}")
    _settle(page)


@pytest.mark.parametrize("path", NAMED)
def test_markdown_names_show_as_text_with_no_link_or_image(
    app_url: str, page: Page, path: str
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    _open(page, app_url, path, team=TEAM)
    assert _errors(page) == []
    assert page.locator(f'a[href*="{EVIL}"]').count() == 0
    assert page.locator(f'img[src*="{EVIL}"], image[href*="{EVIL}"]').count() == 0
    assert [url for url in requested if urllib.parse.urlparse(url).hostname == EVIL] == []
    if path != "data":  # the filters caption names the team, as typed
        captions = page.get_by_test_id("stCaptionContainer").all_inner_texts()
        assert any(f"team: {TEAM}." in text.replace("\u2060", "") for text in captions)


@pytest.mark.parametrize("path", ["feedback", "team", "data"])
def test_no_table_toolbar_offers_a_download(app_url: str, page: Page, path: str) -> None:
    _open(page, app_url, path)  # every team: comments and agents to show
    if path == "data":  # the quarantine tab's tables (their own button neutralises formulas)
        page.get_by_role("tab", name="Import history").click()
        _settle(page)
    tables = page.get_by_test_id("stDataFrame")
    tables.first.wait_for(timeout=60_000)
    offered: set[str] = set()
    for number in range(tables.count()):
        tables.nth(number).scroll_into_view_if_needed()
        tables.nth(number).hover()
        page.wait_for_timeout(300)  # the toolbar appears on hover
        for button in page.get_by_test_id("stElementToolbar").locator("button").all():
            offered.add(button.get_attribute("aria-label") or "")
    assert "Fullscreen" in offered  # the toolbar was there
    assert "Download as CSV" not in offered
