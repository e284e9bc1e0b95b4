"""Who is looking: "this is me", the agent whose figures the Team page sets against the rest.

Kept in the store's settings table beside the KPI definitions but under its own key: it changes
whose figures are shown, not what any number means.
"""

from __future__ import annotations

from kpi.store.connection import Store

ME_KEY = "viewer.me"


def me(store: Store) -> str | None:
    """The agent name the reader said is theirs, or None (a supervisor's view)."""
    value = store.get_setting(ME_KEY, None)
    return value or None


def set_me(store: Store, agent: str | None) -> None:
    store.set_setting(ME_KEY, agent or None)
