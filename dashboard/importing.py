"""The Data page's import widgets: layout choice, progress, results and the mapping editor.

An upload is saved to a private folder in the store's scratch space (kpi.store.scratch: readable
by its owner only, removed after use, and swept at the next start when a killed process could
not remove it), never to the shared system temporary folder. File names, layout names and error
messages are shown escaped: a name is shown as typed, never as Markdown.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard import auth
from kpi.charts.disclosure import csv_bytes, escape_markdown
from kpi.errors import KpiError
from kpi.ingest import mapping_editor as editor
from kpi.ingest.files import peek_headers
from kpi.ingest.importer import describe_import, import_file
from kpi.ingest.layouts import (
    DEFAULT_SCALES,
    SCORE_FIELDS,
    builtin_layouts,
    guess_columns,
    mapping_toml,
    parse_layout,
)
from kpi.store import scratch
from kpi.store.batches import importer_name
from kpi.store.connection import Store
from kpi.store.schema import field_map

DETECT, BUILTIN, MAPPING = (
    "Detect from the header",
    "Choose a built-in layout",
    "Use a mapping file",
)
NOT_IN_FILE = "(not in this file)"
RESULTS = "import_results"  # session state: what the last import said, per file


@dataclass(frozen=True)
class LayoutChoice:
    layout: str | None = None
    mapping: bytes | None = None
    mapping_name: str = "mapping.toml"  # the uploaded file's name, which messages quote


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
        if mapping is None:
            return LayoutChoice()
        return LayoutChoice(mapping=mapping.getvalue(), mapping_name=mapping.name)
    return LayoutChoice()


@contextmanager
def _private_folder(purpose: str) -> Iterator[Path]:
    """A fresh private scratch folder, removed (with the uploads in it) when done."""
    folder = scratch.new_folder(purpose)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _disk_name(name: str, longest: int = 120) -> str:
    """An uploaded file's name as a file in the scratch folder: its last part only, no control
    characters, never "." or "..", at most ``longest`` characters with its suffix kept (the
    reader looks at bytes, but people read messages with names)."""
    plain = "".join(c for c in Path(name.replace("\\", "/")).name if c.isprintable())
    if plain in ("", ".", ".."):
        plain = "upload"
    suffix = Path(plain).suffix[:10]
    return plain if len(plain) <= longest else plain[: longest - len(suffix)] + suffix


def _saved(name: str, content: bytes, folder: Path) -> Path:
    path = folder / _disk_name(name)
    path.write_bytes(content)
    return path


def run_imports(store: Store, uploads, choice: LayoutChoice) -> list[dict]:
    """Import each uploaded file with a progress bar; one result or one error per file."""
    results: list[dict] = []
    identity = auth.acting_identity(store)
    with _private_folder("upload") as folder:
        mapping = None
        if choice.mapping:  # in a folder of its own: an upload of the same name cannot replace it
            (folder / "mapping").mkdir()
            mapping = _saved(choice.mapping_name, choice.mapping, folder / "mapping")
        for upload in uploads:
            shown = escape_markdown(upload.name)
            bar = st.progress(0.0, text=f"{shown}: starting")

            def report(stage: str, fraction: float, bar=bar, name: str = shown) -> None:
                bar.progress(min(fraction, 1.0), text=f"{name}: {escape_markdown(stage)}")

            path = _saved(upload.name, upload.getvalue(), folder)
            try:
                result = import_file(
                    store,
                    path,
                    layout=choice.layout,
                    mapping=mapping,
                    progress=report,
                    imported_by=importer_name(auth.acting_name()),
                    identity=identity,
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
            st.error(escape_markdown(item["error"]))
            continue
        r = item["result"]
        box = st.container(border=True)
        box.markdown(f"**{escape_markdown(r.file_name)}** - layout {escape_markdown(r.layout)}")
        cols = box.columns(4)
        cols[0].metric("Rows read", f"{r.rows_read:,}")
        cols[1].metric("Imported", f"{r.rows_imported:,}")
        cols[2].metric("Quarantined", f"{r.rows_quarantined:,}")
        cols[3].metric("Values emptied", f"{r.warnings:,}")
        box.text("\n".join(describe_import(r)))


def _headers(upload) -> list[str] | None:
    """The uploaded file's column names; None (after a one-line error) when it cannot be read."""
    with _private_folder("peek") as folder:
        path = _saved(upload.name, upload.getvalue(), folder)
        try:
            return peek_headers(path)
        except KpiError as problem:  # an ImportProblem: unreadable, or past the size limits
            if _already_said(str(problem)):  # by the import of the same file, just above
                st.caption("The editor cannot read this file either: see the error above.")
            else:
                st.error(escape_markdown(problem))
            return None


def _already_said(message: str) -> bool:
    return any(item.get("error") == message for item in st.session_state.get(RESULTS, []))


def _column_picks(kind: str, headers: list[str]) -> dict[str, str]:
    """A selectbox per canonical field (the importer's guess preselected): field -> column."""
    guesses = guess_columns(kind, headers)
    options = [NOT_IN_FILE, *headers]
    chosen: dict[str, str] = {}
    cols = st.columns(3)
    # The score fields are response fields already: listed once, so each key is unique.
    names = list(dict.fromkeys([*field_map(kind), *(SCORE_FIELDS if kind == "responses" else ())]))
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


def _score_choices(
    kind: str, chosen: dict[str, str]
) -> tuple[dict[str, tuple[float, float] | tuple[str, ...]], dict[str, dict[str, float | None]]]:
    """Each picked score's scale (numbers or answer words) and labels, as typed."""
    scales: dict[str, tuple[float, float] | tuple[str, ...]] = {}
    labels: dict[str, dict[str, float | None]] = {}
    for score in (s for s in SCORE_FIELDS if s in chosen):
        low, high = DEFAULT_SCALES[score]
        scale_box, labels_box = st.columns(2)
        typed = scale_box.text_input(
            f"{score} scale", f"{low:g}-{high:g}", key=f"map_{kind}_{score}_scale",
            help=editor.SCALE_HELP,
        )  # fmt: skip
        worded = labels_box.text_input(
            f"{score} labels", key=f"map_{kind}_{score}_labels", help=editor.LABELS_HELP
        )
        scales[score] = editor.scale_from_text(score, typed) or DEFAULT_SCALES[score]
        labels[score] = editor.labels_from_text(score, worded)
    return scales, labels


def mapping_editor(store: Store, upload) -> None:
    """Pick a column for each canonical field, then save a mapping file or import with it."""
    headers = _headers(upload)
    if headers is None:
        return
    st.write(f"Columns in **{escape_markdown(upload.name)}**: {len(headers)}")
    kind = st.radio("Each row is", ["contacts", "responses"], horizontal=True, key="map_kind")
    chosen = _column_picks(kind, headers)
    date_format = st.text_input(
        "Date format (strptime codes, e.g. %d/%m/%Y %H:%M; empty = detect)", key="map_date"
    )
    timezone = st.text_input("Time zone of the export", "Europe/London", key="map_tz")
    nulls = st.text_input("Cells that mean missing", key="map_nulls", help=editor.NULLS_HELP)
    try:
        scales, labels = _score_choices(kind, chosen)
        text = mapping_toml(
            kind,
            chosen,
            date_format=date_format,
            timezone=timezone,
            scales=scales,
            name=Path(upload.name).stem.replace(" ", "_").lower(),
            null_values=editor.words(nulls),
            labels=labels,
        )
    except KpiError as problem:  # a scale or labels typed wrongly
        st.error(escape_markdown(problem))
        return
    st.code(text, language="toml")
    st.download_button(
        "Save mapping file", text.encode("utf-8"), file_name="mapping.toml", key="map_save"
    )
    try:  # the import's own check, before the button: e.g. a required field not chosen yet
        parse_layout(tomllib.loads(text), "mapping.toml")
    except KpiError as problem:
        st.info(f"{editor.NOT_READY} {escape_markdown(problem)}")
        return
    if st.button("Import with this mapping", key="map_import"):
        choice = LayoutChoice(mapping=text.encode("utf-8"))
        st.session_state[RESULTS] = run_imports(store, [upload], choice)
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
