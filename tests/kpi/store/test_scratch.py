"""Scratch space: each process's private folder is removed at exit, a killed process's folder is
swept by the next process to start, and no temporary file holding imported data survives a
killed import (issue 14, point 12)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kpi.store import scratch

KPI = Path(sys.executable).parent / "kpi"

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL") or sys.platform != "linux", reason="needs SIGKILL and Linux"
)


@pytest.fixture
def fresh_scratch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as if it had not used scratch space yet (the module keeps one root and one
    folder per process), with no $KPI_SCRATCH."""
    monkeypatch.delenv(scratch.ENV_VAR, raising=False)
    monkeypatch.setattr(scratch, "_root", None)
    monkeypatch.setattr(scratch, "_mine", None)
    monkeypatch.setattr(scratch, "_held", None)
    yield


def python(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    """Another Python process running ``code`` (stdout piped, text mode)."""
    env = {k: v for k, v in os.environ.items() if k != scratch.ENV_VAR}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env, **kwargs
    )


#: A process that makes its scratch folder under a root, writes a file there and waits.
MAKES_A_FOLDER = """
import sys
from pathlib import Path
from kpi.store import scratch
scratch.use_root(Path(sys.argv[1]))
scratch.new_path("rows.csv").write_text("customer@example.org")
print(scratch.folder(), flush=True)
sys.stdin.read()
"""


def start_with_a_folder(root: Path) -> tuple[subprocess.Popen[str], Path]:
    process = python(MAKES_A_FOLDER, str(root), stdin=subprocess.PIPE)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def test_a_killed_process_folder_is_swept_by_the_next_process_to_start(
    fresh_scratch: None, tmp_path: Path
) -> None:
    root = tmp_path / "scratch"
    process, theirs = start_with_a_folder(root)
    assert any(theirs.iterdir())
    process.kill()
    process.wait()
    assert theirs.is_dir()  # SIGKILL: no chance to clean up
    assert scratch.use_root(root) == root
    assert not theirs.exists()


def test_a_running_process_folder_is_kept_until_it_ends(
    fresh_scratch: None, tmp_path: Path
) -> None:
    root = tmp_path / "scratch"
    process, theirs = start_with_a_folder(root)
    try:
        assert scratch.sweep(root) == 0
        assert theirs.is_dir()
    finally:
        process.kill()
        process.wait()
    assert scratch.sweep(root) == 1
    assert not theirs.exists()


def test_a_process_that_exits_removes_its_own_folder(fresh_scratch: None, tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    process, theirs = start_with_a_folder(root)
    assert theirs.is_dir()
    process.communicate("")  # stdin closes, the process ends normally
    assert process.returncode == 0
    assert not theirs.exists()
    assert list(root.iterdir()) == []


def test_the_folder_is_private_to_its_owner_and_lives_under_the_root(
    fresh_scratch: None, tmp_path: Path
) -> None:
    root = scratch.use_root(scratch.root_beside(tmp_path / "team.duckdb"))
    assert root == tmp_path / ".team.duckdb.scratch"
    mine = scratch.folder()
    assert mine.parent == root
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert scratch.new_path("x.csv").parent == mine
    made = scratch.new_folder("upload")
    assert made.parent == mine and made.is_dir()
    assert scratch.sweep(root) == 0  # its own folder is never swept
    assert mine.is_dir()


def test_a_dead_folder_is_swept_even_when_its_pid_now_belongs_to_a_live_process(
    fresh_scratch: None, tmp_path: Path
) -> None:
    # PIDs are reused: the lock, which dies with its process, decides, not the number.
    root = tmp_path / "scratch"
    root.mkdir()
    stale = root / f"{scratch.PREFIX}{os.getppid()}-0000abcd"  # a running process's PID
    stale.mkdir()
    (stale / scratch.LOCK_NAME).touch()
    (stale / "rows.csv").write_text("customer@example.org")
    assert scratch.sweep(root) == 1
    assert not stale.exists()


def test_other_files_under_the_root_are_left_alone(fresh_scratch: None, tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    root.mkdir()
    (root / "notes.txt").write_text("not scratch")
    recent = root / f"{scratch.MAKING_PREFIX}0123"  # another process making its folder now
    recent.mkdir()
    assert scratch.sweep(root) == 0
    assert (root / "notes.txt").exists() and recent.exists()
    old = time.time() - scratch.MAKING_GRACE_SECONDS - 5
    os.utime(recent, (old, old))
    assert scratch.sweep(root) == 1
    assert not recent.exists()


# --- a killed import ------------------------------------------------------------------------

ROWS = 150_000


def write_export(path: Path, token: str, rows: int = ROWS) -> None:
    """A generic_contacts export in cp1252 (so the importer writes a UTF-8 copy) whose customer
    ids and comments carry ``token``: any file holding the token holds imported personal data."""
    start = dt.datetime(2025, 1, 6, 8, 0)
    with open(path, "w", encoding="cp1252", newline="") as out:
        out.write("contact_id,opened_at,resolved_at,status,channel,team,agent,customer_id,description\r\n")  # fmt: skip
        for i in range(rows):
            opened = start + dt.timedelta(minutes=i)
            out.write(
                f"C{i},{opened:%Y-%m-%d %H:%M},{opened + dt.timedelta(hours=3):%Y-%m-%d %H:%M},"
                f"resolved,email,Team {i % 3},Agent {i % 12},cust-{token}-{i},"
                f"Café bill from u{i}.{token}@example.org\r\n"
            )


def files_under(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += [p for p in root.rglob("*") if p.is_file()]
    return found


def holding(token: str, files: list[Path]) -> list[Path]:
    """The files whose bytes contain ``token``."""
    needle = token.encode()
    held = []
    for file in files:
        try:
            with open(file, "rb") as handle:
                while chunk := handle.read(1 << 22):
                    if needle in chunk:
                        held.append(file)
                        break
                    handle.seek(max(handle.tell() - len(needle), 0))  # a token split by a chunk
                    if len(chunk) < 1 << 22:
                        break
        except OSError:
            continue  # another process's file, gone while we looked
    return held


def system_temp_files() -> list[Path]:
    temp = Path(tempfile.gettempdir())
    return files_under(*temp.glob("kpi-*"))


def kill_when(process: subprocess.Popen[bytes], scratch_root: Path, sign: str, token: str) -> bool:
    """SIGKILL the import once a file in its scratch folder whose name contains ``sign`` holds
    imported personal data (``token``)."""
    deadline = time.monotonic() + 180
    while process.poll() is None and time.monotonic() < deadline:
        for folder in scratch_root.glob(f"{scratch.PREFIX}{process.pid}-*"):
            if holding(token, [f for f in files_under(folder) if sign in f.name]):
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return True
        time.sleep(0.01)
    process.kill()
    process.wait()
    return False


@pytest.mark.slow
@pytest.mark.parametrize(
    "sign",
    ["-import.csv", "duckdb_temp_"],
    ids=["while-its-utf8-copy-is-written", "while-duckdb-spills"],
)
def test_no_temporary_file_holding_imported_data_survives_a_killed_import(
    tmp_path: Path, sign: str
) -> None:
    token = secrets.token_hex(8)
    export = tmp_path / "exports" / "contacts.csv"
    export.parent.mkdir()
    write_export(export, token)
    db = tmp_path / "store" / "team.duckdb"
    db.parent.mkdir()
    env = {k: v for k, v in os.environ.items() if k != scratch.ENV_VAR}
    env["KPI_MEMORY_LIMIT"] = "64MB"  # small enough that DuckDB spills the raw rows
    process = subprocess.Popen(
        [str(KPI), "import", str(export), "--db", str(db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = scratch.root_beside(db)
    assert kill_when(process, root, sign, token), f"the import ended before a {sign} file held data"
    assert process.returncode == -signal.SIGKILL
    # The killed import did leave personal data in its scratch folder...
    assert holding(token, files_under(root))

    # ... which the next process to open the store removes on start-up.
    after = subprocess.run(
        [str(KPI), "imports", "--db", str(db)], env=env, capture_output=True, text=True
    )
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "no imports yet."  # the killed import left no batch
    assert not list(root.glob(f"{scratch.PREFIX}*")), "a scratch folder survived"
    assert not Path(f"{db}.tmp").exists()
    beside_the_store = files_under(db.parent)
    assert holding(token, beside_the_store) == []  # the store file, its WAL, scratch, spill
    assert holding(token, system_temp_files()) == []
