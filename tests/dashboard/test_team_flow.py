"""Team mode end to end, as a team lives it: a real OpenID Connect provider, the app served in
team mode, and Chromium signing in a learner, a second learner, their supervisor and an admin.

One test walks the whole review of a reflection: written and sent by its learner, unseen by
another learner, not signable by its author, signed by the supervisor, voided by the learner's
edit, signed again, exported as a PDF that `kpi evidence verify` accepts, and a copy with one
figure changed that it refuses. The other visits every page under each role: what the sidebar
offers, and what a learner meets at an admin page's address.

Screenshots of every step go to /tmp/teamflow/ (outside the repository): look at them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from dashboard.navigation import PAGES, PageSpec
from kpi.cli.main import main as kpi
from kpi.evidence import portfolio, redaction
from kpi.store import audit, users
from kpi.store.connection import open_store
from tests.dashboard.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WINDOW,
    _errors,
    _rendered,
    _settle,
    visible_text,
)
from tests.dashboard.test_team_mode import provider, register, team_app  # noqa: F401 - a fixture

pytestmark = pytest.mark.chromium

SHOTS = Path("/tmp/teamflow")
#: Everyone in the team: subject at the provider -> the claims it signs them in with.
TEAM = {
    "priya": {"name": "Priya Shah", "email": "priya@example.org"},
    "sarah": {"name": "Sarah Whitfield", "email": "sarah@example.org"},
    "amelia": {"name": "Amelia Booth", "email": "amelia@example.org"},
    "marcus": {"name": "Marcus Oyelaran", "email": "marcus@example.org"},
}
FIRST_TEXT = "Billing questions drove the complaints I handled; I explained bills too briefly."
EDIT = " Since then I have checked two more weeks of my own calls."


@pytest.fixture(scope="module")
def team_store(
    provider: str,  # noqa: F811 - the fixture imported above
    seeded_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The sample store with the team in it before the app starts: Priya (the first, so admin),
    Sarah made supervisor of Amelia with `kpi users`, and Amelia and Marcus as the agents they
    are in the data."""
    register(provider, TEAM)
    path = tmp_path_factory.mktemp("team_store") / "team.duckdb"
    path.write_bytes(seeded_template.read_bytes())
    store = open_store(path)
    try:
        for subject, claims in TEAM.items():
            users.sign_in(store, provider, subject, claims["email"], claims["name"])
    finally:
        store.close()
    db = ["--db", str(path)]
    assert kpi(["users", "role", "sarah@example.org", "supervisor", *db]) == 0
    assert kpi(["users", "supervise", "Sarah Whitfield", "Amelia Booth", *db]) == 0
    assert kpi(["users", "agents", "Amelia Booth", "Amelia Booth", *db]) == 0
    assert kpi(["users", "agents", "marcus@example.org", "Marcus Oyelaran", *db]) == 0
    return path


@contextmanager
def _chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _signed_in(browser: Browser, url: str, subject: str) -> Page:
    """A browser context of this person's own (their own cookies), signed in at the provider."""
    page = browser.new_context(viewport=WINDOW, accept_downloads=True).new_page()
    page.goto(url)
    _settle(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)
    page.fill("input[name=sub]", subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    _settle(page)
    name = TEAM[subject]["name"]
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {name}")).to_be_visible(
        timeout=30_000
    )
    return page


def _open(page: Page, url: str, path: str) -> None:
    """A page by its address: a new browser session each time (the sign-in cookie stays), so
    what it shows is what the store holds now."""
    page.goto(f"{url}/{path}")
    _rendered(page)


def _shot(page: Page, name: str) -> None:
    """The whole page, numbered in the order taken: the main area scrolls inside the window,
    so the window is made as tall as the page for it."""
    number = len(list(SHOTS.glob("*.png"))) + 1
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": WINDOW["width"], "height": max(WINDOW["height"], height)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{number:02d}-{name}.png"))
    page.set_viewport_size(WINDOW)


def _click(page: Page, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    _settle(page)


def _type(page: Page, box: Locator, text: str) -> None:
    """Type into a text area and commit it (Ctrl+Enter) before anything is clicked."""
    box.fill(text)
    box.press("Control+Enter")
    _settle(page)


def _first_section(page: Page) -> Locator:
    """The reflection's first section (its text areas' keys start ``s_``)."""
    return page.locator('[class*="st-key-s_"] textarea').first


def _sign_off(page: Page, url: str, comment: str) -> None:
    _open(page, url, "evidence")
    expect(
        page.get_by_text("Reviewing as Sarah Whitfield (supervisor), signed in.")
    ).to_be_visible()
    _type(page, page.get_by_label("Comment (serves as a witness statement)"), comment)
    _click(page, "Sign off")
    expect(page.get_by_text("EV-0001 signed off.")).to_be_visible(timeout=30_000)


def test_a_reflection_is_reviewed_signed_voided_signed_again_and_its_pack_verifies(
    provider: str,  # noqa: F811 - the fixture imported above
    team_store: Path,
    tmp_path: Path,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    pdf = tmp_path / "EV-0001.pdf"
    with team_app(provider, team_store, tmp_path) as url, _chromium() as browser:
        # 1. Amelia writes a reflection on the first pattern the data shows, and sends it.
        amelia = _signed_in(browser, url, "amelia")
        _open(amelia, url, "reflect")
        expect(amelia.get_by_label("Learner")).to_have_value("Amelia Booth")
        amelia.get_by_role("button", name="Reflect on this").first.click()
        _rendered(amelia)
        _type(amelia, _first_section(amelia), FIRST_TEXT)
        _click(amelia, "Send for review")
        expect(amelia.get_by_text("EV-0001 sent for review.")).to_be_visible(timeout=30_000)
        _shot(amelia, "amelia-sent-for-review")

        # 2. Marcus, another learner, finds no trace of it in the journal or among drafts.
        marcus = _signed_in(browser, url, "marcus")
        _open(marcus, url, "evidence")
        expect(
            marcus.get_by_text("No reflection yet. Start one on the Reflect page.")
        ).to_be_visible()
        assert "EV-0001" not in visible_text(marcus) and "Amelia" not in visible_text(marcus)
        # Nor her name among the learners whose KSB coverage or portfolio he can open.
        expect(
            marcus.get_by_text("No reflections yet: start one on the Reflect page.")
        ).to_be_visible()
        expect(marcus.get_by_role("combobox", name="Learner")).to_have_count(0)
        _shot(marcus, "marcus-evidence-sees-nothing")
        _open(marcus, url, "reflect")
        expect(marcus.get_by_text("No draft yet: start one from an insight above.")).to_be_visible()
        assert FIRST_TEXT not in visible_text(marcus)
        _open(marcus, url, "portfolio")
        expect(marcus.get_by_text(portfolio.NO_LEARNER)).to_be_visible()
        expect(marcus.get_by_role("combobox", name="Learner")).to_have_count(0)
        assert "Amelia" not in visible_text(marcus)
        _shot(marcus, "marcus-portfolio-sees-nothing")

        # 3. Amelia sees her reflection waiting, but cannot sign it off herself.
        _open(amelia, url, "evidence")
        expect(amelia.get_by_text("Only Amelia Booth's supervisor can review")).to_be_visible()
        expect(amelia.get_by_role("button", name="Sign off")).to_have_count(0)
        assert "Ready for review" in visible_text(amelia)
        _shot(amelia, "amelia-cannot-sign-off")

        # 4. Sarah, her supervisor, reads it and signs it off.
        sarah = _signed_in(browser, url, "sarah")
        _open(sarah, url, "evidence")
        expect(sarah.get_by_text(FIRST_TEXT)).to_be_visible()
        _sign_off(sarah, url, "A careful look at her own calls.")
        _shot(sarah, "sarah-signed-off")
        _open(sarah, url, "evidence")
        expect(sarah.get_by_text("Nothing is waiting for review.")).to_be_visible()
        assert "Reviewed" in visible_text(sarah)

        # 5. Amelia edits it: the sign-off no longer applies, and every page says so.
        _open(amelia, url, "reflect")
        expect(
            amelia.get_by_text("This reflection is signed off: saving a change voids")
        ).to_be_visible()
        _type(amelia, _first_section(amelia), FIRST_TEXT + EDIT)
        _click(amelia, "Save draft")
        expect(amelia.get_by_text("EV-0001 saved.")).to_be_visible(timeout=30_000)
        _open(amelia, url, "evidence")
        expect(
            amelia.get_by_text("changed after sign-off, so the sign-off no longer applies")
        ).to_be_visible()
        assert "Changed after sign-off" in visible_text(amelia)
        _shot(amelia, "amelia-edit-voided-the-sign-off")
        _open(sarah, url, "evidence")
        assert "Changed after sign-off" in visible_text(sarah)
        expect(sarah.get_by_text("Nothing is waiting for review.")).to_be_visible()

        # 6. Amelia sends it again and Sarah signs the new text.
        _open(amelia, url, "reflect")
        expect(
            amelia.get_by_text("Changed after sign-off: send it for review again")
        ).to_be_visible()
        _click(amelia, "Send for review")
        expect(amelia.get_by_text("EV-0001 sent for review.")).to_be_visible(timeout=30_000)
        _sign_off(sarah, url, "Signed again after her edit: still a careful look.")
        _open(sarah, url, "evidence")
        assert "Reviewed" in visible_text(sarah) and "Changed after sign-off" not in visible_text(
            sarah
        )
        _shot(sarah, "sarah-signed-again")

        # 7. Amelia exports the signed pack as a PDF, after reading what it carries.
        _open(amelia, url, "evidence")
        _click(amelia, "Build evidence pack")
        expect(amelia.get_by_role("button", name="Evidence pack (PDF)")).to_be_disabled(
            timeout=120_000
        )
        amelia.get_by_text(redaction.CONFIRM).click()
        _settle(amelia)
        _shot(amelia, "amelia-export")
        with amelia.expect_download(timeout=60_000) as info:
            amelia.get_by_role("button", name="Evidence pack (PDF)").click()
        info.value.save_as(pdf)
        assert _errors(amelia) == []
    text = "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Signed off by Sarah Whitfield" in text and "Signer's role: supervisor" in text
    assert "Signed again after her edit" in text and FIRST_TEXT[:40] in text
    # Once the app has let go of the store: the pack verifies, and a copy with one figure
    # changed, as a PDF editor would change it, does not.
    SHOTS.joinpath("EV-0001.pdf").write_bytes(pdf.read_bytes())
    db = tmp_path / "store.duckdb"  # the copy the app served
    verified = _verify(pdf, db)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "is authentic and unchanged: EV-0001 by Amelia Booth, signed off by Sarah Whitfield" in (
        verified.stdout
    )
    was, now = _one_figure_changed(pdf, tmp_path / "EV-0001-altered.pdf")
    altered = _verify(tmp_path / "EV-0001-altered.pdf", db)
    assert altered.returncode == 1, altered.stdout + altered.stderr
    assert "EV-0001-altered.pdf was altered after it was made: its key figure" in altered.stdout
    assert was != now
    # Both sign-offs are in the audit log under Sarah's name and her provider's identity.
    store = open_store(db)
    try:
        signed = [e for e in audit.entries(store) if e.action == "sign-off"]
    finally:
        store.close()
    assert [(e.who, e.identity) for e in signed] == [("Sarah Whitfield", f"{provider}|sarah")] * 2


def _verify(pdf: Path, db: Path) -> subprocess.CompletedProcess[str]:
    """`kpi evidence verify FILE`, the command an assessor runs."""
    command = Path(sys.executable).with_name("kpi")
    return subprocess.run(
        [str(command), "evidence", "verify", str(pdf), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
    )


# --- a copy of the PDF with one figure changed, as a PDF editor changes it --------------------


def _glyph_codes(font: DictionaryObject) -> dict[str, bytes]:
    """Character -> the two-byte code the PDF's embedded font draws it with (its ToUnicode map)."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    pairs = re.findall(r"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]{4})>", cmap.split("beginbfchar")[1])
    return {chr(int(char, 16)): bytes.fromhex(code) for code, char in pairs}


def _literal(raw: bytes) -> bytes:
    """A PDF string literal's body, escaped as fpdf2 writes it."""
    for plain, escaped in ((b"\\", b"\\\\"), (b"(", b"\\("), (b")", b"\\)"), (b"\r", b"\\r")):
        raw = raw.replace(plain, escaped)
    return b"(" + raw + b")"


def _one_figure_changed(pdf: Path, out: Path) -> tuple[str, str]:
    """Write ``pdf`` to ``out`` with the first key figure's value one higher in its first digit,
    drawn with the same font; return the value before and after."""
    reader = PdfReader(pdf)
    text = "\n".join(p.extract_text() for p in reader.pages)
    found = re.search(r"\d+(?:\.\d+)?%", text.split("Figure Value n 95% interval", 1)[1])
    assert found, "no key figure in the pack"
    value = found.group(0)
    changed = f"{(int(value[0]) + 1) % 10}{value[1:]}"
    writer = PdfWriter(clone_from=reader)
    for page in writer.pages:
        content = page.get_contents()
        data = content.get_data() if content is not None else b""
        for font in page["/Resources"]["/Font"].values():
            codes = _glyph_codes(font.get_object())
            if not set(value + changed) <= set(codes):
                continue
            before = _literal(b"".join(codes[c] for c in value))
            if before in data:
                stream = DecodedStreamObject()
                stream.set_data(
                    data.replace(before, _literal(b"".join(codes[c] for c in changed)), 1)
                )
                page[NameObject("/Contents")] = writer._add_object(stream)
                writer.write(out)
                assert changed in "\n".join(p.extract_text() for p in PdfReader(out).pages)
                return value, changed
    raise AssertionError(f"the key figure {value} is not drawn in {pdf}")


#: Who signs in for each role (the team store above).
AS_ROLE = {"learner": "amelia", "supervisor": "sarah", "admin": "priya"}


def _offered(role: str) -> list[PageSpec]:
    return [s for s in PAGES if s.needs is None or s.needs in users.MAY[role]]


def test_each_role_is_offered_its_pages_and_refused_the_others_with_a_reason(
    provider: str,  # noqa: F811 - the fixture imported above
    team_store: Path,
    tmp_path: Path,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    # What the roles mean, said once here: learners and supervisors have no admin page.
    assert {s.url_path for s in PAGES} - {s.url_path for s in _offered("learner")} == {
        "data",
        "settings",
    }
    assert _offered("supervisor") == _offered("learner") and _offered("admin") == list(PAGES)
    with team_app(provider, team_store, tmp_path) as url, _chromium() as browser:
        for role, subject in AS_ROLE.items():
            page = _signed_in(browser, url, subject)
            nav = page.get_by_test_id("stSidebarNav")
            # Each link reads "icon name\n\nTitle": the title is its last line.
            links = [t.split("\n")[-1].strip() for t in nav.get_by_role("link").all_inner_texts()]
            assert links == [s.title for s in _offered(role)], f"{role}: {links}"
            # One browser session visits every page it is offered, from the menu.
            for spec in _offered(role):
                nav.get_by_text(spec.title, exact=True).click()
                _rendered(page)
                heading = page.locator("h1").first.inner_text(timeout=30_000)
                assert heading.startswith(spec.title.split()[0]), f"{role}: {heading}"
                assert _errors(page) == [], f"{role} on {spec.title}: {_errors(page)}"
                _shot(page, f"{role}-{spec.url_path}")
            # The address of a page the role may not open: a refusal that says why.
            for spec in (s for s in PAGES if s not in _offered(role)):
                _open(page, url, spec.url_path)
                refusal = (
                    f"The {spec.title} page is for admins only: you are signed in as a {role}."
                )
                expect(page.get_by_text(refusal)).to_be_visible(timeout=30_000)
                expect(page.get_by_role("heading", name=spec.title)).to_have_count(0)
                expect(page.get_by_text("Page not found")).to_have_count(0)
                assert spec.title not in page.get_by_test_id("stSidebarNav").inner_text()
                _shot(page, f"{role}-refused-{spec.url_path}")
            page.context.close()
