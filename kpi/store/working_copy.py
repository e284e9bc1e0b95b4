"""A store named by URL, worked on locally: its tables in a temporary DuckDB file.

``open_working_copy`` pulls the store (``kpi.store.remote``) into a DuckDB file made at the
store's schema version, then migrates it forward; everything else is a ``Store`` like any other.
``sync`` (and ``close``) send back the tables that changed, in one step on the store, and only
if nobody wrote there meanwhile. Opening a copy costs time in proportion to the store
(bench/stores.py measures it); a report does not need one.
"""

from __future__ import annotations

import atexit
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from kpi.errors import StoreError
from kpi.store.batches import forget_kept_rows
from kpi.store.connection import (
    SCHEMA_VERSION,
    Store,
    _configure,
    _migrate,
)
from kpi.store.remote import (
    Progress,
    Remote,
    Snapshot,
    fingerprints,
    remote,
    scratch_folder,
    synced_tables,
)


class WorkingCopy(Store):
    """A ``Store`` on a local copy of a store named by URL (see the module docstring).

    A shared one (the dashboard's) keeps up with the store: each page run (``lease``), and each
    write before it begins, first checks the store's revision and, when another process wrote
    there, takes the tables it changed, in one transaction on the copy (page runs reading
    meanwhile see the copy as it was). Each write is sent back as soon as it commits; one the
    store refuses (someone else wrote in between) leaves the copy caught up and says to do it
    again."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: Remote,
        scratch: Path,
        snapshot: Snapshot,
        shared: bool = False,
    ) -> None:
        super().__init__(con, source.shown)
        self.remote = source
        self.scratch = scratch
        self.revision = snapshot.revision
        self.shared = shared
        #: A store not made yet gets every table on its first write, changed or not.
        self.new = snapshot.revision == 0
        # Re-entrant: a write holds it from its commit to its sending, and checks for others'
        # writes (``lease``) inside it; a page run's catch-up waits for a write in between.
        self.write_lock = threading.RLock()  # type: ignore[assignment]
        self._tables = _held(con, snapshot)  # the revision of each table the copy holds
        self._prints = fingerprints(con)
        self._catch_ups = 0  # part of ``version``: results cached before one are not served

    def changed(self) -> list[str]:
        """The tables that differ from the store's, as pulled or last synced."""
        now = fingerprints(self.cursor())
        return [table for table, print_ in now.items() if self._prints.get(table) != print_]

    def sync(self, progress: Progress | None = None) -> list[str]:
        """Send the changed tables back (every table, to a store not made yet); returns them."""
        with self.write_lock:
            changed = self.changed()
            if not changed:
                return []
            if self.new:
                changed = list(self._prints)
            cur = self.cursor()
            based_on = self.revision
            self.revision = self.remote.push(cur, changed, based_on, self.scratch, progress)
            self._tables.update(dict.fromkeys(changed, self.revision))
            self.new = False
            self._prints = fingerprints(cur)
            if self.revision != based_on + 1:
                # Others wrote other tables meanwhile: take them now, or a later write of one
                # of them would send this copy's old rows over theirs.
                self._catch_up()
            return changed

    def version(self) -> str:
        # Caught up, the copy may hold other rows under the same imports and settings
        # (reflections, people): results cached before are keyed apart.
        return f"{super().version()}-caught up {self._catch_ups}"

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # One hold from commit to sending: a catch-up in between would take the write for
        # one already sent, and it would never go.
        with self.write_lock:
            with super().transaction() as cur:
                yield cur
            if self.shared:
                self._send()

    def _send(self) -> None:
        try:
            self.sync()
        except StoreError as refused:
            if self.remote.revision() == self.revision:
                raise  # not someone else's write: the store itself refused
            self._discard_and_catch_up()
            raise StoreError(
                "someone else changed the store at the same moment, so this change was not "
                "saved; the page now shows the store as it is: make the change again"
            ) from refused

    @contextmanager
    def lease(self, notice: Callable[[str], None] | None = None) -> Iterator[None]:
        if self.shared and self.remote.revision() != self.revision:
            self._catch_up()
        yield

    def _catch_up(self, tables: dict[str, int] | None = None) -> None:
        """Take the tables others changed since the copy's revision (or every table whose
        revision is not ``tables``'), in one transaction on the copy."""
        with self.write_lock:
            if self.remote.schema_version() != self.schema_version:
                raise StoreError(
                    f"{self.remote.shown} was moved to another schema by another version of the "
                    "program; restart the dashboard (after upgrading it, if it is older)"
                )
            known = self._tables if tables is None else tables
            cur = self.con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                snapshot = self.remote.pull(cur, self.scratch, known)
                if snapshot.stale("contacts", known):
                    # Rows undone or replaced on the store go from the copy's kept copy too.
                    forget_kept_rows(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()
            self.revision, self._tables = snapshot.revision, _held(self.cursor(), snapshot)
            self._prints, self.new = fingerprints(self.cursor()), False
            self._catch_ups += 1

    def _discard_and_catch_up(self) -> None:
        """After a refused write: the tables this copy changed are taken from the store again,
        as well as those others changed."""
        stale = {table: -1 for table in self.changed()}
        self._catch_up({**self._tables, **stale})

    def close(self) -> None:
        try:
            self.sync()
        finally:
            try:
                super().close()
            finally:
                self.remote.close()
                shutil.rmtree(self.scratch, ignore_errors=True)


def open_working_copy(location: str, *, shared: bool = False) -> WorkingCopy:
    """The store at ``location`` (a URL), pulled into a working copy."""
    source = remote(location)
    scratch = scratch_folder()
    # A copy never closed (the dashboard's, at the end of its process) goes at exit too.
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    try:
        older = 0 < source.schema_version() < SCHEMA_VERSION
        con, snapshot = _pulled(source, scratch, "copy")
        copy = WorkingCopy(con, source, scratch, snapshot, shared=shared)
    except BaseException:
        source.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if older:  # moved on at once, as a DuckDB file is when opened, so every copy agrees
        try:
            copy._prints = {}  # the migrations changed tables (meta, at least): send them all
            copy.sync()
        except BaseException:
            copy.close()
            raise
    return copy


def _held(con: duckdb.DuckDBPyConnection, snapshot: Snapshot) -> dict[str, int]:
    """The revision of each table a copy holds (0: no write has touched it since revisions
    were kept per table; the same 0 the store says, so it is not taken again)."""
    return {table: snapshot.tables.get(table, 0) for table in synced_tables(con)}


def _pulled(source: Remote, scratch: Path, name: str) -> tuple[duckdb.DuckDBPyConnection, Snapshot]:
    """A new DuckDB file in ``scratch`` holding the store, migrated to this program's schema,
    and the moment of the store it holds (revision 0: no store there yet)."""
    version = source.schema_version()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{source.shown} was written by a newer version (schema {version}, this "
            f"program knows {SCHEMA_VERSION}); upgrade the program before opening it"
        )
    path = scratch / f"{name}.duckdb"
    con = duckdb.connect(str(path))
    try:
        _configure(con, str(path))
        _migrate(con, up_to=version or SCHEMA_VERSION)
        snapshot = source.pull(con, scratch) if version else Snapshot(0, {})
        _migrate(con)  # an older store moves on here, and goes back moved on when synced
    except BaseException:
        con.close()
        raise
    return con, snapshot
