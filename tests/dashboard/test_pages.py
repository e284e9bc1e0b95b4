"""The pages behave: filters move the tiles, settings persist and change the numbers, the URL
carries the view, "this is me" switches the Team page, annotations reach the chart, and a filter
that selects nothing leads to the Data page."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from kpi.engine import breakdowns
from kpi.engine.filters import Filters
from kpi.metrics.registry import score_range
from kpi.metrics.settings import load_settings
from kpi.store import annotations
from kpi.store.connection import open_store
from tests.dashboard.test_markdown_names import shown
from tests.paths import APP


def tile(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").split()[0])


def test_a_channel_filter_moves_the_contacts_tile(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/overview.py")
    everything = number(tile(at, "Contacts"))
    at.multiselect(key="filter_channel").set_value(["phone"]).run()
    assert not at.exception
    phone = number(tile(at, "Contacts"))
    assert 0 < phone < everything
    assert any("channel: phone" in shown(c.value) for c in at.caption)
    assert at.query_params["channel"] == "phone"


def test_a_longer_period_counts_more_contacts(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/overview.py")
    three_months = number(tile(at, "Contacts"))
    at.selectbox(key="filter_period").set_value("12m").run()
    assert number(tile(at, "Contacts")) > three_months
    assert at.query_params["period"] == "12m"


def test_the_url_carries_the_filters_both_ways(seeded_db: Path, monkeypatch) -> None:
    monkeypatch.setenv("KPI_DB", str(seeded_db))
    shared = {"period": "custom", "from": "2026-03-01", "to": "2026-03-31",
              "channel": ["email", "phone"], "category": ["Billing", "Not a category"]}  # fmt: skip
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(shared)
    at.run()
    assert not at.exception
    assert at.selectbox(key="filter_period").value == "custom"
    assert at.multiselect(key="filter_channel").value == ["email", "phone"]
    assert at.multiselect(key="filter_category").value == ["Billing"]  # unknown values dropped
    caption = "Custom range: 1 Mar 2026 - 31 Mar 2026; channel: email, phone; category: Billing."
    assert any(shown(c.value).startswith(caption) for c in at.caption)
    # ... and the page writes back the same view (minus what the store does not hold).
    assert at.query_params == {**shared, "category": "Billing"}
    at.switch_page("views/trends.py").run()
    assert at.query_params["period"] == "custom"


def test_a_stricter_sla_target_lowers_sla_compliance(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/overview.py")
    before = number(tile(at, "SLA"))
    at.switch_page("views/settings.py").run()
    edits = {str(row): {"First response (hours)": 0.25} for row in range(4)}
    at.session_state["sla_editor"] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    at.number_input(key="minimum_n").set_value(50)
    at.button(key="save_settings").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Saved" in s.value for s in at.success)
    store = open_store(seeded_db)
    saved = load_settings(store)
    store.close()
    assert saved.sla_targets["urgent"].first_response_hours == 0.25
    assert saved.minimum_n == 50
    at.switch_page("views/overview.py").run()
    assert number(tile(at, "SLA")) < before


def test_this_is_me_switches_the_team_page(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/team.py")
    assert not any("Me against" in h.value for h in at.subheader)
    at.switch_page("views/settings.py").run()
    at.selectbox(key="this_is_me").set_value("Priya Mistry")
    at.button(key="save_settings").click().run()
    at.switch_page("views/team.py").run()
    assert not at.exception
    assert any("Me against" in h.value for h in at.subheader)
    assert any("Me: Priya Mistry" in shown(c.value) for c in at.caption)


def test_an_annotation_added_on_the_trends_page_is_stored_and_drawn(
    app_for, seeded_db: Path
) -> None:
    at = app_for(seeded_db, "views/trends.py")
    at.text_input(key="annotation_text").input("New refund process <b>live</b>")
    at.button(key="add_annotation").click().run()
    assert not at.exception
    store = open_store(seeded_db)
    notes = annotations.all_annotations(store)
    store.close()
    assert [n.text for n in notes] == ["New refund process <b>live</b>"]
    figure = at.get("plotly_chart")[0].proto.spec
    assert "New refund process &lt;b&gt;live&lt;" in figure  # drawn, as text not HTML
    assert "<b>live" not in figure


def test_a_filter_that_selects_nothing_leads_to_the_data_page(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/overview.py")
    at.multiselect(key="filter_agent").set_value(["Bethan Morgan"])
    at.multiselect(key="filter_channel").set_value(["email"]).run()
    assert not at.exception
    assert any("Nothing matches" in i.value for i in at.info)
    assert at.get("page_link")
    assert not at.metric


def test_only_a_significant_change_is_marked(seeded_db: Path, monkeypatch) -> None:
    # The knowledge-base change of 12 January 2026 lifts FCR (sample_data/README.md).
    monkeypatch.setenv("KPI_DB", str(seeded_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"period": "custom", "from": "2026-01-12", "to": "2026-03-22"})
    at.run()
    deltas = {m.label: m.delta for m in at.metric}
    assert "pts vs previous period" in deltas["FCR"] and deltas["FCR"].startswith("+")
    assert not deltas["Contacts"]  # a count has no test, so no marked change


def test_the_comment_score_filter_spans_the_scales_in_the_data(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/feedback.py")
    at.selectbox(key="comment_score").set_value("csat").run()
    assert not at.exception
    store = open_store(seeded_db)
    scales = breakdowns.score_counts(store, Filters(), "csat").scale
    store.close()
    low, high = score_range("csat", scales)
    slider = at.slider(key="comment_range")
    assert (slider.min, slider.max) == (low, high) and slider.value == (low, high)
