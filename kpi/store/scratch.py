"""Private scratch space: where imported data may sit on disk outside the store, and for how long.

An import writes customer data to disk in three places besides the store: a UTF-8 copy of a
file in another encoding, an upload saved from the browser, and DuckDB's spill files for a big
sort. All three live in one folder per process, ``<root>/pid-<pid>-<token>``, created readable by
its owner only and removed when the process exits. A process killed before it could clean up
leaves its folder behind; the next process to start (``use_root()``, ``folder()``) removes every
folder whose process is gone. The root is beside the store (``.<store file>.scratch``), so
scratch data stays on the disk and under the permissions the user chose for the store, or
``$KPI_SCRATCH``; when the store's folder cannot be written, a per-user folder in the system's
temporary folder.

A folder's owner holds an exclusive ``flock`` on its ``.lock`` file for as long as it runs, so
"gone" is decided by the lock, which the kernel drops when the process dies however it dies: a
recycled PID or a process in another PID namespace cannot keep a dead folder alive or make a live
one look dead. Folders without a lock file fall back to asking whether the PID is running.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

ENV_VAR = "KPI_SCRATCH"
PREFIX = "pid-"
LOCK_NAME = ".lock"
#: A folder is made under this prefix and renamed to ``pid-...`` once its lock is held, so a
#: sweep never sees a folder whose owner has not locked it yet.
MAKING_PREFIX = "making-"
MAKING_GRACE_SECONDS = 60

_lock = threading.Lock()
_root: Path | None = None
_mine: Path | None = None
_held: IO[bytes] | None = None  # the open, locked .lock file of this process's folder


def default_root() -> Path:
    """$KPI_SCRATCH, else a per-user folder in the system's temporary folder."""
    given = os.environ.get(ENV_VAR)
    if given:
        return Path(given).expanduser()
    return Path(tempfile.gettempdir()) / f"kpi-scratch-{os.getuid()}"


def root_beside(store_path: str | Path) -> Path:
    """The scratch root for a store file: a hidden folder beside it ($KPI_SCRATCH wins)."""
    if os.environ.get(ENV_VAR):
        return default_root()
    path = Path(store_path).expanduser()
    return path.parent / f".{path.name}.scratch"


def use_root(root: Path) -> Path:
    """Make ``root`` this process's scratch root (the first store opened decides); returns the
    root in use. Stale folders under it are swept now."""
    global _root
    with _lock:
        if _root is None:
            _root = Path(root)
        root = _root
    sweep(root)
    return root


def folder() -> Path:
    """This process's private scratch folder, created on first use and removed at exit."""
    global _mine, _root, _held
    with _lock:
        if _mine is not None and _mine.is_dir():
            return _mine
        if _root is None:
            _root = default_root()
        root = _root
    try:
        mine, held = _create_in(root)
    except OSError:  # the store's folder is read-only: scratch goes to the per-user one
        root = default_root()
        mine, held = _create_in(root)
    with _lock:
        if _held is not None:
            _held.close()
        _root, _mine, _held = root, mine, held
    atexit.register(_remove, mine)
    return mine


def _create_in(root: Path) -> tuple[Path, IO[bytes]]:
    """A new locked folder for this process under ``root`` (stale ones are swept first)."""
    _make_private(root)
    sweep(root)
    making = root / f"{MAKING_PREFIX}{secrets.token_hex(8)}"
    making.mkdir(mode=0o700)
    held = open(making / LOCK_NAME, "wb")  # noqa: SIM115 - held open for the process's life
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    mine = root / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    making.rename(mine)
    return mine, held


def new_path(name: str) -> Path:
    """A fresh path inside this process's scratch folder (the caller creates the file)."""
    return folder() / f"{secrets.token_hex(6)}-{name}"


def new_folder(name: str) -> Path:
    """A fresh private folder inside this process's scratch folder."""
    path = folder() / f"{secrets.token_hex(6)}-{name}"
    path.mkdir(mode=0o700)
    return path


def sweep(root: Path) -> int:
    """Remove the scratch folders of processes that are no longer running; returns how many."""
    removed = 0
    try:
        entries = list(root.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if entry == _mine or not _abandoned(entry):
            continue
        _remove(entry)
        removed += 1
    return removed


def _abandoned(entry: Path) -> bool:
    """Whether ``entry`` is a scratch folder whose process has gone."""
    if entry.name.startswith(MAKING_PREFIX):  # killed within the instant of making its folder
        with contextlib.suppress(OSError):
            return time.time() - entry.stat().st_mtime > MAKING_GRACE_SECONDS
        return False
    pid = _pid_of(entry.name)
    if pid is None:
        return False
    try:
        probe = open(entry / LOCK_NAME, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return pid != os.getpid() and not alive(pid)  # a folder made without a lock
    except OSError:
        return False  # cannot tell (another user's folder): keep it
    with probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its owner is running
        except OSError:
            return False
        return True


def _pid_of(name: str) -> int | None:
    if not name.startswith(PREFIX):
        return None
    number = name[len(PREFIX) :].split("-", 1)[0]
    return int(number) if number.isdigit() else None


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (someone else's counts: we may not signal it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _make_private(root: Path) -> None:
    """Create the root readable by its owner only. A root that already exists keeps its mode:
    it may be a folder the user chose ($KPI_SCRATCH=/tmp), which must not be locked down; each
    process folder inside it is private (0700) whatever the root's mode."""
    with contextlib.suppress(FileExistsError):
        root.mkdir(parents=True, mode=0o700)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
