"""The global filters every view and report shares: a date range and segment choices.

Dates are whole days in the reporting time zone, inclusive at both ends; the store holds naive
UTC, so the range becomes a pair of UTC instants here. Filters become Ibis predicates: values
reach the backend as literals Ibis quotes or as query parameters, never as text pasted into SQL.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import ibis.expr.types as ir

from kpi.errors import InvalidChoice

if TYPE_CHECKING:
    from kpi.engine.backend import Slots

#: The fields a report can be filtered and broken down by.
SEGMENT_FIELDS = ("channel", "team", "agent", "priority", "category")


@dataclass(frozen=True)
class Filters:
    """A date range (inclusive, reporting time zone) and segment values (empty = all)."""

    date_from: date | None = None
    date_to: date | None = None
    channel: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    agent: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    category: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in SEGMENT_FIELDS:  # accept any iterable of strings, keep a hashable tuple
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if isinstance(value, datetime):
                object.__setattr__(self, name, value.date())
            elif isinstance(value, str):
                object.__setattr__(self, name, date.fromisoformat(value))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidChoice(
                f"the period starts ({self.date_from}) after it ends ({self.date_to})"
            )

    # --- periods ---------------------------------------------------------------------------

    @property
    def days(self) -> int | None:
        if self.date_from is None or self.date_to is None:
            return None
        return (self.date_to - self.date_from).days + 1

    def previous_period(self) -> Filters:
        """The same filters over the period just before: as many whole months when the range is
        whole calendar months, otherwise as many days."""
        if self.date_from is None or self.date_to is None:
            raise InvalidChoice("a previous period needs both a start and an end date")
        months = _whole_months(self.date_from, self.date_to)
        if months:
            start = _add_months(self.date_from, -months)
            end = self.date_from - timedelta(days=1)
        else:
            end = self.date_from - timedelta(days=1)
            start = self.date_from - (self.date_to - self.date_from) - timedelta(days=1)
        return self.with_dates(start, end)

    def with_dates(self, date_from: date | None, date_to: date | None) -> Filters:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Filters(**{**values, "date_from": date_from, "date_to": date_to})

    def utc_bounds(self, timezone: str) -> tuple[datetime | None, datetime | None]:
        """[start, end) as naive UTC instants: local midnight of date_from and of date_to + 1."""
        zone = ZoneInfo(timezone)
        start = _local_midnight_utc(self.date_from, zone) if self.date_from else None
        end = _local_midnight_utc(self.date_to + timedelta(days=1), zone) if self.date_to else None
        return start, end

    # --- predicates ------------------------------------------------------------------------

    def segments(self) -> dict[str, tuple[str, ...]]:
        """The segment fields that are restricted, with their allowed values."""
        return {name: getattr(self, name) for name in SEGMENT_FIELDS if getattr(self, name)}

    def segment_parameters(self) -> dict[str, tuple[str, ...]]:
        """Every segment field's values as a query slot (``segment_channel``...; empty: all),
        for SQL that takes them as parameters (``Slots.among``)."""
        return {f"segment_{name}": getattr(self, name) for name in SEGMENT_FIELDS}

    def segment_predicates(
        self, table: ir.Table, slots: Slots | None = None, every: Sequence[str] = ()
    ) -> list[ir.BooleanValue]:
        """One ``isin`` per restricted field; the table must carry every restricted field.

        With ``slots`` (holding ``segment_parameters``), the values are the slots': parameters
        while a query compiles, so its SQL serves any values of the same fields. The ``every``
        fields (the table must carry them) then get a predicate even when unrestricted, which
        passes every row while the parameter is null: one SQL for restricted and not."""
        if slots is None:
            return [table[name].isin(list(values)) for name, values in self.segments().items()]
        names = [n for n in SEGMENT_FIELDS if n in every or getattr(self, n)]
        predicates = [slots.among(f"segment_{name}", table[name]) for name in names]
        return [p for p in predicates if p is not None]

    def date_predicates(
        self,
        table: ir.Table,
        column: str,
        timezone: str,
        bounds: tuple[ir.TimestampValue | None, ir.TimestampValue | None] | None = None,
    ) -> list[ir.BooleanValue]:
        """Rows whose ``column`` falls in the range; an undated row never does once a date is set.
        ``bounds`` stand for ``utc_bounds`` (e.g. as query parameters) when given."""
        start, end = bounds if bounds is not None else self.utc_bounds(timezone)
        predicates = []
        if start is not None:
            predicates.append(table[column] >= start)
        if end is not None:
            predicates.append(table[column] < end)
        return predicates

    # --- text round trip -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }
        out.update({name: list(getattr(self, name)) for name in SEGMENT_FIELDS})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Filters:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known and v is not None})

    def describe(self) -> str:
        """A caption such as "1 Sep 2025 - 30 Nov 2025; channel: email, phone"."""
        if self.date_from or self.date_to:
            start = _day(self.date_from) if self.date_from else "the start"
            end = _day(self.date_to) if self.date_to else "the latest data"
            parts = [f"{start} - {end}"]
        else:
            parts = ["all dates"]
        parts += [f"{name}: {', '.join(values)}" for name, values in self.segments().items()]
        return "; ".join(parts)


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day, time(0), tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def _whole_months(start: date, end: date) -> int:
    """How many calendar months [start, end] spans when it is whole months, else 0."""
    last_day = calendar.monthrange(end.year, end.month)[1]
    if start.day != 1 or end.day != last_day:
        return 0
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_list(text: str | None) -> tuple[str, ...]:
    """ "email, phone" -> ("email", "phone"); blanks dropped."""
    if not text:
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())
