"""Opening the store: a file that is not a DuckDB store, a store locked by another process,
read-only, damaged or on a full disk each give one line saying which and what to do (issue 14,
point 15); spill files go to the process's scratch folder, not beside the store (point 12)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kpi.errors import StoreError
from kpi.store import scratch
from kpi.store.connection import SCHEMA_VERSION, open_store

NEW_PATH = "give --db a .duckdb file or a new path"


def refusal(path: Path, **kwargs: bool) -> str:
    """The one-line message open_store raises for ``path``."""
    with pytest.raises(StoreError) as raised:
        open_store(path, **kwargs)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    return message


def a_store(path: Path) -> Path:
    store = open_store(path)
    with store.transaction() as cur:
        cur.execute("CREATE TABLE filler AS SELECT range AS n FROM range(200000)")
    store.close()
    return path


@contextmanager
def held_by_another_process(db: Path) -> Iterator[int]:
    """The store open in another process (as the dashboard or a `kpi import` holds it); yields
    that process's PID."""
    code = (
        "import sys\nfrom kpi.store.connection import open_store\n"
        "store = open_store(sys.argv[1])\nprint('held', flush=True)\nsys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process.pid
    finally:
        process.communicate("")


def damage(db: Path) -> Path:
    """Flip bytes in the store's data blocks (its header stays a DuckDB header)."""
    data = bytearray(db.read_bytes())
    for at in range(8192, len(data), 7):
        data[at] = (data[at] + 1) % 256
    db.write_bytes(bytes(data))
    return db


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) made read-only: by its mode, or for root, who ignores
    modes, as an immutable file (chattr +i)."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)]).returncode:
        pytest.skip("as root only an immutable file is read-only, and chattr +i fails here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a small file system with no space left (a tmpfs, which needs root)."""
    mount = tmp_path / "full"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode:
        pytest.skip("a full disk is a small tmpfs here, and mounting one needs root")
    try:
        with open(mount / "filler", "wb", buffering=0) as filler:
            try:
                while filler.write(b"\0" * 65536):
                    pass
            except OSError:
                pass  # full
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


# --- not a DuckDB store ---------------------------------------------------------------------


def test_a_sqlite_file_is_refused_as_not_a_store_and_nothing_is_downloaded(tmp_path: Path) -> None:
    path = tmp_path / "team.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    before = path.read_bytes()
    message = refusal(path)
    assert message == f"{path} is not a DuckDB store (it is a SQLite database); {NEW_PATH}"
    assert path.read_bytes() == before  # DuckDB never opened it (nor fetched its extension)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"contact_id,opened_at\nC1,2025-01-01\n", "it is a text file, e.g. a CSV"),
        (b"", "it is empty"),
        (b"PK\x03\x04" + bytes(60), "it is a ZIP file, e.g. an XLSX workbook"),
        (bytes(range(256)) * 20, "it has no DuckDB header"),
    ],
    ids=["csv", "empty", "xlsx", "binary"],
)
def test_a_file_that_is_not_a_duckdb_store_is_refused_and_left_as_it_was(
    tmp_path: Path, content: bytes, kind: str
) -> None:
    path = tmp_path / "store.duckdb"
    path.write_bytes(content)
    message = refusal(path)
    assert message.startswith(f"{path} is not a DuckDB store ({kind}")
    assert message.endswith(NEW_PATH)
    assert path.read_bytes() == content
    assert not Path(f"{path}.wal").exists()


def test_a_folder_given_as_the_store_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path) == f"{tmp_path} is a folder, not a DuckDB store; {NEW_PATH}"


# --- locked, damaged, read-only, full -------------------------------------------------------


def test_a_store_locked_by_another_process_says_which_process_and_what_to_do(
    tmp_path: Path,
) -> None:
    db = a_store(tmp_path / "team.duckdb")
    with held_by_another_process(db) as pid:
        message = refusal(db)
        assert refusal(db, read_only=True) == message  # not even reading is allowed
    assert message == (
        f"the store {db} is locked by another process (PID {pid}); close the dashboard or the "
        f"other `kpi` command (PID {pid}) using it, or use another --db"
    )
    open_store(db).close()  # free again once that process has gone


def test_a_damaged_store_says_it_is_damaged_and_to_restore_or_move_it(tmp_path: Path) -> None:
    db = damage(a_store(tmp_path / "team.duckdb"))
    message = refusal(db)
    assert message.startswith(f"the store {db} is damaged (")
    assert message.endswith("); restore a backup or move it aside")


def test_a_store_cut_short_says_so(tmp_path: Path) -> None:
    db = a_store(tmp_path / "team.duckdb")
    db.write_bytes(db.read_bytes()[:5000])
    message = refusal(db)
    assert message == (
        f"the store {db} is damaged (the file is cut short); restore a backup or move it aside"
    )


def test_a_read_only_store_file_says_it_cannot_be_written(tmp_path: Path) -> None:
    db = a_store(tmp_path / "team.duckdb")
    with read_only(db):
        message = refusal(db)
    assert message == (
        f"the store {db} cannot be written (read-only file); make it writable, or use another --db"
    )


def test_a_store_in_a_read_only_folder_says_it_cannot_be_written(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    db = a_store(folder / "team.duckdb")
    with read_only(folder):
        message = refusal(db)
        new = refusal(folder / "new.duckdb")
        assert not (folder / "new.duckdb").exists()
    assert message == (
        f"the store {db} cannot be written (read-only folder); make it writable, "
        "or use another --db"
    )
    assert new.startswith(f"the store {folder / 'new.duckdb'} cannot be written (read-only")


def test_a_new_store_on_a_full_disk_says_the_disk_is_full_and_leaves_no_empty_file(
    full_disk: Path,
) -> None:
    db = full_disk / "team.duckdb"
    message = refusal(db)
    assert message == (
        f"the disk is full: the store {db} cannot be written; free some space and try again"
    )
    assert not db.exists()  # an empty file would be refused as "not a DuckDB store" next time


def test_a_memory_limit_that_is_not_a_size_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPI_MEMORY_LIMIT", "lots")
    message = refusal(tmp_path / "team.duckdb")
    assert message == "KPI_MEMORY_LIMIT='lots' is not a memory size; give one such as 2GB or 512MB"


def test_a_new_store_is_created_and_migrated(tmp_path: Path) -> None:
    store = open_store(tmp_path / "deep" / "folder" / "team.duckdb")
    try:
        assert store.schema_version == SCHEMA_VERSION
        assert store.count("imports") == 0
    finally:
        store.close()


# --- spill files -----------------------------------------------------------------------------


def test_duckdb_spills_into_the_process_scratch_folder_never_beside_the_store(
    tmp_path: Path,
) -> None:
    db = tmp_path / "team.duckdb"
    store = open_store(db)
    try:
        cur = store.cursor()
        cur.execute("SET memory_limit = '32MB'")
        cur.execute(
            "CREATE TEMP TABLE big AS SELECT range AS n, md5(range::VARCHAR) AS s "
            "FROM range(2000000)"
        )
        spilled = [Path(row[0]) for row in cur.execute("SELECT path FROM duckdb_temporary_files()").fetchall()]  # fmt: skip
        setting = cur.execute("SELECT current_setting('temp_directory')").fetchone()
    finally:
        store.close()
    assert spilled, "DuckDB did not spill; the test needs a bigger table"
    mine = scratch.folder()
    assert setting is not None and Path(setting[0]).parent == mine
    assert all(mine in path.parents for path in spilled)
    assert not Path(f"{db}.tmp").exists()
    assert not Path(setting[0]).exists()  # DuckDB removes its spill folder on close


def test_a_spill_folder_left_beside_the_store_by_an_older_version_is_removed(
    tmp_path: Path,
) -> None:
    db = a_store(tmp_path / "team.duckdb")
    legacy = Path(f"{db}.tmp")
    legacy.mkdir()
    (legacy / "duckdb_temp_storage-0.tmp").write_text("customer@example.org")
    open_store(db, read_only=True).close()
    assert legacy.exists()  # a reader cannot know that no writer is spilling there
    open_store(db).close()
    assert not legacy.exists()


def test_a_folder_beside_the_store_that_is_not_a_spill_folder_is_left_alone(
    tmp_path: Path,
) -> None:
    db = a_store(tmp_path / "notes")
    theirs = Path(f"{db}.tmp")
    theirs.mkdir()
    (theirs / "keep.txt").write_text("someone's notes")
    (theirs / "duckdb_temp_storage-0.tmp").write_text("spill")
    open_store(db).close()
    assert (theirs / "keep.txt").read_text() == "someone's notes"
