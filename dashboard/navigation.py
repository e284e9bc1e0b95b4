"""The app's pages, declared once: app.py builds the navigation and the tests visit each.

The first page is the default one (served at the app's root).
"""

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
        "Data and settings",
        "views/data.py",
        "Data import and quality",
        ":material/upload_file:",
        "data",
    ),
    PageSpec(
        "Data and settings", "views/settings.py", "Settings", ":material/settings:", "settings"
    ),
)
