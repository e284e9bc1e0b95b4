"""The engine's derived tables kept in a store named by URL, beside the store's own tables.

A report on a PostgreSQL or Spark store runs on the store's own backend (``Remote.backend``),
and what the engine works out from the store's rows (the business calendar, each contact's
working-time readings: ``kpi.engine.calendar``) is kept there for the next process:

- PostgreSQL: a table in the store's schema, made in one transaction (``CREATE TABLE ... AS``)
  under an advisory lock of its own, so that two processes never build the same table twice nor
  read one half built;
- Spark: Parquet files in ``<warehouse>/derived/<name>/``, written by Spark to a scratch folder
  beside it and renamed into place (the first of two processes to finish wins; the other reads
  its table), read as a view of the session.

Names are content addresses: the engine names a table after a digest of what it is built from
(business hours, covered years, the data's version), so a table found under its name is always
the right one and no bookkeeping row has to agree with it. Each kind of table (``kpi_calendar_``,
``kpi_times_``) keeps its newest; one that another superseded more than ``KEEP_SECONDS`` ago is
dropped (a report that began before the change may still be reading it). A table becomes the
newest when it is made, or when it is found again (the data or the settings went back to what
they were): ``find`` marks it before anything reads it, and ``tidy`` decides each drop again
under a lock that marking waits for (PostgreSQL: the table's own lock; Spark: a file lock in
``derived``), so a table a report has just found again is never dropped under it. A login that
cannot mark (not the store's owner, read-only) uses a found table only while it is the newest of
its kind; else it keeps its tables for the process, as below.

None of this is the store's: the tables are not in ``store_tables``, a Spark version's
``tables.json`` or its version folders, so revisions, pulls, pushes, ``kpi store copy`` and
``row_counts`` (which counts only the store's tables) never see them. Where the login cannot
write (a read-only role, a folder it may not write), ``build`` answers None and the engine keeps
its tables for the process only, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpi.store import scratch
from kpi.store.remote import file_lock

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir

#: How long a superseded derived table stays for reports still reading it (seconds).
KEEP_SECONDS = 3600
#: The class of the PostgreSQL advisory locks taken while a derived table is built (the other
#: half of the key is the name's hash); apart from the store writers' one-key lock.
_BUILD_LOCK_CLASS = 731_602
#: What a derived table's name looks like: its kind, then a digest.
_NAME = re.compile(r"(kpi_[a-z]+_)[0-9a-f]{8,64}")
#: How long dropping a superseded PostgreSQL table may wait for its readers before it is left
#: for the next report to drop.
_DROP_WAIT = "2s"


#: This machine, in the names of its Spark scratch folders (a digest: no dashes, no secrets).
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
#: A scratch folder from another machine untouched this long was left by a process that died.
_ABANDONED_SECONDS = 24 * 3600


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def is_derived(name: str) -> bool:
    """Whether a table of the store's schema is one of the engine's derived tables."""
    return _NAME.fullmatch(name) is not None


def kind_of(name: str) -> str:
    """The kind of a derived table's name (``kpi_times_``), which the newest of supersedes."""
    found = _NAME.fullmatch(name)
    if found is None:
        raise ValueError(f"{name!r} is not a derived table's name")
    return found.group(1)


def newest(made: dict[str, float]) -> str | None:
    """The newest table of one kind (``made``: when each became the newest), as ``superseded``
    orders them; None when there is none."""
    return max(made, key=lambda name: (made[name], name), default=None)


def superseded(made: dict[str, float], current: str, now: float, keep: float) -> list[str]:
    """The tables of one kind to drop: those another was made after more than ``keep`` seconds
    before ``now``, never ``current``. ``made`` is when each became the newest."""
    order = sorted(made, key=lambda name: (made[name], name))
    gone = []
    for older, newer in zip(order, order[1:], strict=False):
        if older != current and now - made[newer] >= keep:
            gone.append(older)
    return gone


class DerivedTables(ABC):
    """Where a store named by URL keeps the engine's derived tables, on one Ibis backend of it."""

    def __init__(self, backend: ibis.BaseBackend, setting: Callable[[str], str | None]) -> None:
        self.backend = backend
        self._setting = setting

    def setting(self, key: str) -> str | None:
        """One value of the store's ``settings`` table (the business hours it keeps tables for)."""
        return self._setting(key)

    @abstractmethod
    def data_version(self) -> list[Any]:
        """What names the contacts' rows: moves on with every write that changes them."""

    @abstractmethod
    def find(self, name: str) -> ir.Table | None:
        """The kept table ``name`` on the backend, held for this process (``_hold``); None when
        there is none, it cannot be read by this login, or it could be dropped while read."""

    @abstractmethod
    def build(self, name: str, content: ir.Table) -> ir.Table | None:
        """Keep ``content`` (an expression on the backend) as ``name``, atomically, and return
        it; another process's table of that name when it finished first; None when this login
        cannot keep tables in the store."""

    @abstractmethod
    def _made(self, kind: str) -> dict[str, float]:
        """The tables of a kind, and when each became the newest (seconds since the epoch)."""

    @abstractmethod
    def _mark(self, name: str) -> None:
        """Note that ``name`` is the newest of its kind from now."""

    @abstractmethod
    def _mark_held(self, name: str) -> bool:
        """Mark ``name`` the newest of its kind, waiting for a ``_drop`` of it deciding meanwhile;
        False when it is gone, or this login cannot mark it."""

    @abstractmethod
    def _drop(self, name: str, still: Callable[[], bool]) -> None:
        """Drop a table if ``still()`` says so when asked under the lock ``_mark_held`` waits for
        (quietly leaving it when it cannot be dropped now)."""

    def _hold(self, name: str) -> bool:
        """Whether this process may read ``name`` from now on: no ``tidy`` drops it within
        ``KEEP_SECONDS``, since it is the newest of its kind, or was marked so now (found again
        after another superseded it). False: it is gone, or another is newer and this login
        cannot mark it (a read-only login: the table may go while it is read)."""
        made = self._made(kind_of(name))
        if name not in made:
            return False
        # The newest stays until another is made and KEEP_SECONDS pass: a tidy that drops it
        # must see a newer table made that long ago, which this look would have seen.
        return newest(made) == name or self._mark_held(name)

    def tidy(self, current: str) -> None:
        """``current`` is the newest of its kind (marked so when it was not); tables it, or a
        newer one, superseded more than ``KEEP_SECONDS`` ago go. Each drop is decided again
        under the table's lock: another process may have found it again (and marked it) since
        the first look."""
        kind = kind_of(current)
        made = self._made(kind)
        if current not in made:
            return
        if newest(made) != current:
            self._mark(current)  # chosen again: the others are superseded from now
            made = self._made(kind)

        def still(name: str) -> Callable[[], bool]:
            return lambda: name in superseded(self._made(kind), current, time.time(), KEEP_SECONDS)

        for name in superseded(made, current, time.time(), KEEP_SECONDS):
            self._drop(name, still(name))


def _digest(parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# --- PostgreSQL ----------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresDerived(DerivedTables):
    """Derived tables in the PostgreSQL store's schema; each table's comment says when it became
    the newest of its kind (``{"made": seconds since the epoch}``)."""

    def __init__(
        self, backend: ibis.BaseBackend, schema: str, setting: Callable[[str], str | None]
    ) -> None:
        super().__init__(backend, setting)
        self.schema = schema
        self.con: Any = backend.con  # psycopg, autocommit: each block below is its own transaction

    def _name(self, table: str) -> str:
        return f"{_quoted(self.schema)}.{_quoted(table)}"

    def data_version(self) -> list[Any]:
        # The revision of the store's last write that changed contacts (0 before revisions were
        # kept per table) and their number: a store copied over this one (--replace) moves both.
        revision = None
        if self._exists("store_tables"):
            revision = self.con.execute(
                f"SELECT revision FROM {self._name('store_tables')} WHERE name = 'contacts'"
            ).fetchone()
        (count,) = self.con.execute(f"SELECT count(*) FROM {self._name('contacts')}").fetchone()
        return [int(revision[0]) if revision else 0, int(count)]

    def find(self, name: str) -> ir.Table | None:
        # Only a table the store's owner (the owner of its contacts) made is trusted: its name
        # can be worked out by anyone who reads the store, and a login that may only create
        # tables there must not be able to put readings in everyone's reports.
        row = self.con.execute(
            "SELECT has_table_privilege(t.oid, 'SELECT') AND t.relowner = c.relowner "
            "FROM pg_class t, pg_class c WHERE t.oid = to_regclass(%s) "
            "AND c.oid = to_regclass(%s)",
            [self._name(name), self._name("contacts")],
        ).fetchone()
        if not row or not row[0] or not self._hold(name):
            return None
        return self.backend.table(name)

    def _may_create(self) -> bool:
        """Whether this login may make tables others will trust: it owns the store's contacts
        (see ``find``), may create in the schema, and is not in a read-only transaction."""
        row = self.con.execute(
            "SELECT has_schema_privilege(%s, 'CREATE') "
            "AND current_setting('transaction_read_only') = 'off' "
            "AND (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)) "
            "= current_user",
            [self.schema, self._name("contacts")],
        ).fetchone()
        return bool(row and row[0])

    def build(self, name: str, content: ir.Table) -> ir.Table | None:
        import psycopg

        if not self._may_create():
            return None
        sql = str(self.backend.compile(content))
        try:
            with self.con.transaction():
                # Another process building the same table holds this until it commits; then the
                # table is there, whole, and read.
                self.con.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_BUILD_LOCK_CLASS, name]
                )
                if not self._exists(name):
                    self.con.execute(f"CREATE TABLE {self._name(name)} AS {sql}")
                    self._comment(name)
                    self.con.execute(f"ANALYZE {self._name(name)}")
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
            return None
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            pass  # made by another process meanwhile (the lock makes this rare): the same table
        return self.find(name)

    def _exists(self, name: str) -> bool:
        # The catalog itself, read with this statement's snapshot: ``to_regclass`` answers from
        # a cache that taking an advisory lock does not refresh, so it missed a table another
        # process committed while this one waited for the lock.
        row = self.con.execute(
            "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s)",
            [self.schema, name],
        ).fetchone()
        return bool(row and row[0])

    def _comment(self, name: str) -> None:
        note = json.dumps({"made": time.time()}).replace("'", "''")
        self.con.execute(f"COMMENT ON TABLE {self._name(name)} IS '{note}'")

    def _made(self, kind: str) -> dict[str, float]:
        rows = self.con.execute(
            "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' AND starts_with(c.relname, %s)",
            [self.schema, kind],
        ).fetchall()
        made = {}
        for table, comment in rows:
            if _NAME.fullmatch(table):
                try:
                    made[table] = float(json.loads(comment)["made"])
                except (TypeError, ValueError, KeyError):
                    made[table] = 0.0  # no note: as old as can be
        return made

    def _mark(self, name: str) -> None:
        import psycopg

        with contextlib.suppress(psycopg.Error):  # not its owner: the next owner's report will
            self._comment(name)

    def _mark_held(self, name: str) -> bool:
        import psycopg

        # COMMENT takes a lock the drop's conflicts with: it waits for a drop deciding now
        # (and then finds no table), or the drop, waiting for it, sees the new mark.
        try:
            with self.con.transaction():
                self.con.execute(f"SET LOCAL lock_timeout = '{_DROP_WAIT}'")
                self._comment(name)
        except psycopg.Error:  # gone, not its owner, a read-only login, or held too long
            return False
        return True

    def _drop(self, name: str, still: Callable[[], bool]) -> None:
        import psycopg

        try:
            with self.con.transaction():
                self.con.execute(f"SET LOCAL lock_timeout = '{_DROP_WAIT}'")
                # The lock first: what ``still`` reads next is then as of after any mark that
                # was being made (each statement sees what was committed before it began).
                self.con.execute(f"LOCK TABLE {self._name(name)} IN ACCESS EXCLUSIVE MODE")
                if still():
                    self.con.execute(f"DROP TABLE {self._name(name)}")
        except psycopg.Error:
            pass  # gone, still read, or not this login's: a later report drops it


# --- Spark ---------------------------------------------------------------------------------------


class ParquetDerived(DerivedTables):
    """Derived tables as Parquet folders in ``<warehouse>/derived``, read as session views; a
    folder's modification time is when it became the newest of its kind."""

    def __init__(
        self,
        backend: ibis.BaseBackend,
        warehouse: Path,
        contacts: Path,
        setting: Callable[[str], str | None],
    ) -> None:
        super().__init__(backend, setting)
        self.folder = warehouse / "derived"
        self.contacts = contacts  # the contacts' folder of the version the backend reads
        self.session: Any = backend._session

    def data_version(self) -> list[Any]:
        # An unchanged table is linked into the next version, not written again: the same files.
        files = sorted(
            (str(f.relative_to(self.contacts)), s.st_size, s.st_mtime_ns)
            for f in self.contacts.rglob("*.parquet")
            if (s := f.stat())
        )
        return [_digest(files)]

    def find(self, name: str) -> ir.Table | None:
        folder = self.folder / name
        if not folder.is_dir() or not self._trusted(folder) or not self._hold(name):
            return None
        self.session.read.parquet(str(folder)).createOrReplaceTempView(name)
        return self.backend.table(name)

    def _trusted(self, folder: Path) -> bool:
        """Made by the user who writes the store (the owner of the contacts' version folder):
        a name anyone can work out must not let another user's folder feed everyone's reports."""
        try:
            return folder.stat().st_uid == self.contacts.stat().st_uid
        except OSError:
            return False

    def build(self, name: str, content: ir.Table) -> ir.Table | None:
        try:
            self.folder.mkdir(exist_ok=True)
            self._clear_left()
            if not os.access(self.folder, os.W_OK):
                return None
        except OSError:
            return None
        building = self.folder / f".{name}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            frame = self.session.sql(str(self.backend.compile(content)))
            frame.write.mode("errorifexists").parquet(str(building))
        except Exception:  # noqa: BLE001 - Spark's (a JVM's) refusal to write there
            shutil.rmtree(building, ignore_errors=True)
            if not os.access(self.folder, os.W_OK):
                return None
            raise
        try:
            building.rename(self.folder / name)
        except OSError:  # another process's is there already: the same content
            shutil.rmtree(building, ignore_errors=True)
        else:
            self._mark(name)
        return self.find(name)

    def _clear_left(self) -> None:
        """Scratch folders of processes that died while building: on this machine, those whose
        process is gone; from another machine sharing the warehouse (whose processes this one
        cannot see), those untouched for a day."""
        for left in self.folder.glob(".kpi_*-*-*-*"):
            host, pid = left.name.rsplit("-", 3)[-3:-1]
            if host == _HOST:
                gone = pid.isdigit() and not scratch.alive(int(pid))
            else:
                gone = _age(left) > _ABANDONED_SECONDS
            if gone:
                shutil.rmtree(left, ignore_errors=True)

    def _made(self, kind: str) -> dict[str, float]:
        if not self.folder.is_dir():
            return {}
        return {
            f.name: f.stat().st_mtime
            for f in self.folder.iterdir()
            if f.is_dir() and f.name.startswith(kind) and _NAME.fullmatch(f.name)
        }

    def _mark(self, name: str) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.folder / name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The derived tables' lock, between a drop deciding and a mark (``_mark_held``): a
        file lock, as the store's own writes take one (OSError where it cannot be had)."""
        with file_lock(self.folder / ".lock"):
            yield

    def _mark_held(self, name: str) -> bool:
        try:
            with self._locked():
                os.utime(self.folder / name)  # gone meanwhile: FileNotFoundError
        except OSError:  # or a folder this login may not write
            return False
        return True

    def _drop(self, name: str, still: Callable[[], bool]) -> None:
        # Renamed out of the way first: a reader never finds half a folder under the name.
        gone = self.folder / f".{name}-{os.getpid()}-gone"
        try:
            with self._locked():
                if not still():
                    return
                (self.folder / name).rename(gone)
        except OSError:
            return
        shutil.rmtree(gone, ignore_errors=True)
