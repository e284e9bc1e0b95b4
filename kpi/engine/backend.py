"""Ibis backends for stores, and the one object that holds every cache the engine keeps.

A dashboard asks the same questions on every rerun, so the engine remembers, per store and
backend: the Ibis backend of each thread's cursor, the data profile, the compiled SQL of each
distinct query, and the business seconds of closed clocks (a table in an in-memory DuckDB database
attached to the store's connection). Every entry is keyed by the store's data version, so an import
or a settings change is never served stale figures. ``CACHE`` owns all of it and its locks; nothing
is stored on Ibis objects.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir

from kpi.store.connection import Store

if TYPE_CHECKING:
    from kpi.engine.profile import Profile

#: The in-memory database, attached to a store's connection, that holds materialised tables.
MATERIALISED_SCHEMA = "_kpi_cache"
#: Materialised tables kept: another thread may still read the previous version's.
_MATERIALISED_KEEP = 2
_COMPILED_MAX = 512


@dataclass
class _Known:
    """What the cache knows of one backend: which it is (id() alone may be reused once the
    backend is gone), its cache token and the store whose version names its cached tables."""

    backend: weakref.ref[ibis.BaseBackend]
    token: int
    store: weakref.ref[Store] | None


class EngineCache:
    """Every cache and lock of the engine (see the module docstring)."""

    def __init__(self) -> None:
        # Re-entrant: a backend collected while the lock is held runs `_forget` on this thread.
        self._lock = threading.RLock()  # guards backends, tokens and profiles: quick look-ups
        self._backends: weakref.WeakKeyDictionary[Store, dict[int, ibis.BaseBackend]] = (
            weakref.WeakKeyDictionary()
        )
        self._known: dict[int, _Known] = {}
        self._tokens = itertools.count(1)
        self._profiles: dict[tuple[int, str], Profile] = {}
        # Held while a materialised table is built, so separate from the quick look-ups.
        self._materialised_lock = threading.Lock()
        self._materialised: list[str] = []
        self._compiled_lock = threading.Lock()
        self._compiled: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._pinned = threading.local()

    # --- backends ------------------------------------------------------------------------------

    def backend_of(self, source: Store | ibis.BaseBackend) -> ibis.BaseBackend:
        """An Ibis backend for a store (on this thread's cursor), or the backend itself. Backends
        live as long as their store."""
        if not isinstance(source, Store):
            return source
        cursor = source.cursor()  # the store keeps one per thread
        with self._lock:
            per_cursor = self._backends.setdefault(source, {})
            backend = per_cursor.get(id(cursor))
            if backend is None or backend.con is not cursor:
                backend = per_cursor[id(cursor)] = ibis.duckdb.from_connection(cursor)
                self._know(backend, source)
        return backend

    def _know(self, backend: ibis.BaseBackend, store: Store | None) -> _Known:
        """Register a backend (caller holds the lock); forgotten when the backend is collected."""
        store_ref = weakref.ref(store) if store is not None else None
        known = _Known(weakref.ref(backend), next(self._tokens), store_ref)
        self._known[id(backend)] = known
        weakref.finalize(backend, self._forget, id(backend), known.token)
        return known

    def _forget(self, key: int, token: int) -> None:
        with self._lock:
            known = self._known.get(key)
            if known is not None and known.token == token:
                del self._known[key]

    def _entry(self, backend: ibis.BaseBackend) -> _Known:
        with self._lock:
            known = self._known.get(id(backend))
            if known is None or known.backend() is not backend:
                known = self._know(backend, None)  # a bare backend: its data has no version
            return known

    def token(self, backend: ibis.BaseBackend) -> int:
        """A number that names this backend in caches (unlike id(), never reused by another)."""
        return self._entry(backend).token

    def store_of(self, backend: ibis.BaseBackend) -> Store | None:
        """The store a backend was made for by ``backend_of``; None for a bare backend."""
        store = self._entry(backend).store
        return store() if store is not None else None

    # --- the store's version -------------------------------------------------------------------

    def version(self, source: Store | ibis.BaseBackend) -> str | None:
        """The store's data version (None for a bare backend), read once per outermost
        ``one_version`` block: an overview asks for it several times, and each read is a few
        queries."""
        if not isinstance(source, Store):
            return None
        pinned = getattr(self._pinned, "version", None)
        if pinned is not None and pinned[0] is source:
            return str(pinned[1])
        return source.version()

    @contextmanager
    def one_version(self, source: Store | ibis.BaseBackend) -> Iterator[None]:
        """Within the block, the store's version is read once (nested blocks reuse it)."""
        if not isinstance(source, Store) or getattr(self._pinned, "version", None) is not None:
            yield
            return
        self._pinned.version = (source, source.version())
        try:
            yield
        finally:
            self._pinned.version = None

    # --- profiles ------------------------------------------------------------------------------

    def profile(self, key: tuple[int, str]) -> Profile | None:
        return self._profiles.get(key)

    def keep_profile(self, key: tuple[int, str], profile: Profile) -> None:
        with self._lock:
            self._profiles[key] = profile

    # --- compiled SQL --------------------------------------------------------------------------

    def compiled(self, key: tuple[Any, ...], compile_sql: Callable[[], str]) -> str:
        """The SQL of a query, compiled once per key (the newest few hundred are kept)."""
        sql = self._compiled.get(key)
        if sql is None:
            sql = compile_sql()
            with self._compiled_lock:
                self._compiled[key] = sql
                while len(self._compiled) > _COMPILED_MAX:
                    self._compiled.popitem(last=False)
        return sql

    # --- materialised tables -------------------------------------------------------------------

    def materialised(
        self, backend: ibis.BaseBackend, name: str, compile_sql: Callable[[], str]
    ) -> ir.Table | None:
        """A table ``name`` in the in-memory database beside a DuckDB store (every cursor sees
        it), created from ``compile_sql()`` unless it exists. The name must say what the content
        depends on; only the newest few names are kept. None when no in-memory database can be
        attached (e.g. a read-only store)."""
        with self._materialised_lock:
            con = backend.con
            try:
                con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {MATERIALISED_SCHEMA}")
            except duckdb.Error:
                return None
            existing = {
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = ?",
                    [MATERIALISED_SCHEMA],
                ).fetchall()
            }
            if name not in existing:
                con.execute(f"CREATE TABLE {MATERIALISED_SCHEMA}.{name} AS {compile_sql()}")
                self._keep_newest(con, name, existing)
        return backend.table(name, database=MATERIALISED_SCHEMA)

    def _keep_newest(self, con: Any, name: str, existing: set[str]) -> None:
        if name in self._materialised:
            self._materialised.remove(name)
        self._materialised.append(name)
        del self._materialised[:-_MATERIALISED_KEEP]
        for old in existing - set(self._materialised):
            con.execute(f"DROP TABLE IF EXISTS {MATERIALISED_SCHEMA}.{old}")


#: The engine's one cache.
CACHE = EngineCache()


def backend_of(source: Store | ibis.BaseBackend) -> ibis.BaseBackend:
    """An Ibis backend for a store (on this thread's cursor), or the backend itself."""
    return CACHE.backend_of(source)
