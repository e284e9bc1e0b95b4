"""One DuckDB store file, several processes: the dashboard lets go when a `kpi` command asks.

DuckDB lets one process at a time open a store file (a second process cannot even read it). The
dashboard keeps its connection between page runs, since reopening loses DuckDB's cache, but only
while nobody else wants the file:

- While it has the store open, the dashboard leaves a marker beside it
  (``.<store>.sharing-<pid>``) saying that this process lets go when asked.
- A `kpi` command that finds the store locked by such a process leaves a request
  (``.<store>.wanted``, holding the command's PID), says that it is waiting, and tries again until
  the dashboard has let go or ``$KPI_STORE_WAIT`` seconds (default 120) have passed.
- The dashboard closes its connection as soon as no page is running on it; pages that start
  meanwhile wait, saying why, until the command has the store and has finished with it. Then the
  dashboard opens the store again and, since the store's version changed, shows the new data.

A process that is not a dashboard (another `kpi` command) is not asked: it finishes on its own,
and the command says who holds the store. A team that needs many writers at once uses a
server database instead (README, "Many people, one store").
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from kpi.errors import StoreError
from kpi.store import scratch

if TYPE_CHECKING:  # duckdb is imported where it is used: `kpi --help` stays quick
    import duckdb

#: How long a `kpi` command or a page waits for the store by default, in seconds.
DEFAULT_WAIT = 120.0
WAIT_VAR = "KPI_STORE_WAIT"
#: How often a waiting process looks again, and how often the dashboard looks for a request.
POLL_SECONDS = 0.1
#: A connection used outside a page run (a cursor taken directly) is kept at least this long.
GRACE_SECONDS = 0.3
#: A waiting command's request counts while it was touched this recently.
FRESH_SECONDS = 2.0

Notice = Callable[[str], None]
#: What DuckDB says when another process holds the store's lock.
LOCKED = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def _quiet(message: str) -> None:
    """A library says nothing by default; the `kpi` command prints what it is waiting for."""


#: Told, once, when a command starts waiting for the dashboard (``kpi.cli.main`` prints it).
command_notice: Notice = _quiet


def wait_seconds() -> float:
    """``$KPI_STORE_WAIT`` (seconds), else the default; 0 means do not wait (nor ask). A value
    that is not a finite number is said."""
    given = os.environ.get(WAIT_VAR, "").strip()
    if not given:
        return DEFAULT_WAIT
    try:
        seconds = float(given)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise StoreError(
            f"{WAIT_VAR}={given!r} is not a number of seconds; give one such as 120 (0: no wait)"
        )
    return max(seconds, 0.0)


def _beside(store_path: str, suffix: str) -> Path:
    """A hidden file beside the store, named after its real path (a symlink or another
    spelling of the path names the same files)."""
    path = Path(os.path.realpath(store_path))
    return path.parent / f".{path.name}.{suffix}"


def marker(store_path: str, pid: int) -> Path:
    """Where a dashboard process says it lets go of this store when asked."""
    return _beside(store_path, f"sharing-{pid}")


def request_file(store_path: str, pid: int | None = None) -> Path:
    """Where a waiting command (this process by default) asks the dashboard to let go."""
    return _beside(store_path, f"wanted-{os.getpid() if pid is None else pid}")


def shares(store_path: str, pid: int) -> bool:
    """Whether process ``pid`` (the holder of the store's lock) lets go when asked."""
    return marker(store_path, pid).exists()


def requester(store_path: str) -> int | None:
    """The PID of a live process, other than this one, waiting for the store now; else None.

    Each waiting command has its own request and touches it at every look, so a request is
    believed only while it is fresh: a command stopped (Ctrl-Z) or killed, or a PID reused by
    another program, stops counting within ``FRESH_SECONDS``. A dead command's is removed."""
    pattern = request_file(store_path, 0).name.removesuffix("0")
    now = time.time()
    for path in Path(os.path.realpath(store_path)).parent.glob(f"{glob.escape(pattern)}*"):
        number = path.name.removeprefix(pattern)
        pid = int(number) if number.isdigit() else None
        if pid is None or pid == os.getpid():
            continue
        if not scratch.alive(pid):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime <= FRESH_SECONDS:
                return pid
    return None


@contextmanager
def requesting(store_path: str) -> Iterator[Callable[[], None]]:
    """Ask the dashboard to let go for as long as this block runs (the wait); the block calls
    what it is given at every look, which keeps the request fresh."""
    path = request_file(store_path)

    def refresh() -> None:
        with contextlib.suppress(OSError):
            path.touch()

    path.write_text(str(os.getpid()))
    try:
        yield refresh
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def lock_holder(exc: BaseException) -> int | None:
    """The PID DuckDB names as holding the store's lock, if that is the failure."""
    found = LOCKED.search(str(exc))
    return int(found["pid"]) if found else None


def wait_for_dashboard(
    target: str,
    holder: int,
    connect: Callable[[], duckdb.DuckDBPyConnection],
    notice: Notice,
    seconds: float,
) -> duckdb.DuckDBPyConnection:
    """A command's connection once the dashboard ``holder`` has let go of the store."""
    import duckdb

    notice(
        f"the dashboard (PID {holder}) has the store {target} open; asked it to let go, "
        f"waiting up to {seconds:.0f} s"
    )
    deadline = time.monotonic() + seconds
    with requesting(target) as refresh:
        while True:
            time.sleep(POLL_SECONDS)
            refresh()
            try:
                return connect()
            except duckdb.Error as exc:
                if lock_holder(exc) is None or time.monotonic() >= deadline:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover (the loop returns or raises)


class Sharing:
    """The dashboard's side: when its connection may be closed, and waiting for it to reopen.

    ``Store`` in shared mode asks this object before using its connection (``lease``) and tells
    it when a page run ends. A watcher thread closes the connection when a command asks and no
    page is using it. Callers hold no lock of this object while running queries."""

    def __init__(self, path: str, close: Callable[[], None], is_open: Callable[[], bool]) -> None:
        self.path = path
        self._close = close
        self._is_open = is_open
        self.guard = threading.RLock()
        self._leases = 0
        self._depth = threading.local()
        self._last_use = time.monotonic()
        # Said from the start (before the first connection), so that a command arriving while
        # the dashboard opens the store already knows to ask rather than fail.
        self._marker = marker(path, os.getpid())
        with contextlib.suppress(OSError):
            self._marker.touch()
        self._stopped = threading.Event()
        atexit.register(self.stop)
        watcher = threading.Thread(
            target=_watch, args=(weakref.ref(self), self._stopped), daemon=True, name="kpi-sharing"
        )
        watcher.start()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._marker.unlink()

    # --- page runs ---------------------------------------------------------------------------------

    def used(self) -> None:
        self._last_use = time.monotonic()

    def enter(self, notice: Notice | None) -> None:
        """Start a page run: wait while a command has asked for the store."""
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            self._wait_for_request_to_end(notice)
        self._depth.n = depth + 1

    def _wait_for_request_to_end(self, notice: Notice | None) -> None:
        """Wait while a command asks for the store (letting go once no page runs), up to
        $KPI_STORE_WAIT: then the run goes on and meets the command's lock, if it has it."""
        said = False
        deadline = time.monotonic() + wait_seconds()
        while True:
            with self.guard:
                waiting = requester(self.path)
                if waiting is None or time.monotonic() >= deadline:
                    self._leases += 1
                    return
                if self._leases == 0 and self._is_open():
                    self._close()
            if not said and notice is not None:
                notice(_busy(waiting))
                said = True
            time.sleep(POLL_SECONDS)

    def leave(self) -> None:
        """End a page run: let go at once if a command is waiting and no page is running."""
        self._depth.n -= 1
        if self._depth.n:
            return
        with self.guard:
            self._leases -= 1
            self.used()
            if self._leases == 0 and requester(self.path) is not None:
                self._close()

    def abandon(self) -> None:
        """A page run that could not start (the store did not open): undo ``enter``."""
        self.leave()

    def look(self) -> None:
        """The watcher's look: let go when asked, no page runs and the connection is idle."""
        with self.guard:
            idle = time.monotonic() - self._last_use > GRACE_SECONDS
            if self._leases == 0 and idle and self._is_open() and requester(self.path):
                self._close()


def _busy(pid: int) -> str:
    return (
        f"A `kpi` command (PID {pid}) is waiting for or using the store (an import, a report); "
        "this page continues when it has finished."
    )


def _watch(ref: weakref.ref[Sharing], stopped: threading.Event) -> None:
    """Look for a request every poll, for as long as the store lives."""
    while not stopped.wait(POLL_SECONDS):
        sharing = ref()
        if sharing is None:
            return
        with contextlib.suppress(Exception):  # a failed close is retried at the next look
            sharing.look()
        del sharing
