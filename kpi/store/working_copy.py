"""A store named by URL, worked on locally: its tables in a temporary DuckDB file.

``open_working_copy`` pulls the store (``kpi.store.remote``) into a DuckDB file made at the
store's schema version, then migrates it forward; everything else is a ``Store`` like any other.
``sync`` (and ``close``) send back the tables that changed, in one step on the store, and only
if nobody wrote there meanwhile. The copy costs time in proportion to the store (a few seconds
per million contacts, measured in bench/scale.py); a report does not need one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from kpi.errors import StoreError
from kpi.store.connection import (
    SCHEMA_VERSION,
    Store,
    _configure,
    _migrate,
)
from kpi.store.remote import Progress, Remote, fingerprints, remote, scratch_folder


class WorkingCopy(Store):
    """A ``Store`` on a local copy of a store named by URL (see the module docstring).

    A shared one (the dashboard's) keeps up with the store: each page run (``lease``) first
    checks the store's revision and, when another process wrote there, works on a fresh copy
    from then on; each write (``transaction``) is sent back as soon as it commits, and one the
    store refuses (someone else wrote first) leaves a fresh copy and says to do it again."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: Remote,
        scratch: Path,
        revision: int,
        shared: bool = False,
    ) -> None:
        super().__init__(con, source.shown)
        self.remote = source
        self.scratch = scratch
        self.revision = revision
        self.shared = shared
        #: A store not made yet gets every table on its first write, changed or not.
        self.new = revision == 0
        self._prints = fingerprints(con)
        self._copies = 0  # fresh copies taken since opening: part of ``version``
        self._retired: list[duckdb.DuckDBPyConnection] = []  # older copies, in use until closed

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
            self.revision = self.remote.push(cur, changed, self.revision, self.scratch, progress)
            self.new = False
            self._prints = fingerprints(cur)
            return changed

    def version(self) -> str:
        # A fresh copy may hold other rows under the same imports and settings (reflections,
        # users): cached results are keyed by which copy they came from too.
        return f"{super().version()}-copy {self._copies}"

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
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
            self._refresh()
            raise StoreError(
                "someone else changed the store at the same moment, so this change was not "
                "saved; the page now shows the store as it is: make the change again"
            ) from refused

    @contextmanager
    def lease(self, notice: Callable[[str], None] | None = None) -> Iterator[None]:
        if self.shared and self.remote.revision() != self.revision:
            self._refresh()
        yield

    def _refresh(self) -> None:
        """Work on a fresh copy of the store from now on. Page runs still on the old one
        finish on it; its connection closes with the store."""
        with self.write_lock:
            revision = self.remote.revision()
            if revision == self.revision:
                return  # another page run got there first
            con, revision = _pulled(self.remote, self.scratch, f"copy-{self._copies + 1}")
            if self._con is not None:
                self._retired.append(self._con)
            self._con, self.revision = con, revision
            self._prints, self.new = fingerprints(con), False
            self._copies += 1
            self._generation += 1  # every thread's next cursor is on the fresh copy

    def close(self) -> None:
        try:
            self.sync()
        finally:
            try:
                super().close()
                for con in self._retired:
                    con.close()
            finally:
                self.remote.close()
                shutil.rmtree(self.scratch, ignore_errors=True)


def open_working_copy(location: str, *, shared: bool = False) -> WorkingCopy:
    """The store at ``location`` (a URL), pulled into a working copy."""
    source = remote(location)
    scratch = scratch_folder()
    try:
        con, revision = _pulled(source, scratch, "copy-0")
        return WorkingCopy(con, source, scratch, revision, shared=shared)
    except BaseException:
        source.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _pulled(source: Remote, scratch: Path, name: str) -> tuple[duckdb.DuckDBPyConnection, int]:
    """A new DuckDB file in ``scratch`` holding the store, migrated to this program's schema,
    and the store's revision it holds (0: no store there yet)."""
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
        revision = source.pull(con, scratch) if version else 0
        _migrate(con)  # an older store moves on here, and goes back moved on when synced
    except BaseException:
        con.close()
        raise
    return con, revision
