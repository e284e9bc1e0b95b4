"""Ibis backends for stores, and the one object that holds every cache the engine keeps.

A dashboard asks the same questions on every rerun, so the engine remembers, per store and
backend: the Ibis backend of each thread's cursor, the data profile, the compiled SQL of each
distinct query shape (its instants and segment choices are parameters, ``Slots``, so a new date
range or a new choice of channel reuses it),
and where the business-hours tables it derived live (``kpi.engine.calendar`` keeps them in the
store and says what they were built for). Every entry is keyed by the store's
data version, so an import or a settings change is never served stale figures. ``CACHE`` owns all
of it and its locks; nothing is stored on Ibis objects. Writing a derived table goes through
``writing``: one transaction on the store, as an import does.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import ibis
import ibis.expr.types as ir

from kpi.store.connection import Store

if TYPE_CHECKING:
    from kpi.engine.profile import Profile
    from kpi.engine.sql_shelf import Shelf
    from kpi.store.derived import DerivedTables
    from kpi.store.remote import Remote

_COMPILED_MAX = 512
#: Derived-table look-ups kept (a few per store version, business hours and as-of instant).
_DERIVED_MAX = 256
#: Stand-in instants while a query compiles: one year per slot from this one (``parameterised``
#: refuses SQL where one is left over).
_STAND_IN_YEAR = 1111
#: Stand-in lists of segment values while a query compiles: one text, this and the slot's name.
_STAND_IN_TEXT = "__kpi_slot_"
_MISSING = object()
_REBUILT = "-rebuilt "

T = TypeVar("T")


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
        self._compiled: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        #: How many queries were compiled (not served from the cache): tests count reuse by it.
        self.compilations = 0
        self._renderings: dict[str, str] = {}  # backend name -> a stand-in's literal
        self._pinned = threading.local()
        # Where a backend on a store named by URL keeps derived tables (``remote_backend``).
        self._kept_in: weakref.WeakKeyDictionary[ibis.BaseBackend, DerivedTables] = (
            weakref.WeakKeyDictionary()
        )

    # --- backends ------------------------------------------------------------------------------

    def backend_of(self, source: Store | ibis.BaseBackend) -> ibis.BaseBackend:
        """An Ibis backend for a store (on this thread's cursor), or the backend itself. Backends
        live as long as their thread's cursor."""
        if not isinstance(source, Store):
            return source
        cursor = source.cursor()  # the store keeps one per thread
        # Kept beside the thread's cursor, so that it goes with the thread (Streamlit runs each
        # page in a new one) or with the connection (a shared store lets go of it).
        slot = source.thread_slot()
        backend = slot.get("ibis")
        if backend is None or backend.con is not cursor:
            backend = slot["ibis"] = ibis.duckdb.from_connection(cursor)
            with self._lock:
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

    def data_token(self, backend: ibis.BaseBackend) -> int:
        """A number that names the data a backend reads, in caches of what is worked out from
        it: its store's (every cursor of a store, one per thread, reads the same tables), or a
        bare backend's own. Not for what lives on one cursor (temporary tables)."""
        store = self.store_of(backend)
        return self.token(backend) if store is None else self.store_token(store)

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

    def keep_derived_in(self, backend: ibis.BaseBackend, tables: DerivedTables) -> None:
        """Let the engine keep what it derives on ``backend`` (a bare backend on a store named
        by URL) in ``tables``, for later processes."""
        with self._lock:
            self._kept_in[backend] = tables

    def derived_tables(self, backend: ibis.BaseBackend) -> DerivedTables | None:
        """Where the engine keeps derived tables of a bare backend; None: for the process only."""
        return self._kept_in.get(backend)

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

    def store_version(self, store: Store) -> str:
        """``Store.version()`` as ``version`` read it (pinned in a ``one_version`` block),
        without this process's count of rebuilds: what names the data in another process."""
        version = self.version(store) or ""
        return version.rpartition(_REBUILT)[0] or version

    def _version(self, store: Store) -> str:
        """The store's version, and how many times this process rebuilt its derived tables.
        Settings changed and changed back give the store's version again, but the derived
        tables hold what the other settings made meanwhile: a query compiled before a rebuild
        must be built again (which checks them) rather than run from the cache."""
        return f"{store.version()}{_REBUILT}{self._rebuilds.get(store, 0)}"

    def rebuilt(self, store: Store) -> None:
        """Note that the store's derived tables were rebuilt (see ``_version``); a version this
        thread pinned for the store moves on with them."""
        with self._lock:
            self._rebuilds[store] = self._rebuilds.get(store, 0) + 1
        pinned = getattr(self._pinned, "version", None)
        if pinned is not None and pinned[0] is store:
            self._pinned.version = (store, self._version(store))

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

    def forget_profiles(self) -> None:
        """Forget every data profile, as a new process starts (for tests; the profiles kept
        on the stores' shelves stay)."""
        with self._lock:
            self._profiles.clear()

    # --- compiled SQL --------------------------------------------------------------------------

    def compiled(
        self,
        key: tuple[Any, ...],
        compile_sql: Callable[[], Query | None],
        shelf: Shelf | None = None,
    ) -> Query | None:
        """The SQL of a query, compiled once per key (the newest few hundred are kept). With a
        ``shelf``, SQL another process compiled is read from it, and what is compiled here is
        put on it; a key's first two parts (the data's token and version) are the shelf's own
        identity, so the rest names the query there."""
        found = self._compiled.get(key, _MISSING)
        if found is not _MISSING:
            return found
        kept = shelf.get(key[2:]) if shelf is not None else None
        if kept is not None:
            sql: Query | None = Query(*kept)
        else:
            sql = compile_sql()
            if shelf is not None and sql is not None:
                shelf.put(key[2:], sql.sql, sql.names)
        with self._compiled_lock:
            self.compilations += kept is None
            self._compiled[key] = sql
            while len(self._compiled) > _COMPILED_MAX:
                self._compiled.popitem(last=False)
        return sql

    def forget_compiled(self) -> None:
        """Forget every compiled query, as a new process starts (for tests and benchmarks of
        what a fresh process does; the shelves on disk stay)."""
        with self._compiled_lock:
            self._compiled.clear()

    def rendering(self, backend: ibis.BaseBackend, stand_in: datetime | str) -> str:
        """How the backend's SQL writes a stand-in: a timestamp (e.g. ``MAKE_TIMESTAMP(...)``)
        or a list of one text (e.g. ``['__kpi_slot_segment_team']``). Stand-in timestamps differ
        only in their year and stand-in texts only in their name, so one of each is compiled and
        the others follow from it (``parameterised`` checks that each is found)."""
        if isinstance(stand_in, str):
            kind, example = "list", f"{_STAND_IN_TEXT}0"
            literal = ibis.literal([example], type="array<string>")
        else:
            kind, example = "timestamp", str(_STAND_IN_YEAR)
            literal = ibis.literal(datetime(_STAND_IN_YEAR, 1, 1), type="timestamp")
        template = self._renderings.get(f"{backend.name} {kind}")
        if template is None:
            sql = str(backend.compile(literal))
            # "SELECT <literal> AS <name>": the literal is what lies between.
            template = sql[len("SELECT ") : sql.rindex(" AS ")]
            with self._compiled_lock:
                self._renderings[f"{backend.name} {kind}"] = template
        if isinstance(stand_in, str):
            return template.replace(example, stand_in)
        return template.replace(example, str(stand_in.year))

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


@dataclass(frozen=True)
class Query:
    """A query's SQL with ``$name`` parameters, and the names it takes (in ``Slots``)."""

    sql: str
    names: tuple[str, ...]


#: A slot's value: an instant, or the values a segment field is restricted to (empty: every
#: value, rows without one too).
SlotValue = datetime | tuple[str, ...]


class Slots:
    """The values a query takes as parameters, by name: instants (``date_from``,
    ``backlog_3``...) and segment choices (``segment_channel``...).

    A report's SQL depends on its dates and segment choices only through these, so SQL compiled
    once per shape (which dates are set, how many periods and clock changes) serves every date
    range and every choice of channel, team...: Ibis's compiler takes far longer than DuckDB's
    run. While a query compiles (``stand_ins``), each slot is a stand-in (an instant, or a list
    of one text) that ``parameterised`` then turns into ``$name``; otherwise each slot is its
    value as a literal, and an unrestricted segment is no predicate at all.
    """

    def __init__(self, values: Mapping[str, SlotValue], stand_ins: bool = False) -> None:
        self.values = dict(values)
        self._stand_ins = stand_ins
        #: name -> its stand-in (an instant or a text), for the slots the query used.
        self.used: dict[str, datetime | str] = {}
        self._instants = 0

    def instant(self, name: str) -> datetime:
        """Slot ``name``'s instant: its stand-in while the query compiles, else its value."""
        value: SlotValue | str = self.values[name]
        if self._stand_ins:
            if name not in self.used:
                self.used[name] = datetime(_STAND_IN_YEAR + self._instants, 1, 1)
                self._instants += 1
            value = self.used[name]
        if not isinstance(value, datetime):
            raise TypeError(f"slot {name!r} holds no instant")
        return value

    def timestamp(self, name: str) -> ir.TimestampScalar:
        return ibis.literal(self.instant(name), type="timestamp")

    def among(self, name: str, column: ir.Value) -> ir.BooleanValue | None:
        """Rows whose ``column`` is one of slot ``name``'s values; None (no predicate) when the
        slot has none. While compiling, the predicate holds for every row when the parameter is
        null (``bound``), so one SQL serves a restricted and an unrestricted field alike."""
        if self._stand_ins:
            if name not in self.used:
                self.used[name] = f"{_STAND_IN_TEXT}{name}"
            values = ibis.literal([self.used[name]], type="array<string>")
            return values.isnull() | values.contains(column)
        chosen = self.values[name]
        if not chosen:
            return None
        return column.isin(list(chosen))  # type: ignore[arg-type]


def parameterised(backend: ibis.BaseBackend, sql: str, slots: Slots) -> Query | None:
    """The SQL compiled with stand-ins, each turned into its ``$name`` parameter; None when a
    stand-in cannot be told apart in the text (the caller then compiles the values in)."""
    names = []
    for name, stand_in in slots.used.items():
        literal = CACHE.rendering(backend, stand_in)
        if literal not in sql:
            return None
        kind = "VARCHAR[]" if isinstance(stand_in, str) else "TIMESTAMP"
        sql = sql.replace(literal, f"CAST(${name} AS {kind})")
        names.append(name)
    if _STAND_IN_TEXT in sql or any(
        str(stand_in.year) in sql
        for stand_in in slots.used.values()
        if isinstance(stand_in, datetime)
    ):
        return None  # a stand-in written another way would be read as a real value
    return Query(sql, tuple(names))


def bound(names: Sequence[str], values: Mapping[str, SlotValue]) -> dict[str, Any]:
    """A query's parameters as DuckDB takes them: a segment's values as a list, null when the
    field is not restricted (every row then passes)."""
    out: dict[str, Any] = {}
    for name in names:
        value = values[name]
        out[name] = (list(value) or None) if isinstance(value, tuple) else value
    return out


def backend_of(source: Store | ibis.BaseBackend) -> ibis.BaseBackend:
    """An Ibis backend for a store (on this thread's cursor), or the backend itself."""
    return CACHE.backend_of(source)


def remote_backend(source: Remote) -> ibis.BaseBackend:
    """An Ibis backend on a store named by URL (PostgreSQL, Spark), which keeps the tables the
    engine derives from it in the store (``kpi.store.derived``), where the login may write."""
    backend = source.backend()
    tables = source.derived(backend)
    if tables is not None:
        CACHE.keep_derived_in(backend, tables)
    return backend
