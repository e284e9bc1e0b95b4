"""Who is using the dashboard.

*Local mode* (the default, ``make run``): one person on their own computer, no sign-in; the
sidebar says so, and anything signed here is labelled "not verified". *Team mode*
(``KPI_MODE=team``, ``make serve``): everyone signs in through the team's OpenID Connect
provider (Streamlit's ``st.login``, configured by ``[auth]`` in ``.streamlit/secrets.toml``), and
their role in the store (``kpi.store.users``) decides which pages they see.
"""

from __future__ import annotations

import os
from typing import Protocol, TypeVar

import streamlit as st

from kpi.charts.disclosure import escape_markdown
from kpi.store import users, viewer
from kpi.store.connection import Store

MODE_ENV = "KPI_MODE"


class _HasLearner(Protocol):
    @property
    def learner(self) -> str: ...


R = TypeVar("R", bound=_HasLearner)
#: Said when team mode is asked for without sign-in set up: what to add, where.
NOT_CONFIGURED = (
    "Team mode needs sign-in set up: add an [auth] section to .streamlit/secrets.toml with "
    "redirect_uri, cookie_secret, client_id, client_secret and server_metadata_url (see the "
    "README, 'Team mode'), or run `make run` for local mode."
)


MODES = ("local", "team")
#: Addresses that only this computer can reach.
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def team_mode() -> bool:
    """Whether this server asks everyone to sign in (``KPI_MODE=team``). Any other value than
    local or team stops the app: a typo must never mean "no sign-in"."""
    mode = os.environ.get(MODE_ENV, "local").strip().lower() or "local"
    if mode not in MODES:
        st.error(f"KPI_MODE is {mode!r}: set it to local or team.", icon="🔒")
        st.stop()
    return mode == "team"


def _auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all, or one Streamlit cannot read
        return False


def current_user(store: Store) -> users.User | None:
    """The signed-in person in team mode (None in local mode). Before anyone signs in, the page
    shows the sign-in button and stops; their role is read again on every run, so a change an
    admin makes applies at once."""
    if not team_mode():
        return None
    if not _auth_configured():
        st.error(NOT_CONFIGURED, icon="🔒")
        st.stop()
    if not st.user.is_logged_in:
        _sign_in_page()
        st.stop()
    issuer, subject = str(st.user.get("iss") or ""), str(st.user.get("sub") or "")
    if not issuer or not subject:
        _refuse(
            "Your sign-in gave no identity (issuer and subject); ask an admin to check the provider."
        )
    email = _text(st.user.get("email"))
    domains = allowed_domains()
    if domains and (email or "").rsplit("@", 1)[-1].lower() not in domains:
        _refuse(
            f"{email or 'This account'} may not sign in here: only accounts of "
            f"{', '.join(sorted(domains))} can. Sign out and use your work account."
        )
    key = f"signed_in:{issuer}|{subject}"
    if key not in st.session_state:
        # Once per browser session: adds them on their first visit, refreshes their name.
        users.sign_in(store, issuer, subject, email, _text(st.user.get("name")))
        st.session_state[key] = True
    user = users.user_by_identity(store, issuer, subject)
    st.session_state[ACTING] = user.name
    return user


#: The signed-in person's name for this run, for what the pages record (imports, undos,
#: settings changes): ``kpi.store.batches.importer_name`` falls back to the computer's account.
ACTING = "kpi_acting_name"


def may(store: Store, action: str) -> bool:
    """Whether this person may ``action`` (a key of ``kpi.store.users.MAY``'s sets): anyone in
    local mode (one person, their own store), in team mode as their role allows."""
    user = current_user(store)
    return user is None or user.may(action)


def acting_identity(store: Store) -> str | None:
    """The signed-in person's ``issuer|subject`` for the audit log (None in local mode, where
    nobody signs in and only the computer's account is recorded)."""
    user = current_user(store)
    return user.identity if user is not None else None


def acting_name() -> str | None:
    """Who is acting in team mode (None in local mode: the computer's account is recorded)."""
    return st.session_state.get(ACTING) if team_mode() else None


def visible(store: Store, rows: list[R]) -> list[R]:
    """The reflections this person may see (all in local mode): a learner their own, a
    supervisor also their learners', an admin all (``kpi.store.users.may_see``)."""
    user = current_user(store)
    if user is None:
        return rows
    return [r for r in rows if users.may_see(store, user, r.learner)]


def visible_learners(store: Store, names: list[str]) -> list[str]:
    """The learners whose coverage and portfolio this person may see (all in local mode): as
    for reflections, a learner only themselves, a supervisor also their learners, an admin all."""
    user = current_user(store)
    if user is None:
        return names
    return [n for n in names if users.may_see(store, user, n)]


def me(store: Store) -> str | None:
    """The agent in the data whose figures are "mine": in team mode the signed-in person's
    (``kpi users agents``; None, a supervisor's view, until an admin links them), in local
    mode the store's "this is me"."""
    user = current_user(store)
    if user is None:
        return viewer.me(store)
    return user.agent_names[0] if user.agent_names else None


DOMAINS_ENV = "KPI_ALLOWED_DOMAINS"


def allowed_domains() -> frozenset[str]:
    """The email domains that may sign in (``KPI_ALLOWED_DOMAINS``, or ``allowed_domains`` in
    the secrets' ``[kpi]`` section): empty means anyone the provider signs in."""
    given = os.environ.get(DOMAINS_ENV)
    if given is None:
        try:
            given = st.secrets.get("kpi", {}).get("allowed_domains", "")
        except Exception:  # noqa: BLE001 - no secrets file
            given = ""
    names = given if isinstance(given, list) else str(given).replace(",", " ").split()
    return frozenset(n.strip().lower().lstrip("@") for n in names if n.strip())


def _refuse(message: str) -> None:
    st.error(escape_markdown(message), icon="🔒")
    st.button("Sign out", on_click=st.logout, key="refused_sign_out")
    st.stop()


def _text(value: object) -> str | None:
    return str(value) if value else None


def _sign_in_page() -> None:
    st.title("Service KPI Dashboard")
    st.write(
        "Sign in with your organisation's account to see your team's KPIs, write reflections "
        "and review them."
    )
    st.button("Sign in", on_click=st.login, type="primary", key="sign_in")


def sidebar(user: users.User | None) -> None:
    """Who is using the dashboard, at the foot of the sidebar, and how to sign out."""
    if user is None:
        st.sidebar.caption(
            "Local mode: one person on this computer, no sign-in. Anything signed here is "
            'labelled "not verified".'
        )
        address = str(st.get_option("server.address") or "localhost")
        if address not in LOOPBACK:
            st.sidebar.warning(
                f"Served on {address} without sign-in: anyone who can reach it can import, undo "
                "and sign off. Use `make serve` (team mode) to serve a team."
            )
        return
    st.sidebar.caption(f"Signed in as **{escape_markdown(user.name)}** ({user.role})")
    st.sidebar.button("Sign out", on_click=st.logout, key="sign_out")
