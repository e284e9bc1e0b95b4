"""Evidence: the journal of reflections, KSB coverage, supervisor review, and exports.

An evidence pack (PDF or DOCX) and each of its charts (PNG, SVG, interactive HTML, CSV) are
built by kpi.evidence.packs: aggregates only, colleagues anonymised, small cells suppressed. Reflection
text is shown as plain text, never as HTML or markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import components, data
from kpi.charts import figures, images
from kpi.charts.disclosure import csv_bytes
from kpi.charts.spec import table
from kpi.evidence import documents, ksbs, reflections
from kpi.evidence import packs as evidence
from kpi.evidence.reflections import Reflection

BUILT = "evidence.built"


def journal() -> list[Reflection]:
    st.subheader("Journal")
    rows = reflections.journal(data.store())
    if not rows:
        st.info("No reflection yet. Start one on the Reflect page.")
        return []
    frame = pd.DataFrame(
        [
            {
                "reference": r.reference,
                "title": r.title,
                "learner": r.learner,
                "status": reflections.STATUS_LABELS[r.status],
                "KSBs": ", ".join(r.ksbs),
                "review date": r.action.review_date,
                "updated": r.updated_at,
            }
            for r in rows
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    return rows


def coverage() -> None:
    st.subheader("KSB coverage")
    standard = st.selectbox(
        "Standard", list(ksbs.STANDARDS), format_func=ksbs.STANDARDS.get, key="coverage_standard"
    )
    table_ = reflections.coverage(data.store(), standard)
    gaps = int((table_.reflections == 0).sum())
    st.caption(
        f"{len(table_) - gaps} of {len(table_)} KSBs have evidence; {gaps} have none yet. "
        "Codes are provisional: check them against the official standard."
    )
    st.dataframe(table_[["ksb", "reflections", "reviewed", "description"]], hide_index=True)
    provider_wording()


def provider_wording() -> None:
    """Replace a standard's built-in (provisional) KSBs with the provider's official wording."""
    with st.expander("Use your provider's KSB wording (CSV)"):
        st.caption(
            "Columns: standard, code or area, description (optional: level, type, "
            "evidence_prompt). Every standard in the file replaces the built-in rows."
        )
        upload = st.file_uploader("KSB file", type=["csv"], key="ksb_upload")
        if upload is not None and st.button("Import KSBs", key="ksb_import"):
            try:
                text = upload.getvalue().decode("utf-8-sig")
                rows = ksbs.import_text(data.store(), text, evidence.safe_name(upload.name, 60))
            except (UnicodeDecodeError, ksbs.CatalogueError) as problem:
                st.error(str(problem))
            else:
                st.success(f"Imported {len(rows)} KSBs.")


def show(r: Reflection) -> None:
    """A reflection as plain text, section by section."""
    st.text(f"{r.reference} · {r.title} · {r.learner} (Level {r.level})")
    labels = {
        k: label for k, label, _ in reflections.prompts(r.model, r.level, complaint=r.complaint)
    }
    for key, text in r.sections.items():
        if text.strip():
            st.caption(labels.get(key, key))
            st.text(text)
    st.caption("SMART action")
    st.text(r.action.describe())
    st.caption("KSBs: " + (", ".join(r.ksbs) or "none"))


def review(rows: list[Reflection]) -> None:
    st.subheader("Supervisor review")
    waiting = [r for r in rows if r.status == "ready_for_review"]
    if not waiting:
        st.caption("Nothing is waiting for review.")
        return
    ids = [r.reflection_id for r in waiting]
    chosen = st.selectbox(
        "Waiting for review",
        ids,
        format_func=lambda i: next(
            f"{r.reference} {r.title}" for r in waiting if r.reflection_id == i
        ),
        key="review_pick",
    )
    r = next(r for r in waiting if r.reflection_id == chosen)
    show(r)
    supervisor = st.text_input("Supervisor", key="review_name", max_chars=80)
    comment = st.text_area("Comment (serves as a witness statement)", key="review_comment")
    sign, back = st.columns(2)
    for column, label, sign_off in ((sign, "Sign off", True), (back, "Return to learner", False)):
        if column.button(label, key=f"review_{sign_off}"):
            try:
                reflections.review(data.store(), r.reflection_id, supervisor, comment, sign_off)
            except ValueError as problem:
                st.error(str(problem))
            else:
                st.success(f"{r.reference} {'signed off' if sign_off else 'returned'}.")


def exports(rows: list[Reflection]) -> None:
    st.subheader("Export")
    ids = [r.reflection_id for r in rows]
    chosen = st.selectbox(
        "Reflection",
        ids,
        format_func=lambda i: next(
            f"{r.reference} {r.title}" for r in rows if r.reflection_id == i
        ),
        key="export_pick",
    )
    indexed = st.checkbox(
        "Indexed figures (first value = 100; hides commercially sensitive volumes)",
        key="export_indexed",
    )
    if st.button("Build evidence pack", type="primary", key="export_build"):
        try:
            with st.spinner("Drawing charts and writing the pack..."), images.renderer() as r:
                pack = evidence.build(data.store(), chosen, r, indexed=indexed)
                svgs = [r.image(figures.figure(spec), "svg") for spec in pack.charts]
        except images.ChromiumMissing as problem:
            st.error(str(problem))
            return
        st.session_state[BUILT] = (chosen, indexed, pack, svgs)
    built = st.session_state.get(BUILT)
    if built and built[:2] == (chosen, indexed):
        downloads(built[2], built[3])


def downloads(pack: evidence.Pack, svgs: list[bytes]) -> None:
    pdf, docx = st.columns(2)
    pdf.download_button(
        "Evidence pack (PDF)",
        documents.pdf_bytes(pack),
        evidence.file_name(pack, "pdf"),
        "application/pdf",
        key="dl_pdf",
    )
    docx.download_button(
        "Evidence pack (DOCX)",
        documents.docx_bytes(pack),
        evidence.file_name(pack, "docx"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key="dl_docx",
    )
    charts = zip(pack.charts, pack.images, svgs, strict=True)
    for number, (spec, image, svg) in enumerate(charts, 1):
        st.caption(f"Chart {number}: {spec.title}")
        columns = st.columns(4)
        suffix = f"chart{number}"
        columns[0].download_button(
            "PNG",
            image,
            evidence.file_name(pack, "png", suffix),
            "image/png",
            key=f"dl_png{number}",
        )
        columns[3].download_button(
            "SVG",
            svg,
            evidence.file_name(pack, "svg", suffix),
            "image/svg+xml",
            key=f"dl_svg{number}",
        )
        columns[1].download_button(
            "Interactive HTML",
            images.html_bytes(figures.figure(spec)),
            evidence.file_name(pack, "html", suffix),
            "text/html",
            key=f"dl_html{number}",
        )
        columns[2].download_button(
            "Numbers (CSV)",
            csv_bytes(table(spec)),
            evidence.file_name(pack, "csv", suffix),
            "text/csv",
            key=f"dl_csv{number}",
        )


if components.page(
    "Evidence",
    "Your reflections, which KSBs they evidence, the supervisor's review, and evidence packs "
    "safe to share: aggregates only, colleagues anonymised, small cells suppressed.",
    uses_filters=False,
):
    found = journal()
    coverage()
    if found:
        review(found)
        exports(found)
