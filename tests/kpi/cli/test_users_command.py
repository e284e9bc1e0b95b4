"""`kpi users`: manages the people of an existing team store and never creates one."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.cli.main import main
from kpi.store import users
from kpi.store.connection import open_store

ISSUER = "http://127.0.0.1:9400"


@pytest.mark.parametrize(
    "words",
    [[], ["role", "Priya Shah", "admin"], ["agents", "1", "P. Shah"], ["supervise", "1", "2"]],
    ids=["list", "role", "agents", "supervise"],
)
def test_a_store_path_that_does_not_exist_is_refused_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], words: list[str]
) -> None:
    missing = tmp_path / "typo.duckdb"
    assert main(["users", *words, "--db", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"there is no store at {missing}" in err
    assert "--db PATH" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_without_db_the_store_named_by_kpi_db_must_exist_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPI_DB", str(tmp_path / "nowhere.duckdb"))
    assert main(["users"]) == 2
    assert "there is no store at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere.duckdb").exists()


def test_an_ambiguous_name_is_refused_naming_each_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "team.duckdb"
    store = open_store(db)
    users.sign_in(store, ISSUER, "a", "priya@example.org", "Priya Shah")
    users.sign_in(store, ISSUER, "b", "sam@example.org", "Sam Lee")
    users.sign_in(store, ISSUER, "c", "sam.lee@example.org", "Sam Lee")
    # Sign-in now keeps names apart ("Sam Lee (sam.lee@example.org)"); a store from before may
    # hold two people of one name, and the command must not pick one of them.
    with store.transaction() as cur:
        cur.execute("UPDATE users SET name = 'Sam Lee' WHERE user_id = 3")
    store.close()
    assert main(["users", "role", "Sam Lee", "supervisor", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "'Sam Lee' names 2 people (2 Sam Lee <sam@example.org>; " in err
    assert "3 Sam Lee <sam.lee@example.org>): give their number instead" in err
    assert main(["users", "role", "sam.lee@example.org", "supervisor", "--db", str(db)]) == 0
    assert "Sam Lee is now supervisor." in capsys.readouterr().out
