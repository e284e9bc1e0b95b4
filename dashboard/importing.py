"""The Data page's import widgets: layout choice, progress, results and the mapping editor."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from kpi.charts.disclosure import csv_bytes
from kpi.errors import KpiError
from kpi.ingest.files import peek_headers
from kpi.ingest.importer import describe_import, import_file
from kpi.ingest.layouts import (
    DEFAULT_SCALES,
    SCORE_FIELDS,
    builtin_layouts,
    guess_columns,
    mapping_toml,
)
from kpi.store.connection import Store
from kpi.store.schema import field_map

DETECT, BUILTIN, MAPPING = (
    "Detect from the header",
    "Choose a built-in layout",
    "Use a mapping file",
)
NOT_IN_FILE = "(not in this file)"


@dataclass(frozen=True)
class LayoutChoice:
    layout: str | None = None
    mapping: bytes | None = None


def layout_choice() -> LayoutChoice:
    how = st.radio("Layout", [DETECT, BUILTIN, MAPPING], horizontal=True, key="layout_how")
    if how == BUILTIN:
        layouts = builtin_layouts()
        name = st.selectbox(
            "Built-in layout",
            list(layouts),
            format_func=lambda n: f"{n}: {layouts[n].title}",
            key="layout_name",
        )
        st.caption(layouts[name].notes)
        return LayoutChoice(layout=name)
    if how == MAPPING:
        mapping = st.file_uploader("Mapping file (TOML)", type=["toml"], key="mapping_upload")
        return LayoutChoice(mapping=mapping.getvalue() if mapping else None)
    return LayoutChoice()


def _saved(name: str, content: bytes, folder: Path) -> Path:
    # Keep the suffix (the reader looks at bytes, but people read messages with names).
    path = folder / Path(name).name
    path.write_bytes(content)
    return path


def run_imports(store: Store, uploads, choice: LayoutChoice) -> list[dict]:
    """Import each uploaded file with a progress bar; one result or one error per file."""
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="kpi-upload-") as folder:
        mapping = _saved("mapping.toml", choice.mapping, Path(folder)) if choice.mapping else None
        for upload in uploads:
            bar = st.progress(0.0, text=f"{upload.name}: starting")

            def report(stage: str, fraction: float, bar=bar, name: str = upload.name) -> None:
                bar.progress(min(fraction, 1.0), text=f"{name}: {stage}")

            path = _saved(upload.name, upload.getvalue(), Path(folder))
            try:
                result = import_file(
                    store, path, layout=choice.layout, mapping=mapping, progress=report
                )
            except KpiError as problem:  # an unreadable file, or the store refusing it
                results.append({"file": upload.name, "error": str(problem)})
            else:
                results.append({"file": upload.name, "result": result})
            bar.empty()
    return results


def show_results(results: list[dict]) -> None:
    for item in results:
        if "error" in item:
            st.error(item["error"])
            continue
        r = item["result"]
        box = st.container(border=True)
        box.markdown(f"**{r.file_name}** - layout `{r.layout}`")
        cols = box.columns(4)
        cols[0].metric("Rows read", f"{r.rows_read:,}")
        cols[1].metric("Imported", f"{r.rows_imported:,}")
        cols[2].metric("Quarantined", f"{r.rows_quarantined:,}")
        cols[3].metric("Values emptied", f"{r.warnings:,}")
        box.text("\n".join(describe_import(r)))


def _headers(upload) -> list[str] | None:
    """The uploaded file's column names; None (after a one-line error) when it cannot be read."""
    with tempfile.TemporaryDirectory(prefix="kpi-peek-") as folder:
        path = _saved(upload.name, upload.getvalue(), Path(folder))
        try:
            return peek_headers(path)
        except KpiError as problem:
            st.error(str(problem))
            return None


def _column_picks(kind: str, headers: list[str]) -> dict[str, str]:
    """A selectbox per canonical field (the importer's guess preselected): field -> column."""
    guesses = guess_columns(kind, headers)
    options = [NOT_IN_FILE, *headers]
    chosen: dict[str, str] = {}
    cols = st.columns(3)
    names = [*field_map(kind), *[s for s in SCORE_FIELDS if kind == "responses"]]
    for i, name in enumerate(names):
        guess = guesses.get(name)
        pick = cols[i % 3].selectbox(
            name,
            options,
            index=options.index(guess) if guess in options else 0,
            key=f"map_{kind}_{name}",
        )
        if pick != NOT_IN_FILE:
            chosen[name] = pick
    return chosen


def mapping_editor(store: Store, upload) -> None:
    """Pick a column for each canonical field, then save a mapping file or import with it."""
    headers = _headers(upload)
    if headers is None:
        return
    st.write(f"Columns in **{upload.name}**: {len(headers)}")
    kind = st.radio("Each row is", ["contacts", "responses"], horizontal=True, key="map_kind")
    chosen = _column_picks(kind, headers)
    date_format = st.text_input(
        "Date format (strptime codes, e.g. %d/%m/%Y %H:%M; empty = detect)", key="map_date"
    )
    timezone = st.text_input("Time zone of the export", "Europe/London", key="map_tz")
    text = mapping_toml(
        kind,
        chosen,
        date_format=date_format,
        timezone=timezone,
        scales={s: DEFAULT_SCALES[s] for s in SCORE_FIELDS},
        name=Path(upload.name).stem.replace(" ", "_").lower(),
    )
    st.code(text, language="toml")
    st.download_button(
        "Save mapping file", text.encode("utf-8"), file_name="mapping.toml", key="map_save"
    )
    if st.button("Import with this mapping", key="map_import"):
        choice = LayoutChoice(mapping=text.encode("utf-8"))
        st.session_state["import_results"] = run_imports(store, [upload], choice)
        st.cache_data.clear()
        st.rerun()


def table_with_download(frame, title: str, empty: str, label: str, file_name: str) -> None:
    """A table of rows set aside at import (first 1,000 shown) and all of them as a CSV."""
    st.subheader(title)
    if frame.empty:
        st.success(empty)
        return
    st.dataframe(frame.head(1000), hide_index=True, width="stretch")
    st.download_button(
        label, csv_bytes(frame), file_name=file_name, mime="text/csv", key=f"download_{file_name}"
    )
