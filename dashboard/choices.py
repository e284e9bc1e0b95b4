"""A page's own choices in the URL: each widget bound to one query parameter.

The sidebar filters travel in the URL through dashboard/filters.py; this module does the same
for what a page itself asks (the KPI on Trends, the grain, the split, the tab on Data), so a
copied link reproduces the whole view. A page binds a widget with one line before drawing it:

    choices.bind("grain", "trend_grain", GRAINS, "week")
    middle.segmented_control("By", GRAINS, key="trend_grain")

``bind`` puts the URL's value (checked against the options; anything else is the default, with
no error: a link may be old or hand-edited) into the widget's state the first time the widget
appears, and writes the widget's current value back to the URL on every run. The widget is
then drawn with that key and no default of its own (its state already holds one).

Every parameter is declared once in ``PAGE_PARAMS`` (README.md lists them; a test keeps the two
equal); app.py drops from the URL whatever the current page does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")

#: The query parameters each page reads, by the page's url_path: name -> what it holds.
PAGE_PARAMS: dict[str, dict[str, str]] = {
    "trends": {
        "kpi": "the KPI charted (a KPI key, e.g. csat)",
        "grain": "day, week or month",
        "split": "the field the series are split by (channel, team, agent, priority, category)",
    },
    "feedback": {
        "words": "words the comments must contain",
        "score": "the score the comments are filtered on (nps, csat, ces)",
        "topic": "the comments' categories (repeatable)",
    },
    "complaints": {"count": "what the Pareto chart counts (complaints, detractors, repeats)"},
    "team": {"kpi": "the KPI for the chart (a KPI key, e.g. csat)"},
    "reflect": {"level": "the learner's level (2 or 3)"},
    "evidence": {
        "learner": "the learner whose KSB coverage is shown (against their own standard)",
        "review": "the reflection waiting for review (its number)",
        "export": "the reflection to export (its number)",
    },
    "data": {"tab": "the tab shown (import, history, quality)"},
}

_PAGE = "choices.page"  # the url_path of the page this run draws (set by app.py)
_LAST = "choices.last"  # the last value of each widget, for a return to its page
_MAX_TEXT = 200  # a free-text parameter longer than this is a broken link, not a search


def start(page: str, keep: Sequence[str]) -> None:
    """Before the page runs: note which page it is and drop the URL's parameters that neither
    it nor the filters (``keep``) read (left over from another page, or mistyped)."""
    st.session_state[_PAGE] = page
    wanted = set(keep) | set(PAGE_PARAMS.get(page, {}))
    for name in [n for n in st.query_params if n not in wanted]:
        del st.query_params[name]


def bind(
    param: str,
    key: str,
    options: Sequence[T] | None,
    default: T | Sequence[T] | None = None,
    *,
    many: bool = False,
    encode: Callable[[T], str] = str,
) -> None:
    """Tie the widget with ``key`` to the query parameter ``param``.

    ``options`` are the widget's options (None for free text); ``many`` for a widget holding a
    list (a multiselect); ``encode`` gives an option's text in the URL (``str`` by default).
    """
    page = st.session_state.get(_PAGE)
    if param not in PAGE_PARAMS.get(page or "", {}):
        raise ValueError(f"query parameter {param!r} is not declared for page {page!r}")
    last: dict[str, Any] = st.session_state.setdefault(_LAST, {})
    if key not in st.session_state:  # first drawn in this session, or on this visit to the page
        # A link's value first, else this session's last value here; either is checked (the
        # options may have changed since, e.g. after an undo).
        values = st.query_params.get_all(param) or _encode(last.get(key), many, encode)
        st.session_state[key] = (
            _decode(values, options, default, many, encode) if values else default
        )
    value = st.session_state[key]
    last[key] = value
    _write(param, _encode(value, many, encode))


def _decode(
    values: list[str],
    options: Sequence[T] | None,
    default: Any,
    many: bool,
    encode: Callable[[T], str],
) -> Any:
    """The option(s) a URL names; a value that names none is the default (no error)."""
    if options is None:  # free text
        text = values[-1]
        return text if len(text) <= _MAX_TEXT and text.isprintable() else default
    by_text = {encode(option): option for option in options if option is not None}
    if many:
        picked = list(dict.fromkeys(by_text[v] for v in values if v in by_text))
        return picked or default
    return by_text.get(values[-1], default)


def _encode(value: Any, many: bool, encode: Callable[[Any], str]) -> list[str]:
    """The URL's text for a widget value: nothing for no choice (None, "", an empty list)."""
    if many:
        return [encode(v) for v in value or ()]
    if value is None or value == "":
        return []
    return [encode(value)]


def _write(param: str, values: list[str]) -> None:
    """Write only a change: each write is a message to the browser."""
    if st.query_params.get_all(param) == values:
        return
    if not values:
        del st.query_params[param]
    else:
        st.query_params[param] = values if len(values) > 1 else values[0]
