"""Data: import exports, build a mapping, see what was quarantined, undo a batch."""

from __future__ import annotations

import streamlit as st

from dashboard import data, importing
from kpi.charts.disclosure import escape_markdown
from kpi.engine.page_data import active_batches, import_totals
from kpi.errors import KpiError
from kpi.store.batches import undo
from kpi.store.quarantine import imports_table, quarantined_rows, warnings

store = data.store()

st.title("Data import and quality")
st.caption(
    "Import the CSV or XLSX exports of your helpdesk, phone system or survey tool. Every row is "
    "either imported or set aside in quarantine with its reason: the counts always add up."
)

tab_import, tab_history, tab_quality = st.tabs(
    ["Import", "Import history", "Quarantine and warnings"]
)

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
        st.dataframe(batches, hide_index=True, width="stretch")
        active = active_batches(batches)
        if active:
            batch = st.selectbox("Batch to undo", active, key="undo_batch")
            if st.button("Undo this batch", key="undo"):
                try:
                    undo(store, int(batch))
                except KpiError as refused:  # UndoRefused, or a store problem
                    outcome = ("error", f"Cannot undo: {escape_markdown(refused)}")
                else:
                    data.store_changed()
                    outcome = ("success", f"Batch {batch} undone; the rows it replaced are back.")
                # Rerun so that every count on the page is read after the undo.
                st.session_state["undo_message"] = outcome
                st.rerun()

with tab_quality:
    totals = import_totals(batches)
    read, kept, held = totals.read, totals.imported, totals.quarantined
    cols = st.columns(3)
    cols[0].metric("Rows read", f"{read:,}")
    cols[1].metric("Imported", f"{kept:,}")
    cols[2].metric("Quarantined", f"{held:,}")
    st.caption(f"Rows read {read:,} = imported {kept:,} + quarantined {held:,}.")
    importing.table_with_download(
        quarantined_rows(store),
        "Quarantined rows",
        "No rows are in quarantine.",
        "Download quarantined rows (CSV)",
        "quarantined_rows.csv",
    )
    importing.table_with_download(
        warnings(store),
        "Values emptied at import",
        "No values were emptied.",
        "Download warnings (CSV)",
        "import_warnings.csv",
    )
