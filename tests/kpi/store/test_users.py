"""Team mode's people: known by their identity provider's issuer and subject; the first to sign
in to an empty store is its admin; roles say what each may do; the last admin stays one."""

from __future__ import annotations

import threading

import pytest

from kpi.errors import InvalidChoice
from kpi.store import users
from kpi.store.connection import open_store

ISSUER = "http://127.0.0.1:9400"


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "team.duckdb")
    yield s
    s.close()


def test_the_first_person_to_sign_in_is_admin_and_everyone_after_a_learner(store):
    first = users.sign_in(store, ISSUER, "sub-1", "priya@example.org", "Priya Shah")
    second = users.sign_in(store, ISSUER, "sub-2", "amelia@example.org", "Amelia Booth")
    assert (first.role, second.role) == ("admin", "learner")
    assert first.may("import") and first.may("people")
    assert second.may("reflect") and not second.may("import") and not second.may("review")


def test_signing_in_again_is_the_same_person_with_their_name_refreshed(store):
    users.sign_in(store, ISSUER, "sub-1", "p@example.org", "Priya")
    again = users.sign_in(store, ISSUER, "sub-1", "p@example.org", "Priya Shah")
    assert again.user_id == 1 and again.name == "Priya Shah" and again.role == "admin"
    assert len(users.all_users(store)) == 1


def test_the_same_subject_from_another_issuer_is_another_person(store):
    users.sign_in(store, ISSUER, "sub-1", None, "Priya")
    other = users.sign_in(store, "https://login.example.org", "sub-1", None, "Someone else")
    assert other.user_id == 2 and other.role == "learner"


def test_roles_change_by_name_email_or_number_and_an_unknown_role_is_refused(store):
    users.sign_in(store, ISSUER, "a", "priya@example.org", "Priya Shah")
    users.sign_in(store, ISSUER, "b", "dan@example.org", "Daniel Haigh")
    assert users.set_role(store, "dan@example.org", "supervisor").role == "supervisor"
    assert users.set_role(store, "2", "admin").role == "admin"
    assert users.set_role(store, "Priya Shah", "learner").role == "learner"
    with pytest.raises(InvalidChoice, match="unknown role 'boss'"):
        users.set_role(store, "2", "boss")
    with pytest.raises(InvalidChoice, match="no one called 'nobody'"):
        users.set_role(store, "nobody", "admin")


def test_the_only_admin_cannot_stop_being_admin(store):
    users.sign_in(store, ISSUER, "a", None, "Priya Shah")
    with pytest.raises(InvalidChoice, match="only admin"):
        users.set_role(store, "1", "learner")


def test_only_an_admin_may_change_roles_from_a_page(store):
    users.sign_in(store, ISSUER, "a", None, "Priya Shah")
    learner = users.sign_in(store, ISSUER, "b", None, "Amelia Booth")
    with pytest.raises(InvalidChoice, match="only an admin"):
        users.set_role(store, "Amelia Booth", "admin", by=learner)


def test_a_supervisor_supervises_learners_but_never_themselves_and_a_learner_nobody(store):
    users.sign_in(store, ISSUER, "a", None, "Priya Shah")
    users.sign_in(store, ISSUER, "b", None, "Daniel Haigh")
    users.sign_in(store, ISSUER, "c", None, "Amelia Booth")
    with pytest.raises(InvalidChoice, match="is a learner"):
        users.supervise(store, "Daniel Haigh", "Amelia Booth")
    boss = users.set_role(store, "Daniel Haigh", "supervisor")
    users.supervise(store, "Daniel Haigh", "Amelia Booth")
    users.supervise(store, "Daniel Haigh", "Amelia Booth")  # twice is once
    assert [u.name for u in users.supervised_by(store, boss)] == ["Amelia Booth"]
    amelia = users.find(store, "Amelia Booth")
    assert users.supervises(store, boss, amelia)
    with pytest.raises(InvalidChoice, match="nobody supervises themselves"):
        users.supervise(store, "Daniel Haigh", "Daniel Haigh")


def test_the_agent_names_that_are_a_person_are_kept_once_each(store):
    users.sign_in(store, ISSUER, "a", None, "Amelia Booth")
    person = users.set_agent_names(store, "1", ["Amelia Booth", " A. Booth ", "Amelia Booth", ""])
    assert person.agent_names == ("Amelia Booth", "A. Booth")


def test_people_survive_reopening_the_store(tmp_path):
    path = tmp_path / "team.duckdb"
    s = open_store(path)
    users.sign_in(s, ISSUER, "a", "p@example.org", "Priya Shah")
    s.close()
    s = open_store(path)
    try:
        assert [(u.name, u.role) for u in users.all_users(s)] == [("Priya Shah", "admin")]
    finally:
        s.close()


def test_who_sees_and_who_signs_off_a_learners_reflection(store):
    admin = users.sign_in(store, ISSUER, "a", None, "Priya Shah")
    users.sign_in(store, ISSUER, "b", None, "Daniel Haigh")
    amelia = users.sign_in(store, ISSUER, "c", None, "Amelia Booth")
    other = users.sign_in(store, ISSUER, "d", None, "Marcus Lee")
    boss = users.set_role(store, "Daniel Haigh", "supervisor")
    users.supervise(store, "Daniel Haigh", "Amelia Booth")
    amelia = users.set_agent_names(store, "Amelia Booth", ["A. Booth"])
    # Reflections name their learner as the data does: by name or agent name, any spacing.
    assert users.may_see(store, amelia, "amelia  booth") and users.may_see(
        store, amelia, "A. Booth"
    )
    assert not users.may_see(store, other, "Amelia Booth")
    assert users.may_see(store, boss, "A. Booth") and users.may_see(store, admin, "Amelia Booth")
    assert users.may_sign_off(store, boss, "A. Booth")
    assert not users.may_sign_off(store, amelia, "Amelia Booth")  # never their own
    assert not users.may_sign_off(store, admin, "Amelia Booth")  # not her supervisor
    assert not users.may_sign_off(store, boss, "Marcus Lee")


def test_kpi_users_lists_people_and_changes_roles_with_db_before_or_after(tmp_path, capsys):
    from kpi.cli.main import main

    db = tmp_path / "team.duckdb"
    s = open_store(db)
    users.sign_in(s, ISSUER, "a", "priya@example.org", "Priya Shah")
    users.sign_in(s, ISSUER, "b", "amelia@example.org", "Amelia Booth")
    s.close()
    assert main(["users", "role", "amelia@example.org", "supervisor", "--db", str(db)]) == 0
    assert main(["users", "--db", str(db), "agents", "Amelia Booth", "A. Booth"]) == 0
    assert main(["users", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Amelia Booth is now supervisor." in out
    assert "supervisor Amelia Booth <amelia@example.org>; in the data: A. Booth" in out
    assert "admin      Priya Shah <priya@example.org>" in out
    assert main(["users", "role", "nobody", "admin", "--db", str(db)]) == 2


def test_an_email_is_looked_up_among_emails_only_and_a_name_among_names_only(store):
    users.sign_in(store, ISSUER, "a", "priya@example.org", "Priya Shah")
    # Her provider gave no name, so she shows as an address: someone else's address.
    users.sign_in(store, ISSUER, "b", "amelia@elsewhere.test", "priya@example.org")
    users.sign_in(store, ISSUER, "c", "ops@example.org", "ops")
    assert users.find(store, "PRIYA@example.org").user_id == 1
    assert users.find(store, "Priya  Shah").user_id == 1
    # "ops" is someone's name; it never picks out the address that starts with it.
    assert users.find(store, "ops").user_id == 3
    with pytest.raises(InvalidChoice, match="no one called 'Priya'"):
        users.find(store, "Priya")
    with pytest.raises(InvalidChoice, match="no one called 'ops@example'"):
        users.find(store, "ops@example")


def test_a_name_two_people_share_is_refused_with_each_of_them_listed(store):
    users.sign_in(store, ISSUER, "a", "priya@example.org", "Priya Shah")
    users.sign_in(store, ISSUER, "b", "sam@example.org", "Sam Lee")
    users.sign_in(store, "https://login.example.org", "b", None, "sam lee")
    # Sign-in now keeps names apart ("sam lee (b)"); a store from before may hold both.
    with store.transaction() as cur:
        cur.execute("UPDATE users SET name = 'sam lee' WHERE user_id = 3")
    with pytest.raises(InvalidChoice) as refused:
        users.set_role(store, "Sam Lee", "supervisor")
    assert str(refused.value) == (
        "'Sam Lee' names 2 people (2 Sam Lee <sam@example.org>; 3 sam lee): "
        "give their number instead"
    )
    assert users.set_role(store, "3", "supervisor").name == "sam lee"
    assert users.find(store, "2").role == "learner"


def test_two_admins_demoting_each_other_at_once_leave_one_admin(store, monkeypatch):
    users.sign_in(store, ISSUER, "a", None, "Priya Shah")
    users.sign_in(store, ISSUER, "b", None, "Daniel Haigh")
    users.set_role(store, "2", "admin")
    # Both look their person up before either changes anything: a check made outside the
    # change's transaction would pass for both and leave the store with no admin.
    both_found = threading.Barrier(2, timeout=30)
    real_find = users.find

    waited: set[int] = set()

    def find_then_wait(s, who):
        found = real_find(s, who)
        if threading.get_ident() not in waited:  # the lookup before the change, not after
            waited.add(threading.get_ident())
            both_found.wait()
        return found

    monkeypatch.setattr(users, "find", find_then_wait)
    outcomes: dict[str, str] = {}

    def demote(who: str) -> None:
        try:
            outcomes[who] = users.set_role(store, who, "learner").role
        except InvalidChoice as problem:
            outcomes[who] = str(problem)

    threads = [threading.Thread(target=demote, args=(who,)) for who in ("1", "2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    monkeypatch.setattr(users, "find", real_find)
    demoted = [who for who, said in outcomes.items() if said == "learner"]
    refused = [said for said in outcomes.values() if said != "learner"]
    assert len(demoted) == 1 and len(refused) == 1, outcomes
    assert refused[0].endswith("is the only admin: make someone else admin first")
    assert [u.role for u in users.all_users(store)].count("admin") == 1


def test_a_refused_demotion_changes_nothing_and_logs_nothing(store):
    from kpi.store import audit

    users.sign_in(store, ISSUER, "a", None, "Priya Shah")
    with pytest.raises(InvalidChoice, match="Priya Shah is the only admin"):
        users.set_role(store, "Priya Shah", "supervisor")
    assert users.find(store, "1").role == "admin"
    assert audit.entries(store) == []


def test_a_second_person_with_anothers_name_is_told_apart_by_their_account(store):
    sam = users.sign_in(store, ISSUER, "sub-1", "sam@example.org", "Sam Lee")
    users.set_agent_names(store, "sam@example.org", ["Samuel Lee"])
    # Reflections and supervision go by names: the same name, in any case or spacing, or
    # another's agent name, would make this person the first.
    mallory = users.sign_in(store, ISSUER, "sub-2", "mallory@example.org", "sam  LEE")
    assert mallory.name == "sam  LEE (mallory@example.org)"
    assert not users.is_person(mallory, "Sam Lee") and users.is_person(sam, "Sam Lee")
    other = users.sign_in(store, ISSUER, "sub-3", None, "Samuel Lee")
    assert other.name == "Samuel Lee (sub-3)"
    # The first keeps their name when they sign in again.
    assert users.sign_in(store, ISSUER, "sub-1", "sam@example.org", "Sam Lee").name == "Sam Lee"


def test_a_person_whose_name_changes_keeps_their_old_name_and_nobody_takes_it(store):
    amelia = users.sign_in(store, ISSUER, "sub-1", "amelia@example.org", "Amelia Booth")
    renamed = users.sign_in(store, ISSUER, "sub-1", "amelia@example.org", "Amelia Booth-Jones")
    # Her reflections went by her old name: still hers.
    assert renamed.user_id == amelia.user_id and renamed.agent_names == ("Amelia Booth",)
    assert users.is_person(renamed, "Amelia Booth") and users.may_see(
        store, renamed, "Amelia Booth"
    )
    # Someone who later signs in with that name is not taken for her.
    eve = users.sign_in(store, ISSUER, "sub-2", "eve@example.org", "Amelia Booth")
    assert eve.name == "Amelia Booth (eve@example.org)"
    assert not users.may_see(store, eve, "Amelia Booth")
    # Signing in again under the same name adds nothing.
    again = users.sign_in(store, ISSUER, "sub-1", "amelia@example.org", "Amelia Booth-Jones")
    assert again.agent_names == ("Amelia Booth",)
