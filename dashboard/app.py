"""Service KPI Dashboard: the entry point (`streamlit run dashboard/app.py`)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, choices, data, filters
from dashboard.navigation import PAGES, PageSpec, alias, refusals
from kpi.charts.disclosure import escape_markdown
from kpi.errors import ImplausibleDates, StoreError

st.set_page_config(page_title="Service KPI Dashboard", page_icon="📊", layout="wide")


#: Pages that need no figures, so open on a store whose dates no report can use.
_OPEN_WITHOUT_FIGURES = ("data", "settings")
_WHERE_TO_FIX = "To undo an import here, open Data import and quality."


def _stop_for(problem: str) -> None:
    # A store that cannot be opened (locked by a `kpi` command, damaged, read-only, not a store)
    # is said once, here, instead of failing in every element of the page; a rerun tries again.
    st.error(escape_markdown(problem), icon="🚫")
    st.button("Try again", key="retry_store")
    st.stop()


def main() -> None:
    """One run of the app, holding the store throughout (a `kpi import` waits for its end)."""
    with data.page_run() as problem:
        if problem:
            _stop_for(problem)
        try:
            _run_page()
        except StoreError as refused:  # a server's store refused a write: someone else's came first
            _stop_for(str(refused))


def _run_page() -> None:
    # Team mode: everyone signs in first, and their role decides which pages exist for them.
    user = None
    if auth.team_mode():
        user = auth.current_user(data.store())
    shown = [spec for spec in PAGES if user is None or spec.needs is None or user.may(spec.needs)]

    sections: dict[str, list[st.Page]] = {}
    specs: list[tuple[st.Page, PageSpec]] = []
    for number, spec in enumerate(shown):
        default = number == 0
        # The default page is served at the root; its url_path is left free for its hidden alias.
        page = st.Page(
            spec.script,
            title=spec.title,
            icon=spec.icon,
            url_path="" if default else spec.url_path,
            default=default,
        )
        # Every page answers at its own name too (/overview, /service_levels): always registered,
        # hidden from the menu, so a direct link never meets "Page not found"; each sends the
        # visitor on to the page itself, which the menu then highlights.
        aliases = [alias(page, a) for a in spec.aliases(default)]
        sections.setdefault(spec.section, []).extend([page, *aliases])
        specs.extend((p, spec) for p in (page, *aliases))
    if user is not None:  # a page this role may not open says so at its address
        for spec in (other for other in PAGES if other not in shown):
            refused = refusals(spec, user.role)
            sections[shown[0].section].extend(refused)  # hidden: no heading of its own
            specs.extend((p, spec) for p in refused)

    current = st.navigation(sections)
    current_spec = next(spec for page, spec in specs if page is current)
    # The picture frame: the global filters, drawn before the page so every page reads the same ones.
    auth.sidebar(user)  # who is using it, first: local mode or the signed-in person's role
    try:
        filters.sidebar()
    except ImplausibleDates as problem:
        # Dates no report can use (year 1, 9999: stored by an older version): every page of
        # figures would refuse, so each says why; the pages that fix it (undo an import) open.
        st.error(escape_markdown(f"{problem} {_WHERE_TO_FIX}"), icon="🚫")
        if current_spec.url_path not in _OPEN_WITHOUT_FIGURES:
            st.stop()
    # The page's own choices join the filters in the URL; whatever else a link carries is dropped.
    choices.start(current_spec.url_path, keep=list(filters.PARAMS))
    current.run()


main()
