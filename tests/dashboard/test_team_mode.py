"""Team mode, as a team meets it: a real OpenID Connect provider on a free loopback port, the
app served by `streamlit run` with KPI_MODE=team, and Chromium signing people in.

The first person to sign in to an empty team store becomes admin and sees the Data and Settings
pages; the next is a learner and does not; nobody sees a page before signing in; local mode says
in the sidebar that nothing is verified.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from kpi.store import users
from kpi.store.connection import open_store
from tests.dashboard.test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    WINDOW,
    _free_port,
    _settle,
    running_app,
)

pytestmark = pytest.mark.chromium

PEOPLE = {
    "priya": {"name": "Priya Shah", "email": "priya@example.org"},
    "amelia": {"name": "Amelia Booth", "email": "amelia@example.org"},
    "mallory": {"name": "Mallory Stranger", "email": "mallory@elsewhere.test"},
}


def register(issuer: str, people: dict[str, dict[str, str]]) -> None:
    """People's claims at the provider (PUT /users/{sub}), as its admin would set them up."""
    for subject, claims in people.items():
        request = urllib.request.Request(
            f"{issuer}/users/{subject}",
            data=json.dumps(claims).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """oidc-provider-mock, a real OpenID Connect provider, with two people's claims."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{issuer}/.well-known/openid-configuration", process)
        register(issuer, PEOPLE)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"no answer from {url}")


@contextmanager
def team_app(provider: str, template: Path, folder: Path) -> Iterator[str]:
    """The app in team mode on a copy of the sample store, signing in with ``provider``."""
    db = folder / "store.duckdb"
    db.write_bytes(template.read_bytes())
    port = _free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-that-is-long-enough"\n'
        'client_id = "kpi-dashboard"\n'
        'client_secret = "kpi-dashboard-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    options = ["--secrets.files", str(secrets)]
    env = {"KPI_MODE": "team", "KPI_ALLOWED_DOMAINS": "example.org"}
    with running_app(db, folder, env=env, options=options, port=port) as url:
        yield url


def _browser() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser.new_page(viewport=WINDOW)  # a browser of its own: no one's cookies
        browser.close()


def _sign_in(page: Page, url: str, subject: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)
    page.fill("input[name=sub]", subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    _settle(page)


def test_team_mode_signs_people_in_and_shows_each_role_its_pages(
    provider: str, seeded_template: Path, tmp_path: Path
):
    ARTIFACTS.mkdir(exist_ok=True)
    with team_app(provider, seeded_template, tmp_path) as url:
        for page in _browser():
            page.goto(url)
            _settle(page)
            # Nothing of the team's data before signing in.
            expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
            expect(page.get_by_test_id("stSidebar")).to_have_count(0)
            page.screenshot(path=ARTIFACTS / "team_mode_sign_in.png")
            _sign_in(page, url, "priya")
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text("Signed in as Priya Shah (admin)")).to_be_visible(
                timeout=30_000
            )
            expect(sidebar.get_by_role("link", name="Data import and quality")).to_be_visible()
            expect(sidebar.get_by_role("link", name="Settings")).to_be_visible()
        for page in _browser():
            _sign_in(page, url, "amelia")
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text("Signed in as Amelia Booth (learner)")).to_be_visible(
                timeout=30_000
            )
            expect(sidebar.get_by_role("link", name="Reflect")).to_be_visible()
            expect(sidebar.get_by_role("link", name="Data import and quality")).to_have_count(0)
            expect(sidebar.get_by_role("link", name="Settings")).to_have_count(0)
            page.screenshot(path=ARTIFACTS / "team_mode_learner.png")
            # A learner typing the admin page's address gets no such page.
            page.goto(f"{url}/data")
            _settle(page)
            expect(page.get_by_role("heading", name="Data import and quality")).to_have_count(0)
        for page in _browser():
            # An account outside the team's domains is refused and never becomes a person.
            _sign_in(page, url, "mallory")
            expect(page.get_by_text("may not sign in here")).to_be_visible(timeout=30_000)
            expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    # The store knows both by their provider's identity (read once the app has let go of it).
    store = open_store(tmp_path / "store.duckdb")
    try:
        people = {(u.name, u.role, u.email, u.issuer) for u in users.all_users(store)}
    finally:
        store.close()
    assert people == {
        ("Priya Shah", "admin", "priya@example.org", provider),
        ("Amelia Booth", "learner", "amelia@example.org", provider),
    }
