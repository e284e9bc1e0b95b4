"""`kpi` commands: every mistake a user can make ends in one line on stderr and exit status 2,
never a traceback or an "unexpected" error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi.cli.main import main


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["undo", "99"], "no import batch 99"),
        (["import", "/no/such/file.csv"], "no such file"),
        (["seed", "--from", "/no/such/folder"], "no folder /no/such/folder"),
        (["quarantine", "--out", "/no/such/folder/rows.csv"], "/no/such/folder/rows.csv"),
        (["evidence", "999"], "no reflection 999"),
        (["report", "--from", "2025-13-01"], "is not a date"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*argv, "--db", str(tmp_path / "store.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert says in err
    assert "unexpected" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
