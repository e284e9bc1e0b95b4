"""Portfolio: one learner's reflections indexed, KSB coverage against their own standard,
review-date reminders, the mapping annex, the professional-discussion prep sheet, and the
portfolio as PDF or DOCX (kpi.evidence.portfolio builds all of it). Learner text is shown as
plain text, never as HTML or markdown.
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, components, data
from kpi.charts.disclosure import escape_markdown
from kpi.engine.tables import for_people
from kpi.errors import KpiError
from kpi.evidence import coverage, ksbs, learners, portfolio, reflective_models

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def choose_learner() -> str | None:
    names = auth.visible_learners(data.store(), learners.learners(data.store()))
    if not names:
        st.info(portfolio.NO_LEARNER)
        return None
    me = auth.me(data.store())
    index = names.index(me) if me in names else 0
    return str(st.selectbox("Learner", names, index=index, key="portfolio.learner"))


def standard_form(learner: str) -> None:
    """The learner's standard and version: what coverage is counted against."""
    current = learners.registration(data.store(), learner)
    codes = list(ksbs.STANDARDS)
    with st.form("portfolio.standard"):
        left, right = st.columns([3, 1])
        code = left.selectbox(
            "Standard",
            codes,
            index=codes.index(current.standard) if current.standard in codes else 0,
            format_func=lambda c: f"{c} {ksbs.STANDARDS[c]}",
        )
        version = right.text_input("Version", value=current.version, max_chars=20)
        if st.form_submit_button("Save the learner's standard"):
            try:
                learners.register(data.store(), learner, code, version)
            except KpiError as problem:
                st.error(escape_markdown(problem))
            else:
                st.rerun()


def show(p: portfolio.Portfolio) -> None:
    st.caption(escape_markdown(f"{p.summary} {ksbs.PROVISIONAL}"))
    st.subheader(portfolio.SECTIONS[0])
    if p.reflections:
        components.dataframe(for_people(portfolio.index_table(p)))
    st.subheader(portfolio.SECTIONS[1])
    st.caption(coverage.coverage_summary(p.coverage))
    components.dataframe(for_people(portfolio.coverage_table(p)))
    for line in portfolio.off_standard_lines(p):
        st.warning(escape_markdown(line))
    st.subheader(portfolio.SECTIONS[2])
    lines = "  \n".join(escape_markdown(line) for line in portfolio.reminder_lines(p))
    (st.warning if p.reminders else st.caption)(lines)
    with st.expander(portfolio.SECTIONS[3]):
        components.dataframe(for_people(portfolio.annex_table(p)))
    with st.expander(portfolio.SECTIONS[4]):
        st.caption(portfolio.PREP_INTRO)
        for label, star, questions in portfolio.prep_rows(p):
            st.markdown(f"**{escape_markdown(label)}**")
            for line in star:
                st.text(line)
            st.caption(portfolio.QUESTIONS_HEADING)
            for question in questions:
                st.text(f"• {question}")


def downloads(p: portfolio.Portfolio) -> None:
    pdf, docx = st.columns(2)
    pdf.download_button(
        "Portfolio (PDF)",
        portfolio.pdf_bytes(p),
        portfolio.file_name(p, "pdf"),
        "application/pdf",
        key="portfolio.pdf",
        on_click=components.audited,
        args=("export", f"portfolio of {p.learner} downloaded (PDF)"),
    )
    docx.download_button(
        "Portfolio (DOCX)",
        portfolio.docx_bytes(p),
        portfolio.file_name(p, "docx"),
        DOCX_MIME,
        key="portfolio.docx",
        on_click=components.audited,
        args=("export", f"portfolio of {p.learner} downloaded (DOCX)"),
    )


def complaint_models() -> None:
    with st.expander("Complaint-handling steps (HEAT, LATER)"):
        st.caption(portfolio.MODELS_INTRO)
        if not auth.may(data.store(), "settings"):  # store-wide wording: an admin's to change
            for name in reflective_models.DEFAULT_COMPLAINT_MODELS:
                st.text(f"{name}: {reflective_models.model_text(name, data.store())}")
            st.caption("An admin sets these steps for everyone.")
            return
        for name in reflective_models.DEFAULT_COMPLAINT_MODELS:
            with st.form(f"portfolio.model.{name}"):
                text = st.text_area(name, reflective_models.model_text(name, data.store()))
                if st.form_submit_button(f"Save {name}"):
                    try:
                        reflective_models.save_model_text(data.store(), name, text)
                    except KpiError as problem:
                        st.error(escape_markdown(problem))
                    else:
                        st.success(f"Saved {name}.")


if components.page("Portfolio", portfolio.PAGE_INTRO, uses_filters=False):
    chosen = choose_learner()
    if chosen:
        standard_form(chosen)
        built = portfolio.build(data.store(), chosen)
        downloads(built)
        show(built)
    complaint_models()
