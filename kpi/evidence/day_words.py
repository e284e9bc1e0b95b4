"""Dates as an evidence pack prints them: "1 May 2026", never ISO (an assessor reads the pack,
not a database)."""

from __future__ import annotations

from datetime import date, datetime


def day_words(value: date) -> str:
    """ "1 May 2026"."""
    return f"{value.day} {value:%b %Y}"


def instant_words(value: datetime) -> str:
    """ "1 May 2026 09:30 UTC" (the store keeps naive UTC)."""
    return f"{value.day} {value:%b %Y %H:%M} UTC"
