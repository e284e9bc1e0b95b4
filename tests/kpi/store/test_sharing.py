"""One store file, the dashboard and `kpi` commands at once (issue 10, point 5): the dashboard
lets go when a command asks, a command says it is waiting, a page run keeps the store until it
ends, and a page started while a command has the store waits for it and says so."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kpi.errors import StoreError
from kpi.store import sharing
from kpi.store.connection import Store, open_store
from tests.kpi.store.test_connection import held_by_another_process
from tests.paths import SAMPLE_DATA

TICKETS = SAMPLE_DATA / "zendesk_tickets.csv"
KPI = Path(sys.executable).with_name("kpi")


def kpi(*words: str, wait: str = "60") -> subprocess.Popen[str]:
    env = {**os.environ, sharing.WAIT_VAR: wait}
    return subprocess.Popen(
        [str(KPI), *words], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def contacts(store: Store) -> int:
    with store.lease():
        return store.cursor().execute("SELECT count(*) FROM contacts").fetchall()[0][0]


@pytest.fixture
def dashboard(tmp_path: Path) -> Store:
    """A store as the dashboard holds it: shared, opened by a first page run."""
    db = tmp_path / "team.duckdb"
    store = open_store(db, shared=True)
    assert contacts(store) == 0
    yield store
    store.close()


def test_a_kpi_import_waits_for_the_dashboard_to_let_go_and_says_so(dashboard: Store) -> None:
    done = kpi("import", str(TICKETS), "--db", dashboard.path)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert err.startswith(
        f"kpi: the dashboard (PID {os.getpid()}) has the store {dashboard.path} open; asked it "
        "to let go, waiting up to 60 s\n"
    )
    assert "imported" in out
    # The dashboard opens the store again at its next page run and sees the new rows.
    assert contacts(dashboard) > 0
    assert not list(Path(dashboard.path).parent.glob(".team.duckdb.wanted-*"))  # withdrawn


def test_a_page_run_keeps_the_store_until_it_ends(dashboard: Store) -> None:
    ended = threading.Event()

    def page_run() -> None:
        with dashboard.lease():
            dashboard.cursor().execute("SELECT count(*) FROM contacts").fetchall()
            time.sleep(2)  # a page still computing when the command asks
            dashboard.cursor().execute("SELECT count(*) FROM contacts").fetchall()
        ended.set()

    page = threading.Thread(target=page_run)
    page.start()
    time.sleep(0.3)
    command = kpi("imports", "--db", dashboard.path)
    _, err = command.communicate(timeout=120)
    page.join()
    assert command.returncode == 0, err
    assert ended.is_set()  # the page finished its queries on the open store


def test_a_page_started_while_a_command_has_the_store_waits_and_says_so(
    dashboard: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    seen: list[int] = []
    with held_by_another_process_after_let_go(dashboard) as pid:
        page = threading.Thread(target=lambda: seen.append(page_count(dashboard, said)))
        page.start()
        time.sleep(1)
        assert page.is_alive() and not seen  # waiting for the command
    page.join(timeout=60)
    assert seen == [0]
    assert said == [
        f"Another program (PID {pid}), such as a `kpi import`, is using the store; this page "
        "continues when it has finished."
    ]


def page_count(store: Store, said: list[str]) -> int:
    with store.lease(said.append):
        return store.cursor().execute("SELECT count(*) FROM contacts").fetchall()[0][0]


class held_by_another_process_after_let_go:  # noqa: N801 - used as a context manager
    """The dashboard lets go (a command asked), then another process holds the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.held = held_by_another_process(Path(store.path))

    def __enter__(self) -> int:
        # A waiting command's request, as `kpi` leaves it (the PID of a live process).
        waiting = subprocess.Popen(["sleep", "60"])
        request = sharing.request_file(self.store.path, waiting.pid)
        request.write_text(str(waiting.pid))
        try:
            deadline = time.monotonic() + 30
            while self.store._con is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert self.store._con is None, "the dashboard did not let go when asked"
            pid = self.held.__enter__()
        finally:
            request.unlink()
            waiting.kill()
            waiting.wait()
        return pid

    def __exit__(self, *exc: object) -> None:
        self.held.__exit__(None, None, None)


def test_a_page_waits_no_longer_than_kpi_store_wait_then_names_the_holder(
    dashboard: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sharing.WAIT_VAR, "0.5")
    with (
        held_by_another_process_after_let_go(dashboard) as pid,
        pytest.raises(StoreError, match=rf"locked by another process \(PID {pid}\)"),
    ):
        page_count(dashboard, [])
    assert page_count(dashboard, []) == 0  # and opens again once that process has gone


def test_a_request_left_by_a_process_that_has_gone_is_ignored(dashboard: Store) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(gone.stdout)
    sharing.request_file(dashboard.path, pid).write_text(str(pid))
    time.sleep(3 * sharing.POLL_SECONDS)
    assert dashboard._con is not None  # not let go for nobody
    assert page_count(dashboard, []) == 0


def test_a_command_does_not_wait_for_a_process_that_is_not_a_dashboard(tmp_path: Path) -> None:
    db = tmp_path / "team.duckdb"
    open_store(db).close()
    with held_by_another_process(db) as pid:
        started = time.monotonic()
        command = kpi("imports", "--db", str(db))
        _, err = command.communicate(timeout=60)
    assert command.returncode == 2
    assert f"locked by another process (PID {pid})" in err
    assert time.monotonic() - started < 30  # said at once, not after KPI_STORE_WAIT


def test_the_dashboard_marker_lives_while_the_store_is_open(dashboard: Store) -> None:
    mine = sharing.marker(dashboard.path, os.getpid())
    assert mine.exists()
    dashboard.close()
    assert not mine.exists()


def test_two_commands_waiting_at_once_both_get_the_store_while_pages_run(
    dashboard: Store,
) -> None:
    stop = threading.Event()

    def pages() -> None:  # short page runs, one after another, as browsing people make
        while not stop.is_set():
            page_count(dashboard, [])
            time.sleep(0.3)

    browsing = threading.Thread(target=pages)
    browsing.start()
    try:
        first = kpi("imports", "--db", dashboard.path, wait="30")
        time.sleep(0.5)
        second = kpi("imports", "--db", dashboard.path, wait="30")
        results = [c.communicate(timeout=120) for c in (first, second)]
    finally:
        stop.set()
        browsing.join()
    assert [first.returncode, second.returncode] == [0, 0], results


def test_a_request_nobody_keeps_fresh_stops_holding_pages_back(dashboard: Store) -> None:
    # A live process that is not waiting (a stopped command, or a PID reused by another program).
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        request = sharing.request_file(dashboard.path, bystander.pid)
        request.write_text(str(bystander.pid))
        assert sharing.requester(dashboard.path) == bystander.pid  # fresh: it counts
        old = time.time() - 10 * sharing.FRESH_SECONDS
        os.utime(request, (old, old))
        assert sharing.requester(dashboard.path) is None
        said: list[str] = []
        assert page_count(dashboard, said) == 0 and said == []
    finally:
        bystander.kill()
        bystander.wait()
    assert sharing.requester(dashboard.path) is None
    assert not request.exists()  # a request of a process that has gone is removed


def test_the_dashboard_says_it_shares_before_it_first_opens_the_store(tmp_path: Path) -> None:
    store = open_store(tmp_path / "team.duckdb", shared=True)
    try:
        assert store._con is None  # not opened yet
        assert sharing.shares(store.path, os.getpid())
        link = tmp_path / "link.duckdb"
        link.symlink_to(tmp_path / "team.duckdb")
        assert sharing.shares(str(link), os.getpid())  # the same store by another name
    finally:
        store.close()


@pytest.mark.parametrize("given", ["nan", "inf", "soon"])
def test_a_wait_that_is_not_a_finite_number_is_refused(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sharing.WAIT_VAR, given)
    with pytest.raises(StoreError, match=rf"KPI_STORE_WAIT='{given}' is not a number"):
        sharing.wait_seconds()


def test_cursors_of_finished_page_threads_are_not_kept(dashboard: Store) -> None:
    def run() -> None:
        with dashboard.lease():
            dashboard.cursor().execute("SELECT 1").fetchall()

    for _ in range(50):  # Streamlit runs each page in a new thread
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    gc.collect()
    assert len(dashboard._cursors) <= 2
