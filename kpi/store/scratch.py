"""Private scratch space: where imported data may sit on disk outside the store, and for how long.

An import writes customer data to disk in three places besides the store: a UTF-8 copy of a
file in another encoding, an upload saved from the browser, and DuckDB's spill files for a big
sort. All three live in one folder per process, ``<root>/pid-<pid>-<token>``, created readable by
its owner only and removed when the process exits. A process killed before it could clean up
leaves its folder behind; the next process to start (``folder()``) removes every folder whose
process is gone. The root is beside the store (``.<store file>.scratch``), so scratch data
stays on the disk and under the permissions the user chose for the store, or ``$KPI_SCRATCH``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

ENV_VAR = "KPI_SCRATCH"
PREFIX = "pid-"

_lock = threading.Lock()
_root: Path | None = None
_mine: Path | None = None


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
    global _mine, _root
    with _lock:
        if _mine is not None and _mine.is_dir():
            return _mine
        if _root is None:
            _root = default_root()
        root = _root
    _make_private(root)
    sweep(root)
    mine = root / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    mine.mkdir(mode=0o700)
    with _lock:
        _mine = mine
    atexit.register(_remove, mine)
    return mine


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
        pid = _pid_of(entry.name)
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        _remove(entry)
        removed += 1
    return removed


def _pid_of(name: str) -> int | None:
    if not name.startswith(PREFIX):
        return None
    number = name[len(PREFIX) :].split("-", 1)[0]
    return int(number) if number.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _make_private(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # a root the user chose and does not own keeps its mode
        os.chmod(root, 0o700)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
