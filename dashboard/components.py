"""The pieces every page is built from: a KPI tile, the RAG legend, the empty state, a chart
with its PNG button, a downloadable table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import auth, data, filters
from kpi.charts.disclosure import anonymise, csv_bytes, suppress_small
from kpi.charts.points import Pick, picked
from kpi.engine.change import Change
from kpi.engine.filters import Filters
from kpi.engine.results import MetricResult
from kpi.engine.tables import (
    EMPTY,
    PeopleTable,
    for_people,
    format_change,
    format_interval,
    format_value,
)
from kpi.metrics.registry import REGISTRY
from kpi.metrics.targets import LEGEND, rag
from kpi.store import annotations as annotation_store
from kpi.store import audit
from kpi.store.annotations import Annotation
from kpi.store.batches import importer_name

DATA_PAGE = "views/data.py"
Colour = Literal["red", "orange", "green"]
DeltaColour = Literal["normal", "inverse", "off"]
_RAG_COLOURS: dict[str, Colour] = {"green": "green", "amber": "orange", "red": "red"}
#: How st.metric colours a change: green when it moved the better way.
_DELTA_COLOURS: dict[str, DeltaColour] = {"higher": "normal", "lower": "inverse"}


def page(title: str, intro: str, uses_filters: bool = True) -> bool:
    """Title, one line on what the page is for, the filters caption; False (after an empty
    state) when the store holds no data, so the page can stop."""
    st.title(title)
    st.caption(intro)
    if not data.has_data():
        empty_state("The store holds no contacts or survey answers yet.")
        return False
    if uses_filters:
        filters.caption()
    return True


def empty_state(message: str) -> None:
    st.info(
        f"{message} Import your team's exports on the Data page, or widen the filters.",
        icon=":material/info:",
    )
    st.page_link(DATA_PAGE, label="Go to Data import and quality", icon=":material/upload_file:")


def no_rows(total: MetricResult | None, *others: MetricResult | None) -> bool:
    """True (after an empty state) when the filters select no contacts and no answers."""
    if any(r is not None and r.n for r in (total, *others)):
        return False
    empty_state("Nothing matches these filters.")
    return True


def kpi_tile(
    result: MetricResult, change: Change | None = None, trend: Sequence[float | None] | None = None
) -> None:
    """Value, n and interval, a change marked only when significant, RAG against the target
    with its direction in words, and the definition behind the ? icon."""
    metric = REGISTRY[result.key]
    target = data.settings().targets.get(result.key)
    delta: str | None = None
    colour: DeltaColour = "off"
    if change is not None and change.significant and change.difference is not None:
        delta = f"{format_change(change.difference, result.unit)} vs previous period"
        colour = _DELTA_COLOURS.get(metric.direction or "", "off")
    help_text = result.definition + (
        f"\n\nChange tested with a {change.test}." if change and change.test else ""
    )
    points = [v for v in (trend or []) if v is not None]
    with st.container(border=True):
        st.metric(
            metric.label,
            format_value(result.value, result.unit),
            delta,
            delta_color=colour,
            help=help_text,
            chart_data=points if len(points) > 1 else None,
        )
        if result.value is None:
            st.caption(result.reason or "no data")
        elif result.unit != "count":  # a count is its own n
            st.caption(
                format_interval(result)
                + (" · small sample: treat with care" if result.small_sample else "")
            )
        status = rag(result.value, target, result.ci_low, result.ci_high)
        if status:
            st.badge(
                f"{status.symbol} {status.label}",
                color=_RAG_COLOURS[status.status],
                help=status.text,
            )


def tiles(
    results: Sequence[MetricResult],
    changes: dict[str, Change] | None = None,
    trends: Mapping[str, Sequence[float | None]] | None = None,
    per_row: int = 4,
) -> None:
    for start in range(0, len(results), per_row):
        for column, result in zip(
            st.columns(per_row), results[start : start + per_row], strict=False
        ):
            with column:
                kpi_tile(result, (changes or {}).get(result.key), (trends or {}).get(result.key))


def notes(filters: Filters) -> list[Annotation]:
    """The team's annotations inside the filters' dates, for every trend chart."""
    return annotation_store.between(data.store(), filters.date_from, filters.date_to)


def annotation_editor(default_date: date | None) -> None:
    """A form to add a dated note, and the notes so far with a delete button each. In team
    mode the team's notes are kept by supervisors and admins (audited); a learner reads them."""
    if not auth.may(data.store(), "review"):
        for note in annotation_store.all_annotations(data.store()):
            st.text(f"{note.on_date:%d %b %Y}  {note.text}")
        st.caption("Supervisors and admins add and remove the team's notes.")
        return
    with st.form("annotation", clear_on_submit=True, border=False):
        when, what = st.columns([1, 3])
        on_date = when.date_input("Date", value=default_date, format="DD/MM/YYYY")
        text = what.text_input(
            "Note",
            max_chars=annotation_store.MAX_TEXT,
            placeholder="New refund process",
            key="annotation_text",
        )
        added = st.form_submit_button("Add annotation", key="add_annotation")
        if added and text.strip() and isinstance(on_date, date):
            annotation_store.add(data.store(), on_date, text)
            audited("annotation", f"added the note of {on_date:%d %b %Y}")
            st.rerun()
    for note in annotation_store.all_annotations(data.store()):
        day, words, button = st.columns([1, 4, 1])
        day.text(f"{note.on_date:%d %b %Y}")
        words.text(note.text)  # plain text: never rendered as Markdown or HTML
        if button.button("Delete", key=f"delete_note_{note.annotation_id}"):
            annotation_store.delete(data.store(), note.annotation_id)
            audited("annotation", f"deleted the note of {note.on_date:%d %b %Y}")
            st.rerun()


def audited(action: str, detail: str) -> None:
    """An entry in the audit log for what this person just did on a page: who (the signed-in
    person, or the computer's account in local mode), their sign-in identity, what."""
    store = data.store()
    who = importer_name(auth.acting_name())
    audit.add(store, who, action, detail, identity=auth.acting_identity(store))


def rag_legend() -> None:
    st.caption(LEGEND)


def chart(fig: go.Figure, key: str, pickable: bool = False) -> Pick | None:
    """A Plotly chart with its toolbar; the camera button saves a PNG named after the chart.

    A ``pickable`` chart reruns the page when a point or bar is clicked and returns what that
    point stands for (``kpi.charts.points``; None when nothing drillable is selected)."""
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": key, "scale": 2},
    }
    if not pickable:
        st.plotly_chart(fig, key=key, config=config)
        return None
    event = st.plotly_chart(fig, key=key, config=config, on_select="rerun", selection_mode="points")
    return picked(event.selection) if event else None


def table(frame: pd.DataFrame, name: str, key: str, grain: str | None = None) -> None:
    """A table of aggregates as people read it (kpi's headers, units and dashes; numbers that
    sort stay numbers) and its CSV download (cells that could run as formulas neutralised).

    The CSV keeps the machine-friendly columns and unrounded numbers, for a spreadsheet. A
    table by agent is shown as it is but exported with colleagues as "Colleague 1..n" and
    cells under 5 suppressed: exports must not identify colleagues."""
    dataframe(for_people(frame, grain))
    by_agent = "agent" in frame
    export = suppress_small(anonymise(frame, "agent", auth.me(data.store()))) if by_agent else frame
    note = "; colleagues anonymised, cells under 5 suppressed" if by_agent else ""
    st.download_button(
        f"Download {name} (CSV of unrounded figures{note})",
        csv_bytes(export),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"download_{key}",
        icon=":material/download:",
    )


def dataframe(shown: PeopleTable) -> None:
    """A table from ``kpi.engine.tables.for_people``: its number formats as column settings
    (so those columns still sort as numbers), and its note on what the dashes mean."""
    config = {
        column: st.column_config.NumberColumn(format=fmt) for column, fmt in shown.formats.items()
    }
    st.dataframe(
        shown.frame, hide_index=True, width="stretch", column_config=config, placeholder=EMPTY
    )
    if shown.note:
        st.caption(shown.note)
