"""Stores named by URL: a PostgreSQL server, or a folder of Parquet tables that Spark reads.

Every store keeps the same tables as a DuckDB store (canonical rows and their history, batches,
quarantine, warnings, settings, reflections, users, audit log), at the same schema version. A
command that writes works on a *working copy*: the store's tables pulled into a temporary DuckDB
file, where import, undo, settings, users and reflections run exactly as on a local store (the
same SQL, migrations and transactions; imports stage and validate in DuckDB as always). When the
command closes the store, the tables it changed go back in bulk:

- PostgreSQL: ``COPY ... FROM STDIN`` in one transaction, under an advisory lock;
- Parquet: the new version of the store is written beside the old (unchanged tables
  hard-linked), then named current in one rename, so a reader sees the old store or the new.

Only when nobody else wrote meanwhile: each store keeps a revision, bumped by every write, and a
working copy whose store moved on is refused with nothing written ("run it again"). Reports do
not copy: ``backend`` gives the engine an Ibis backend on the store itself, and ``derived`` says
where the engine may keep the business-hours tables it works out there for the next report
(``kpi.store.derived``: beside the store's tables, never among them).

A Spark store is ``spark://MASTER?warehouse=FOLDER`` (``spark://local[*]?warehouse=/srv/kpi``,
or a cluster's ``spark://host:7077?warehouse=...`` on a folder every node reads). Contacts are
partitioned by the month they opened (``opened_month=2025-01``), as Spark reads them.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs

import duckdb

from kpi.errors import StoreError
from kpi.store import scratch
from kpi.store.location import shown, url_scheme
from kpi.store.schema import DERIVED_TABLES

if TYPE_CHECKING:
    import ibis

    from kpi.store.derived import DerivedTables

#: The tables the engine reads, which ``backend`` makes visible to it.
ENGINE_TABLES = ("contacts", "responses", "intervals")
#: Tables partitioned by the month their rows opened, on Parquet (the engine's big ones).
MONTH_PARTITIONED = {"contacts": "opened_at", "contacts_history": "opened_at"}
#: Bytes per chunk when streaming a table to or from PostgreSQL.
_CHUNK = 1 << 20
#: How long a Spark store's replaced versions stay for readers still on them (seconds).
KEEP_SECONDS = 3600
#: Any fixed number: the advisory lock every writer of a PostgreSQL store takes.
_LOCK_KEY = 7_316_020_411

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Snapshot:
    """A moment of a store: its revision, and the revision that last wrote each table (0 for a
    table no write has touched since revisions were kept per table)."""

    revision: int
    tables: dict[str, int]

    def stale(self, table: str, known: dict[str, int] | None) -> bool:
        return known is None or known.get(table, -1) != self.tables.get(table, 0)


T = TypeVar("T")


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str

    @property
    def is_list(self) -> bool:
        return self.duckdb_type.endswith("[]")


def columns_of(con: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' "
        "AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [Column(name, kind) for name, kind in rows]


def tables_of(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The working copy's tables, in a fixed order (not those of a database attached to it)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = 'main' AND table_type = 'BASE TABLE' "
        "ORDER BY table_name"
    ).fetchall()
    return [name for (name,) in rows]


def synced_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables a store named by URL keeps: all but the engine's derived tables (business
    hours worked out per contact), which a working copy builds for itself when it needs them (a
    report on the store's own backend keeps its own in the store: ``kpi.store.derived``)."""
    return [table for table in tables_of(con) if table not in DERIVED_TABLES]


def fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Any, ...]]:
    """Per kept table, its columns, row count and a sum of row hashes: what changed between two
    moments of a working copy (a table whose print is the same is not sent back)."""
    prints = {}
    for table in synced_tables(con):
        shape = tuple((c.name, c.duckdb_type) for c in columns_of(con, table))
        count, total = con.execute(
            f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM "{table}" AS t'
        ).fetchall()[0]
        prints[table] = (shape, count, total)
    return prints


class Remote(ABC):
    """One store named by URL: what a working copy needs of it."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.shown = shown(location)

    @abstractmethod
    def revision(self) -> int:
        """How many writes the store has had; 0 for a store not made yet."""

    @abstractmethod
    def pull(
        self,
        con: duckdb.DuckDBPyConnection,
        scratch: Path,
        known: dict[str, int] | None = None,
    ) -> Snapshot:
        """Fill the working copy (migrated to the store's schema) with the store's tables, all
        of them, or those whose revision differs from ``known`` (what the copy holds already);
        returns the revisions it read, all from one moment of the store."""

    @abstractmethod
    def push(
        self,
        con: duckdb.DuckDBPyConnection,
        changed: list[str],
        expected: int,
        scratch: Path,
        progress: Progress | None = None,
        replace: bool = False,
    ) -> int:
        """Send the tables ``changed`` back, at once, when the store is still at revision
        ``expected`` (else StoreError and nothing written); returns the new revision. A new
        store is not written over tables of the same names that are not a store's, unless
        ``replace``."""

    @abstractmethod
    def schema_version(self) -> int:
        """The store's schema version (0 for a store not made yet)."""

    @abstractmethod
    def setting(self, key: str) -> str | None:
        """One value of the store's ``settings`` table, read without a working copy."""

    @abstractmethod
    def row_counts(self) -> dict[str, int]:
        """Rows per table, as the store holds them."""

    @abstractmethod
    def backend(self) -> ibis.BaseBackend:
        """An Ibis backend on the store, with the engine's tables (``ENGINE_TABLES``)."""

    def derived(self, backend: ibis.BaseBackend) -> DerivedTables | None:
        """Where the engine may keep what it derives from the store (``kpi.store.derived``),
        on ``backend``, one of this remote's ``backend()``; None: nowhere."""
        return None

    def close(self) -> None:  # noqa: B027 - most remotes hold nothing open
        """Let go of any connection."""

    def check_others(
        self, expected: int, now: int, changed: list[str], tables: dict[str, int]
    ) -> None:
        """Refuse a write based on revision ``expected`` when the store is at ``now`` and a
        write since then changed a table this one changes too. Writes to other tables (a
        sign-in or a reflection while an import runs) both land, as if one came after the
        other; the same table twice is refused, never merged row by row."""
        if now == expected:
            return
        others = {table for table, revision in tables.items() if revision > expected}
        if expected == 0 or not tables or others & set(changed):
            raise self.moved_on(expected, now)

    def moved_on(self, expected: int, now: int) -> StoreError:
        return StoreError(
            f"{self.shown} changed while this command ran (revision {expected} -> {now}); "
            "nothing was written: run the command again"
        )


# --- PostgreSQL --------------------------------------------------------------------------------

_POSTGRES_TYPES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "TIMESTAMP": "timestamp",
    "BOOLEAN": "boolean",
    "DATE": "date",
}


def _postgres_type(column: Column) -> str:
    # A list (users' agent names) is kept as JSON text: PostgreSQL's array literals are not
    # CSV-safe both ways, and JSON reads back into DuckDB exactly.
    if column.is_list:
        return "text"
    try:
        return _POSTGRES_TYPES[column.duckdb_type]
    except KeyError:
        raise StoreError(f"a column of type {column.duckdb_type} cannot go to PostgreSQL") from None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: Every session on a PostgreSQL store reads and writes text the same way, whatever the
#: server's or database's defaults: naive timestamps in UTC, UTF-8, doubles with every digit
#: (the default of some servers rounds them), and ISO dates for the CSV the copies go through.
_SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET client_encoding = 'UTF8'",
    "SET extra_float_digits = 3",
    "SET DateStyle = 'ISO, YMD'",
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _serialised(method: Callable[..., T]) -> Callable[..., T]:
    """One call at a time on the remote's connection (a dashboard's page runs share it, and a
    query of one must not land inside another's transaction); a connection the server dropped
    is made again, and the server's errors are one line (``StoreError``)."""

    @functools.wraps(method)
    def serialised(self: PostgresRemote, *args: Any, **kwargs: Any) -> T:
        import psycopg

        with self.lock:
            if self.con.closed or self.con.broken:
                self.con = self._connect()
            try:
                return method(self, *args, **kwargs)
            except psycopg.OperationalError as exc:  # the server went away, or restarted
                with contextlib.suppress(Exception):
                    self.con.close()
                raise StoreError(
                    f"lost the connection to {self.shown} ({_first_line(exc)}); nothing was "
                    "written: try again"
                ) from None
            except psycopg.Error as exc:
                raise StoreError(f"{self.shown}: {_first_line(exc)}") from None

    return serialised


class PostgresRemote(Remote):
    """A store in a PostgreSQL database, in the schema the user's search path names first
    (``public`` for its owner; a schema of the team's own on a shared server); its revision in
    ``store_revision`` and each table's in ``store_tables``."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.url = "postgresql://" + location.split("://", 1)[1]
        self.lock = threading.RLock()
        self.con = self._connect()

    def _connect(self) -> Any:
        """A configured connection; ``self.schema`` is where the store's tables are."""
        import psycopg  # here: only PostgreSQL stores need the driver

        try:
            con = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.ProgrammingError:  # the URL itself: its message may quote the password
            raise StoreError(
                f"the URL of the PostgreSQL store {self.shown} could not be read; "
                "percent-encode special characters in the password (@ as %40, % as %25)"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot reach the PostgreSQL store {self.shown}: {_first_line(exc)}; check the "
                "URL, that the server runs and that this user may connect"
            ) from None
        try:
            for statement in _SESSION:
                con.execute(statement)
            self.schema = self._checked(con)
        except BaseException:
            con.close()
            raise
        return con

    def _checked(self, con: Any) -> str:
        """The schema the store lives in, once the database is found fit to hold one."""
        row = con.execute("SELECT current_setting('server_encoding'), current_schema()").fetchone()
        encoding, schema = row if row else (None, None)
        if str(encoding).upper() not in ("UTF8", "UTF-8"):
            raise StoreError(
                f"the database of {self.shown} stores text as {encoding}, which cannot hold every "
                "name and comment an export may carry; give the store a UTF8 database "
                "(CREATE DATABASE kpi ENCODING 'UTF8' TEMPLATE template0)"
            )
        if schema is None:
            raise StoreError(
                f"{self.shown}: this user's search path names no schema it can use; give the "
                "store one (CREATE SCHEMA kpi AUTHORIZATION the_user, or "
                "?options=-csearch_path%3Dkpi in the URL)"
            )
        return str(schema)

    def _name(self, table: str) -> str:
        return f"{_quoted(self.schema)}.{_quoted(table)}"

    @_serialised
    def close(self) -> None:
        self.con.close()

    def _has(self, table: str) -> bool:
        row = self.con.execute("SELECT to_regclass(%s)", [self._name(table)]).fetchone()
        return bool(row and row[0])

    @_serialised
    def revision(self) -> int:
        if not self._has("store_revision"):
            return 0
        row = self.con.execute(f"SELECT revision FROM {self._name('store_revision')}").fetchone()
        return int(row[0]) if row else 0

    @_serialised
    def schema_version(self) -> int:
        if not self._has("meta"):
            return 0
        if self._remote_columns().get("meta") != ["key", "value"]:
            raise self._foreign(["meta"])
        row = self.con.execute(
            f"SELECT value FROM {self._name('meta')} WHERE key = 'schema_version'"
        ).fetchone()
        return int(row[0]) if row else 0

    def _foreign(self, tables: Sequence[str]) -> StoreError:
        return StoreError(
            f"{self.shown} already holds tables that are not a store's ({', '.join(tables)}); "
            f"give the store a database or schema of its own (this user's is {self.schema})"
        )

    @_serialised
    def setting(self, key: str) -> str | None:
        if not self._has("settings"):
            return None
        row = self.con.execute(
            f"SELECT value FROM {self._name('settings')} WHERE key = %s", [key]
        ).fetchone()
        return row[0] if row else None

    def _remote_columns(self) -> dict[str, list[str]]:
        rows = self.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            [self.schema],
        ).fetchall()
        found: dict[str, list[str]] = {}
        for table, column in rows:
            found.setdefault(table, []).append(column)
        return found

    @_serialised
    def row_counts(self) -> dict[str, int]:
        from kpi.store.derived import is_derived

        counts = {}
        for table in self._remote_columns():
            # Not the engine's derived tables (kpi.store.derived): they are not the store's.
            if table not in ("store_revision", "store_tables") and not is_derived(table):
                row = self.con.execute(f"SELECT count(*) FROM {self._name(table)}").fetchone()
                counts[table] = int(row[0]) if row else 0
        return counts

    @_serialised
    def pull(
        self,
        con: duckdb.DuckDBPyConnection,
        scratch: Path,
        known: dict[str, int] | None = None,
    ) -> Snapshot:
        with self.con.transaction():
            # One snapshot for every table, and the revisions it is.
            self.con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            snapshot = Snapshot(self.revision(), self._table_revisions())
            remote = self._remote_columns()
            for table in synced_tables(con):
                if table in remote and snapshot.stale(table, known):
                    self._pull_table(con, table, scratch)
        return snapshot

    def _table_revisions(self) -> dict[str, int]:
        if not self._has("store_tables"):
            return {}
        rows = self.con.execute(f"SELECT name, revision FROM {self._name('store_tables')}")
        return {name: int(revision) for name, revision in rows.fetchall()}

    def _pull_table(self, con: duckdb.DuckDBPyConnection, table: str, scratch: Path) -> None:
        columns = columns_of(con, table)
        file = scratch / f"{table}.csv"
        names = ", ".join(_quoted(c.name) for c in columns)
        with self.con.cursor() as cur, file.open("wb") as out:
            query = f"COPY (SELECT {names} FROM {self._name(table)}) TO STDOUT (FORMAT csv)"
            with cur.copy(query) as copy:
                for chunk in copy:
                    out.write(chunk)
        types = {c.name: ("VARCHAR" if c.is_list else c.duckdb_type) for c in columns}
        picks = ", ".join(
            f"{_quoted(c.name)}::JSON::{c.duckdb_type}" if c.is_list else _quoted(c.name)
            for c in columns
        )
        con.execute(f"DELETE FROM {_quoted(table)}")  # what the migrations put in (meta)
        con.execute(
            f"INSERT INTO {_quoted(table)} ({names}) SELECT {picks} FROM read_csv(?, "
            "header = false, auto_detect = false, columns = ?, allow_quoted_nulls = false, "
            "quote = '\"', escape = '\"', delim = ',', null_padding = false, "
            "max_line_size = 100000000)",
            [str(file), types],
        )
        file.unlink()

    @_serialised
    def push(
        self,
        con: duckdb.DuckDBPyConnection,
        changed: list[str],
        expected: int,
        scratch: Path,
        progress: Progress | None = None,
        replace: bool = False,
    ) -> int:
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            now = self.revision()
            self.check_others(expected, now, changed, self._table_revisions())
            remote = self._remote_columns()
            clash = sorted(set(remote) & set(changed))
            if now == 0 and clash and not replace:  # a new store, where other tables are
                raise self._foreign(clash)
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {self._name('store_revision')} (revision bigint)"
            )
            for table in changed:
                if progress:
                    progress(table)
                self._push_table(con, table, remote.get(table), scratch)
            self.con.execute(f"DELETE FROM {self._name('store_revision')}")
            self.con.execute(f"INSERT INTO {self._name('store_revision')} VALUES (%s)", [now + 1])
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {self._name('store_tables')} "
                "(name text PRIMARY KEY, revision bigint)"
            )
            for table in changed:
                self.con.execute(
                    f"INSERT INTO {self._name('store_tables')} VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET revision = excluded.revision",
                    [table, now + 1],
                )
        return now + 1

    def _push_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        remote: list[str] | None,
        scratch: Path,
    ) -> None:
        columns = columns_of(con, table)
        names = ", ".join(_quoted(c.name) for c in columns)
        if remote != [c.name for c in columns]:  # new, or its columns changed (a migration)
            self.con.execute(f"DROP TABLE IF EXISTS {self._name(table)}")
            self.con.execute(self._create(con, table, columns))
        else:
            # DELETE, not TRUNCATE: readers keep reading the old rows until this commits.
            self.con.execute(f"DELETE FROM {self._name(table)}")
        file = scratch / f"{table}.csv"
        picks = ", ".join(
            f"to_json({_quoted(c.name)})::VARCHAR AS {_quoted(c.name)}"
            if c.is_list
            else _quoted(c.name)
            for c in columns
        )
        target = str(file).replace("'", "''")
        con.execute(
            f"COPY (SELECT {picks} FROM {_quoted(table)}) TO '{target}' (FORMAT csv, HEADER false)"
        )
        with (
            self.con.cursor() as cur,
            cur.copy(f"COPY {self._name(table)} ({names}) FROM STDIN (FORMAT csv)") as copy,
            file.open("rb") as data,
        ):
            while chunk := data.read(_CHUNK):
                copy.write(chunk)
        file.unlink()

    def _create(self, con: duckdb.DuckDBPyConnection, table: str, columns: list[Column]) -> str:
        body = [f"{_quoted(c.name)} {_postgres_type(c)}" for c in columns]
        key = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ? "
            "AND constraint_type = 'PRIMARY KEY' AND database_name = current_database()",
            [table],
        ).fetchall()
        if key:
            body.append(f"PRIMARY KEY ({', '.join(_quoted(c) for c in key[0][0])})")
        return f"CREATE TABLE {self._name(table)} ({', '.join(body)})"

    def backend(self) -> ibis.BaseBackend:
        import ibis

        backend = ibis.connect(self.url)
        with backend.con.cursor() as cursor:
            for statement in _SESSION:
                cursor.execute(statement)
            cursor.execute(f"SET search_path = {_quoted(self.schema)}")
            # A report's queries are few and wide (hundreds of expressions): compiling them to
            # machine code took seconds where running them takes a fraction of one. Only where
            # the server has the setting (PostgreSQL 11 on; not every compatible server).
            cursor.execute("SELECT count(*) FROM pg_settings WHERE name = 'jit'")
            if cursor.fetchone()[0]:
                cursor.execute("SET jit = off")
        return backend

    def derived(self, backend: ibis.BaseBackend) -> DerivedTables | None:
        from kpi.store.derived import PostgresDerived

        return PostgresDerived(backend, self.schema, self.setting)


# --- Parquet, read by Spark --------------------------------------------------------------------


class ParquetRemote(Remote):
    """A store as a folder: ``CURRENT`` names the version folder (``v000012``) that holds one
    folder of Parquet files per table."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        master, _, query = location.split("://", 1)[1].partition("?")
        folder = (parse_qs(query).get("warehouse") or [""])[0]
        if not master or not folder or not Path(folder).is_absolute():
            raise StoreError(
                f"{self.shown}: a Spark store is spark://MASTER?warehouse=/absolute/folder, "
                "e.g. spark://local[*]?warehouse=/srv/kpi-store"
            )
        self.master = master if master.startswith("local") else f"spark://{master}"
        self.folder = Path(folder)
        self._session: Any = None
        self._read_version: Path | None = None  # the version folder ``backend`` reads

    def _current(self) -> Path | None:
        try:
            name = (self.folder / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.folder}: {exc.strerror or exc}") from None
        if not re.fullmatch(r"v\d{6}", name) or not (self.folder / name).is_dir():
            raise StoreError(
                f"{self.folder / 'CURRENT'} names {name[:40]!r}, which is not a version of the "
                "store there; restore the folder from a backup, or copy the store there again "
                "with kpi store copy --replace"
            )
        return self.folder / name

    def revision(self) -> int:
        current = self._current()
        return int(current.name[1:]) if current is not None else 0

    def _read(self, table: str, version: Path | None = None) -> str | None:
        """DuckDB's ``read_parquet`` of a table of ``version`` (default the current one); None
        when absent."""
        version = version or self._current()
        if version is None or not (version / table).is_dir():
            return None
        files = str(version / table / "**" / "*.parquet").replace("'", "''")
        return f"read_parquet('{files}', hive_partitioning = true, union_by_name = true)"

    @staticmethod
    def _manifest(version: Path | None) -> dict[str, int]:
        """The revision that last wrote each table of a version (``tables.json``)."""
        if version is None:
            return {}
        try:
            return {k: int(v) for k, v in json.loads((version / "tables.json").read_text()).items()}
        except FileNotFoundError:
            return {}

    def _value(self, table: str, key: str) -> str | None:
        source = self._read(table)
        if source is None:
            return None
        with duckdb.connect() as con:
            rows = con.execute(f"SELECT value FROM {source} WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def schema_version(self) -> int:
        return int(self._value("meta", "schema_version") or 0)

    def setting(self, key: str) -> str | None:
        return self._value("settings", key)

    def row_counts(self) -> dict[str, int]:
        current = self._current()
        if current is None:
            return {}
        counts = {}
        with duckdb.connect() as con:
            for folder in sorted(p for p in current.iterdir() if p.is_dir()):
                source = self._read(folder.name)
                counts[folder.name] = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
        return counts

    def pull(
        self,
        con: duckdb.DuckDBPyConnection,
        scratch: Path,
        known: dict[str, int] | None = None,
    ) -> Snapshot:
        version = self._current()  # read once: a write meanwhile publishes another folder
        revision = int(version.name[1:]) if version is not None else 0
        snapshot = Snapshot(revision, self._manifest(version))
        for table in synced_tables(con):
            source = self._read(table, version) if snapshot.stale(table, known) else None
            if source is None:
                continue
            names = ", ".join(_quoted(c.name) for c in columns_of(con, table))
            con.execute(f"DELETE FROM {_quoted(table)}")
            con.execute(f"INSERT INTO {_quoted(table)} ({names}) SELECT {names} FROM {source}")
        return snapshot

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with file_lock(self.folder / ".lock"):
            yield

    def push(
        self,
        con: duckdb.DuckDBPyConnection,
        changed: list[str],
        expected: int,
        scratch: Path,
        progress: Progress | None = None,
        replace: bool = False,
    ) -> int:
        try:
            with self._locked():
                return self._push(con, changed, expected, progress)
        except OSError as exc:
            raise StoreError(
                f"cannot write the Spark store in {self.folder}: {exc.strerror or exc}; nothing "
                "was written"
            ) from None

    def _push(
        self,
        con: duckdb.DuckDBPyConnection,
        changed: list[str],
        expected: int,
        progress: Progress | None,
    ) -> int:
        now = self.revision()
        current = self._current()
        self.check_others(expected, now, changed, self._manifest(current))
        name = f"v{now + 1:06d}"
        self._clear_unpublished(current)
        building = self.folder / f".{name}-{os.getpid()}"
        building.mkdir()
        manifest = self._manifest(current)
        try:
            for table in synced_tables(con):
                if table in changed or current is None or not (current / table).is_dir():
                    if progress:
                        progress(table)
                    self._write(con, table, building / table)
                    manifest[table] = now + 1
                else:  # unchanged: the same files, linked, not copied
                    shutil.copytree(current / table, building / table, copy_function=os.link)
            (building / "tables.json").write_text(json.dumps(manifest, sort_keys=True))
            building.rename(self.folder / name)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        pointer = self.folder / f".CURRENT-{os.getpid()}"
        pointer.write_text(name + "\n")
        pointer.replace(self.folder / "CURRENT")  # the one step that publishes it
        self._tidy(keep={name, current.name if current else name})
        return now + 1

    def _clear_unpublished(self, current: Path | None) -> None:
        """What a write killed before it published left behind (under the lock, nobody else
        is writing): half-built versions, and a version ``CURRENT`` never came to name."""
        for left in self.folder.glob(".v[0-9]*-*"):
            shutil.rmtree(left, ignore_errors=True)
        for version in self.folder.glob("v[0-9]*"):
            if not re.fullmatch(r"v\d{6}", version.name):
                continue
            if current is None or int(version.name[1:]) > int(current.name[1:]):
                shutil.rmtree(version, ignore_errors=True)

    def _write(self, con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> None:
        month_of = MONTH_PARTITIONED.get(table)
        rows = con.execute(f"SELECT count(*) FROM {_quoted(table)}").fetchall()[0][0]
        target = str(folder).replace("'", "''")
        if month_of and rows:
            con.execute(
                f"COPY (SELECT *, coalesce(strftime({month_of}, '%Y-%m'), 'none') AS opened_month "
                f"FROM {_quoted(table)}) TO '{target}' "
                "(FORMAT parquet, PARTITION_BY (opened_month), COMPRESSION zstd)"
            )
        else:
            folder.mkdir()
            con.execute(
                f"COPY {_quoted(table)} TO '{target}/part-0.parquet' (FORMAT parquet, "
                "COMPRESSION zstd)"
            )

    def _tidy(self, keep: set[str]) -> None:
        """Old versions go once nobody is likely to be reading them: the one before stays, and
        older ones until ``KEEP_SECONDS`` after they were made (a report reading a version when
        it goes would fail)."""
        now = time.time()
        for old in self.folder.glob("v[0-9]*"):
            if old.name in keep or not re.fullmatch(r"v\d{6}", old.name):
                continue
            if now - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)

    def backend(self) -> ibis.BaseBackend:
        import ibis
        from pyspark.sql import SparkSession

        current = self._current()
        if current is None:
            raise StoreError(f"{self.shown} holds no store yet; copy one there with kpi store copy")
        builder = (
            SparkSession.builder.master(self.master)
            .appName("service-kpi")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.ui.enabled", "false")  # no web server for one command's report
            .config("spark.log.level", "ERROR")  # its start-up chatter is not the user's business
            .config("spark.sql.session.timeZone", "UTC")  # the store's timestamps are UTC
            # DuckDB writes naive timestamps; read them as Spark's own TIMESTAMP (in UTC).
            .config("spark.sql.parquet.inferTimestampNTZ.enabled", "false")
        )
        with _jvm_output_to(spark_log()):
            session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        self._session, self._read_version = session, current
        # Contacts keep their partition column (``opened_month``, text: 'none' is one), which
        # the engine filters on beside ``opened_at``, so Spark reads only the months a dated
        # report needs (``kpi.engine.preparation.MONTH_PARTITION``).
        for table in ENGINE_TABLES:
            session.read.parquet(str(current / table)).createOrReplaceTempView(table)
        return ibis.pyspark.connect(session)

    def derived(self, backend: ibis.BaseBackend) -> DerivedTables | None:
        from kpi.store.derived import ParquetDerived

        if self._read_version is None:
            return None
        contacts = self._read_version / "contacts"
        return ParquetDerived(backend, self.folder, contacts, self.setting)

    def close(self) -> None:
        # The session stays for the process (Spark makes one per process); its views go.
        if self._session is not None:
            for table in ENGINE_TABLES:
                self._session.catalog.dropTempView(table)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on the file ``path`` (made if missing) while the block runs: what
    writers of one Spark folder take in turn (OSError where it cannot be had)."""
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def spark_log() -> Path:
    """Where Spark's own messages go (its JVM's output): a file, not the user's terminal,
    removed when this process ends (kept with KPI_DEBUG=1, for whoever is debugging)."""
    log = Path(tempfile.gettempdir()) / f"kpi-spark-{os.getpid()}.log"
    if not os.environ.get("KPI_DEBUG"):
        atexit.register(log.unlink, missing_ok=True)
    return log


@contextlib.contextmanager
def _jvm_output_to(log: Path) -> Iterator[None]:
    """While Spark starts its JVM, this process's stderr is ``log``: the JVM keeps it for its
    warnings (host names, native libraries, log levels), which say nothing about the report."""
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(target, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def remote(location: str) -> Remote:
    """The store at a URL (``is_url``)."""
    scheme = url_scheme(location)
    if scheme == "spark":
        return ParquetRemote(location)
    if scheme in ("postgresql", "postgres"):
        return PostgresRemote(location)
    raise StoreError(
        f"{shown(location)}: {scheme}:// is not a kind of store this program knows; give a file, "
        "postgresql://user@host:5432/database or spark://local[*]?warehouse=/absolute/folder"
    )


#: Working copies live in folders named for their process, so that one left by a killed
#: process (a full copy of a store) is found and removed by the next.
_SCRATCH_PREFIX = "kpi-working-copy-"


def scratch_folder() -> Path:
    """A new private folder for a working copy; those of processes no longer running go."""
    root = Path(tempfile.gettempdir())
    for left in root.glob(f"{_SCRATCH_PREFIX}*"):
        pid = left.name[len(_SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not scratch.alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-"))
