"""Data: import exports, build a mapping, see what was quarantined, undo a batch."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, components, data, importing
from dashboard import choices as page_choices
from kpi.charts.disclosure import escape_markdown
from kpi.engine.page_data import import_totals
from kpi.engine.tables import for_people
from kpi.errors import KpiError
from kpi.store.batches import UndoPreview, undo, undo_preview
from kpi.store.quarantine import batch_choices, imports_table, quarantined_rows, warnings

store = data.store()


def undo_picker() -> None:
    """Pick a batch by name (none chosen at first), see what undoing it would change, and only
    then confirm; a refused undo says why, and what to undo first, before any button."""
    choices = batch_choices(store)
    active = {c.batch_id: c.label for c in choices if not c.undone}
    undone = [str(c.batch_id) for c in choices if c.undone]
    if undone:
        st.caption(f"Already undone, so not listed: batch {', '.join(undone)}.")
    if not active:
        return
    batch = st.selectbox(
        "Batch to undo",
        list(active),
        index=None,
        format_func=lambda b: active[b],
        placeholder="Choose the batch to undo",
        key="undo_batch",
    )
    if batch is None:
        return
    preview = undo_preview(store, int(batch))
    if preview.refused:
        st.error(f"Cannot undo batch {batch}: {escape_markdown(preview.refused)}")
        return
    st.warning(
        escape_markdown(preview.heading())
        + "\n"
        + "\n".join(f"- {line}" for line in preview.lines())
    )
    if st.button(f"Confirm: undo batch {batch}", key="undo", type="primary"):
        confirm_undo(preview)


def confirm_undo(preview: UndoPreview) -> None:
    batch = preview.batch_id
    try:
        undo(store, batch, by=auth.acting_name(), identity=auth.acting_identity(store))
    except KpiError as refused:  # UndoRefused (another session got there first), or the store
        outcome = ("error", f"Cannot undo: {escape_markdown(refused)}")
    else:
        data.store_changed()
        outcome = ("success", f"Batch {batch} undone: " + "; ".join(preview.lines()) + ".")
    # Rerun so that every count on the page is read after the undo, with no batch chosen.
    st.session_state["undo_message"] = outcome
    st.session_state.pop("undo_batch", None)
    st.rerun()


st.title("Data import and quality")
st.caption(
    "Import the CSV or XLSX exports of your helpdesk, phone system or survey tool. Every row is "
    "either imported or set aside in quarantine with its reason: the counts always add up."
)
if stray := data.stray_dates():
    st.warning(escape_markdown(stray))

# The tab shown travels in the URL (?tab=history): rerun on a change so the URL follows.
TABS = {"Import": "import", "Import history": "history", "Quarantine and warnings": "quality"}
page_choices.bind("tab", "data_tab", list(TABS), "Import", encode=TABS.__getitem__)
tab_import, tab_history, tab_quality = st.tabs(list(TABS), key="data_tab", on_change="rerun")

with tab_import:
    uploads = st.file_uploader(
        "Export files",
        type=["csv", "tsv", "txt", "xlsx"],
        accept_multiple_files=True,
        key="uploads",
        help="CSV (any common encoding and delimiter) or XLSX, up to 1 GB each.",
    )
    choice = importing.layout_choice()
    if st.button("Import", type="primary", disabled=not uploads, key="import"):
        st.session_state[importing.RESULTS] = importing.run_imports(store, uploads, choice)
        data.store_changed()
    importing.show_results(st.session_state.get(importing.RESULTS, []))
    if uploads:
        with st.expander("Mapping editor: describe an export the importer does not know"):
            importing.mapping_editor(store, uploads[0])

with tab_history:
    if message := st.session_state.pop("undo_message", None):
        getattr(st, message[0])(message[1])
    batches = imports_table(store)
    if batches.empty:
        st.info("Nothing imported yet. Upload an export on the Import tab.")
    else:
        components.dataframe(for_people(batches))
        undo_picker()

with tab_quality:
    totals = import_totals(batches)
    read, kept, held = totals.read, totals.imported, totals.quarantined
    cols = st.columns(3)
    cols[0].metric("Rows read", f"{read:,}")
    cols[1].metric("Imported", f"{kept:,}")
    cols[2].metric("Quarantined", f"{held:,}")
    st.caption(f"Rows read {read:,} = imported {kept:,} + quarantined {held:,}.")
    importing.table_with_download(
        for_people(quarantined_rows(store)).frame,
        "Quarantined rows",
        "No rows are in quarantine.",
        "Download quarantined rows (CSV)",
        "quarantined_rows.csv",
    )
    importing.table_with_download(
        for_people(warnings(store)).frame,
        "Values emptied at import",
        "No values were emptied.",
        "Download warnings (CSV)",
        "import_warnings.csv",
    )
