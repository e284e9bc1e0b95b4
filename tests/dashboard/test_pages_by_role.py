"""Every page under each role of team mode, through AppTest signed in as that person (issue 10):
what each role may open, and on the reflection pages whose reflections it sees.

AppTest reads ``AppTest.user`` as ``st.user``, so these run the real app and the real role
checks without a browser; tests/dashboard/test_team_mode.py signs in through a real OpenID
Connect provider in Chromium."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.navigation import PAGES
from kpi.engine.filters import Filters
from kpi.evidence import reflections
from kpi.store import users
from kpi.store.connection import open_store
from tests.paths import APP

ISSUER = "https://sign-in.example.org"
#: subject -> (name, role)
PEOPLE = {
    "priya": ("Priya Shah", "admin"),
    "sam": ("Sam Okafor", "supervisor"),
    "amelia": ("Amelia Booth", "learner"),
    "daniel": ("Daniel Haigh", "learner"),
}
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret",
    "client_id": "kpi-dashboard",
    "client_secret": "test-secret",
    "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration",
}
MARCH_2026 = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
#: Who may open each admin-only page.
ADMIN_ONLY = {"views/data.py", "views/settings.py"}


@pytest.fixture(scope="module")
def team_db(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample store with four people and one reflection of each learner, sent for review,
    and a draft of Amelia's; Sam supervises Amelia only."""
    path = tmp_path_factory.mktemp("roles") / "store.duckdb"
    path.write_bytes(seeded_template.read_bytes())
    store = open_store(path)
    try:
        for subject, (name, role) in PEOPLE.items():
            users.sign_in(store, ISSUER, subject, f"{subject}@example.org", name)
            users.set_role(store, f"{subject}@example.org", role)
        users.supervise(store, "Sam Okafor", "Amelia Booth")
        for learner in ("Amelia Booth", "Daniel Haigh"):
            r = reflections.blank(learner, 3, MARCH_2026, ("csat",), store)
            r = reflections.replace(
                r,
                title=f"{learner.split()[0]}'s March reflection",
                sections={**r.sections, "description": "CSAT fell in the first week of March."},
                ksbs=("ST0071:S2",),
            )
            r = reflections.save(store, r)
            reflections.submit(store, r.reflection_id)
        draft = reflections.blank("Amelia Booth", 3, MARCH_2026, ("csat",), store)
        reflections.save(store, reflections.replace(draft, title="Amelia's April draft"))
    finally:
        store.close()
    return path


def signed_in_as(subject: str, db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KPI_DB", str(db))
    monkeypatch.setenv("KPI_MODE", "team")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = AUTH
    name = PEOPLE[subject][0]
    at.user = {"is_logged_in": True, "iss": ISSUER, "sub": subject,
               "email": f"{subject}@example.org", "name": name}  # fmt: skip
    at.run()
    return at


def page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "error", "info", "warning")
             for e in getattr(at, kind)]  # fmt: skip
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("subject", ["priya", "sam", "amelia"])
def test_each_role_opens_exactly_the_pages_its_role_allows(
    subject: str, team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as(subject, team_db, monkeypatch)
    name, role = PEOPLE[subject]
    assert not at.exception, at.exception
    assert any(f"Signed in as **{name}** ({role})" in c.value for c in at.sidebar.caption)
    for spec in PAGES:
        if role != "admin" and spec.script in ADMIN_ONLY:
            # Not a page of this person's app at all: only its address answers, with a refusal
            # (tests/dashboard/test_team_flow.py follows that link in a browser).
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(spec.script)
            continue
        at.switch_page(spec.script).run()
        assert not at.exception, (spec.script, at.exception)
        titles = [t.value for t in at.title]
        assert titles and not at.error, (role, spec.title, [e.value for e in at.error])


@pytest.mark.parametrize(
    ("subject", "sees"),
    [
        ("amelia", {"Amelia's March reflection"}),  # her own only
        ("daniel", {"Daniel's March reflection"}),
        ("sam", {"Amelia's March reflection"}),  # whom he supervises, never Daniel
        ("priya", {"Amelia's March reflection", "Daniel's March reflection"}),
    ],
)
def test_the_evidence_journal_shows_each_person_only_the_reflections_they_may_see(
    subject: str, sees: set[str], team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as(subject, team_db, monkeypatch)
    at.switch_page("views/evidence.py").run()
    assert not at.exception, at.exception
    cells = " | ".join(at.dataframe[0].value.astype(str).to_numpy().ravel())
    titles = {t for t in ("Amelia's March reflection", "Daniel's March reflection") if t in cells}
    assert titles == sees


def test_in_team_mode_a_learner_reflects_as_themselves_and_edits_only_their_own(
    team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for subject in ("amelia", "sam"):
        at = signed_in_as(subject, team_db, monkeypatch)
        at.switch_page("views/reflect.py").run()
        assert not at.exception, at.exception
        learner = next(t for t in at.text_input if t.label == "Learner")
        # The signed-in name, not a box anyone could type another person's name into.
        assert learner.value == PEOPLE[subject][0] and learner.disabled
        drafts = [o for b in at.selectbox if b.label == "Draft" for o in b.options]
        if subject == "amelia":
            assert any("Amelia's April draft" in o for o in drafts), drafts
        else:  # Sam supervises Amelia but writes only his own: her draft is not his to edit
            assert drafts == []
