"""The only module that owns Streamlit caches: the store connection for this process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from kpi.engine import breakdowns, page_data, profile
from kpi.engine import report as engine
from kpi.engine.change import Change
from kpi.engine.comments import search
from kpi.engine.comparison import MeAgainstRest
from kpi.engine.comparison import me_against_rest as _me_against_rest
from kpi.engine.filters import Filters
from kpi.engine.report import OVERVIEW_TRENDS, Overview
from kpi.engine.results import MetricResult, Report
from kpi.engine.timeline import Grain
from kpi.errors import StoreError
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store.connection import Store, open_store
from kpi.store.location import default_location


@st.cache_resource(show_spinner=False)
def store() -> Store:
    """One store per process (DuckDB allows one writer); each thread gets its cursor. It is
    shared: it lets go of the file when a `kpi` command asks (kpi.store.sharing). A store
    named by URL (PostgreSQL, Spark) is served from a working copy that keeps up with it
    (kpi.store.working_copy)."""
    return open_store(default_location(), shared=True)


@contextmanager
def page_run() -> Iterator[str | None]:
    """Hold the store for one run of the page; yields why it cannot be opened (locked,
    damaged, read-only, not a store), else None.

    While a `kpi` command is importing into the store the run waits, saying so in a box that
    goes when the store is back; the page then shows the new data. A failed open is not cached,
    so the next rerun tries again (the lock may have gone)."""
    waiting = st.empty()

    def say(message: str) -> None:
        waiting.info(message, icon=":material/hourglass_top:")

    with contextlib.ExitStack() as held:
        try:
            held.enter_context(store().lease(say))
        except StoreError as problem:
            waiting.empty()
            yield str(problem)
            return
        # Inside the stack: a rerun or a closed tab raised here still releases the lease.
        waiting.empty()
        yield None


def store_changed() -> None:
    """After an import or undo: cached results computed from the store are stale."""
    st.cache_data.clear()


# --- results computed from the store: cached per filters and store version ---------------------
# The public functions read the store's version on every call (two tiny queries), so an import,
# an undo or a settings change gives new keys and the cached results are never stale. The store
# is passed as ``_store`` so Streamlit does not try to hash the connection.


def version() -> str:
    return store().version()


@contextmanager
def _computing(what: str, filters: Filters) -> Iterator[None]:
    """A spinner saying what is being computed and for which filters. Streamlit shows it only
    after half a second, so a cached answer never flashes one."""
    with st.spinner(f"Computing {what} for {filters.describe()}...", show_time=True):
        yield


def _kpis(keys: Sequence[str] | None) -> str:
    if keys is None or len(keys) > 4:
        return "the KPIs"
    return ", ".join(REGISTRY[k].label for k in keys)


#: What each breakdown of kpi.engine.breakdowns shows, for its spinner.
_BREAKDOWNS = {
    "time_distribution": "response and resolution times",
    "breach_heatmap": "when SLA breaches happen",
    "backlog_age": "the age of open contacts",
    "score_counts": "how customers scored",
    "drivers": "what drives complaints",
}


@st.cache_data(show_spinner=False, max_entries=256)
def _report(
    _store: Store,
    version: str,
    filters: Filters,
    by: tuple[str, ...],
    grain: Grain | None,
    metrics: tuple[str, ...] | None,
) -> Report:
    return engine.report(_store, filters, by=by, grain=grain, metrics=metrics)


def report(
    filters: Filters,
    by: Sequence[str] = (),
    grain: Grain | None = None,
    metrics: Sequence[str] | None = None,
) -> Report:
    """The engine's report (every KPI unless ``metrics`` names some), cached."""
    keys = tuple(metrics) if metrics is not None else None
    split = f" by {' and '.join(by)}" if by else ""
    per = f" per {grain}" if grain else ""
    with _computing(f"{_kpis(keys)}{split}{per}", filters):
        return _report(store(), version(), filters, tuple(by), grain, keys)


@st.cache_data(show_spinner=False, max_entries=64)
def _overview(
    _store: Store, version: str, filters: Filters, trend_keys: tuple[str, ...]
) -> Overview:
    return engine.overview(_store, filters, trend_keys=trend_keys)


def overview(filters: Filters, trend_keys: Sequence[str] = OVERVIEW_TRENDS) -> Overview:
    """Every KPI now and in the previous period, the changes, and weekly trends, cached."""
    with _computing("every KPI, its change and its 12-week trend", filters):
        return _overview(store(), version(), filters, tuple(trend_keys))


@st.cache_data(show_spinner=False, max_entries=64)
def _compare(
    _store: Store, version: str, filters: Filters, keys: tuple[str, ...]
) -> tuple[dict[str, MetricResult], dict[str, Change]]:
    return page_data.compare(_store, filters, keys)


def compare(
    filters: Filters, keys: Sequence[str]
) -> tuple[dict[str, MetricResult], dict[str, Change]]:
    """kpi.engine.page_data.compare (a few KPIs now and their changes), cached."""
    with _computing(f"{_kpis(keys)} and the change from the previous period", filters):
        return _compare(store(), version(), filters, tuple(keys))


@st.cache_data(show_spinner=False, max_entries=32)
def _me(
    _store: Store, version: str, filters: Filters, me: str, keys: tuple[str, ...]
) -> MeAgainstRest:
    return _me_against_rest(_store, filters, me, keys)


def me_against_rest(filters: Filters, me: str, keys: Sequence[str]) -> MeAgainstRest:
    """kpi.engine.comparison.me_against_rest, cached."""
    with _computing("your figures and the rest of your team's", filters):
        return _me(store(), version(), filters, me, tuple(keys))


@st.cache_data(show_spinner=False, max_entries=256)
def _breakdown(_store: Store, version: str, name: str, filters: Filters, args: tuple) -> Any:
    return getattr(breakdowns, name)(_store, filters, *args)


def breakdown(name: str, filters: Filters, *args: Any) -> Any:
    """One of kpi.engine.breakdowns' tables (``time_distribution``, ``breach_heatmap``...), cached."""
    with _computing(_BREAKDOWNS.get(name, "a breakdown"), filters):
        return _breakdown(store(), version(), name, filters, args)


@st.cache_data(show_spinner=False, max_entries=16)
def _shape(_store: Store, version: str) -> tuple[tuple[date | None, date | None], dict]:
    timezone = load_settings(_store).timezone
    return breakdowns.data_range(_store, timezone), breakdowns.segment_values(_store)


def data_range() -> tuple[date | None, date | None]:
    """The first and last day with data, in the reporting time zone."""
    return _shape(store(), version())[0]


def segment_values() -> dict[str, list[str]]:
    """The values each filter field takes in the store."""
    return _shape(store(), version())[1]


@st.cache_data(show_spinner=False, max_entries=16)
def _settings(_store: Store, version: str) -> Settings:
    return load_settings(_store)


def settings() -> Settings:
    return _settings(store(), version())


def has_data() -> bool:
    return data_range()[1] is not None


@st.cache_data(show_spinner=False, max_entries=64)
def _comments(
    _store: Store,
    version: str,
    filters: Filters,
    words: str,
    score: str | None,
    score_range: tuple[float, float] | None,
) -> pd.DataFrame:
    return search(_store, filters, words, score, score_range)


def comments(
    filters: Filters,
    words: str = "",
    score: str | None = None,
    score_range: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """kpi.engine.comments.search, cached."""
    with _computing("the matching comments", filters):
        return _comments(store(), version(), filters, words, score, score_range)


@st.cache_data(show_spinner=False, max_entries=16)
def _stray_dates(_store: Store, version: str) -> str | None:
    return profile.stray_dates(_store)


def stray_dates() -> str | None:
    """The Data page's notice about rows far from the rest of the data, once per store version."""
    return _stray_dates(store(), version())
