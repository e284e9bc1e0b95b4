"""The DuckDB store: one file, a schema version, and migrations that move it forward.

One process holds one connection (``Store``) and hands each thread its own cursor, because a
DuckDB connection is not safe to share between threads.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from kpi.errors import StoreError
from kpi.store.schema import KINDS, key_field, stored_columns

DEFAULT_PATH = Path.home() / ".local" / "share" / "service-kpi" / "team.duckdb"
ENV_VAR = "KPI_DB"
#: DuckDB would otherwise take up to 80% of RAM; capped, it spills big imports to disk and a
#: laptop stays usable. Override with $KPI_MEMORY_LIMIT (e.g. "8GB").
MEMORY_LIMIT = "2GB"


def default_path() -> Path:
    """The store used when no path is given: $KPI_DB, else a file in the user's data folder."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


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


#: Ordered migrations; the store's schema version is the number applied. Append, never edit.
MIGRATIONS: tuple[Callable[[duckdb.DuckDBPyConnection], None], ...] = (_migration_1, _migration_2)
SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """An open store. Use ``cursor()`` per thread; ``transaction()`` for atomic writes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self.con = con
        self.path = path
        self._local = threading.local()
        self.write_lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self.con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on a fresh cursor: committed on success, rolled back on any error."""
        with self.write_lock:
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

    def close(self) -> None:
        self.con.close()

    # --- small typed accessors -------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.cursor().execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

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
            .fetchone()
        )
        settings = self.cursor().execute("SELECT count(*), string_agg(value, '|') FROM settings")
        return f"{row}-{settings.fetchone()}-{self.meta('settings_revision')}"

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.cursor().execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, json.dumps(value)])

    def count(self, table: str) -> int:
        if table not in {*KINDS, "quarantine", "imports", "import_warnings"}:
            raise ValueError(f"unknown table {table!r}")
        return self.cursor().execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
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
    for number in range(current + 1, SCHEMA_VERSION + 1):
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


def open_store(path: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open (creating and migrating as needed) the store at ``path``; ':memory:' works too."""
    target = str(path) if path is not None else str(default_path())
    if target != ":memory:":
        Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
        target = str(Path(target).expanduser())
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.Error as exc:
        raise StoreError(f"cannot open the store {target}: {exc}") from exc
    # The session time zone is UTC so that naive timestamps in the store mean UTC everywhere.
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = ?", [os.environ.get("KPI_MEMORY_LIMIT", MEMORY_LIMIT)])
    if not read_only:
        _migrate(con)
    return Store(con, target)
