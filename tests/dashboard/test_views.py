"""Every page renders on sample data and on an empty store, and shows what it is for (its
headings and key numbers, equal to the engine's); a new page cannot go untested."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.navigation import PAGES
from kpi.engine.comments import search
from kpi.engine.filters import Filters
from kpi.engine.report import OVERVIEW_GROUPS, report
from kpi.engine.results import Report
from kpi.engine.tables import format_interval, format_value
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings
from kpi.store import viewer
from kpi.store.connection import open_store
from tests.paths import APP, ROOT, SAMPLE_DATA

VIEWS = ROOT / "dashboard" / "views"
VIEW_SCRIPTS = sorted(f"views/{p.name}" for p in VIEWS.glob("*.py") if p.name != "__init__.py")


def test_every_view_file_is_in_the_navigation() -> None:
    assert sorted(p.script for p in PAGES) == VIEW_SCRIPTS


@pytest.mark.parametrize("script", VIEW_SCRIPTS)
def test_view_renders_on_sample_data(app_for, seeded_db: Path, script: str) -> None:
    at = app_for(seeded_db, script)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "every page has a title"


@pytest.mark.parametrize("script", VIEW_SCRIPTS)
def test_view_renders_on_an_empty_store(app_for, tmp_path: Path, script: str) -> None:
    at = app_for(tmp_path / "empty.duckdb", script)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


RAW_KEY = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
LEAKS = {"None", "nan", "NaN", "NaT", "<NA>"}


@pytest.mark.parametrize("script", VIEW_SCRIPTS)
def test_every_table_on_a_page_reads_as_words(app_for, seeded_db: Path, script: str) -> None:
    """Issue 13: headers a person reads ("95% interval", not ci_low), never "None" in a cell,
    and no raw key in a header or a cell of the tables (and editors) a page shows."""
    at = app_for(seeded_db, script)
    for table in at.dataframe:
        frame = table.value
        assert not [c for c in frame.columns if RAW_KEY.match(str(c))], list(frame.columns)
        # An empty cell is fine where the table says what it shows instead ("—", "no target").
        shown = frame.to_numpy().ravel()
        cells = {str(v) for v in shown if not (pd.isna(v) and table.proto.placeholder)}
        assert not cells & LEAKS, f"{script}: {cells & LEAKS}"
        assert not [c for c in cells if RAW_KEY.match(c)], f"{script}: raw keys in cells"
    if script in ("views/service_levels.py", "views/team.py", "views/trends.py"):
        headers = {h for t in at.dataframe for h in t.value.columns}
        assert {"KPI", "Value", "n", "95% interval", "Small sample?"} <= headers


# --- what each page shows -------------------------------------------------------------------------
# Each page is opened on the sample data for a fixed range (in the URL, as a shared link would),
# and what it shows is checked against the engine's own answer for the same filters.

FROM, TO = date(2026, 8, 1), date(2026, 10, 31)
RANGE = Filters(date_from=FROM, date_to=TO)


@pytest.fixture
def page_for(seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], AppTest]:
    """An AppTest of the app on the sample data for August to October 2026, on one page."""

    def make(script: str) -> AppTest:
        monkeypatch.setenv("KPI_DB", str(seeded_db))
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params.update({"period": "custom", "from": str(FROM), "to": str(TO)})
        at.run()
        at.switch_page(script).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make


def _engine(db: Path, **kwargs: Any) -> Report:
    store = open_store(db)
    try:
        return report(store, RANGE, **kwargs)
    finally:
        store.close()


def _chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_the_overview_shows_a_tile_per_kpi_with_its_n_and_interval(
    page_for: Callable[[str], AppTest], seeded_db: Path
) -> None:
    at = page_for("views/overview.py")
    assert [h.value for h in at.subheader] == list(OVERVIEW_GROUPS)
    keys = [k for group in OVERVIEW_GROUPS.values() for k in group]
    assert [m.label for m in at.metric] == [REGISTRY[k].label for k in keys]
    now = _engine(seeded_db).totals()
    tiles = {m.label: m.value for m in at.metric}
    captions = [c.value for c in at.caption]
    for key in keys:
        result = now[key]
        assert tiles[REGISTRY[key].label] == format_value(result.value, result.unit), key
        if result.unit != "count":  # a count is its own n
            assert any(format_interval(result) in text for text in captions), key
    assert tiles["SLA"] == f"{now['sla'].value:.1f}%"


def test_trends_titles_the_chart_with_the_chosen_kpi(
    page_for: Callable[[str], AppTest], seeded_db: Path
) -> None:
    at = page_for("views/trends.py")
    assert _chart_titles(at) == ["CSAT over time"]
    at.selectbox(key="trend_kpi").set_value("fcr").run()
    assert not at.exception
    assert _chart_titles(at) == ["FCR over time"]
    table = at.dataframe[0].value
    assert set(table["KPI"]) == {"FCR"}
    weekly = _engine(seeded_db, grain="week", metrics=("fcr",))
    assert set(table["n"]) <= {row.metrics["fcr"].n for row in weekly.rows}


def test_service_levels_shows_the_sla_definition_with_its_target_hours(
    page_for: Callable[[str], AppTest], seeded_db: Path
) -> None:
    at = page_for("views/service_levels.py")
    assert "SLA compliance by priority and by channel" in [h.value for h in at.subheader]
    targets = Settings().sla_targets
    hours = ", ".join(f"{p} {t.first_response_hours:g} h" for p, t in targets.items())
    first_response = next(m for m in at.metric if m.label == "SLA first response")
    assert f"({hours})" in first_response.proto.help
    now = _engine(seeded_db, metrics=("sla",)).totals()["sla"]
    assert next(m.value for m in at.metric if m.label == "SLA") == format_value(now.value, "%")
    by_priority = at.dataframe[0].value
    # The social threads carry no priority: their row comes last.
    priorities = ["urgent", "high", "normal", "low", "(none)"]
    assert list(dict.fromkeys(by_priority["Priority"])) == priorities
    assert {"SLA by priority", "SLA by channel"} <= set(_chart_titles(at))


def test_customer_feedback_counts_the_comments_it_lists(
    page_for: Callable[[str], AppTest], seeded_db: Path
) -> None:
    at = page_for("views/feedback.py")
    store = open_store(seeded_db)
    found = search(store, RANGE, "", None, None)
    store.close()
    assert len(found) > 0
    assert any(c.value.startswith(f"{len(found)} comments") for c in at.caption)
    assert len(at.dataframe[0].value) == len(found)


def test_complaints_shows_the_pareto_of_categories(
    page_for: Callable[[str], AppTest], seeded_db: Path
) -> None:
    at = page_for("views/complaints.py")
    assert "Complaints by category" in _chart_titles(at)
    pareto = at.dataframe[0].value
    assert list(pareto["Count"]) == sorted(pareto["Count"], reverse=True)
    assert pareto["Cumulative share"].iloc[-1] == pytest.approx(100, abs=0.1)
    complaints = _engine(seeded_db, metrics=("complaint_rate",)).totals()["complaint_rate"]
    assert pareto["Count"].sum() == complaints.numerator


def test_team_shows_me_against_the_rest(seeded_db: Path, page_for) -> None:
    store = open_store(seeded_db)
    viewer.set_me(store, "Priya Mistry")
    store.close()
    at = page_for("views/team.py")
    assert "Me against the rest of my team" in [h.value for h in at.subheader]
    assert any(c.value.startswith("Me: Priya Mistry.") for c in at.caption)
    side_by_side = at.dataframe[0].value
    labels = {REGISTRY[k].label for k in ("csat", "fcr", "sla")}
    assert labels <= set(side_by_side.iloc[:, 0]) | set(side_by_side.get("KPI", []))


def test_the_data_page_lists_the_sample_files_in_its_import_history(
    page_for: Callable[[str], AppTest],
) -> None:
    at = page_for("views/data.py")
    history = at.dataframe[0].value
    samples = {p.name for p in SAMPLE_DATA.iterdir() if p.suffix in (".csv", ".xlsx")}
    assert set(history["File"]) == samples
    read = {m.label: m.value for m in at.metric}["Rows read"]
    assert read == f"{history['Rows read'].sum():,}"


def test_settings_shows_the_definitions_and_their_values(
    page_for: Callable[[str], AppTest],
) -> None:
    at = page_for("views/settings.py")
    assert [h.value for h in at.subheader] == [
        "Targets", "SLA policy", "Business hours", "Definitions", "This is me", "Audit log"
    ]  # fmt: skip
    # The sample store's imports are in the audit log, newest first.
    (log,) = (d.value for d in at.dataframe if "What" in d.value)
    assert set(log["What"]) == {"import"} and log["#"].is_monotonic_decreasing
    defaults = Settings()
    targets, sla = (e.value for e in at.get("data_editor"))
    assert list(targets["KPI"]) == [REGISTRY[k].label for k in targets.index]
    assert targets.loc["csat", "Target"] == defaults.targets["csat"].value
    assert list(sla["Priority"]) == list(defaults.sla_targets)
    assert list(sla["First response (hours)"]) == [
        t.first_response_hours for t in defaults.sla_targets.values()
    ]
    assert at.number_input(key="minimum_n").value == defaults.minimum_n
