"""Reflect: what the data says for the current filters, and a guided reflection on it.

Insights come from kpi.insights (each with its n, a chart, prompts, models and KSBs); a
reflection starts from one (or blank), follows a model whose prompts suit the learner's level,
ends in a SMART action, and is mapped to KSBs. Everything the learner types is shown back as
plain text, never as HTML or markdown.

The editor keeps the version it was opened at (``BASE``) and saves against it: when someone
else saved the reflection in between, the save is refused (``reflections.StaleSave``) and the
page shows the newer text beside the learner's own, which stays in the form, so nothing is
lost. Editing a signed-off reflection voids its sign-off, and the page says so first.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from dashboard import auth, choices, components, data, filters, insight_cache
from kpi.charts.disclosure import escape_markdown
from kpi.charts.figures import figure
from kpi.engine.tables import for_people
from kpi.errors import KpiError
from kpi.evidence import action_check, ksbs, reflections
from kpi.evidence.reflections import Reflection, SmartAction
from kpi.insights import Insight
from kpi.metrics.registry import KEYS, REGISTRY
from kpi.store import annotations as annotation_store
from kpi.store import users

EDITING = "reflect.editing"
#: Session key prefix of the reflection as the editor opened it (the version a save is based on).
BASE = "reflect.base."
#: Session key prefix of a save's refusal, kept to show the newer text on the next run.
STALE = "reflect.stale."
#: The widget keys' prefixes of one reflection's editor (followed by its id).
FIELDS = ("t_", "s_", "c_", "a_", "ak_", "at_", "ad_", "k_", "an_", "model_")


def learner() -> tuple[str, int]:
    """Who is reflecting, and at which level (Level 2 explains and applies; Level 3 analyses,
    evaluates and shows impact)."""
    left, right = st.columns([2, 1])
    user = auth.current_user(data.store())
    if user is not None:
        # Team mode: the signed-in person reflects as themselves; a typed name would let
        # anyone write (and send for review) in someone else's name.
        left.text_input("Learner", value=user.name, disabled=True, key="reflect.signed_in")
        name = user.name
    else:
        default = auth.me(data.store()) or ""
        name = left.text_input("Learner", value=default, key="reflect.learner", max_chars=80)
    choices.bind("level", "reflect.level", (2, 3), 2)
    level = right.radio(
        "Level", (2, 3), horizontal=True, key="reflect.level", format_func=lambda v: f"Level {v}"
    )
    return name.strip(), int(level)


def insight_card(insight: Insight, number: int, name: str, level: int) -> None:
    # Headings, prompts and captions carry user text (category, team and agent names, notes):
    # escaped, since Streamlit reads Markdown in labels and captions.
    with st.expander(escape_markdown(insight.heading), expanded=number == 0):
        st.text(insight.summary)
        if insight.details:
            st.caption(escape_markdown(insight.details))
        components.dataframe(for_people(insight.figures_table()))
        components.chart(figure(insight.chart), f"insight_{insight.id}")
        used = f"Models: {', '.join(insight.models)} · KSBs: {', '.join(insight.ksbs)}"
        st.caption(escape_markdown(used))
        for prompt in insight.prompts_for(level):
            st.text(f"• {prompt}")
        if st.button("Reflect on this", key=f"start_{insight.id}", disabled=not name):
            draft = reflections.from_insight(insight, name, level, data.store())
            start(draft)


def start(draft: Reflection) -> None:
    saved = reflections.save(data.store(), draft)
    st.session_state[EDITING] = saved.reflection_id
    st.rerun()


def blank_start(name: str, level: int) -> None:
    with st.form("blank_reflection"):
        st.write("Or start from scratch on KPIs you choose (the current filters are kept).")
        keys = st.multiselect(
            "KPIs", KEYS, default=["csat"], format_func=lambda k: REGISTRY[k].label
        )
        if st.form_submit_button("Start a blank reflection", disabled=not name):
            start(reflections.blank(name, level, filters.current(), tuple(keys), data.store()))


def choose_draft() -> Reflection | None:
    """A draft to write, or a reflection that changed after sign-off or was signed off (an
    edit voids the sign-off: said above the form)."""
    editable = (*reflections.EDITABLE, "reviewed")
    user = auth.current_user(data.store())
    drafts = [
        r
        for r in auth.visible(data.store(), reflections.journal(data.store()))
        # Team mode: only the author edits; a supervisor comments and signs off on Evidence.
        if r.status in editable and (user is None or users.is_person(user, r.learner))
    ]
    if not drafts:
        st.info("No draft yet: start one from an insight above.")
        return None
    ids = [r.reflection_id for r in drafts]
    wanted = st.session_state.get(EDITING)
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox(
        "Draft",
        ids,
        index=index,
        format_func=lambda i: next(r.heading for r in drafts if r.reflection_id == i),
    )
    return next(r for r in drafts if r.reflection_id == chosen)


def opened(current: Reflection) -> Reflection:
    """The reflection as this session opened it (the version its form is based on), and a
    warning when someone has saved a newer one since."""
    key = f"{BASE}{current.reflection_id}"
    base: Reflection = st.session_state.setdefault(key, current)
    if base.version != current.version:
        st.warning(
            escape_markdown(
                f"{current.reference} was changed elsewhere since you opened it (now version "
                f"{current.version}). Saving your text will be refused; load the newer version "
                "to carry on from it."
            )
        )
        load_newer(current, "load_newer_top")
    if current.status == "reviewed":
        st.warning("This reflection is signed off: saving a change voids the sign-off.")
    elif current.status == "changed_after_sign_off":
        st.warning("Changed after sign-off: send it for review again to have it signed.")
    return base


def load_newer(newer: Reflection, key: str) -> None:
    """A button that replaces this session's form with the newer stored version."""
    if st.button("Load the newer version (replaces the text in the form)", key=key):
        for name in list(st.session_state):
            if any(str(name).startswith(f"{p}{newer.reflection_id}") for p in FIELDS):
                del st.session_state[name]
        st.session_state[f"{BASE}{newer.reflection_id}"] = newer
        st.session_state.pop(f"{STALE}{newer.reflection_id}", None)
        st.rerun()


def sections(r: Reflection) -> tuple[str, dict[str, str]]:
    model = st.selectbox(
        "Reflective model",
        list(reflections.MODELS),
        index=list(reflections.MODELS).index(r.model),
        key=f"model_{r.reflection_id}",
    )
    steps = reflections.prompts(model, r.level, r.insight_object(), data.store(), r.complaint)
    texts = {}
    for key, label, prompt in steps:
        texts[key] = st.text_area(
            escape_markdown(label),
            value=r.sections.get(key, ""),
            help=escape_markdown(prompt),
            key=f"s_{r.reflection_id}_{key}",
        )
        st.caption(f"{escape_markdown(prompt)} ({len(texts[key].split())} words)")
    return model, texts


def action(r: Reflection) -> SmartAction:
    st.subheader("SMART action")
    st.caption(escape_markdown(r.action.scope_text()))  # segment values are the team's text
    text = st.text_area("What will you do?", value=r.action.text, key=f"a_{r.reflection_id}")
    left, middle, right = st.columns(3)
    keys = [None, *KEYS]
    kpi = left.selectbox(
        "Measured by",
        keys,
        index=keys.index(r.action.kpi) if r.action.kpi in keys else 0,
        format_func=lambda k: "choose a KPI" if k is None else REGISTRY[k].label,
        key=f"ak_{r.reflection_id}",
    )
    target = middle.number_input(
        "Target", value=r.action.target, key=f"at_{r.reflection_id}", placeholder="e.g. 85"
    )
    review = right.date_input(
        "Review date",
        value=r.action.review_date or date.today() + timedelta(weeks=6),
        key=f"ad_{r.reflection_id}",
    )
    result = SmartAction(text, kpi, target, review, r.action.segment)
    for gap in result.gaps():
        st.caption(f"Not yet SMART: {escape_markdown(gap)}")
    return result


def ksb_picker(r: Reflection) -> tuple[str, ...]:
    st.subheader("KSBs")
    labels = {k.ref: k.label for k in ksbs.ksbs_for(data.store(), r.standard, r.level)}
    picked = st.multiselect(
        f"KSBs this evidences ({escape_markdown(ksbs.STANDARDS.get(r.standard, r.standard))}; "
        "suggested first)",
        list(labels),
        default=[k for k in r.ksbs if k in labels],
        format_func=lambda ref: labels[ref],
        key=f"k_{r.reflection_id}",
    )
    st.caption(ksbs.PROVISIONAL)
    return tuple(picked)


def change_link(r: Reflection) -> int | None:
    notes = annotation_store.all_annotations(data.store())
    options = [None, *[n.annotation_id for n in notes]]
    texts = {n.annotation_id: f"{n.on_date:%d %b %Y}: {n.text}" for n in notes}
    return st.selectbox(
        "The dated change your action made (for the before/after check; add one on Trends)",
        options,
        index=options.index(r.annotation_id) if r.annotation_id in options else 0,
        format_func=lambda i: "none yet" if i is None else texts[i],
        key=f"an_{r.reflection_id}",
    )


def action_check_section(r: Reflection) -> None:
    """The PDCA check: the action's KPI for its segment before and after the dated change,
    with the effect's interval, any warning about the baseline, the target and the charts."""
    found = action_check.check(data.store(), r)
    if found is None:
        return
    for warning, line in found.parts():  # the note and segment values are the team's text
        if warning:
            st.warning(escape_markdown(line))
        else:
            st.text(line)
    components.dataframe(for_people(action_check.table(found)))
    for number, spec in enumerate(action_check.chart(data.store(), r, found)):
        components.chart(figure(spec), f"check_{r.reflection_id}_{number}")


def editor(r: Reflection) -> None:
    title = st.text_input("Title", value=r.title, key=f"t_{r.reflection_id}", max_chars=120)
    model, texts = sections(r)
    comment = st.text_area(
        "A customer comment to include (optional; emails and phone numbers are removed)",
        value=r.customer_comment,
        key=f"c_{r.reflection_id}",
    )
    smart = action(r)
    picked = ksb_picker(r)
    annotation = change_link(r)
    action_check_section(r)
    updated = reflections.replace(
        r,
        title=title,
        model=model,
        sections=texts,
        customer_comment=comment,
        action=smart,
        ksbs=picked,
        annotation_id=annotation,
    )
    save, send = st.columns(2)
    if save.button("Save draft", type="primary", key=f"save_{r.reflection_id}"):
        _save(updated, submit=False)
    if send.button("Send for review", key=f"send_{r.reflection_id}"):
        _save(updated, submit=True)


def _save(r: Reflection, submit: bool) -> None:
    """Save against the version the form was opened at; a refused stale save keeps the
    learner's text in the form and shows the newer one (``refused``)."""
    try:
        saved = reflections.save(data.store(), r)
        if submit and saved.reflection_id is not None:
            saved = reflections.submit(data.store(), saved.reflection_id)
    except reflections.StaleSave as stale:
        st.session_state[f"{STALE}{r.reflection_id}"] = stale
        return
    except KpiError as problem:
        st.error(escape_markdown(problem))
        return
    st.session_state[f"{BASE}{saved.reflection_id}"] = saved
    st.session_state.pop(f"{STALE}{saved.reflection_id}", None)
    st.success(f"{escape_markdown(saved.reference)} {'sent for review' if submit else 'saved'}.")


def refused(reflection_id: int | None) -> None:
    """The refusal of a stale save: the message, the newer text, and the way to load it."""
    stale = st.session_state.get(f"{STALE}{reflection_id}")
    if stale is None:
        return
    st.error(escape_markdown(str(stale).split(" Newer text:")[0]))
    newer: Reflection = stale.newer
    with st.container(border=True):
        st.caption(escape_markdown(f"The newer version (version {newer.version})"))
        st.text(newer.title)
        for label, text in reflections.written_sections(newer, data.store()):
            st.caption(escape_markdown(label))
            st.text(text)
    load_newer(newer, "load_newer_refused")


if components.page(
    "Reflect",
    "Patterns in the data for the current filters, each with its numbers and n. Pick one to "
    "write a reflection with prompts for your level, a SMART action and the KSBs it evidences.",
):
    name, level = learner()
    if not name:
        st.caption("Type your name to start a reflection.")
    st.subheader("What the data says")
    found = insight_cache.detect(filters.current())
    if not found:
        st.info("No pattern stands out for these filters; try a longer period or start blank.")
    for number, insight in enumerate(found[:12]):
        insight_card(insight, number, name, level)
    blank_start(name, level)
    st.subheader("Write")
    draft = choose_draft()
    if draft is not None:
        editor(opened(draft))
        refused(draft.reflection_id)
