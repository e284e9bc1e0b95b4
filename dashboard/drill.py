"""Drill-through: "Show the N contacts behind this" under a tile or for a breakdown's bar, and
the dialog that lists them (worked out by ``kpi.engine.drill``, filtered exactly as the number
was, so the rows are as many as its n).

The dialog's table has no download: it holds contacts and answers, not aggregates (customers
only as pseudonymised keys, text scrubbed at import, and the table toolbar's own export is off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import streamlit as st

from dashboard import components, data
from kpi.charts.disclosure import anonymise, escape_markdown
from kpi.charts.points import POOLED, Pick, drill_request
from kpi.engine.change import Change
from kpi.engine.comparison import MeAgainstRest
from kpi.engine.drill import (
    Only,
    button_label,
    drill,
    drillable,
    period_filters,
    sides,
    title,
)
from kpi.engine.filters import Filters
from kpi.engine.results import UNDATED, MetricResult, Report
from kpi.engine.timeline import period_label
from kpi.errors import KpiError

PRIVACY_NOTE = (
    "Customers appear only as pseudonymised keys, and free text lost names, contact details and "
    "account, order and ticket numbers at import. This list is for checking a figure here: it "
    "cannot be downloaded."
)


def tiles(
    results: Sequence[MetricResult],
    filters: Filters,
    changes: dict[str, Change] | None = None,
    trends: Mapping[str, Sequence[float | None]] | None = None,
    per_row: int = 4,
    as_of: datetime | None = None,
) -> None:
    """``components.tiles``, each row followed by a row of drill-through buttons under its
    tiles (none under a tile with no rows behind it, such as the backlog)."""
    for start in range(0, len(results), per_row):
        row = results[start : start + per_row]
        components.tiles(row, changes, trends, per_row)
        for column, result in zip(st.columns(per_row), row, strict=False):
            with column:
                button(result, filters, as_of=as_of)


def button(
    result: MetricResult,
    filters: Filters,
    segment: Mapping[str, str | None] | None = None,
    as_of: datetime | None = None,
    key: str = "",
) -> None:
    """A small button that opens the rows behind one number, when it has any."""
    if not drillable(result.key) or not result.n:
        return
    widget = f"drill_{key or result.key}"
    if st.button(
        button_label(result.key, result.n),
        key=widget,
        type="tertiary",
        icon=":material/table_rows:",
        wrap=True,  # a narrow tile's column must not cut the count off
    ):
        show(result.key, filters, segment, as_of)


def segment_picker(breakdown: Report, key: str, widget: str) -> None:
    """Under a breakdown's chart (one bar per segment): choose a bar, then open the rows behind
    its figure of ``key``, filtered as the breakdown was and judged at its as-of instant."""
    field = breakdown.by[0]
    rows = [
        r
        for r in breakdown.rows
        if r.segment and key in r.metrics and r.metrics[key].n and drillable(key)
    ]
    if not rows:
        return
    # Positions, not values, are the options: a null segment is a bar of its own.
    choice = st.selectbox(
        f"Rows behind one {field}'s figure (or click its dot on the chart)",
        range(len(rows)),
        index=None,
        format_func=lambda i: (
            f"{_segment_name(rows[i].segment[field])}: n = {rows[i].metrics[key].n:,}"
        ),
        placeholder=f"Choose {_article(field)} {field} to see the rows behind its figure",
        key=f"drill_pick_{widget}",
    )
    if choice is not None:
        row = rows[choice]
        button(row.metrics[key], breakdown.filters, row.segment, breakdown.as_of, widget)


def period_picker(over_time: Report, key: str, widget: str) -> None:
    """Under a chart by day, week or month: choose a point, then open the rows behind its
    figure of ``key`` (that period's days within the filters, and its segment when split)."""
    grain = over_time.grain
    if grain not in ("day", "week", "month") or not drillable(key):
        return
    rows = [
        r
        for r in over_time.rows
        if r.period not in (None, UNDATED) and key in r.metrics and r.metrics[key].n
    ]
    if not rows:
        return

    def name(i: int) -> str:
        row = rows[i]
        where = "".join(f" · {f}: {_segment_name(v)}" for f, v in row.segment.items())
        return f"{period_label(str(row.period), grain)}{where}: n = {row.metrics[key].n:,}"

    choice = st.selectbox(
        "Rows behind one point (or click the point on the chart)",
        range(len(rows)),
        index=None,
        format_func=name,
        placeholder="Choose a point of the chart to see the rows behind its figure",
        key=f"drill_pick_{widget}",
    )
    if choice is not None:
        row = rows[choice]
        point = period_filters(over_time.filters, grain, date.fromisoformat(str(row.period)))
        button(row.metrics[key], point, row.segment, over_time.as_of, widget)


def clicked(
    pick: Pick | None,
    key: str,
    filters: Filters,
    grain: str | None = None,
    as_of: datetime | None = None,
    widget: str = "",
) -> None:
    """Open the rows behind a clicked point or bar of a chart of ``key`` drawn with
    ``filters`` (by ``grain`` over time): once per click, so that closing the dialog and
    changing anything else does not open it again while the point stays selected."""
    seen = f"drill_seen_{widget or key}"
    signature = pick.encode() if pick is not None else None
    if signature == st.session_state.get(seen):
        return
    st.session_state[seen] = signature
    if pick is None or not drillable(key):
        return
    if pick.pooled:
        st.toast(POOLED, icon=":material/info:")
        return
    request = drill_request(pick, filters, grain)
    if request is not None:
        show(key, request.filters, request.segment, as_of, only=request.only)


def me_and_rest(found: MeAgainstRest, key: str, filters: Filters) -> None:
    """A drill-through button for each side of "me against the rest of my team"; colleagues
    in the rest's rows appear as "Colleague 1..n", as in every export of them."""
    if not drillable(key):
        return
    mine, rest = sides(found, filters).items()  # me first, then the rest
    for column, (name, side), results, widget in zip(
        st.columns(2), (mine, rest), (found.ours, found.theirs), ("me", "rest"), strict=True
    ):
        result = results.get(key)
        if result is None or not result.n:
            continue
        # A button label is Markdown, and the name is the agent's as typed in the data.
        label = f"{escape_markdown(name)}: {button_label(key, result.n)}"
        if column.button(
            label, key=f"drill_{widget}_{key}", type="tertiary", icon=":material/table_rows:"
        ):
            show(key, side, me=found.me)


def _segment_name(value: str | None) -> str:
    return "(none)" if value is None else str(value)


def show(
    key: str,
    filters: Filters,
    segment: Mapping[str, str | None] | None = None,
    as_of: datetime | None = None,
    only: Only | None = None,
    me: str | None = None,
) -> None:
    """Open the dialog listing the rows behind ``key``'s number (with ``only``, just its
    successes or failures: the complaints behind a bar of complaints). With ``me``, every
    other agent's name is shown as "Colleague 1..n"."""

    def body() -> None:
        try:
            with st.spinner("Finding the rows behind this number..."):
                found = drill(data.store(), key, filters, segment, as_of, only=only)
        except KpiError as problem:
            st.error(escape_markdown(problem))
            return
        rows = anonymise(found.rows, "Agent", me) if me is not None else found.rows
        st.caption(escape_markdown(found.note))
        st.dataframe(rows, hide_index=True, width="stretch", placeholder="—")
        st.caption(PRIVACY_NOTE)

    st.dialog(title(key, segment), width="large")(body)()


def _article(word: str) -> str:
    """ "a" or "an" before a field's name ("an agent", "a channel")."""
    return "an" if word[:1].lower() in "aeiou" else "a"
