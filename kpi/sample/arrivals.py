"""When contacts arrive: daily volumes per channel and hours of the day on the wall clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpi.sample.clock import bank_holidays, normalise
from kpi.sample.story import (
    CATEGORIES,
    FIRST_DAY,
    LAST_DAY,
    SPIKE_MONTH,
    category_weights,
    month_factor,
)

WEEKDAY, SATURDAY, CLOSED = 0, 1, 2  # day types; Sundays and bank holidays count as CLOSED
DAY_FACTOR = np.array([1.3, 1.1, 1.0, 1.0, 0.95])  # Monday is the busiest weekday


def _hours(spec: dict[tuple[int, int], float]) -> np.ndarray:
    """Hour-of-day weights from {(from_hour, to_hour): weight}; unlisted hours get none."""
    weights = np.zeros(24)
    for (start, end), weight in spec.items():
        weights[start:end] = weight
    return weights


# Written channels reach the inbox at any hour, mostly in the working day.
_ANYTIME = _hours(
    {(0, 7): 0.15, (7, 8): 1.5, (8, 12): 8.0, (12, 17): 6.5, (17, 20): 3.5, (20, 24): 1.2}
)
_ANYTIME_WEEKEND = _hours({(0, 8): 0.3, (8, 20): 3.0, (20, 24): 1.0})
# Live channels only exist while the lines are open.
_OPEN = _hours({(8, 9): 4.0, (9, 12): 9.0, (12, 14): 7.0, (14, 17): 7.5, (17, 20): 4.0})


@dataclass(frozen=True)
class Stream:
    channel: str
    per_day: float  # contacts on an ordinary Wednesday at scale 1
    profiles: tuple[np.ndarray, np.ndarray, np.ndarray]  # weekday, Saturday, Sunday/holiday
    day_type_factor: tuple[float, float, float]


STREAMS = (
    Stream("email", 24.5, (_ANYTIME, _ANYTIME_WEEKEND, _ANYTIME_WEEKEND), (1.0, 0.45, 0.25)),
    Stream("web", 4.6, (_ANYTIME, _ANYTIME_WEEKEND, _ANYTIME_WEEKEND), (1.0, 0.5, 0.3)),
    Stream("chat", 14.0, (_OPEN, _hours({(9, 17): 1.0}), _OPEN), (1.0, 0.4, 0.0)),
    Stream("social", 4.4, (_ANYTIME, _ANYTIME_WEEKEND, _ANYTIME_WEEKEND), (1.0, 0.7, 0.6)),
    Stream("phone", 35.0, (_OPEN, _hours({(9, 13): 1.0}), _OPEN), (1.0, 0.35, 0.0)),
)


def _days() -> pd.DataFrame:
    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D")
    closed = bank_holidays(FIRST_DAY, LAST_DAY)
    day_type = np.where(
        days.day_of_week < 5, WEEKDAY, np.where(days.day_of_week == 5, SATURDAY, CLOSED)
    )
    day_type[np.isin(days.date, np.array(list(closed), dtype=object))] = CLOSED
    weekday_factor = np.where(
        days.day_of_week < 5, DAY_FACTOR[np.minimum(days.day_of_week, 4)], 1.0
    )
    months = np.array([month_factor(d.year, d.month) for d in days])
    return pd.DataFrame(
        {"day": days.as_unit("s").asi8, "type": day_type, "factor": weekday_factor * months}
    )


def stream_arrivals(rng: np.random.Generator, stream: Stream, scale: float) -> pd.DataFrame:
    """One row per contact of a channel: wall-clock `opened` seconds and `category`."""
    days = _days()
    type_factor = np.array(stream.day_type_factor)[days["type"]]
    noise = rng.lognormal(0.0, 0.08, len(days))  # ordinary day-to-day wobble
    counts = rng.poisson(stream.per_day * scale * days["factor"] * type_factor * noise)
    day_index = np.repeat(np.arange(len(days)), counts)
    day_type = days["type"].to_numpy()[day_index]
    hour = np.zeros(len(day_index), dtype=np.int64)
    for kind, profile in enumerate(stream.profiles):
        mask = day_type == kind
        if mask.any() and profile.sum() > 0:
            hour[mask] = rng.choice(24, mask.sum(), p=profile / profile.sum())
    opened = days["day"].to_numpy()[day_index] + hour * 3600 + rng.integers(0, 3600, len(hour))
    opened = np.sort(normalise(opened))
    return pd.DataFrame(
        {"opened": opened, "channel": stream.channel, "category": _categories(rng, opened)}
    )


def _categories(rng: np.random.Generator, opened: np.ndarray) -> np.ndarray:
    names = np.array(list(CATEGORIES), dtype=object)
    stamp = pd.DatetimeIndex(opened.astype("datetime64[s]"))
    in_spike = (stamp.year == SPIKE_MONTH[0]) & (stamp.month == SPIKE_MONTH[1])
    out = np.empty(len(opened), dtype=object)
    for flag in (False, True):
        mask = in_spike == flag
        out[mask] = names[rng.choice(len(names), mask.sum(), p=category_weights(flag))]
    return out


def arrivals(rng: np.random.Generator, channels: tuple[str, ...], scale: float) -> pd.DataFrame:
    """Contacts of the given channels in opening order."""
    frames = [stream_arrivals(rng, s, scale) for s in STREAMS if s.channel in channels]
    both = pd.concat(frames, ignore_index=True)
    return both.sort_values(["opened", "channel"], kind="stable").reset_index(drop=True)
