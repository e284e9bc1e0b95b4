"""The DuckDB store: one file, a schema version, and migrations that move it forward.

One process holds one connection (``Store``) and hands each thread its own cursor, because a
DuckDB connection is not safe to share between threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from kpi.errors import StoreError, disk_full
from kpi.store import scratch, sharing
from kpi.store.location import default_location, is_url
from kpi.store.location import default_path as default_path  # where it always was
from kpi.store.schema import KINDS, key_field, stored_columns
from kpi.store.sharing import Notice, Sharing

#: DuckDB would otherwise take up to 80% of RAM; capped, it spills big imports to disk and a
#: laptop stays usable. Override with $KPI_MEMORY_LIMIT (e.g. "8GB").
MEMORY_LIMIT = "2GB"


def _table_ddl(name: str, columns: dict[str, str], key: tuple[str, ...] = ()) -> str:
    body = ", ".join(f"{col} {sql_type}" for col, sql_type in columns.items())
    if key:
        body += f", PRIMARY KEY ({', '.join(key)})"
    return f"CREATE TABLE {name} ({body})"


def _migration_1(con: duckdb.DuckDBPyConnection) -> None:
    """Canonical tables, their history, batches, quarantine, warnings and settings."""
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        """CREATE TABLE imports (
            batch_id BIGINT PRIMARY KEY, file_name VARCHAR, sha256 VARCHAR, layout VARCHAR,
            kind VARCHAR, source VARCHAR, encoding VARCHAR, rows_read BIGINT,
            rows_imported BIGINT, rows_inserted BIGINT, rows_updated BIGINT,
            rows_unchanged BIGINT, rows_quarantined BIGINT, rows_rolled_up BIGINT,
            responses_linked BIGINT, warnings BIGINT, timezone VARCHAR, date_formats VARCHAR,
            imported_at TIMESTAMP, undone_at TIMESTAMP)"""
    )
    for kind in KINDS:
        columns = stored_columns(kind)
        con.execute(_table_ddl(kind, columns, ("source", key_field(kind))))
        # Prior versions of rows a batch replaced, so that undoing the batch restores them.
        con.execute(_table_ddl(f"{kind}_history", {**columns, "replaced_by": "BIGINT"}))
    con.execute(
        """CREATE TABLE quarantine (
            batch_id BIGINT, kind VARCHAR, row_number BIGINT, reason VARCHAR,
            column_name VARCHAR, value VARCHAR, raw VARCHAR)"""
    )
    con.execute(
        """CREATE TABLE import_warnings (
            batch_id BIGINT, kind VARCHAR, row_number BIGINT, column_name VARCHAR,
            value VARCHAR, issue VARCHAR)"""
    )
    con.execute("CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        """CREATE TABLE annotations (
            annotation_id BIGINT PRIMARY KEY, on_date DATE, text VARCHAR,
            created_at TIMESTAMP)"""
    )


def _migration_2(con: duckdb.DuckDBPyConnection) -> None:
    """Reflections (journal and supervisor review), their KSB mapping, and a provider's KSBs."""
    con.execute(
        """CREATE TABLE reflections (
            reflection_id BIGINT PRIMARY KEY, title VARCHAR, learner VARCHAR, level INTEGER,
            standard VARCHAR, model VARCHAR, sections VARCHAR, insight_id VARCHAR,
            insight VARCHAR, filters VARCHAR, metrics VARCHAR, as_of TIMESTAMP,
            customer_comment VARCHAR, action_text VARCHAR, action_kpi VARCHAR,
            action_target DOUBLE, action_review_date DATE, annotation_id BIGINT,
            status VARCHAR, supervisor VARCHAR, supervisor_comment VARCHAR,
            signed_off_at TIMESTAMP, created_at TIMESTAMP, updated_at TIMESTAMP)"""
    )
    con.execute(
        """CREATE TABLE reflection_ksbs (
            reflection_id BIGINT, ref VARCHAR, PRIMARY KEY (reflection_id, ref))"""
    )
    con.execute(
        """CREATE TABLE ksb_catalogue (
            ref VARCHAR PRIMARY KEY, standard VARCHAR, standard_title VARCHAR, level INTEGER,
            type VARCHAR, code VARCHAR, area VARCHAR, description VARCHAR,
            evidence_prompt VARCHAR, kpi_support VARCHAR, status VARCHAR,
            imported_from VARCHAR, imported_at TIMESTAMP)"""
    )


def _migration_3(con: duckdb.DuckDBPyConnection) -> None:
    """Contacts' ``updated_at`` and each batch's as-of instant (which version of a row is newer),
    and each batch's count of rows older than the stored ones (kept out)."""
    # Migration 1 creates the canonical tables from schema.py as it is now, so a new store
    # already has updated_at: add it only where it is missing. Its position differs between
    # new and migrated stores, so rows are always written by column name.
    for table in ("contacts", "contacts_history"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP")
    con.execute("ALTER TABLE imports ADD COLUMN rows_older BIGINT DEFAULT 0")
    con.execute("ALTER TABLE imports ADD COLUMN as_of TIMESTAMP")
    _backfill_as_of(con)


def _backfill_as_of(con: duckdb.DuckDBPyConnection) -> None:
    """The as-of of batches imported before it was recorded: the latest timestamp of the rows
    each stored (current and replaced versions), the nearest the store still holds to the
    latest timestamp of its file."""
    # The timestamp columns as they are at this migration (schema.py may gain more later).
    times = {
        "contacts": "greatest(opened_at, first_response_at, resolved_at, closed_at, updated_at)",
        "responses": "responded_at",
    }
    latest = [
        f"SELECT batch_id, {expr} AS t FROM {table}"
        for kind, expr in times.items()
        for table in (kind, f"{kind}_history")
    ]
    con.execute(
        f"""UPDATE imports SET as_of = found.t
        FROM (SELECT batch_id, max(t) AS t FROM ({" UNION ALL ".join(latest)}) GROUP BY batch_id)
            AS found
        WHERE imports.batch_id = found.batch_id"""
    )


def _migration_4(con: duckdb.DuckDBPyConnection) -> None:
    """Who made each import (``kpi.store.batches.importer_name``); unknown for earlier ones."""
    con.execute("ALTER TABLE imports ADD COLUMN IF NOT EXISTS imported_by VARCHAR")


#: The engine's derived tables as migration 5 made them. ``kpi.store.schema.DERIVED_TABLES``
#: has moved on since (``business_times`` now holds each contact's whole row); the engine
#: makes that table anew whenever it builds it, so the shape it starts with does not matter.
_DERIVED_AT_5: dict[str, dict[str, str]] = {
    "derived_tables": {"name": "VARCHAR", "built_for": "VARCHAR", "built_at": "TIMESTAMP"},
    "business_calendar": {"start_utc": "TIMESTAMP", "end_utc": "TIMESTAMP", "cum_before": "DOUBLE"},
    "business_times": {
        "source": "VARCHAR",
        "contact_id": "VARCHAR",
        "opened_at": "TIMESTAMP",
        "opened_cum": "DOUBLE",
        "first_response_cum": "DOUBLE",
        "resolved_cum": "DOUBLE",
    },
}


def _migration_5(con: duckdb.DuckDBPyConnection) -> None:
    """The tables the engine derives and keeps: the business calendar and each contact's
    working seconds, filled on first use."""
    for name, columns in _DERIVED_AT_5.items():
        con.execute(_table_ddl(name, columns))


def _migration_6(con: duckdb.DuckDBPyConnection) -> None:
    """The segment a reflection's SMART action is about (JSON: segment values, weekday, hours);
    earlier reflections read theirs from their filters."""
    con.execute("ALTER TABLE reflections ADD COLUMN IF NOT EXISTS action_segment VARCHAR")


def _migration_7(con: duckdb.DuckDBPyConnection) -> None:
    """The words of ordinal survey scales (``scale = ["Bad", "OK", "Good"]`` in a mapping), by
    source and score: answers are stored as 1..k and pages show the words
    (``kpi.store.scales``)."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS scale_labels (source VARCHAR NOT NULL,
            score VARCHAR NOT NULL, value DOUBLE NOT NULL, label VARCHAR NOT NULL,
            PRIMARY KEY (source, score, value))"""
    )


def _migration_8(con: duckdb.DuckDBPyConnection) -> None:
    """Contact-centre interval reports (``kpi.store.schema.INTERVAL_FIELDS``) and their
    history. Migration 1 already makes them in a new store (it reads schema.py as it is now)."""
    columns = stored_columns("intervals")
    tables = {
        "intervals": _table_ddl("intervals", columns, ("source", key_field("intervals"))),
        "intervals_history": _table_ddl("intervals_history", {**columns, "replaced_by": "BIGINT"}),
    }
    for ddl in tables.values():
        con.execute(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))


def _migration_9(con: duckdb.DuckDBPyConnection) -> None:
    """A reflection's version (a save based on an older one is refused), when it was sent for
    review (its completion date), and who signed it off with the digest they signed; every
    sign-off is kept in ``reflection_signoffs`` so a pack's verification code is found even
    after a later edit voided it (``kpi.evidence.verification``)."""
    for column, sql_type in (
        ("version", "BIGINT DEFAULT 1"),
        ("submitted_at", "TIMESTAMP"),
        ("signer_role", "VARCHAR"),
        ("signer_identity", "VARCHAR"),
        ("signed_digest", "VARCHAR"),
    ):
        con.execute(f"ALTER TABLE reflections ADD COLUMN IF NOT EXISTS {column} {sql_type}")
    con.execute("UPDATE reflections SET version = 1 WHERE version IS NULL")
    con.execute(
        """CREATE TABLE IF NOT EXISTS reflection_signoffs (
            digest VARCHAR NOT NULL, reflection_id BIGINT NOT NULL, signer VARCHAR,
            signer_role VARCHAR, signer_identity VARCHAR, signed_at TIMESTAMP,
            completed_at TIMESTAMP, store_version VARCHAR, voided_at TIMESTAMP)"""
    )


def _migration_10(con: duckdb.DuckDBPyConnection) -> None:
    """Team mode's people (``kpi.store.users``): who signed in (issuer + subject), their role,
    the agent names in the data that are them, their standard, and whom a supervisor
    supervises; and the audit log (``kpi.store.audit``), appended to and never edited."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS audit_log (entry_id BIGINT PRIMARY KEY,
            logged_at TIMESTAMP NOT NULL, who VARCHAR NOT NULL, action VARCHAR NOT NULL,
            detail VARCHAR NOT NULL)"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS users (user_id BIGINT PRIMARY KEY, issuer VARCHAR NOT NULL,
            subject VARCHAR NOT NULL, email VARCHAR, name VARCHAR NOT NULL,
            role VARCHAR NOT NULL, agent_names VARCHAR[] NOT NULL DEFAULT [],
            standard VARCHAR, level VARCHAR, created_at TIMESTAMP NOT NULL,
            last_seen_at TIMESTAMP NOT NULL, UNIQUE (issuer, subject))"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS supervision (supervisor_id BIGINT NOT NULL,
            learner_id BIGINT NOT NULL, PRIMARY KEY (supervisor_id, learner_id))"""
    )


def _migration_11(con: duckdb.DuckDBPyConnection) -> None:
    """The audit log names its actor by identity too (``issuer|subject`` of their sign-in, empty
    in local mode and for entries written before): a display name can change or repeat."""
    con.execute("ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS identity VARCHAR")


#: Ordered migrations; the store's schema version is the number applied. Append, never edit.
MIGRATIONS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
    _migration_9,
    _migration_10,
    _migration_11,
)
SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """An open store. Use ``cursor()`` per thread; ``transaction()`` for atomic writes.

    A shared store (the dashboard's, ``open_store(shared=True)``) opens its connection when it
    is first used and closes it when a `kpi` command asks for the file (kpi.store.sharing); a
    page run holds ``lease()`` so that the connection is not closed under it."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection | None,
        path: str,
        opener: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        self._con = con
        self.path = path
        self._local = threading.local()
        self.write_lock = threading.Lock()
        self._opener = opener
        self._generation = 0  # bumped when a shared store lets go: cursors of before are gone
        # Weakly: Streamlit runs each page in a new thread, whose cursor goes with it.
        self._cursors: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
        self.sharing: Sharing | None = None
        if opener is not None:
            self.sharing = Sharing(path, self._let_go, lambda: self._con is not None)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self.sharing is None:
            assert self._con is not None
            return self._con
        self.sharing.used()
        return self._open(None)

    def _open(self, notice: Notice | None) -> duckdb.DuckDBPyConnection:
        """A shared store's connection, opened when it is closed. While a `kpi` command holds
        the file it waits (saying so once), up to $KPI_STORE_WAIT seconds, without holding the
        sharing guard, so other page runs wait and say so too; then the lock is the error."""
        assert self._opener is not None and self.sharing is not None
        deadline: float | None = None
        said = False
        while True:
            with self.sharing.guard:
                if self._con is not None:
                    return self._con
                try:
                    self._con = self._opener()
                    return self._con
                except StoreError as problem:
                    if problem.holder is None:
                        raise
                    locked, holder = problem, problem.holder
            deadline = deadline or time.monotonic() + sharing.wait_seconds()
            if time.monotonic() >= deadline:
                raise locked
            if not said and notice is not None:
                notice(_held_by(self.path, holder))
                said = True
            time.sleep(sharing.POLL_SECONDS)

    def _let_go(self) -> None:
        """Close a shared store's connection and every cursor on it (under the sharing guard)."""
        for cur in list(self._cursors):
            with contextlib.suppress(duckdb.Error):
                cur.close()
        self._cursors.clear()
        if self._con is not None:
            self._con.close()
        self._con = None
        self._generation += 1

    def thread_slot(self) -> dict[str, Any]:
        """A dict for this thread and this connection, gone with either: what a caller keeps
        beside the thread's cursor (the engine's Ibis backend) is not kept after them."""
        self.cursor()
        return self._local.slot

    @contextmanager
    def lease(self, notice: Notice | None = None) -> Iterator[None]:
        """Use a shared store for a while (a page run): its connection stays open meanwhile.
        Waits, calling ``notice`` once with why, while a `kpi` command has the file. A store
        that is not shared is always open."""
        if self.sharing is None:
            yield
            return
        self.sharing.enter(notice)
        try:
            with self.sharing.guard:
                self._open(notice)
        except BaseException:
            self.sharing.abandon()
            raise
        try:
            yield
        finally:
            self.sharing.leave()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        con = self.con
        local = self._local
        cur = getattr(local, "cursor", None)
        if cur is None or getattr(local, "generation", None) != self._generation:
            cur = con.cursor()
            local.cursor, local.generation, local.slot = cur, self._generation, {}
            if self.sharing is not None:
                self._cursors.add(cur)
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on a fresh cursor: committed on success, rolled back on any error."""
        with self.lease(), self.write_lock:
            cur = self.con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def sync(self, progress: Callable[[str], None] | None = None) -> list[str]:
        """Send what changed to where the store lives: nothing to do for a file (a working copy
        of a store named by URL sends its changed tables, ``kpi.store.working_copy``)."""
        return []

    def close(self) -> None:
        if self.sharing is None:
            self.con.close()
            return
        with self.sharing.guard:
            self._let_go()
        self.sharing.stop()

    # --- small typed accessors -------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        # fetchall, not fetchone: a result left unfinished on the thread's cursor makes DuckDB
        # refuse the next query on it (an Ibis one, for instance).
        rows = self.cursor().execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    @property
    def schema_version(self) -> int:
        return int(self.meta("schema_version") or 0)

    @property
    def pseudonym_key(self) -> str:
        key = self.meta("pseudonym_key")
        if key is None:
            raise StoreError("store has no pseudonymisation key; it was not initialised")
        return key

    def version(self) -> str:
        """Changes whenever data changes: a cache key for results computed from the store."""
        row = (
            self.cursor()
            .execute("SELECT count(*), coalesce(max(batch_id), 0), count(undone_at) FROM imports")
            .fetchall()[0]
        )
        settings = self.cursor().execute("SELECT count(*), string_agg(value, '|') FROM settings")
        return f"{row}-{settings.fetchall()[0]}-{self.meta('settings_revision')}"

    def get_setting(self, key: str, default: Any = None) -> Any:
        rows = self.cursor().execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, json.dumps(value)])

    def count(self, table: str) -> int:
        if table not in {*KINDS, "quarantine", "imports", "import_warnings"}:
            raise ValueError(f"unknown table {table!r}")
        return self.cursor().execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _migrate(con: duckdb.DuckDBPyConnection, up_to: int = SCHEMA_VERSION) -> None:
    """Apply the migrations the store lacks, up to ``up_to`` (a working copy of an older
    remote store is first made at the remote's version, filled, then moved on)."""
    has_meta = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchall()[0][0]
    current = 0
    if has_meta:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the store was written by a newer version (schema {current}, this program knows "
            f"{SCHEMA_VERSION}); upgrade the program before opening it"
        )
    for number in range(current + 1, up_to + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            MIGRATIONS[number - 1](con)
            if number == 1:
                con.execute("INSERT INTO meta VALUES ('pseudonym_key', ?)", [secrets.token_hex(32)])
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(number)])
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def open_store(
    path: str | Path | None = None, *, read_only: bool = False, shared: bool = False
) -> Store:
    """Open (creating and migrating as needed) the store at ``path``; ':memory:' works too.

    Raises ``StoreError`` with one line saying what is wrong and what to do when the path is
    not a DuckDB store, or the store is locked, read-only, damaged or on a full disk. A store
    the dashboard holds is asked for and waited for (kpi.store.sharing). ``shared`` (the
    dashboard's) opens when first used and lets go when a `kpi` command asks.
    """
    target = str(path) if path is not None else default_location()
    if is_url(target):
        from kpi.store.working_copy import open_working_copy  # only URL stores need it

        return open_working_copy(target, shared=shared)
    new = False
    if target != ":memory:":
        target = str(Path(target).expanduser())
        _check_usable(Path(target), read_only)
        new = not Path(target).exists()
    if shared and target != ":memory:":
        return Store(None, target, opener=lambda: _connect(target, read_only, new))
    return Store(_connect(target, read_only, new, wait=True), target)


def _connect(
    target: str, read_only: bool, new: bool, wait: bool = False
) -> duckdb.DuckDBPyConnection:
    """A configured, migrated connection to the store; with ``wait``, a store the dashboard
    holds is asked for and waited for."""
    try:
        con = _connect_or_wait(target, read_only, wait)
    except duckdb.Error as exc:
        _forget(target, new, exc)
        raise _store_error(target, exc) from None
    try:
        _configure(con, target)
        if not read_only:
            _remove_old_spill(Path(f"{target}.tmp"))
            _migrate(con)
    except BaseException as exc:
        con.close()
        _forget(target, new, exc)
        if isinstance(exc, duckdb.Error):
            raise _store_error(target, exc) from None
        raise
    return con


def _connect_or_wait(target: str, read_only: bool, wait: bool) -> duckdb.DuckDBPyConnection:
    def connect() -> duckdb.DuckDBPyConnection:
        return duckdb.connect(target, read_only=read_only, config=CONNECT_CONFIG)

    try:
        return connect()
    except duckdb.Error as exc:
        holder = sharing.lock_holder(exc)
        seconds = sharing.wait_seconds()
        if not wait or holder is None or not seconds or not sharing.shares(target, holder):
            raise
        return sharing.wait_for_dashboard(target, holder, connect, sharing.command_notice, seconds)


def _held_by(target: str, holder: int) -> str:
    """What a page waiting for the store's lock says of its holder."""
    if sharing.shares(target, holder):
        return (
            f"Another dashboard (PID {holder}) is serving this store; this page waits for it to "
            "let go. Serve one store from one dashboard."
        )
    return (
        f"Another program (PID {holder}), such as a `kpi import`, is using the store; this page "
        "continues when it has finished."
    )


#: The names DuckDB gives its spill files (``duckdb_temp_storage-*.tmp``, ``duckdb_temp_block-*``).
SPILL_NAMES = re.compile(r"duckdb_temp_(storage|block)\S*")


def _remove_old_spill(folder: Path) -> None:
    """Remove the ``<store>.tmp/`` spill folder an older version left beside the store (it held
    raw imported rows), but only when it holds nothing except DuckDB's spill files: a folder of
    that name made by someone else is theirs. This process holds the store's write lock, so no
    other process is spilling there now."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return  # no such folder (the usual case), or not ours to read
    if all(e.is_file() and SPILL_NAMES.fullmatch(e.name) for e in entries):
        shutil.rmtree(folder, ignore_errors=True)


def _forget(target: str, new: bool, exc: BaseException) -> None:
    """Remove a store this call created but could not write for a full disk, which leaves an
    empty file that would otherwise be refused as "not a DuckDB store" next time. Only then:
    after any other failure the file may be another process's store in the making."""
    if new and disk_full(exc) is not None:
        for leftover in (target, f"{target}.wal"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)


#: DuckDB loads (and would download) the extension for a SQLite or other foreign file given as a
#: store; the store is always DuckDB's own format, so nothing is ever fetched or loaded.
CONNECT_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
#: Every DuckDB database file has these bytes at offset 8 (after a checksum).
DUCKDB_MAGIC = b"DUCK"
_OTHER_FORMATS = (
    (b"SQLite format 3\x00", "it is a SQLite database"),
    (b"PK\x03\x04", "it is a ZIP file, e.g. an XLSX workbook"),
    (b"PAR1", "it is a Parquet file"),
)
_ANOTHER_DB = "give --db a .duckdb file or a new path"
_READ_ONLY = ("Permission denied", "Operation not permitted", "Read-only file system")
#: What DuckDB says of a damaged file, and how the message puts it.
_DAMAGED = {
    "checksum": "a block's checksum does not match its contents",
    "Could not read enough bytes": "the file is cut short",
    "not a valid DuckDB": "its header is not valid",
    "Corrupt database": "DuckDB reports it corrupt",
}


def _check_usable(path: Path, read_only: bool) -> None:
    """Refuse, before DuckDB touches it, a path that is not a DuckDB store or cannot be
    written: DuckDB would open a CSV as a database and try to download an extension for a
    SQLite file."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a DuckDB store; {_ANOTHER_DB}")
    if path.exists():
        kind = _not_duckdb(path)
        if kind:
            raise StoreError(f"{path} is not a DuckDB store ({kind}); {_ANOTHER_DB}")
    if read_only:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _store_error(str(path), exc) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(_read_only_message(str(path), "read-only file"))
    if not os.access(path.parent, os.W_OK | os.X_OK):  # DuckDB writes a .wal beside the store
        raise StoreError(_read_only_message(str(path), "read-only folder"))


def _not_duckdb(path: Path) -> str | None:
    """What the file is when it is not a DuckDB database, else None."""
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError as exc:
        raise _store_error(str(path), exc) from None
    if head[8:12] == DUCKDB_MAGIC:
        return None
    if not head:
        return "it is empty"
    for magic, kind in _OTHER_FORMATS:
        if head.startswith(magic):
            return kind
    if b"\x00" not in head:
        return "it is a text file, e.g. a CSV"
    return "it has no DuckDB header: another kind of file, or a store damaged at its start"


def _configure(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """Session settings: UTC, the memory cap, and spill files in this process's scratch folder."""
    # The session time zone is UTC so that naive timestamps in the store mean UTC everywhere.
    con.execute("SET TimeZone = 'UTC'")
    limit = os.environ.get("KPI_MEMORY_LIMIT", MEMORY_LIMIT)
    try:
        con.execute("SET memory_limit = ?", [limit])
    except duckdb.Error:
        raise StoreError(
            f"KPI_MEMORY_LIMIT={limit!r} is not a memory size; give one such as 2GB or 512MB"
        ) from None
    # DuckDB spills big sorts and temporary tables (raw imported rows) to <store>.tmp/ by
    # default, where a killed import leaves them: spill into this process's private scratch
    # folder instead, which is removed at exit and swept by the next process (scratch.py).
    root = scratch.root_beside(target) if target != ":memory:" else scratch.default_root()
    scratch.use_root(root)
    current = con.execute("SELECT current_setting('temp_directory')").fetchone()
    if current is None or not str(current[0]).startswith(str(scratch.folder())):
        # A second connection to the same file in this process shares the first one's setting.
        con.execute("SET temp_directory = ?", [str(scratch.new_path("duckdb"))])


def _store_error(target: str, exc: BaseException) -> StoreError:
    """One line for a store DuckDB (or the file system) refused, saying which and what to do."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    locked = sharing.LOCKED.search(text)
    if locked:
        pid = locked["pid"]
        error = StoreError(
            f"the store {target} is locked by another process (PID {pid}); close the dashboard "
            f"or the other `kpi` command (PID {pid}) using it, or use another --db"
        )
        error.holder = int(pid)  # the dashboard waits for it to finish
        return error
    if disk_full(exc) is not None:
        return StoreError(
            f"the disk is full: the store {target} cannot be written; free some space and try again"
        )
    if any(sign in text for sign in _READ_ONLY) or isinstance(exc, PermissionError):
        return StoreError(_read_only_message(target, "read-only file or folder"))
    reason = next((why for sign, why in _DAMAGED.items() if sign in text), None)
    if reason:
        return StoreError(
            f"the store {target} is damaged ({reason}); restore a backup or move it aside"
        )
    return StoreError(f"cannot open the store {target}: {first}")


def _read_only_message(target: str, what: str) -> str:
    return f"the store {target} cannot be written ({what}); make it writable, or use another --db"
