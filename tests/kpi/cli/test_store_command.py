"""`kpi store copy` and the commands on a store named by URL, as a user runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kpi.cli.main import main
from kpi.store.connection import open_store
from kpi.store.remote import fingerprints
from tests.backends import same_report

ROOT = Path(__file__).resolve().parents[3]
REPORT = ["report", "--grain", "week", "--by", "channel", "--format", "csv"]


@pytest.fixture
def local(seeded_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "local.duckdb"
    shutil.copy(seeded_template, path)
    return path


def kpi(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_copy_to_a_new_file_says_what_it_copied_and_the_copy_is_identical(
    local: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.duckdb"
    code, out, err = kpi(capsys, "store", "copy", str(local), str(target))
    assert code == 0, err
    assert f"copied {local} to {target}: 20 tables" in out
    assert "contacts: 39,706" in out and "every table's row count checked there" in out
    assert err.count("kpi: copying contacts\n") == 1  # progress, table by table, once each
    a, b = open_store(local), open_store(target)
    assert fingerprints(a.cursor()) == fingerprints(b.cursor())
    a.close()
    b.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.duckdb", "local.duckdb"]


def test_copy_onto_a_store_needs_replace_and_a_store_onto_itself_is_refused(
    local: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.duckdb"
    target.write_bytes(b"someone's file")
    code, _, err = kpi(capsys, "store", "copy", str(local), str(target))
    assert code == 2 and "already exists; give --replace to overwrite it" in err
    assert target.read_bytes() == b"someone's file"
    code, _, err = kpi(capsys, "store", "copy", str(local), str(local))
    assert code == 2 and "SRC and DST are the same store" in err
    code, _, err = kpi(capsys, "store", "copy", str(tmp_path / "none.duckdb"), str(target))
    assert code == 2 and "no store at" in err
    empty = f"spark://local[2]?warehouse={tmp_path / 'empty'}"
    code, _, err = kpi(capsys, "store", "copy", empty, str(tmp_path / "other.duckdb"))
    assert code == 2 and f"no store at {empty}" in err


def test_a_spark_folder_takes_commands_like_a_file(
    local: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"spark://local[2]?warehouse={tmp_path / 'spark'}"
    assert kpi(capsys, "store", "copy", str(local), url)[0] == 0
    code, out, err = kpi(capsys, "settings", "set", "sla_variant", "source_flag", "--db", url)
    assert code == 0, err
    assert out.strip().endswith(f"saved in {url}")
    code, out, _ = kpi(capsys, "imports", "--db", url)
    assert code == 0 and out.count("batch ") == 5
    assert (tmp_path / "spark" / "CURRENT").read_text().strip() == "v000002"


def test_a_postgresql_password_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = kpi(capsys, "imports", "--db", "postgresql://kpi:hunter2@127.0.0.1:1/kpi")
    assert code == 2
    assert "postgresql://kpi:***@127.0.0.1:1/kpi" in err and "hunter2" not in err


@pytest.mark.backends
def test_a_report_run_by_postgresql_is_the_report_run_by_duckdb(
    local: Path, postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert kpi(capsys, "store", "copy", str(local), postgres_store)[0] == 0
    code, on_duckdb, err = kpi(capsys, *REPORT, "--db", str(local))
    assert code == 0, err
    code, on_postgres, err = kpi(capsys, *REPORT, "--db", postgres_store)
    assert code == 0, err
    assert same_report(on_postgres, on_duckdb) and on_duckdb.count("\n") > 9_000


@pytest.mark.backends
def test_a_report_run_by_spark_is_the_report_run_by_duckdb(
    local: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"spark://local[2]?warehouse={tmp_path / 'spark'}"
    assert kpi(capsys, "store", "copy", str(local), url)[0] == 0
    _, on_duckdb, _ = kpi(capsys, *REPORT, "--db", str(local))
    # Its own process, as a user runs it: a Spark session of its own, in local mode.
    done = subprocess.run(
        [sys.executable, "-m", "kpi.cli.main", *REPORT, "--db", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KPI_DB": str(tmp_path / "unused.duckdb")},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert same_report(done.stdout, on_duckdb)
    assert "WARN" not in done.stderr and "log4j" not in done.stderr  # Spark's chatter: in a log
