"""Evidence: the journal of reflections, KSB coverage, supervisor review, and exports.

An evidence pack (PDF or DOCX) and each of its charts (PNG, SVG, interactive HTML, CSV) are
built by kpi.evidence.packs: aggregates only, colleagues anonymised, small cells suppressed. Before
any of them can be downloaded the learner reads every piece of text they carry, exactly as they
carry it (kpi.evidence.redaction.preview), and confirms it holds nothing personal. Reflection
text is shown as plain text, never as HTML or markdown.

A sign-off records the signer, the time and the digest of what was signed; in local mode (no
sign-in) the signer is the name typed here and the pack says "not verified". The learner cannot
sign off their own reflection, and an edit after sign-off voids it ("Changed after sign-off").
`kpi evidence verify FILE` checks an exported pack against the store.

In team mode the organisation printed on sign-offs and the provider's KSB wording are store-wide
settings, so only an admin (``users.MAY``: "settings") sees their inputs; everyone else sees the
organisation as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from dashboard import auth, choices, components, data
from kpi.charts import images
from kpi.charts.disclosure import escape_markdown
from kpi.engine.tables import for_people
from kpi.errors import KpiError
from kpi.evidence import (
    coverage,
    documents,
    ksbs,
    learners,
    redaction,
    reflections,
    verification,
)
from kpi.evidence import packs as evidence
from kpi.evidence.reflections import Reflection
from kpi.store import users

BUILT = "evidence.built"
CONFIRMED = "export_confirm"
#: What the last review did, shown after the rerun that redraws the journal with its new status.
REVIEWED = "evidence.reviewed"


def may_change_settings() -> bool:
    """Whether this person may change store-wide settings: anyone in local mode (one person,
    their own store), only an admin in team mode."""
    return auth.may(data.store(), "settings")


def journal() -> list[Reflection]:
    st.subheader("Journal")
    rows = auth.visible(data.store(), reflections.journal(data.store()))
    if not rows:
        st.info("No reflection yet. Start one on the Reflect page.")
        return []
    frame = reflections.journal_table(rows)
    components.dataframe(for_people(frame))
    for r in rows:
        if r.status == "changed_after_sign_off":
            st.warning(
                escape_markdown(
                    f"{r.heading}: changed after sign-off, so the sign-off no longer applies "
                    "and its pack prints none. Send it for review again."
                )
            )
    return rows


def coverage_section() -> None:
    """KSB coverage per learner, against the standard they are on (never pooled across the
    store: one learner's evidence does not count for another)."""
    st.subheader("KSB coverage")
    names = auth.visible_learners(data.store(), learners.learners(data.store()))
    if not names:
        st.caption("No reflections yet: start one on the Reflect page.")
        provider_wording()
        return
    choices.bind("learner", "coverage_learner", names, names[0])
    learner: str = st.selectbox("Learner", names, key="coverage_learner")
    own = learners.registration(data.store(), learner)
    table_ = coverage.learner_coverage(data.store(), learner)
    st.caption(
        escape_markdown(
            f"{own.describe}. {coverage.coverage_summary(table_)} {ksbs.PROVISIONAL} "
            "The Portfolio page has the learner's index, KSB annex and discussion prep sheet."
        )
    )
    components.dataframe(for_people(table_[["ksb", "reflections", "reviewed", "description"]]))
    provider_wording()


def provider_wording() -> None:
    """Replace a standard's built-in (provisional) KSBs with the provider's official wording."""
    if not may_change_settings():
        st.caption("An admin can replace the built-in KSB wording with your provider's.")
        return
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
            except (UnicodeDecodeError, KpiError) as problem:
                st.error(escape_markdown(problem))  # names the uploaded file
            else:
                detail = f"KSB wording imported: {len(rows)} KSBs from {upload.name[:60]}"
                components.audited("settings", detail)
                st.success(f"Imported {len(rows)} KSBs.")


def show(r: Reflection) -> None:
    """A reflection as plain text, section by section."""
    st.text(r.byline)
    for label, text in reflections.written_sections(r, data.store()):
        st.caption(escape_markdown(label))
        st.text(text)
    st.caption("SMART action")
    st.text(r.action.describe())
    st.caption(escape_markdown("KSBs: " + (", ".join(r.ksbs) or "none")))


def review(rows: list[Reflection]) -> None:
    st.subheader("Supervisor review")
    if done := st.session_state.pop(REVIEWED, None):
        st.success(done)
    waiting = [r for r in rows if r.status == "ready_for_review"]
    if not waiting:
        st.caption("Nothing is waiting for review.")
        return
    by_id = {r.reflection_id: r for r in waiting if r.reflection_id is not None}
    choices.bind("review", "review_pick", list(by_id), next(iter(by_id)))
    chosen = st.selectbox(
        "Waiting for review",
        list(by_id),
        format_func=lambda i: by_id[i].heading,
        key="review_pick",
    )
    r = by_id[chosen]
    show(r)
    user = auth.current_user(data.store())
    signer: reflections.Signer | None = None
    if user is None:
        supervisor = st.text_input("Supervisor", key="review_name", max_chars=80)
        st.caption(
            "Local mode: nobody signs in, so the pack prints this name with the role "
            '"not verified". The learner cannot sign off their own reflection.'
        )
    elif users.may_sign_off(data.store(), user, r.learner):
        supervisor = user.name
        signer = reflections.Signer(user.name, user.role, f"{user.issuer}|{user.subject}")
        st.caption(escape_markdown(f"Reviewing as {user.name} ({user.role}), signed in."))
    else:
        st.info(
            escape_markdown(
                f"Only {r.learner}'s supervisor can review this reflection (an admin says who "
                "supervises whom with `kpi users supervise`)."
            )
        )
        return
    comment = st.text_area("Comment (serves as a witness statement)", key="review_comment")
    sign, back = st.columns(2)
    for column, label, sign_off in ((sign, "Sign off", True), (back, "Return to learner", False)):
        if column.button(label, key=f"review_{sign_off}"):
            try:
                reflections.review(data.store(), chosen, supervisor, comment, sign_off, signer)
            except KpiError as problem:
                st.error(escape_markdown(problem))
            else:
                reviewed(r, sign_off)


def reviewed(r: Reflection, sign_off: bool) -> None:
    """Rerun so that the journal above shows the new status, keeping the message for it; the
    comment and the pick belonged to the reviewed reflection, so they go."""
    verb = "signed off" if sign_off else "returned"
    st.session_state[REVIEWED] = f"{escape_markdown(r.reference)} {verb}."
    for key in ("review_comment", "review_pick"):
        st.session_state.pop(key, None)
    st.rerun()


def organisation_setting() -> None:
    """The organisation printed beside a sign-off (left off the pack when empty)."""
    with st.expander("Organisation printed on sign-offs"):
        current = reflections.organisation(data.store())
        if not may_change_settings():
            st.text(f"Organisation: {current or 'none set (sign-offs print no organisation)'}")
            st.caption("An admin sets the organisation printed on sign-offs.")
            return
        name = st.text_input("Organisation", value=current, key="organisation", max_chars=120)
        if st.button("Save organisation", key="organisation_save"):
            try:
                reflections.set_organisation(data.store(), name)
            except KpiError as problem:
                st.error(escape_markdown(problem))
            else:
                components.audited("settings", f"organisation printed on sign-offs: {name[:120]}")
                st.success("Saved: signed packs print it from now on.")


def verify_section() -> None:
    """Check a pack someone sent (PDF or DOCX) against this store, as `kpi evidence verify`."""
    with st.expander("Check a signed evidence pack (PDF or DOCX)"):
        upload = st.file_uploader("Evidence pack", type=["pdf", "docx"], key="verify_upload")
        if upload is None:
            return
        try:
            verdict = verification.verify_bytes(data.store(), upload.getvalue(), upload.name)
        except KpiError as problem:
            st.error(escape_markdown(problem))  # names the uploaded file
            return
        shown = escape_markdown(verdict.message)
        if verdict.authentic:
            st.success(shown)
        else:
            st.error(shown)


@dataclass(frozen=True)
class Built:
    """A pack and every file made from it, built once when asked for (not on each rerun) and
    kept for the reflection as it was then: ``key`` is its id, its last update and ``indexed``."""

    key: tuple[int, datetime | None, bool]
    pack: evidence.Pack
    pdf: bytes
    docx: bytes
    charts: list[evidence.ChartFiles]


def build(reflection_id: int, r: Reflection, indexed: bool) -> Built:
    with images.renderer() as renderer:
        pack = evidence.build(data.store(), reflection_id, renderer, indexed=indexed)
        charts = evidence.chart_files(pack, renderer)
    key = (reflection_id, r.updated_at, indexed)
    built = Built(key, pack, documents.pdf_bytes(pack), documents.docx_bytes(pack), charts)
    components.audited("export", f"{pack.reference}: pack built on the Evidence page")
    return built


def exports(rows: list[Reflection]) -> None:
    st.subheader("Export")
    by_id = {r.reflection_id: r for r in rows if r.reflection_id is not None}
    choices.bind("export", "export_pick", list(by_id), next(iter(by_id), None))
    chosen = st.selectbox(
        "Reflection",
        list(by_id),
        format_func=lambda i: by_id[i].heading,
        key="export_pick",
    )
    indexed = st.checkbox(
        "Indexed figures (first value = 100; hides commercially sensitive volumes)",
        key="export_indexed",
    )
    r = by_id[chosen]
    if st.button("Build evidence pack", type="primary", key="export_build"):
        try:
            with st.spinner("Drawing charts and writing the pack..."):
                st.session_state[BUILT] = build(chosen, r, indexed)
            st.session_state[CONFIRMED] = False  # a new pack is read again before it leaves
        except KpiError as problem:  # Chromium missing, or the reflection's data gone
            st.error(escape_markdown(problem))
            return
    built = st.session_state.get(BUILT)
    if built and built.key == (chosen, r.updated_at, indexed):
        downloads(built)


def preview(pack: evidence.Pack) -> bool:
    """Every piece of text the pack will carry, as it will carry it (plain text, never
    Markdown), and the learner's confirmation that nothing personal is left in it."""
    st.markdown("**What will be exported**")
    st.caption(redaction.PREVIEW_NOTE)
    with st.container(border=True):
        for what, text in redaction.preview(pack):
            st.caption(escape_markdown(what))
            st.text(text)
    return st.checkbox(redaction.CONFIRM, key=CONFIRMED)


def downloads(built: Built) -> None:
    pack = built.pack
    locked = not preview(pack)
    pdf, docx = st.columns(2)
    pdf.download_button(
        "Evidence pack (PDF)",
        built.pdf,
        evidence.file_name(pack, "pdf"),
        "application/pdf",
        key="dl_pdf",
        disabled=locked,
    )
    docx.download_button(
        "Evidence pack (DOCX)",
        built.docx,
        evidence.file_name(pack, "docx"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key="dl_docx",
        disabled=locked,
    )
    for number, files in enumerate(built.charts, 1):
        st.caption(f"Chart {number}: {escape_markdown(files.title)}")  # titles carry names
        chart_downloads(pack, number, files, locked)


def chart_downloads(
    pack: evidence.Pack, number: int, files: evidence.ChartFiles, locked: bool
) -> None:
    suffix = f"chart{number}"
    buttons = (
        ("PNG", files.png, "png", "image/png"),
        ("Interactive HTML", files.html, "html", "text/html"),
        ("Numbers (CSV)", files.csv, "csv", "text/csv"),
        ("SVG", files.svg, "svg", "image/svg+xml"),
    )
    for column, (label, content, extension, mime) in zip(st.columns(4), buttons, strict=True):
        column.download_button(
            label,
            content,
            evidence.file_name(pack, extension, suffix),
            mime,
            key=f"dl_{extension}{number}",
            disabled=locked,
        )


if components.page(
    "Evidence",
    "Your reflections, which KSBs they evidence, the supervisor's review, and evidence packs "
    "safe to share: aggregates only, colleagues anonymised, small cells suppressed.",
    uses_filters=False,
):
    found = journal()
    coverage_section()
    if found:
        review(found)
        organisation_setting()
        exports(found)
    verify_section()
