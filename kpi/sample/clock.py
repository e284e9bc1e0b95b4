"""Wall-clock and working-hours arithmetic for the sample story.

Times are int64 seconds since 1970 on the Europe/London wall clock (no offset), because that is
how the exports show them. Calendar durations are measured in UTC so that they stay right across
the clock changes; business durations use the product's default business hours (Mon-Fri 09:00-17:00
minus England and Wales bank holidays), so the "within business hours" figures written into the
files are the ones the dashboard would compute itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import holidays
import numpy as np
import pandas as pd

TZ = "Europe/London"
DAY = 86_400
OFFICE_HOURS = (9, 17)  # the design's default business hours


def seconds(value: str) -> int:
    """Wall-clock seconds of an ISO date or datetime string."""
    return int(pd.Timestamp(value).as_unit("s").timestamp())  # naive, so no zone shift


def bank_holidays(first: date, last: date) -> set[date]:
    return set(
        holidays.country_holidays("GB", subdiv="ENG", years=range(first.year, last.year + 1))
    )


def to_utc(local: np.ndarray) -> np.ndarray:
    """UTC seconds of wall-clock seconds; a skipped spring hour moves forward, an autumn repeat is GMT."""
    index = pd.DatetimeIndex(np.asarray(local, dtype="datetime64[s]"))
    aware = index.tz_localize(
        TZ, ambiguous=np.zeros(len(index), dtype=bool), nonexistent="shift_forward"
    )
    return aware.tz_convert("UTC").tz_localize(None).as_unit("s").asi8


def from_utc(utc: np.ndarray) -> np.ndarray:
    index = pd.DatetimeIndex(np.asarray(utc, dtype="datetime64[s]")).tz_localize("UTC")
    return index.tz_convert(TZ).tz_localize(None).as_unit("s").asi8


def normalise(local: np.ndarray) -> np.ndarray:
    """Move wall-clock times that do not exist (spring-forward hour) onto a real time."""
    return from_utc(to_utc(local))


def calendar_minutes(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Elapsed real minutes between two wall-clock times (float, NaN-free inputs)."""
    return (to_utc(end) - to_utc(start)) / 60.0


@dataclass(frozen=True)
class WorkingCalendar:
    """Working intervals with the working seconds that came before each one."""

    starts: np.ndarray
    ends: np.ndarray
    cum_before: np.ndarray

    @classmethod
    def build(
        cls,
        first: date,
        last: date,
        hours: tuple[int, int] = OFFICE_HOURS,
        saturday: tuple[int, int] | None = None,
    ) -> WorkingCalendar:
        """Weekday `hours` (and optional Saturday hours), closed on bank holidays."""
        closed = bank_holidays(first, last)
        days = [d for d in pd.date_range(first, last, freq="D") if d.date() not in closed]
        spans = [hours if d.weekday() < 5 else saturday for d in days]
        kept = [(d, span) for d, span in zip(days, spans, strict=True) if d.weekday() < 6 and span]
        day_s = pd.DatetimeIndex([d for d, _ in kept]).as_unit("s").asi8
        starts = day_s + np.array([span[0] * 3600 for _, span in kept])
        ends = day_s + np.array([span[1] * 3600 for _, span in kept])
        cum_before = np.concatenate([[0], np.cumsum(ends - starts)[:-1]])
        return cls(starts, ends, cum_before)

    def worked_before(self, t: np.ndarray) -> np.ndarray:
        """Working seconds from the calendar's start up to each time."""
        i = np.searchsorted(self.starts, t, side="right") - 1
        i_safe = np.clip(i, 0, None)
        inside = np.clip(t - self.starts[i_safe], 0, self.ends[i_safe] - self.starts[i_safe])
        return np.where(i < 0, 0, self.cum_before[i_safe] + inside)

    def add(self, t: np.ndarray, work_seconds: np.ndarray) -> np.ndarray:
        """The time at which `work_seconds` of working time have passed since `t`."""
        target = self.worked_before(t) + np.round(work_seconds).astype(np.int64)
        cum_end = self.cum_before + (self.ends - self.starts)
        j = np.clip(np.searchsorted(cum_end, target, side="left"), 0, len(cum_end) - 1)
        # max() because a zero duration from outside working hours must not go back in time.
        return np.maximum(self.starts[j] + (target - self.cum_before[j]), t)

    def between_minutes(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        return (self.worked_before(end) - self.worked_before(start)) / 60.0
