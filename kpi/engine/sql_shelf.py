"""Compiled report SQL kept on disk beside the store, so a fresh process does not compile again.

Ibis takes longer to build and compile a report's queries (about 0.3-0.6 s for a report, more
for a page's first load) than DuckDB takes to run them, and every `kpi report` and every new
dashboard process used to pay that again for the same questions. ``EngineCache.compiled`` keeps
SQL for the life of a process; a ``Shelf`` keeps it between processes, as one small JSON file
per query shape in the store's scratch root (``.<store>.scratch/sql``, private to its owner).

A file is named by a digest of everything the SQL text depends on:

- this program's code (every ``kpi`` source file) and the versions of Ibis, sqlglot and DuckDB:
  an upgrade or an edit compiles afresh;
- the store (its path, its schema version, and ``_lineage``: what tells it from another file
  put at the same path since) and its data version (``Store.version``: imports, undos and
  settings), and the as-of instant's business-hours reading, the one number
  from the data the SQL holds as a literal;
- the query's shape as the in-process cache keys it (dates set or not, grain, offsets, as-of,
  settings, KPIs, the columns the data supports, the grouping...).

The data profile (``kpi.engine.profile``: which columns hold data, the data's first and last
instants) is kept the same way, as JSON: every report starts with it, and finding it scans every
contact and answer.

Only the report's own queries are shelved, and only once its plan has brought the stored
business-hours tables up to date (``preparation.prepare_clocks``): a query read from the shelf
is never built, so it must not be the one that would have checked them. Queries reading a
cursor's temporary table are never shelved, nor a URL's store (its working copy lives in one
process). SQL is run as read, so a file is read only from a folder and file owned by this user
and writable by no one else. The shelf is an optimisation: a file it cannot read or write is a
miss, never an error, and it keeps the newest few hundred files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import threading
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from kpi.store import scratch
from kpi.store.connection import Store
from kpi.store.location import is_url

#: Files kept; past this, the oldest are removed down to ``_KEEP_AFTER_TIDY``.
_MAX_FILES = 1000
_KEEP_AFTER_TIDY = 600
_FOLDER = "sql"
_tidy_lock = threading.Lock()


class Unshelvable(TypeError):
    """A key holds something without one stable text across processes: it is not shelved."""


@cache
def code_fingerprint() -> str:
    """A digest of this program's source and of the libraries that write its SQL."""
    import duckdb
    import ibis
    import sqlglot

    digest = hashlib.sha256()
    versions = (ibis.__version__, sqlglot.__version__, duckdb.__version__, sys.version)
    digest.update(repr(versions).encode())
    package = Path(__file__).resolve().parents[1]
    for source in sorted(package.rglob("*.py")):
        digest.update(str(source.relative_to(package)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def stable(part: Any) -> Any:
    """A key part as JSON whose text is the same in every process (sets sorted, instants as
    text); ``Unshelvable`` for anything else (e.g. an object whose repr holds its address)."""
    if part is None or isinstance(part, bool | int | float | str):
        return part
    if isinstance(part, tuple | list):
        return [stable(p) for p in part]
    if isinstance(part, frozenset | set):
        return sorted((stable(p) for p in part), key=lambda p: json.dumps(p, sort_keys=True))
    if isinstance(part, datetime | date):
        return [type(part).__name__, part.isoformat()]
    raise Unshelvable(f"{type(part).__name__} in a query's key")


@dataclass(frozen=True)
class Shelf:
    """The SQL files of one store at one data version."""

    folder: Path
    #: The store, its schema and data version, and the code: the part every key shares.
    identity: str

    def _path(self, key: tuple[Any, ...]) -> Path | None:
        try:
            text = json.dumps([self.identity, stable(key)], sort_keys=True)
        except Unshelvable:
            return None
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()}.json"

    def get(self, key: tuple[Any, ...]) -> tuple[str, tuple[str, ...]] | None:
        """The SQL and its parameter names kept under ``key``; None when there is none."""
        kept = self.get_value(key)
        try:
            return str(kept["sql"]), tuple(str(n) for n in kept["names"])
        except (KeyError, TypeError):
            return None

    def put(self, key: tuple[Any, ...], sql: str, names: tuple[str, ...]) -> None:
        """Keep ``sql`` and its parameter names under ``key``."""
        self.put_value(key, {"sql": sql, "names": list(names)})

    def get_value(self, key: tuple[Any, ...]) -> Any:
        """The JSON value kept under ``key``; None when there is none (or it cannot be read)."""
        path = self._path(key)
        if path is None or not (_private(self.folder) and _private(path)):
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put_value(self, key: tuple[Any, ...], value: Any) -> None:
        """Keep the JSON ``value`` under ``key``: written whole under another name, then
        renamed, so a reader never sees half a file."""
        path = self._path(key)
        if path is None:
            return
        with contextlib.suppress(OSError):
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _private(self.folder):
                return  # another user's folder: nothing of ours goes in it
            partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
            partial.write_text(json.dumps(value), encoding="utf-8")
            os.chmod(partial, 0o600)
            os.replace(partial, path)
            _tidy(self.folder)


def shelf_for(store: Store, version: str, clock_reading: float | None = None) -> Shelf | None:
    """The shelf of a store file at data version ``version``; None in memory and for a URL's
    store (its working copy is private to one process). ``clock_reading`` is the as-of
    instant's business-hours reading the SQL holds, if any: it counts working seconds from the
    kept calendar's first day, which the data version alone does not pin (hours changed and
    changed back rebuild the calendar from another first day)."""
    if store.path == ":memory:" or is_url(store.path):
        return None
    lineage = _lineage(store)
    if lineage is None:
        return None
    folder = scratch.root_beside(store.path) / _FOLDER
    identity = json.dumps(
        [
            code_fingerprint(),
            str(Path(store.path).resolve()),
            lineage,
            store.schema_version,
            version,
            repr(clock_reading),
        ]
    )
    return Shelf(folder, identity)


def _lineage(store: Store) -> str | None:
    """What tells this store from another file put at the same path since, whose data version
    may read the same (one import each; or a copy of it, `kpi store copy --replace`, that took
    other imports): its pseudonymisation key, a random secret made with the store and kept by
    its copies; the file itself (a copy is a new file renamed into place); and when its last
    import and undo happened (copies that went their own ways imported at other times). As a
    digest: it does not give the key away. None for a store without a key or a file."""
    key = store.meta("pseudonym_key")
    try:
        found = os.stat(store.path)
    except OSError:
        return None
    if not key:
        return None
    (latest,) = (
        store.cursor()
        .execute("SELECT [max(imported_at), max(undone_at)]::VARCHAR FROM imports")
        .fetchall()
    )
    text = json.dumps(["kpi shelf", key, found.st_dev, found.st_ino, latest[0]])
    return hashlib.sha256(text.encode()).hexdigest()


def _private(path: Path) -> bool:
    """Owned by this user and writable by no one else: SQL read from anywhere else could have
    been put there by another user ($KPI_SCRATCH may be a shared folder), and it is run."""
    try:
        found = path.lstat()
    except OSError:
        return False
    return (
        found.st_uid == os.getuid()
        and not stat.S_ISLNK(found.st_mode)
        and not found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _tidy(folder: Path) -> None:
    """Past ``_MAX_FILES`` files, remove the oldest (each data version leaves its own)."""
    if not _tidy_lock.acquire(blocking=False):
        return
    try:
        files = list(folder.glob("*.json"))
        if len(files) <= _MAX_FILES:
            return
        by_age = sorted(files, key=_modified)
        for old in by_age[: len(files) - _KEEP_AFTER_TIDY]:
            with contextlib.suppress(OSError):
                old.unlink()
    finally:
        _tidy_lock.release()


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
