"""KSB catalogue and reflections: provisional codes say so, a provider's CSV replaces them,
reflections round-trip through the store with their filters, KSBs, SMART action and review."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from kpi.charts.spec import ChartSpec
from kpi.engine.filters import Filters
from kpi.evidence import coverage, ksbs, learners, reflections, reflective_models
from kpi.insights import Figure, Insight
from kpi.store.connection import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "r.duckdb")
    yield s
    s.close()


def _insight(kind: str = "driver") -> Insight:
    return Insight(
        id=f"{kind}-0123456789",
        kind=kind,
        title="Billing drives complaints: 64% of all complaints from 35% of contacts",
        summary="test",
        figures=(Figure("Complaint rate", 7.6, 922, "%", "Complaint rate: complaints / contacts"),),
        chart=ChartSpec(
            "pareto",
            "Pareto",
            "category",
            "count",
            ({"category": "Billing", "count": 70, "n": 922},),
        ),
        metrics=("complaint_rate",),
        filters=Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31), channel=("email",)),
        prompts={2: ("Explain it.",), 3: ("Analyse it.",)},
        models=("Gibbs", "STAR+Reflection", "HEAT"),
        ksbs=("ST0072:S5", "ST0071:S2", "ST0071:K2"),
    )


def test_builtin_catalogue_covers_three_standards_and_never_claims_official_wording() -> None:
    rows = ksbs.builtin()
    assert {k.standard for k in rows} == {"ST0072", "ST0071", "ST0384"}
    assert all("check against the official standard" in k.status for k in rows)
    assert len({k.ref for k in rows}) == len(rows)
    assert ksbs.by_ref()["ST0072:K6"].area == "Customer experience"
    assert all(k.level == 2 for k in rows if k.standard == "ST0072")


def test_every_ksb_an_insight_suggests_is_in_the_catalogue() -> None:
    from kpi.insights import GUIDANCE

    known = set(ksbs.by_ref())
    for _, _, _, refs in GUIDANCE.values():
        assert set(refs) <= known


def test_a_providers_csv_replaces_one_standard(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "official.csv"
    file.write_text(
        "standard,code,area,description\nST0072,K1,Customers,Official wording one\n"
        "ST0072,K2,Organisation,Official wording two\n",
        encoding="utf-8",
    )
    ksbs.import_catalogue(store, file)
    l2 = ksbs.catalogue(store, "ST0072")
    assert [k.ref for k in l2] == ["ST0072:K1", "ST0072:K2"]
    assert l2[0].description == "Official wording one" and "official.csv" in l2[0].status
    assert ksbs.catalogue(store, "ST0071") == ksbs.catalogue(None, "ST0071")
    ksbs.reset_catalogue(store, "ST0072")
    assert len(ksbs.catalogue(store, "ST0072")) == 18


@pytest.mark.parametrize(
    "text",
    [
        "code,description\nK1,x\n",
        "standard,code,description\nST0072,,x\n",
        "standard,description\n",
    ],
)
def test_a_broken_ksb_file_is_refused_with_its_name(text: str) -> None:
    with pytest.raises(ksbs.CatalogueError, match="bad.csv"):
        ksbs.parse_catalogue(text, "bad.csv")


def test_prompts_adapt_to_the_level_and_complaints_get_heat_and_later() -> None:
    l2 = reflections.prompts("STAR+Reflection", 2)
    l3 = reflections.prompts("STAR+Reflection", 3)
    assert [k for k, _, _ in l2] == ["situation", "task", "action", "result", "reflection"]
    assert "Explain" in l2[1][2] and "Evaluate" in l3[3][2]
    complaint = reflections.prompts("Gibbs", 3, _insight())
    keys = [k for k, _, _ in complaint]
    assert "heat.hear" in keys and "later.listen" in keys
    assert "Analyse it." in complaint[5][2]
    assert [k for k, _, _ in reflections.prompts("What/So what/Now what", 2)] == [
        "what",
        "so_what",
        "now_what",
    ]


def test_heat_and_later_are_editable(store: Store) -> None:
    reflective_models.save_complaint_models(store, {"HEAT": [["hear", "Hear", "My own words"]]})
    steps = reflections.prompts("Gibbs", 2, _insight(), store)
    assert ("heat.hear", "HEAT: Hear", "My own words") in steps
    with pytest.raises(ValueError):
        reflective_models.save_complaint_models(store, {"HEAT": [["only two", "items"]]})


def test_smart_action_gaps() -> None:
    assert len(reflections.SmartAction().gaps()) == 3
    action = reflections.SmartAction(
        "Use the billing FAQ template on every March billing email",
        "complaint_rate",
        3.0,
        date(2026, 5, 1),
    )
    assert action.gaps() == []
    assert "Review on 1 May 2026" in action.describe()


def test_reflection_round_trip_review_and_coverage(store: Store) -> None:
    draft = reflections.from_insight(_insight(), "Alex Learner", level=3)
    assert draft.standard == "ST0071" and draft.ksbs == ("ST0071:S2", "ST0071:K2")
    assert draft.model == "Gibbs" and draft.complaint
    draft = reflections.replace(
        draft,
        sections={**draft.sections, "description": "Billing complaints rose in March."},
        customer_comment="Call me on 07700 900123 or jo.bloggs@example.com",
        action=reflections.SmartAction(
            "Send the new tariff FAQ with every reply", "complaint_rate", 3, date(2026, 5, 1)
        ),
    )
    saved = reflections.save(store, draft)
    assert saved.reference == "EV-0001"
    again = reflections.get(store, saved.reflection_id)
    assert again.filters == _insight().filters and again.insight_object() == _insight()
    assert "07700" not in again.customer_comment and "@" not in again.customer_comment
    assert again.action == saved.action and again.ksbs == saved.ksbs

    ready = reflections.submit(store, saved.reflection_id)
    assert ready.status == "ready_for_review"
    # Editing what waits for review sends it back to draft.
    edited = reflections.save(store, replace_title(ready, "Billing complaints in March"))
    assert edited.status == "draft"
    reflections.submit(store, saved.reflection_id)
    back = reflections.review(
        store, saved.reflection_id, "Sam Supervisor", "Redo the action", False
    )
    assert back.status == "draft" and back.signed_off_at is None
    reflections.submit(store, saved.reflection_id)
    done = reflections.review(store, saved.reflection_id, "Sam Supervisor", "Good analysis", True)
    assert done.status == "reviewed" and done.signed_off_at is not None
    # Saving it unchanged keeps the sign-off; the edits that void it are tested below.
    assert reflections.save(store, reflections.get(store, saved.reflection_id)).status == "reviewed"

    table = coverage.ksb_coverage(store, "ST0071")
    row = table.set_index("ref").loc["ST0071:S2"]
    assert row.reflections == 1 and row.reviewed == 1
    assert (table.reflections == 0).sum() == len(table) - 2
    assert [r.reflection_id for r in reflections.journal(store, status="reviewed")] == [1]


def replace_title(r: reflections.Reflection, title: str) -> reflections.Reflection:
    return reflections.replace(r, title=title)


def test_submit_needs_writing_and_ksbs(store: Store) -> None:
    r = reflections.save(store, reflections.blank("Alex", 2, Filters(), ("csat",)))
    with pytest.raises(ValueError, match="write"):
        reflections.submit(store, r.reflection_id)
    r = reflections.save(store, reflections.replace(r, sections={"situation": "x"}))
    with pytest.raises(ValueError, match="KSB"):
        reflections.submit(store, r.reflection_id)
    with pytest.raises(ValueError):
        reflections.save(store, reflections.replace(r, metrics=("no_such_kpi",)))


def test_a_reflection_is_named_by_its_reference_and_title(store: Store) -> None:
    r = reflections.save(store, reflections.blank("Alex", 3, Filters(), ("csat",)))
    r = reflections.replace(r, title="Billing complaints")
    assert r.heading == "EV-0001 Billing complaints"
    assert r.byline == "EV-0001 · Billing complaints · Alex (Level 3)"


def test_the_journal_table_has_a_row_per_reflection_with_its_status_in_words() -> None:
    action = reflections.SmartAction("x", "csat", 85, date(2026, 5, 1))
    r = reflections.Reflection(
        "Billing", "Alex", ksbs=("ST0072:K6", "ST0071:S2"), action=action, reflection_id=7
    )
    (row,) = reflections.journal_table([r]).to_dict("records")
    assert row == {
        "reference": "EV-0007",
        "title": "Billing",
        "learner": "Alex",
        "status": "Draft",
        "KSBs": "ST0072:K6, ST0071:S2",
        "review date": date(2026, 5, 1),
        "updated": None,
    }


def test_only_written_sections_are_shown_under_their_step_labels() -> None:
    r = reflections.Reflection(
        "Billing",
        "Alex",
        model="STAR+Reflection",
        sections={"situation": "Queues grew", "task": "  ", "heat.hear": "Listened", "old": "x"},
    )
    assert reflections.written_sections(r) == [
        ("Situation", "Queues grew"),
        ("HEAT: Hear", "Listened"),
        ("old", "x"),  # a step the model no longer has keeps its key
    ]


def test_a_ksb_of_another_standard_is_refused_when_the_reflection_is_saved(store: Store) -> None:
    r = reflections.from_insight(_insight(), "Amelia Booth", level=2, store=store)
    assert r.standard == "ST0072" and r.ksbs == ("ST0072:S5",)
    with pytest.raises(reflections.InvalidChoice, match="ST0071:S2 belongs to ST0071"):
        reflections.save(store, replace(r, ksbs=("ST0072:S5", "ST0071:S2")))
    assert reflections.journal(store) == []


def test_a_registered_team_leader_starts_on_st0384_and_is_held_to_it(store: Store) -> None:
    learners.register(store, "Sam Lee", "ST0384", "1.1")
    r = reflections.from_insight(_insight(), "Sam Lee", level=3, store=store)
    assert r.standard == "ST0384"
    with pytest.raises(reflections.InvalidChoice, match="Sam Lee is on ST0384"):
        reflections.save(store, replace(r, ksbs=("ST0071:S2",)))


# --- sign-off that means something, and saves that lose nothing ----------------------------------


def _ready(store: Store, learner: str = "Alex Learner") -> reflections.Reflection:
    draft = reflections.from_insight(_insight(), learner, level=3)
    draft = reflections.replace(
        draft, sections={**draft.sections, "description": "Billing complaints rose in March."}
    )
    saved = reflections.save(store, draft)
    return reflections.submit(store, saved.reflection_id)


def test_a_sign_off_records_the_signer_time_and_digest_of_what_was_signed(store: Store) -> None:
    r = _ready(store)
    done = reflections.review(store, r.reflection_id, "Sam Supervisor", "Good analysis", True)
    again = reflections.get(store, r.reflection_id)
    assert again.status == "reviewed" and again.supervisor == "Sam Supervisor"
    assert again.signed_off_at is not None and again.submitted_at is not None
    assert again.signer_identity == "" and again.signer_role == ""  # local mode: not verified
    assert reflections.Signer("Sam Supervisor").role_words == reflections.NOT_VERIFIED
    # The digest is SHA-256 of the content as stored, the same whether read back or in memory.
    assert len(again.signed_digest) == 64 and done.signed_digest == again.signed_digest
    assert reflections.content_digest(again) == again.signed_digest
    assert reflections.verification_code(again.signed_digest) == (
        f"{again.signed_digest[:5].upper()}-{again.signed_digest[5:10].upper()}"
    )


def test_a_verified_signer_keeps_their_identity_and_role(store: Store) -> None:
    r = _ready(store)
    signer = reflections.Signer("Sam Supervisor", "supervisor", "https://idp.example|sam")
    reflections.review(store, r.reflection_id, "", "Good analysis", True, signer=signer)
    again = reflections.get(store, r.reflection_id)
    assert (again.signer_role, again.signer_identity) == ("supervisor", "https://idp.example|sam")


def test_every_part_of_the_content_and_the_cited_figures_changes_the_digest(store: Store) -> None:
    r = reflections.get(store, _ready(store).reflection_id)
    base = reflections.content_digest(r)
    figure = r.insight["figures"][0]
    edits = [
        reflections.replace(r, title=r.title + "!"),
        reflections.replace(r, learner="Someone Else"),
        reflections.replace(r, sections={**r.sections, "description": "Other text."}),
        reflections.replace(r, ksbs=("ST0071:S2",)),
        reflections.replace(r, customer_comment="It was fine"),
        reflections.replace(r, supervisor_comment="A witness statement written later"),
        reflections.replace(r, action=replace(r.action, text="Another action altogether")),
        reflections.replace(r, insight={**r.insight, "figures": [{**figure, "value": 7.7}]}),
    ]
    digests = {reflections.content_digest(e) for e in edits}
    assert base not in digests and len(digests) == len(edits)
    # Bookkeeping is not content: the version or the update time change nothing.
    assert reflections.content_digest(reflections.replace(r, version=99, status="draft")) == base


def test_an_edit_after_sign_off_voids_it_and_a_new_review_signs_again(store: Store) -> None:
    r = _ready(store)
    reflections.review(store, r.reflection_id, "Sam Supervisor", "Good analysis", True)
    signed = reflections.get(store, r.reflection_id)
    edited = reflections.save(
        store, reflections.replace(signed, sections={**signed.sections, "description": "New."})
    )
    assert edited.status == "changed_after_sign_off"
    assert reflections.get(store, r.reflection_id).status == "changed_after_sign_off"
    assert reflections.STATUS_LABELS[edited.status] == "Changed after sign-off"
    voided = store.cursor().execute("SELECT voided_at FROM reflection_signoffs").fetchall()
    assert len(voided) == 1 and voided[0][0] is not None
    reflections.submit(store, r.reflection_id)
    reflections.review(store, r.reflection_id, "Sam Supervisor", "Still good", True)
    assert reflections.get(store, r.reflection_id).status == "reviewed"


def test_text_changed_in_the_store_directly_voids_the_sign_off(store: Store) -> None:
    r = _ready(store)
    reflections.review(store, r.reflection_id, "Sam Supervisor", "Good analysis", True)
    store.cursor().execute(
        "UPDATE reflections SET sections = ? WHERE reflection_id = ?",
        ['{"description": "Rewritten after signing."}', r.reflection_id],
    )
    assert reflections.get(store, r.reflection_id).status == "changed_after_sign_off"
    assert reflections.journal(store, status="reviewed") == []


@pytest.mark.parametrize("name", ["Alex Learner", "  alex   LEARNER "])
def test_the_learner_cannot_sign_off_their_own_reflection(store: Store, name: str) -> None:
    r = _ready(store)
    with pytest.raises(reflections.InvalidChoice, match="wrote EV-0001 and cannot sign it off"):
        reflections.review(store, r.reflection_id, name, "Looks great to me", True)
    assert reflections.get(store, r.reflection_id).status == "ready_for_review"


def test_a_save_cannot_sign_a_reflection_off(store: Store) -> None:
    r = _ready(store)
    forged = reflections.replace(
        r, status="reviewed", supervisor="Sam Supervisor", signed_digest="0" * 64
    )
    saved = reflections.save(store, forged)
    assert saved.status == "draft" and saved.supervisor == "" and not saved.signed_digest


def test_of_two_saves_from_one_version_the_second_is_refused_and_nothing_is_lost(
    store: Store,
) -> None:
    draft = reflections.from_insight(_insight(), "Alex Learner", level=3)
    opened = reflections.save(store, draft)  # both sessions open this version
    first = reflections.replace(opened, sections={**opened.sections, "description": "Mine."})
    second = reflections.replace(opened, sections={**opened.sections, "description": "Yours."})
    assert reflections.save(store, first).version == opened.version + 1
    with pytest.raises(reflections.StaleSave) as refused:
        reflections.save(store, second)
    message = str(refused.value)
    assert "saved elsewhere" in message and "Mine." in message and "\n" not in message
    assert refused.value.newer.sections["description"] == "Mine."
    assert reflections.get(store, opened.reflection_id).sections["description"] == "Mine."
    # Based on the newer version, the second text saves.
    based = reflections.replace(refused.value.newer, sections={"description": "Mine. Yours."})
    assert reflections.save(store, based).sections["description"] == "Mine. Yours."
    assert store.cursor().execute("SELECT count(*) FROM reflections").fetchall() == [(1,)]


def test_a_stale_submit_or_review_is_refused_too(store: Store) -> None:
    r = _ready(store)
    reflections.save(store, reflections.replace(r, title="Edited meanwhile"))  # back to draft
    with pytest.raises(reflections.StaleSave):
        reflections._set_status(store, r, status="ready_for_review")


def test_two_threads_saving_one_version_at_once_save_one_and_refuse_the_other(
    store: Store,
) -> None:
    opened = reflections.save(store, reflections.from_insight(_insight(), "Alex Learner", 3))
    texts = {"first": "Written in the first session.", "second": "Written in the second."}
    start = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def write(name: str) -> None:
        edit = reflections.replace(opened, sections={"description": texts[name]})
        start.wait()
        try:
            reflections.save(store, edit)
            outcome[name] = "saved"
        except reflections.StaleSave:
            outcome[name] = "refused"

    threads = [threading.Thread(target=write, args=(name,)) for name in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome.values()) == ["refused", "saved"]
    (winner,) = [name for name, said in outcome.items() if said == "saved"]
    stored = reflections.get(store, opened.reflection_id)
    assert stored.sections["description"] == texts[winner] and stored.version == 2
    assert store.cursor().execute("SELECT count(*) FROM reflections").fetchall() == [(1,)]
