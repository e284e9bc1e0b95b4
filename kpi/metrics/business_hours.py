"""Business hours, defined: local opening hours per weekday, a time zone and a UK holiday region.

Settings store them (``Settings.business_hours``, via ``to_dict``); the engine's calendar turns
them into working intervals. Every check runs when the hours are made, so a bad choice is refused
with a message for the person who made it rather than mid-report.

Layer 2 (see ARCHITECTURE.md): imports only ``kpi.errors``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from kpi.errors import InvalidChoice

#: Regions a user can choose, as stored in settings; "none" means no bank holidays.
REGIONS: tuple[str, ...] = ("england-and-wales", "scotland", "northern-ireland", "none")

# The `holidays` package's UK subdivisions. England and Wales share their bank holidays.
_SUBDIVISIONS: dict[str, str | None] = {
    "england-and-wales": "ENG",
    "scotland": "SCT",
    "northern-ireland": "NIR",
    "none": None,
}

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def _default_weekly() -> dict[int, tuple[str, str] | None]:
    return {day: ("09:00", "17:00") for day in range(5)}


def clock_seconds(text: str) -> int:
    """Seconds after midnight of an "HH:MM" clock time; "24:00" is the end of the day."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise InvalidChoice(f"Business hours must look like '09:00', not {text!r}.")
    hour, minute = int(match[1]), int(match[2])
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise InvalidChoice(f"{text!r} is not a time of day between 00:00 and 24:00.")
    return hour * 3600 + minute * 60


def _day_key(key: int | str) -> int:
    """A weekday number, Monday=0, from an int, a digit string (JSON keys) or a day name."""
    text = str(key).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, name in enumerate(_DAY_NAMES):
        if text in (name, name[:3]):
            return number
    raise InvalidChoice(f"{key!r} is not a day of the week (Monday=0 .. Sunday=6).")


def _normalise_weekly(weekly: Mapping[Any, Any]) -> Mapping[int, tuple[str, str]]:
    days: dict[int, tuple[str, str]] = {}
    for key, hours in weekly.items():
        if hours is None:  # a closed day is the same as an absent one
            continue
        opens, closes = (str(part).strip() for part in hours)
        if clock_seconds(opens) >= clock_seconds(closes):
            raise InvalidChoice(
                f"Opening time {opens} must be before closing time {closes}; "
                "split overnight hours over two days."
            )
        days[_day_key(key)] = (opens, closes)
    return MappingProxyType(dict(sorted(days.items())))


@dataclass(frozen=True)
class BusinessHours:
    """When the team works: local opening hours per weekday, a time zone and a holiday region."""

    timezone: str = "Europe/London"
    #: Monday=0 .. Sunday=6 -> ("09:00", "17:00"); absent or None for a closed day.
    weekly: Mapping[int, tuple[str, str] | None] = field(
        default_factory=_default_weekly, hash=False
    )
    #: "england-and-wales", "scotland", "northern-ireland" or "none" (no bank holidays).
    region: str = "england-and-wales"

    def __post_init__(self) -> None:
        try:  # fail now, with the zone's name, rather than mid-query
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InvalidChoice(f"Unknown time zone {self.timezone!r}: {error}") from None
        if self.region not in _SUBDIVISIONS:
            raise InvalidChoice(f"Unknown holiday region {self.region!r}; choose one of {REGIONS}.")
        object.__setattr__(self, "weekly", _normalise_weekly(self.weekly))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, as stored in the settings table; ``from_dict`` reads it back."""
        return {
            "timezone": self.timezone,
            "weekly": {str(day): list(hours or ()) for day, hours in self.weekly.items()},
            "region": self.region,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessHours:
        """Business hours from ``to_dict`` output (or its JSON); missing keys take the defaults."""
        defaults = cls()
        return cls(
            timezone=data.get("timezone", defaults.timezone),
            weekly=data.get("weekly", defaults.weekly),
            region=data.get("region", defaults.region),
        )


def bank_holidays(region: str, start: date, end: date) -> list[date]:
    """The bank holidays of a UK region between two dates inclusive, with substitute days.

    Taken from the ``holidays`` package's rules (no download): England and Wales, Scotland or
    Northern Ireland; "none" gives no holidays.
    """
    if region not in _SUBDIVISIONS:
        raise InvalidChoice(f"Unknown holiday region {region!r}; choose one of {REGIONS}.")
    subdivision = _SUBDIVISIONS[region]
    if subdivision is None or end < start:
        return []
    calendar = holidays.country_holidays(
        "GB", subdiv=subdivision, years=range(start.year, end.year + 1)
    )
    return sorted(day for day in calendar if start <= day <= end)
