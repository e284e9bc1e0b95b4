"""The app's pages, declared once: app.py builds the navigation and the tests visit each.

The first page is the default one (served at the app's root). Each page also answers at its
own name (``/overview``, ``/service_levels``): a hidden page that sends the visitor on to the
page itself with every choice in the link, so a link typed or shared that way opens the page
rather than "Page not found", and the menu highlights it (it cannot highlight a hidden page).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    section: str
    script: str  # relative to dashboard/
    title: str
    icon: str
    url_path: str
    #: What a signed-in person's role must allow to see the page (``kpi.store.users.MAY``);
    #: None: everyone. Local mode shows every page.
    needs: str | None = None

    def aliases(self, default: bool) -> tuple[str, ...]:
        """The other paths this page answers at: its url_path when it is the default page
        (served at the root instead) and its script's name when that differs."""
        names = (self.url_path, PurePosixPath(self.script).stem)
        public = "" if default else self.url_path
        return tuple(dict.fromkeys(n for n in names if n != public))


PAGES: tuple[PageSpec, ...] = (
    PageSpec("Dashboard", "views/overview.py", "Overview", ":material/dashboard:", "overview"),
    PageSpec("Dashboard", "views/trends.py", "Trends", ":material/show_chart:", "trends"),
    PageSpec(
        "Dashboard",
        "views/service_levels.py",
        "Service levels",
        ":material/timer:",
        "service-levels",
    ),
    PageSpec(
        "Dashboard", "views/feedback.py", "Customer feedback", ":material/reviews:", "feedback"
    ),
    PageSpec(
        "Dashboard",
        "views/complaints.py",
        "Complaints and root causes",
        ":material/troubleshoot:",
        "complaints",
    ),
    PageSpec("Dashboard", "views/team.py", "Team", ":material/groups:", "team"),
    PageSpec(
        "Reflection and evidence", "views/reflect.py", "Reflect", ":material/psychology:", "reflect"
    ),
    PageSpec(
        "Reflection and evidence",
        "views/evidence.py",
        "Evidence",
        ":material/workspace_premium:",
        "evidence",
    ),
    PageSpec(
        "Reflection and evidence",
        "views/portfolio.py",
        "Portfolio",
        ":material/folder_shared:",
        "portfolio",
    ),
    PageSpec(
        "Data and settings",
        "views/data.py",
        "Data import and quality",
        ":material/upload_file:",
        "data",
        needs="import",
    ),
    PageSpec(
        "Data and settings",
        "views/settings.py",
        "Settings",
        ":material/settings:",
        "settings",
        needs="settings",
    ),
)


def alias(target: st.Page, url_path: str) -> st.Page:
    """A hidden page at ``url_path`` that switches to ``target``, keeping every query parameter
    (each value of a repeated one), so the address bar and the menu then show ``target``."""

    def send_on() -> None:
        params = {name: st.query_params.get_all(name) for name in st.query_params}
        st.switch_page(target, query_params=params)

    return st.Page(
        send_on, title=target.title, icon=target.icon, url_path=url_path, visibility="hidden"
    )


def refusals(spec: PageSpec, role: str) -> list[st.Page]:
    """Hidden pages at ``spec``'s addresses for someone whose role may not open it: each says
    so and who may, instead of Streamlit's "Page not found" (which reads like a broken link)."""
    from kpi.store.users import MAY, ROLES

    allowed = [f"{r}s" for r in ROLES if spec.needs in MAY[r]]
    message = (
        f"The {spec.title} page is for {' and '.join(allowed) or 'nobody'} only: you are signed "
        f"in as a {role}. Ask an admin if you need something from it."
    )

    def refuse() -> None:
        st.error(message, icon="🔒")

    paths = dict.fromkeys((spec.url_path, PurePosixPath(spec.script).stem))
    return [
        st.Page(refuse, title=spec.title, icon=spec.icon, url_path=path, visibility="hidden")
        for path in paths
    ]
