"""The data profile: which columns hold any data, the as-of default and the data's dates.

The profile decides which formula variant each KPI uses (a definition must not flip with the
filters, so it looks at the whole store) and is cached per store version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from kpi.engine.aggregation import as_int, count_if
from kpi.engine.backend import CACHE, backend_of
from kpi.engine.intervals import interval_summary
from kpi.engine.sql_shelf import Shelf, shelf_for
from kpi.errors import FIRST_YEAR, LAST_YEAR, ImplausibleDates, printable
from kpi.store.connection import Store

_CONTACT_TIMES = ("opened_at", "first_response_at", "resolved_at", "closed_at")

#: The instants a report computes with (``kpi.errors.FIRST_YEAR``-``LAST_YEAR``): start
#: inclusive, end exclusive. An import never stores one outside them.
FIRST_INSTANT = datetime(FIRST_YEAR, 1, 1)
END_INSTANT = datetime(LAST_YEAR + 1, 1, 1)


def _contact_profile_columns(t: ir.Table) -> dict[str, ir.BooleanValue]:
    return {
        "first_response_at": t.first_response_at.notnull(),
        "resolved_time": t.resolved_at.notnull() | t.closed_at.notnull(),
        "first_contact_resolved": t.first_contact_resolved.notnull(),
        "agent_replies": t.agent_replies.notnull(),
        "customer_key": t.customer_key.notnull(),
        "sla_met": t.sla_met.notnull(),
        "handle_seconds": t.handle_seconds.notnull(),
        "wait_seconds": t.wait_seconds.notnull(),
        "offered": t.answered.notnull() | t.abandoned.notnull(),
        "reopens": t.reopens.notnull(),
        "escalated": t.escalated.notnull(),
        "complaint": t.complaint.notnull(),
    }


def _response_profile_columns(t: ir.Table) -> dict[str, ir.BooleanValue]:
    return {
        "nps": t.nps.notnull(),
        "csat": t.csat.notnull() & t.csat_scale_min.notnull() & t.csat_scale_max.notnull(),
        "ces": t.ces.notnull() & t.ces_scale_min.notnull() & t.ces_scale_max.notnull(),
    }


@dataclass(frozen=True)
class Profile:
    supported: frozenset[str]
    latest: datetime | None
    first_day: datetime | None
    last_day: datetime | None
    undated_responses: int
    #: Whether the store holds interval reports' rows: a report asks them only then.
    intervals: bool = False
    #: The sources whose contacts record a status (``kpi.metrics.contact_facts.is_tracked``).
    status_sources: frozenset[str] = frozenset()


def data_profile(backend: ibis.BaseBackend, cache_key: str | None) -> Profile:
    """Which columns hold any data (the whole store: definitions do not flip with filters), the
    latest timestamp (the default as-of) and the data's first and last instants. Cached per store
    version, so a warm dashboard skips it."""
    key = (CACHE.data_token(backend), cache_key) if cache_key else None
    cached = CACHE.profile(key) if key else None
    if cached is not None:
        return cached
    shelf = _shelf(backend) if key else None
    profile = _from_json(shelf.get_value(_SHELF_KEY)) if shelf else None
    if profile is None:
        profile = _profile(backend)
        if shelf:
            shelf.put_value(_SHELF_KEY, _to_json(profile))
    if key:
        CACHE.keep_profile(key, profile)
    return profile


def _profile(backend: ibis.BaseBackend) -> Profile:
    """The profile read from the data (``data_profile``)."""
    contacts, responses = backend.table("contacts"), backend.table("responses")
    c_cols, r_cols = _contact_profile_columns(contacts), _response_profile_columns(responses)
    c = _contact_summary(backend, contacts, c_cols)
    r = _response_summary(backend, responses, r_cols)
    intervals, found = interval_summary(backend)
    if as_int(c["outside"]) or as_int(r["outside"]) or not _within(found):
        raise ImplausibleDates(_outside_message(backend, contacts, responses, found))
    supported = {k for k in c_cols if as_int(c[f"has_{k}"])} | {
        k for k in r_cols if as_int(r[f"has_{k}"])
    }
    # Interval reports are data too: a store holding only them has days and weeks to report.
    span = found or ()
    profile = Profile(
        supported=frozenset(supported),
        latest=_max_time([c[f"max_{k}"] for k in _CONTACT_TIMES] + [r["max_responded"], *span[1:]]),
        first_day=_min_time([c["min_opened"], r["min_responded"], *span[:1]]),
        last_day=_max_time([c["max_opened_at"], r["max_responded"], *span[1:]]),
        undated_responses=as_int(r["undated"]),
        intervals=intervals,
        status_sources=_status_sources(backend, contacts),
    )
    return profile


def _status_sources(backend: ibis.BaseBackend, contacts: ir.Table) -> frozenset[str]:
    """The sources with a status on any contact: known here, a report need not scan every
    contact again to tell which contacts have a lifecycle."""
    found = backend.execute(contacts.filter(contacts.status.notnull()).select("source").distinct())
    return frozenset(str(s) for s in found["source"] if s is not None)


# --- kept for the next process -------------------------------------------------------------

#: The profile's key on the store's shelf (``kpi.engine.sql_shelf``), whose identity holds the
#: store, its data version and this program's code: a new process reads the profile there
#: rather than scanning every contact and answer again (about 0.2 s at 1M contacts).
_SHELF_KEY = ("data profile",)


def _shelf(backend: ibis.BaseBackend) -> Shelf | None:
    store = CACHE.store_of(backend)
    return None if store is None else shelf_for(store, CACHE.store_version(store))


def _to_json(profile: Profile) -> dict[str, Any]:
    def instant(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "supported": sorted(profile.supported),
        "latest": instant(profile.latest),
        "first_day": instant(profile.first_day),
        "last_day": instant(profile.last_day),
        "undated_responses": profile.undated_responses,
        "intervals": profile.intervals,
        "status_sources": sorted(profile.status_sources),
    }


def _from_json(kept: Any) -> Profile | None:
    """The profile ``_to_json`` wrote; None for anything else (a miss, never an error)."""

    def instant(value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    try:
        return Profile(
            supported=frozenset(str(k) for k in kept["supported"]),
            latest=instant(kept["latest"]),
            first_day=instant(kept["first_day"]),
            last_day=instant(kept["last_day"]),
            undated_responses=int(kept["undated_responses"]),
            intervals=bool(kept["intervals"]),
            status_sources=frozenset(str(s) for s in kept["status_sources"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _contact_summary(
    backend: ibis.BaseBackend, contacts: ir.Table, columns: dict[str, ir.BooleanValue]
) -> Any:
    """One row: how many contacts have each column, and the first and last instants."""
    return backend.execute(
        contacts.aggregate(
            **{f"has_{k}": count_if(v) for k, v in columns.items()},
            **{f"max_{k}": contacts[k].max() for k in _CONTACT_TIMES},
            min_opened=contacts.opened_at.min(),
            outside=count_if(_outside(contacts, _CONTACT_TIMES)),
        )
    ).iloc[0]


def _response_summary(
    backend: ibis.BaseBackend, responses: ir.Table, columns: dict[str, ir.BooleanValue]
) -> Any:
    """One row: how many answers have each score, their first and last instants, how many are
    undated."""
    return backend.execute(
        responses.aggregate(
            **{f"has_{k}": count_if(v) for k, v in columns.items()},
            min_responded=responses.responded_at.min(),
            max_responded=responses.responded_at.max(),
            undated=count_if(responses.responded_at.isnull()),
            rows=responses.count(),
            outside=count_if(_outside(responses, ("responded_at",))),
        )
    ).iloc[0]


# --- instants no report can use -------------------------------------------------------------


def _outside(t: ir.Table, columns: Iterable[str]) -> ir.BooleanValue:
    """Any of the row's instants lies outside the years a report covers (NULL is not)."""
    tests = [(t[c] < FIRST_INSTANT) | (t[c] >= END_INSTANT) for c in columns]
    return ibis.or_(*tests)


def _within(span: tuple[datetime, datetime] | None) -> bool:
    return span is None or (span[0] >= FIRST_INSTANT and span[1] < END_INSTANT)


def _outside_message(
    backend: ibis.BaseBackend,
    contacts: ir.Table,
    responses: ir.Table,
    span: tuple[datetime, datetime] | None,
) -> str:
    """One line: how many rows hold a date no report can use, the first of them (its source,
    id, column and value), the import batches they came from, and what to do."""
    found: list[str] = []
    batches: set[int] = set()
    by_hand = False
    example = ""
    for table, what, id_column, columns in (
        (contacts, "contact", "contact_id", _CONTACT_TIMES),
        (responses, "survey answer", "response_id", ("responded_at",)),
    ):
        rows = table.filter(_outside(table, columns))
        batch = rows.batch_id if "batch_id" in rows.columns else ibis.null("int64")
        frame = backend.execute(
            rows.aggregate(
                n=rows.count(),
                batches=batch.collect(distinct=True),
                by_hand=count_if(batch.isnull()),
            )
        )
        n = as_int(frame["n"].iloc[0])
        if not n:
            continue
        found.append(f"{n:,} {what}{'' if n == 1 else 's'}")
        listed = frame["batches"].iloc[0]  # None when every such row has no batch
        batches.update(int(b) for b in ([] if listed is None else listed) if b == b)
        by_hand = by_hand or bool(as_int(frame["by_hand"].iloc[0]))
        if not example:
            example = _example(backend, rows, what, id_column, columns)
    if not _within(span):
        found.append("interval reports")
        first, last = (instant.date().isoformat() for instant in span or ())
        example = example or f"interval reports from {first} to {last}"
    where = _where_from(sorted(batches), by_hand)
    return (
        f"the store holds {' and '.join(found)} dated outside {FIRST_YEAR}-{LAST_YEAR}, which "
        f"no report can use (e.g. {example}); {where}"
    )


def _example(
    backend: ibis.BaseBackend, rows: ir.Table, what: str, id_column: str, columns: Iterable[str]
) -> str:
    """The first such row as "zendesk contact 'x1': opened_at 0001-01-01 00:00:00" (the value
    read as text by the backend: no date type here need hold it)."""
    ids = [c for c in ("source", id_column) if c in rows.columns]
    shown = {c: rows[c].cast("string") for c in columns}
    bad = {f"bad_{c}": (rows[c] < FIRST_INSTANT) | (rows[c] >= END_INSTANT) for c in columns}
    first = backend.execute(rows.select(*ids, **shown, **bad).order_by(ids).limit(1)).iloc[0]
    column = next(c for c in columns if bool(first[f"bad_{c}"]))
    name = " ".join(printable(str(first[c])) for c in ids[:1])
    key = printable(str(first[ids[-1]])) if ids else "?"
    return f"{name} {what} {key!r}: {column} {printable(str(first[column]))}".strip()


def _where_from(batches: list[int], by_hand: bool) -> str:
    """Where the rows came from and what to do about them."""
    if not batches:
        return (
            "they were written to the store outside an import: correct or delete those rows, "
            "or import their corrected file into a new store."
        )
    listed = ", ".join(str(b) for b in batches[:5]) + (" ..." if len(batches) > 5 else "")
    undo = f"kpi undo {batches[0]}" if len(batches) == 1 else "kpi undo BATCH"
    also = "; some were written outside an import: correct or delete those" if by_hand else ""
    return (
        f"an earlier version imported them (batch {listed}): undo that import ({undo}) and "
        f"import the file again, which now sets such rows aside{also}."
    )


def _times(values: Iterable[Any]) -> list[datetime]:
    out = []
    for value in values:
        if value is None or value != value:  # None, NaN, NaT
            continue
        out.append(value.to_pydatetime() if hasattr(value, "to_pydatetime") else value)
    return [v.replace(tzinfo=None) for v in out]


def _max_time(values: Iterable[Any]) -> datetime | None:
    times = _times(values)
    return max(times) if times else None


def _min_time(values: Iterable[Any]) -> datetime | None:
    times = _times(values)
    return min(times) if times else None


#: A gap in the data's days longer than this separates data from an unrelated time.
STRAY_GAP_DAYS = 365


def stray_dates(source: Store | ibis.BaseBackend) -> str | None:
    """A notice when a few rows lie more than a year away from the rest (e.g. an old export
    imported by mistake, or dates read in the wrong century): they stretch "All time" and every
    axis, so the Data page points them out. None when the data's days have no such gap."""
    days = _rows_per_day(backend_of(source))
    if len(days) < 2:
        return None
    gaps = [(days[i + 1][0] - days[i][0]).days for i in range(len(days) - 1)]
    widest = max(range(len(gaps)), key=gaps.__getitem__)
    if gaps[widest] <= STRAY_GAP_DAYS:
        return None
    before, after = days[: widest + 1], days[widest + 1 :]
    stray, rest = (before, after) if _rows(before) <= _rows(after) else (after, before)
    side = "before" if stray is before else "after"
    count = _rows(stray)
    rows = "1 row is" if count == 1 else f"{count:,} rows are"
    when = _day(stray[0][0])
    if stray[-1][0] != stray[0][0]:
        when = f"{when} - {_day(stray[-1][0])}"
    return (
        f"{rows} dated {when}, more than a "
        f"year {side} the rest of the data ({_day(rest[0][0])} - {_day(rest[-1][0])}), so "
        f'"All time" and every chart over time span the gap: check those dates in the file they '
        "came from, and undo its import (Import history) if they are wrong."
    )


def _rows_per_day(backend: ibis.BaseBackend) -> list[tuple[date, int]]:
    """(UTC day, contacts opened plus answers given) for every day with data, in order."""
    contacts = backend.table("contacts")
    responses = backend.table("responses").filter(lambda t: t.responded_at.notnull())
    opened = contacts.group_by(day=contacts.opened_at.date()).aggregate(rows=contacts.count())
    answered = responses.group_by(day=responses.responded_at.date()).aggregate(
        rows=responses.count()
    )
    both = opened.union(answered).group_by("day").aggregate(rows=lambda t: t.rows.sum())
    frame = backend.execute(both.order_by("day"))
    return [(_as_date(d), int(n)) for d, n in zip(frame["day"], frame["rows"], strict=True)]


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) or hasattr(value, "to_pydatetime") else value


def _rows(days: list[tuple[date, int]]) -> int:
    return sum(n for _, n in days)


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"
