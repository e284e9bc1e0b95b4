"""`kpi` commands: every mistake a user can make ends in one line on stderr and exit status 2,
never a traceback or an "unexpected" error."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from kpi.cli import main as cli_main
from kpi.cli.main import main
from kpi.store.batches import importer_name
from kpi.store.connection import open_store
from tests.kpi.store.test_connection import held_by_another_process
from tests.paths import SAMPLE_DATA


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


# --- the store, the disk and the terminal (issue 14, points 10, 12, 15) -------------------------


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_failure(code: int, err: str) -> str:
    assert code == 2
    assert "unexpected" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_a_sqlite_file_given_as_db_is_one_line_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "team.sqlite"
    sqlite3.connect(db).execute("CREATE TABLE t (a)").connection.commit()
    code, _, err = run(["imports", "--db", str(db)], capsys)
    assert one_line_failure(code, err) == (
        f"kpi: {db} is not a DuckDB store (it is a SQLite database); "
        "give --db a .duckdb file or a new path"
    )


def test_a_store_locked_by_the_dashboard_or_another_command_is_one_line_naming_its_pid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "team.duckdb"
    open_store(db).close()
    with held_by_another_process(db) as pid:
        code, _, err = run(["import", str(SAMPLE_DATA / "zendesk_tickets.csv"), "--db", str(db)], capsys)  # fmt: skip
    assert one_line_failure(code, err) == (
        f"kpi: the store {db} is locked by another process (PID {pid}); close the dashboard or "
        f"the other `kpi` command (PID {pid}) using it, or use another --db"
    )


def test_a_full_disk_is_one_line_saying_the_disk_is_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full, where every write fails for want of space")
    code, _, err = run(["quarantine", "--db", str(tmp_path / "s.duckdb"), "--out", "/dev/full"], capsys)  # fmt: skip
    assert one_line_failure(code, err) == (
        "kpi: the disk is full; free some space and run the command again."
    )


ANSI_NAME = "evil\x1b[2J\x1b[31mred\u202eosc.csv"


def test_control_characters_in_a_file_name_are_escaped_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["import", str(tmp_path / ANSI_NAME), "--db", str(tmp_path / "s.duckdb")], capsys)  # fmt: skip
    line = one_line_failure(code, err)
    assert "\x1b" not in err and "\u202e" not in err
    assert line.startswith("kpi: evil\\x1b[2J\\x1b[31mred\\")
    assert line.endswith("osc.csv: no such file.")


def test_an_imported_file_name_with_control_characters_is_escaped_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / ANSI_NAME
    shutil.copy(SAMPLE_DATA / "zendesk_tickets.csv", export)
    code, out, err = run(["import", str(export), "--db", str(tmp_path / "s.duckdb")], capsys)
    assert code == 0, err
    assert "\x1b" not in out + err
    assert out.startswith("evil\\x1b[2J\\x1b[31mred\\")
    assert out.splitlines()[0].endswith("osc.csv: layout zendesk, encoding utf-8, batch 1")


def test_a_mistyped_argument_is_echoed_with_its_control_characters_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["undo", "1\x1b[2J"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "\x1b" not in err
    assert err.strip().splitlines()[-1] == (
        "kpi undo: error: argument batch: invalid int value: '1\\x1b[2J'"
    )


def test_a_big_import_says_each_stage_even_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    export = SAMPLE_DATA / "zendesk_tickets.csv"
    db = str(tmp_path / "s.duckdb")
    monkeypatch.setattr(cli_main, "PROGRESS_BYTES", export.stat().st_size)  # "big" from here
    code, out, err = run(["import", str(export), "--db", db], capsys)
    assert code == 0
    stages = [line.split(": ", 1)[1].split(" (")[0] for line in err.splitlines()]
    assert stages == ["reading", "parsing", "validating", "loading", "done"]
    assert out.startswith("zendesk_tickets.csv: layout zendesk,")
    # A smaller file stays quiet when piped: its summary is the whole output.
    monkeypatch.setattr(cli_main, "PROGRESS_BYTES", export.stat().st_size + 1)
    other = tmp_path / "first_rows.csv"
    other.write_bytes(b"".join(export.open("rb").readlines()[:100]))
    code, out, err = run(["import", str(other), "--db", db], capsys)
    assert code == 0 and err == ""


def test_many_malformed_lines_are_summarised_in_a_few_grouped_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "flood.csv"
    lines = ["contact_id,opened_at,status,channel", "GOOD,2025-01-06 09:00,open,email"]
    for i in range(4000):
        lines.append(
            f"C{i},2025-01-06 09:00,open" if i % 2 else f"C{i},2025-01-06 09:00,open,email,x"
        )
    export.write_text("\n".join(lines) + "\n")
    code, out, err = run(["import", str(export), "--db", str(tmp_path / "s.duckdb")], capsys)
    assert code == 0, err
    # One good row: a file with none is refused (issue 9), not recorded as an empty batch.
    assert "rows read 4,001 = imported 1 + quarantined 4,000" in out
    reasons = out.split("top reasons quarantined:\n", 1)[1].splitlines()
    grouped = [line for line in reasons if line.startswith("    ") and " x " in line]
    assert len(grouped) == 2, out  # too few fields, too many: one line each, not 4,000
    assert sum(int(line.split(" x ")[0].replace(",", "")) for line in grouped) == 4000


def test_a_reader_that_stops_early_ends_the_listing_quietly(tmp_path: Path) -> None:
    """`kpi quarantine | head -1`: the pipe closes after one line; no BrokenPipe message."""
    import subprocess
    import sys

    export = tmp_path / "ragged.csv"
    rows = [f"C{i},2025-01-06 09:00,open,email,extra" for i in range(5000)]
    rows.append("GOOD,2025-01-06 09:00,open,email")  # a file with no good row is refused
    export.write_text("contact_id,opened_at,status,channel\n" + "\n".join(rows) + "\n")
    store = tmp_path / "s.duckdb"
    kpi = Path(sys.executable).parent / "kpi"
    subprocess.run([kpi, "import", export, "--db", store], check=True, capture_output=True)
    listing = subprocess.Popen(
        [kpi, "quarantine", "--db", store], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert listing.stdout is not None and listing.stderr is not None
    first = listing.stdout.readline()
    listing.stdout.close()  # what `head -1` does after its line
    error = listing.stderr.read()
    assert listing.wait(timeout=60) == 0
    assert first.startswith(b"batch 1 ragged.csv row 1: ")
    assert error == b""


def test_the_date_limits_can_be_set_for_one_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import datetime as dt

    soon = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    export = tmp_path / "booked.csv"
    export.write_text(
        "contact_id,opened_at,status\nA1,2025-01-06 09:00,open\n"
        f"A2,{soon} 09:00,open\nA3,1989-12-31 09:00,open\n"
    )
    code, out, err = run(["import", str(export), "--db", str(tmp_path / "a.duckdb")], capsys)
    assert code == 0, err
    assert "rows read 3 = imported 1 + quarantined 2" in out
    code, out, err = run(
        [
            "import", str(export), "--db", str(tmp_path / "b.duckdb"),
            "--max-future-days", "30", "--earliest-date", "1980-01-01",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "rows read 3 = imported 3 + quarantined 0" in out


def test_the_imports_listing_says_who_made_each_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.duckdb")
    code, _, err = run(["import", str(SAMPLE_DATA / "zendesk_tickets.csv"), "--db", db], capsys)
    assert code == 0, err
    code, out, _ = run(["imports", "--db", db], capsys)
    assert code == 0
    assert out.strip().endswith(f" by {importer_name()}")


def test_help_lists_every_command_without_loading_the_store_pandas_or_the_engine():
    """`kpi --help` answers at once: no database driver, dataframe library or engine is
    imported to list the commands (each loads only when its command runs)."""
    import subprocess
    import sys

    probe = (
        "import contextlib, io, sys\n"
        "from kpi.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "heavy = [m for m in ('duckdb', 'pandas', 'ibis', 'pandera', 'kpi.engine') if m in sys.modules]\n"
        "print(repr(heavy)); print(out.getvalue())\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert shown.splitlines()[0] == "[]"
    for command in ("import", "report", "evidence", "portfolio", "settings", "dashboard"):
        assert f"    {command} " in shown
    assert "KPIs for a period, breakdown and grain" in shown


def test_a_heavy_command_still_has_its_own_options(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    shown = capsys.readouterr().out
    assert "--from" in shown and "Compute every service KPI" in shown
