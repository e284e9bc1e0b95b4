"""The app's pages, declared once: app.py builds the navigation and the tests visit each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    section: str
    script: str  # relative to dashboard/
    title: str
    icon: str
    url_path: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("Data", "views/data.py", "Data import and quality", "📥", "data"),
)
