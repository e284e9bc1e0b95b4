"""Ibis backends for stores, and the one object that holds every cache the engine keeps.

A dashboard asks the same questions on every rerun, so the engine remembers, per store and
backend: the Ibis backend of each thread's cursor, the data profile, the compiled SQL of each
distinct query, and where the business-hours tables it derived live (``kpi.engine.calendar``
keeps them in the store and says what they were built for). Every entry is keyed by the store's
data version, so an import or a settings change is never served stale figures. ``CACHE`` owns all
of it and its locks; nothing is stored on Ibis objects. Writing a derived table goes through
``writing``: one transaction on the store, as an import does.
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

import ibis
import ibis.expr.types as ir

from kpi.store.connection import Store

if TYPE_CHECKING:
    from kpi.engine.profile import Profile

_COMPILED_MAX = 512
#: Derived-table look-ups kept (a few per store version, business hours and as-of instant).
_DERIVED_MAX = 256


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
        # Held while a derived table is checked or built, so separate from the quick look-ups.
        self.derived_lock = threading.RLock()
        self._derived: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._writable: weakref.WeakKeyDictionary[Store, bool] = weakref.WeakKeyDictionary()
        self._store_tokens: weakref.WeakKeyDictionary[Store, int] = weakref.WeakKeyDictionary()
        self._rebuilds: weakref.WeakKeyDictionary[Store, int] = weakref.WeakKeyDictionary()
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

    def store_token(self, store: Store) -> int:
        """A number that names this store in caches (unlike id(), never reused by another)."""
        with self._lock:
            token = self._store_tokens.get(store)
            if token is None:
                token = self._store_tokens[store] = next(self._tokens)
            return token

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
        return self._version(source)

    def _version(self, store: Store) -> str:
        """The store's version, and how many times this process rebuilt its derived tables.
        Settings changed and changed back give the store's version again, but the derived
        tables hold what the other settings made meanwhile: a query compiled before a rebuild
        must be built again (which checks them) rather than run from the cache."""
        return f"{store.version()}-rebuilt {self._rebuilds.get(store, 0)}"

    def rebuilt(self, store: Store) -> None:
        """Note that the store's derived tables were rebuilt (see ``_version``)."""
        with self._lock:
            self._rebuilds[store] = self._rebuilds.get(store, 0) + 1

    @contextmanager
    def one_version(self, source: Store | ibis.BaseBackend) -> Iterator[None]:
        """Within the block, the store's version is read once (nested blocks reuse it)."""
        if not isinstance(source, Store) or getattr(self._pinned, "version", None) is not None:
            yield
            return
        self._pinned.version = (source, self._version(source))
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

    def table(self, backend: ibis.BaseBackend, name: str) -> ir.Table:
        """``backend.table(name)`` of a store's backend, looked up once: each look-up asks the
        database for the table's columns, and a store's tables keep theirs while it is open
        (migrations run when it opens). A bare backend's tables may be replaced at any time, so
        they are looked up every time."""
        if self.store_of(backend) is None:
            return backend.table(name)
        key = ("table", self.token(backend), name)
        table = self._derived.get(key)
        if table is None:
            table = backend.table(name)
            self.keep_derived(key, table)
        return table

    # --- derived tables ------------------------------------------------------------------------

    def derived(self, key: tuple[Any, ...]) -> Any:
        """What ``keep_derived`` kept under ``key`` (None if nothing): e.g. which stored tables
        hold a store version's business-hours figures."""
        return self._derived.get(key)

    def keep_derived(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._derived[key] = value
            while len(self._derived) > _DERIVED_MAX:
                self._derived.popitem(last=False)

    def writable(self, store: Store) -> bool:
        """Whether the engine may keep derived tables in the store: not when it was opened
        read-only, nor when it predates the tables (a read-only store is never migrated)."""
        known = self._writable.get(store)
        if known is None:
            cur = store.cursor()  # results fetched fully: see ARCHITECTURE.md, pitfalls
            (read_only,) = cur.execute(
                "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
            ).fetchall()[0]
            (tables,) = cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND table_name = 'derived_tables'"
            ).fetchall()[0]
            known = not read_only and tables > 0
            with self._lock:
                self._writable[store] = known
        return known

    @contextmanager
    def writing(self, store: Store) -> Iterator[ibis.BaseBackend]:
        """An Ibis backend on one transaction of the store: everything written through it is
        committed together at the end of the block, or not at all."""
        with store.transaction() as cur:
            yield ibis.duckdb.from_connection(cur)


#: The engine's one cache.
CACHE = EngineCache()


def backend_of(source: Store | ibis.BaseBackend) -> ibis.BaseBackend:
    """An Ibis backend for a store (on this thread's cursor), or the backend itself."""
    return CACHE.backend_of(source)
