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
from kpi.store import audit, users
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


@pytest.fixture
def own_team_db(team_db: Path, tmp_path: Path) -> Path:
    """A copy of the team store for a test that changes it (a sign-off, an import)."""
    path = tmp_path / "store.duckdb"
    path.write_bytes(team_db.read_bytes())
    return path


def _in_evidence_settings(at: AppTest) -> tuple[bool, bool]:
    """Whether the Evidence page offers the organisation input and the KSB catalogue upload."""
    organisation = any(t.key == "organisation" for t in at.text_input)
    catalogue = any(u.key == "ksb_upload" for u in at.get("file_uploader"))
    return organisation, catalogue


@pytest.mark.parametrize(
    ("subject", "may_change"), [("amelia", False), ("sam", False), ("priya", True)]
)
def test_only_an_admin_sets_the_organisation_and_the_ksb_catalogue_on_the_evidence_page(
    subject: str, may_change: bool, team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as(subject, team_db, monkeypatch)
    at.switch_page("views/evidence.py").run()
    assert not at.exception, at.exception
    assert _in_evidence_settings(at) == (may_change, may_change)
    said = page_text(at) + "\n".join(t.value for t in at.text)
    if may_change:
        assert any(b.key == "organisation_save" for b in at.button)
    else:  # the organisation as text, and who sets it
        assert "Organisation: none set" in said
        assert "An admin sets the organisation printed on sign-offs." in said
        assert not any(b.key in ("organisation_save", "ksb_import") for b in at.button)


def _journal_status(at: AppTest, title: str) -> str:
    frame = at.dataframe[0].value
    return str(frame.loc[frame["Title"] == title, "Status"].iloc[0])


def test_a_sign_off_shows_in_the_journal_at_once_with_its_message(
    own_team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as("sam", own_team_db, monkeypatch)
    at.switch_page("views/evidence.py").run()
    title = "Amelia's March reflection"
    assert _journal_status(at, title) == "Ready for review"
    at.text_area(key="review_comment").input("Clear analysis of the March dip.")
    at.button(key="review_True").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    # The same run sequence: no further click or rerun before the journal says so.
    assert _journal_status(at, title) == "Reviewed"
    assert any("signed off." in s.value for s in at.success), [s.value for s in at.success]
    assert "Nothing is waiting for review." in page_text(at)
    at.run()  # the message was for that run only
    assert not any("signed off." in s.value for s in at.success)


def _audit_log(at: AppTest) -> list[dict]:
    at.switch_page("views/settings.py").run()
    assert not at.exception, at.exception
    log = next(d.value for d in at.dataframe if "Signed in as" in d.value.columns)
    return log.to_dict("records")


def test_imports_and_undos_on_the_data_page_carry_the_signed_in_identity(
    own_team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as("priya", own_team_db, monkeypatch)
    at.switch_page("views/data.py").run()
    content = (
        b"contact_id,opened_at,subject\nTEAM-1,2026-03-02 10:00,a\nTEAM-2,2026-03-03 11:30,b\n"
    )
    at.file_uploader(key="uploads").set_value(("team.csv", content, "text/csv")).run()
    at.button(key="import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    newest = at.selectbox(key="undo_batch").options[0]  # "Batch N: team.csv ...", newest first
    assert "team.csv" in newest, newest
    batch = int(newest.split(":")[0].removeprefix("Batch "))
    at.selectbox(key="undo_batch").set_value(batch).run()
    at.button(key="undo").click().run()
    assert not at.exception, at.exception
    entries = _audit_log(at)
    newest = {e["What"]: e for e in entries[:2]}
    assert set(newest) == {"import", "undo"}
    for entry in newest.values():
        assert entry["Who"] == "Priya Shah"
        assert entry["Signed in as"] == f"{ISSUER}|priya"


def _newest(entries: list[dict], action: str) -> dict:
    return next(e for e in entries if e["What"] == action)


def test_a_settings_change_on_the_settings_page_carries_the_signed_in_identity(
    own_team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as("priya", own_team_db, monkeypatch)
    at.switch_page("views/settings.py").run()
    at.number_input(key="minimum_n").set_value(at.number_input(key="minimum_n").value + 1)
    at.button(key="save_settings").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    entry = _newest(_audit_log(at), "settings")
    assert "minimum_n" in entry["Detail"]
    assert (entry["Who"], entry["Signed in as"]) == ("Priya Shah", f"{ISSUER}|priya")


@pytest.mark.chromium
def test_an_evidence_pack_built_on_the_evidence_page_carries_the_signed_in_identity(
    own_team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as("amelia", own_team_db, monkeypatch)
    at.switch_page("views/evidence.py").run()
    at.button(key="export_build").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store = open_store(own_team_db)  # Amelia may not open the Settings page's audit log
    try:
        entry = next(e for e in audit.entries(store) if e.action == "export")
    finally:
        store.close()
    assert "pack built on the Evidence page" in entry.detail
    assert (entry.who, entry.identity) == ("Amelia Booth", f"{ISSUER}|amelia")


def test_a_learner_reads_the_teams_notes_and_a_supervisor_keeps_them_audited(
    own_team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as("amelia", own_team_db, monkeypatch)
    at.switch_page("views/trends.py").run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.label == "Delete"]
    assert not [t for t in at.text_input if t.label == "Note"]
    assert any("Supervisors and admins add and remove" in c.value for c in at.caption)
    at = signed_in_as("sam", own_team_db, monkeypatch)
    at.switch_page("views/trends.py").run()
    note = next(t for t in at.text_input if t.label == "Note")
    note.input("Billing letters reworded")
    next(b for b in at.button if b.label == "Add annotation").click().run()
    assert not at.exception, at.exception
    assert any(t.value.endswith("Billing letters reworded") for t in at.text)
    at = signed_in_as("priya", own_team_db, monkeypatch)
    added = _newest(_audit_log(at), "annotation")
    assert (added["Who"], added["Signed in as"]) == ("Sam Okafor", f"{ISSUER}|sam")
    assert added["Detail"].startswith("added the note of ")


def test_only_an_admin_changes_the_complaint_handling_steps(
    team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for subject, may in (("amelia", False), ("sam", False), ("priya", True)):
        at = signed_in_as(subject, team_db, monkeypatch)
        at.switch_page("views/portfolio.py").run()
        assert not at.exception, at.exception
        saves = [b for b in at.button if str(b.label).startswith("Save HEAT")]
        assert bool(saves) is may, subject
        if not may:
            assert any("An admin sets these steps" in c.value for c in at.caption)


def test_a_learner_not_yet_linked_to_an_agent_sees_teams_never_colleagues_by_name(
    team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as("daniel", team_db, monkeypatch)  # no agent name linked
    at.switch_page("views/team.py").run()
    assert not at.exception, at.exception
    assert any("once an admin links you to your agent name" in i.value for i in at.info)
    tables = [d.value for d in at.dataframe]
    assert tables and all("Agent" not in t.columns and "agent" not in t.columns for t in tables)
    at = signed_in_as("sam", team_db, monkeypatch)  # a supervisor sees every agent
    at.switch_page("views/team.py").run()
    assert any("agent" in [c.lower() for c in d.value.columns] for d in at.dataframe)


def test_the_organisation_an_admin_saves_is_in_the_audit_log(
    own_team_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = signed_in_as("priya", own_team_db, monkeypatch)
    at.switch_page("views/evidence.py").run()
    at.text_input(key="organisation").input("Brightwater Energy").run()
    at.button(key="organisation_save").click().run()
    assert not at.exception, at.exception
    entry = _newest(_audit_log(at), "settings")
    assert entry["Detail"] == "organisation printed on sign-offs: Brightwater Energy"
    assert (entry["Who"], entry["Signed in as"]) == ("Priya Shah", f"{ISSUER}|priya")
