"""The period presets a reader picks from ("last 3 months", "this year"...), as date ranges.

Presets end on the latest day that has data, not on today: a team that imports its export every
Monday would otherwise see an empty last week until the next import.
"""

from __future__ import annotations

from datetime import date, timedelta

from kpi.errors import InvalidChoice

#: Preset key -> label, in the order the sidebar offers them.
PRESETS: dict[str, str] = {
    "4w": "Last 4 weeks",
    "3m": "Last 3 months",
    "12m": "Last 12 months",
    "ytd": "This year",
    "all": "All time",
    "custom": "Custom range",
}
DEFAULT_PRESET = "3m"


def _months_back(day: date, months: int) -> date:
    """The first day of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def preset_range(
    preset: str,
    latest: date | None,
    first: date | None = None,
    custom: tuple[date | None, date | None] = (None, None),
) -> tuple[date | None, date | None]:
    """(date_from, date_to) of a preset, inclusive, ending on ``latest`` (the data's last day).

    Months are whole calendar months counting the latest's own (possibly partial) month, so
    "last 3 months" on data up to 31 October is August to October. "All time" spans the data
    (``first`` to ``latest``) so that it has a previous period of the same length (empty). With
    no data there is no range: every preset but a custom one is unbounded.
    """
    if preset not in PRESETS:
        raise InvalidChoice(f"unknown period {preset!r}; choose from {', '.join(PRESETS)}")
    if preset == "custom":
        start, end = custom
        if start and end and start > end:
            start, end = end, start
        return start, end
    if latest is None:
        return None, None
    if preset == "4w":
        return latest - timedelta(days=27), latest
    if preset == "3m":
        return _months_back(latest, 2), latest
    if preset == "12m":
        return _months_back(latest, 11), latest
    if preset == "ytd":
        return date(latest.year, 1, 1), latest
    return first, latest
