"""A real browser (Debian's Chromium, driven by Playwright) opens every page of the running app.

Not skipped when Chromium is missing: CI installs it (.ci/run), and a browser test that quietly
skips would prove nothing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from dashboard.navigation import PAGES
from tests.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.chromium


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the app did not answer on {url} within {timeout} s")


@contextmanager
def running_app(db: Path, logs: Path) -> Iterator[str]:
    """`streamlit run` of the app on ``db`` at a free local port; yields its URL."""
    port = _free_port()
    env = {**os.environ, "KPI_DB": str(db)}
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with (logs / "streamlit.log").open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def app_url(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("browser") / "store.duckdb"
    db.write_bytes(seeded_template.read_bytes())
    with running_app(db, tmp_path_factory.mktemp("logs")) as url:
        yield url


@pytest.fixture(scope="module")
def browser_page(app_url: str) -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def _settle(page: Page) -> None:
    """Wait until Streamlit has finished running the page's script."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=60_000)
    page.wait_for_timeout(300)  # let a rerun triggered by the click begin
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000
    )


def _errors(page: Page) -> list[str]:
    selectors = '[data-testid="stException"], [data-testid="stAlertContentError"]'
    found = [e.inner_text() for e in page.query_selector_all(selectors)]
    if page.get_by_text("Page not found").count():
        found.append("Page not found")
    return found


def test_every_page_opens_from_the_navigation_without_error(
    app_url: str, browser_page: Page
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser_page
    page.goto(app_url)
    _settle(page)
    for spec in PAGES:
        link = page.get_by_test_id("stSidebarNav").get_by_text(spec.title, exact=True)
        if len(PAGES) > 1:
            link.click()
        else:  # Streamlit shows no navigation for a single page, served at the root
            page.goto(app_url)
        _settle(page)
        heading = page.locator("h1").first.inner_text(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / f"{spec.url_path}.png"), full_page=True)
        assert spec.title.split()[0] in heading
        assert _errors(page) == [], f"{spec.title}: {_errors(page)}"
