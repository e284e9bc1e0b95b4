"""The global filters: sidebar widgets <-> a Choice <-> the URL's query parameters <-> Filters.

A page's own choices travel in the URL beside these (dashboard/choices.py).

The sidebar is drawn once per run by app.py, before the page, so every page reads the same
``current()`` filters. The choice is written to the URL on every run (a page switch would drop
it otherwise) and read from the URL once per session, so a copied link opens the same view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import streamlit as st

from dashboard import data
from kpi.charts.disclosure import escape_markdown
from kpi.engine.filters import SEGMENT_FIELDS, Filters
from kpi.engine.presets import DEFAULT_PRESET, PRESETS, preset_range

_PERIOD, _RANGE, _READY, _ACTIVE = "filter_period", "filter_range", "filter_ready", "filter_active"


#: The query parameters the filters read and write (README.md lists them): name -> what it holds.
PARAMS: dict[str, str] = {
    "period": "the period preset (" + ", ".join(PRESETS) + ")",
    "from": "the first day of a custom range (YYYY-MM-DD)",
    "to": "the last day of a custom range (YYYY-MM-DD)",
    **{name: f"the {name} values shown (repeatable; none means all)" for name in SEGMENT_FIELDS},
}


def _key(name: str) -> str:
    return f"filter_{name}"


@dataclass(frozen=True)
class Choice:
    """What the reader chose: a period preset (with dates for a custom range) and segments."""

    preset: str = DEFAULT_PRESET
    custom: tuple[date | None, date | None] = (None, None)
    segments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def filters(self, first: date | None, latest: date | None) -> Filters:
        start, end = preset_range(self.preset, latest, first, self.custom)
        if self.preset == "custom":  # an end not yet picked is the data's own
            start, end = start or first, end or latest
        return Filters(
            date_from=start, date_to=end, **{k: tuple(v) for k, v in self.segments.items()}
        )


def to_params(choice: Choice) -> dict[str, str | list[str]]:
    """Query parameters for a choice: ``period``, ``from``/``to`` for a custom range, and one
    list per restricted segment field."""
    params: dict[str, str | list[str]] = {"period": choice.preset}
    if choice.preset == "custom":
        for name, day in zip(("from", "to"), choice.custom, strict=True):
            if day:
                params[name] = day.isoformat()
    for name in SEGMENT_FIELDS:
        if choice.segments.get(name):
            params[name] = list(choice.segments[name])
    return params


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _last(params: Mapping[str, list[str]], name: str) -> str | None:
    """The last value a query parameter was given (a link may repeat one), or None."""
    values = params.get(name)
    return values[-1] if values else None


def from_params(params: Mapping[str, list[str]], options: Mapping[str, list[str]]) -> Choice:
    """The choice a URL describes; unknown presets, bad dates and values the store does not
    hold are dropped rather than trusted."""
    periods = params.get("period") or [DEFAULT_PRESET]
    preset = periods[-1]
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    custom = (_day(_last(params, "from")), _day(_last(params, "to")))
    segments = {
        name: tuple(v for v in params.get(name, []) if v in options.get(name, []))
        for name in SEGMENT_FIELDS
    }
    return Choice(preset, custom, {k: v for k, v in segments.items() if v})


def _load_url(options: Mapping[str, list[str]], first: date | None, latest: date | None) -> None:
    """Once per session: put the URL's choice into the widgets' state."""
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    choice = from_params(params, options)
    st.session_state[_PERIOD] = choice.preset
    start, end = choice.custom
    if choice.preset == "custom" or start or end:
        st.session_state[_RANGE] = (start or first, end or latest)
    for name in SEGMENT_FIELDS:
        st.session_state[_key(name)] = list(choice.segments.get(name, ()))
    st.session_state[_READY] = True


def _custom_range(first: date | None, latest: date | None) -> tuple[date | None, date | None]:
    if first is None:  # nothing to choose from in an empty store
        return None, None
    picked = list(st.session_state.get(_RANGE) or (first, latest))
    # Keep the range inside the data (a shared link may predate an undo); a range the reader
    # is still picking (one end so far) keeps its one end.
    clamped = [min(max(day, first), latest) for day in picked if day is not None]
    st.session_state[_RANGE] = tuple(sorted(clamped)) or (first, latest)
    chosen = st.date_input(
        "From - to", min_value=first, max_value=latest, key=_RANGE, format="DD/MM/YYYY"
    )
    if isinstance(chosen, tuple | list):  # one end while the reader is still picking
        return (chosen[0] if chosen else None, chosen[1] if len(chosen) > 1 else None)
    return chosen, chosen


def _write_url(params: Mapping[str, str | list[str]]) -> None:
    """Put the filters in the URL, leaving the page's own parameters (dashboard/choices.py) as
    they are; only a change is written (each write is a message to the browser)."""
    for name in PARAMS:
        wanted = params.get(name, [])
        values = wanted if isinstance(wanted, list) else [wanted]
        if st.query_params.get_all(name) == values:
            continue
        if values:
            st.query_params[name] = values
        else:
            del st.query_params[name]


def sidebar() -> Filters:
    """Draw the filters in the sidebar; remember and return the Filters they describe."""
    first, latest = data.data_range()
    options = data.segment_values()
    if _READY not in st.session_state:
        _load_url(options, first, latest)
    with st.sidebar:
        st.header("Filters")
        preset: str = st.selectbox(
            "Period", list(PRESETS), format_func=lambda p: PRESETS[p], key=_PERIOD
        )
        custom = _custom_range(first, latest) if preset == "custom" else (None, None)
        segments = {}
        for name in SEGMENT_FIELDS:
            # A value an undo removed from the store would make the widget fail: drop it.
            kept = [v for v in st.session_state.get(_key(name), []) if v in options[name]]
            st.session_state[_key(name)] = kept
            picked = st.multiselect(
                name.capitalize(), options[name], key=_key(name), placeholder="All"
            )
            if picked:
                segments[name] = tuple(picked)
    choice = Choice(preset, custom, segments)
    _write_url(to_params(choice))
    filters = choice.filters(first, latest)
    st.session_state[_ACTIVE] = (choice, filters)
    return filters


def current() -> Filters:
    """The filters the sidebar set in this run."""
    return st.session_state[_ACTIVE][1]


def caption() -> None:
    """One line saying what the page shows: the period preset, its dates and the segments
    (team, agent and category names escaped: they are the store's data, shown as typed)."""
    choice, filters = st.session_state[_ACTIVE]
    latest = data.data_range()[1]
    ending = f" Periods end on the latest data ({latest:%d %b %Y})." if latest else ""
    st.caption(f"{PRESETS[choice.preset]}: {escape_markdown(filters.describe())}.{ending}")
