"""A store named by URL, worked on locally: its tables in a temporary DuckDB file.

``open_working_copy`` pulls the store (``kpi.store.remote``) into a DuckDB file made at the
store's schema version, then migrates it forward; everything else is a ``Store`` like any other.
``sync`` (and ``close``) send back the tables that changed, in one step on the store, and only
if nobody wrote there meanwhile. The copy costs time in proportion to the store (a few seconds
per million contacts, measured in bench/scale.py); a report does not need one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from kpi.errors import StoreError
from kpi.store.connection import (
    SCHEMA_VERSION,
    Store,
    _configure,
    _migrate,
)
from kpi.store.location import shown
from kpi.store.remote import Progress, Remote, fingerprints, remote, scratch_folder


class WorkingCopy(Store):
    """A ``Store`` on a local copy of a store named by URL (see the module docstring)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: Remote, scratch: Path, revision: int
    ) -> None:
        super().__init__(con, source.shown)
        self.remote = source
        self.scratch = scratch
        self.revision = revision
        #: A store not made yet gets every table on its first write, changed or not.
        self.new = revision == 0
        self._prints = fingerprints(con)

    def changed(self) -> list[str]:
        """The tables that differ from the store's, as pulled or last synced."""
        now = fingerprints(self.con)
        return [table for table, print_ in now.items() if self._prints.get(table) != print_]

    def sync(self, progress: Progress | None = None) -> list[str]:
        """Send the changed tables back (every table, to a store not made yet); returns them."""
        with self.write_lock:
            changed = self.changed()
            if not changed:
                return []
            if self.new:
                changed = list(self._prints)
            self.revision = self.remote.push(
                self.con, changed, self.revision, self.scratch, progress
            )
            self.new = False
            self._prints = fingerprints(self.con)
            return changed

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
    if shared:
        raise StoreError(
            f"the dashboard serves DuckDB stores only, not {shown(location)}; copy it to a "
            "file with `kpi store copy URL FILE.duckdb` and serve that (see docs/scaling.md)"
        )
    source = remote(location)
    scratch = scratch_folder()
    try:
        version = source.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{source.shown} was written by a newer version (schema {version}, this "
                f"program knows {SCHEMA_VERSION}); upgrade the program before opening it"
            )
        con = duckdb.connect(str(scratch / "working-copy.duckdb"))
        _configure(con, str(scratch / "working-copy.duckdb"))
        _migrate(con, up_to=version or SCHEMA_VERSION)
        revision = source.pull(con, scratch) if version else 0
        _migrate(con)  # an older store moves on here, and goes back moved on when synced
        return WorkingCopy(con, source, scratch, revision)
    except BaseException:
        source.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
