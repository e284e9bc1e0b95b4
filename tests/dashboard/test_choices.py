"""A page's own choices travel in the URL: a link opens the page with them, a change writes them
back, a bad value falls back to the default without an error, and another page's parameters
are dropped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.choices import PAGE_PARAMS
from dashboard.filters import PARAMS as FILTER_PARAMS
from dashboard.navigation import PAGES
from tests.paths import APP, ROOT


@pytest.fixture
def open_link(seeded_db: Path, monkeypatch: pytest.MonkeyPatch):
    """The app opened at a page's own path with a query string, as a shared link opens it."""

    def make(script: str, params: dict[str, str | list[str]]) -> AppTest:
        monkeypatch.setenv("KPI_DB", str(seeded_db))
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params.update(params)
        # Before the first run AppTest finds a page by its file name: every page answers at it.
        at.switch_page(script).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_a_trends_link_opens_its_kpi_grain_and_split(open_link) -> None:
    at = open_link("views/trends.py", {"period": "12m", "kpi": "nps", "grain": "month",
                                       "split": "channel"})  # fmt: skip
    assert at.title[0].value == "Trends"
    assert at.selectbox(key="trend_kpi").value == "nps"
    assert at.button_group(key="trend_grain").value == "month"
    assert at.selectbox(key="trend_split").value == "channel"
    assert any(t.startswith("NPS") for t in chart_titles(at)), chart_titles(at)
    assert at.query_params == {"period": "12m", "kpi": "nps", "grain": "month", "split": "channel"}
    downloads = [b.label for b in at.get("download_button")]
    assert any("NPS by month" in label for label in downloads), downloads


def test_changing_a_choice_writes_it_to_the_url_beside_the_filters(open_link) -> None:
    at = open_link("views/trends.py", {"period": "12m", "channel": "email"})
    assert at.query_params == {"period": "12m", "channel": "email", "kpi": "csat",
                               "grain": "week"}  # fmt: skip
    at.selectbox(key="trend_kpi").set_value("sla").run()
    at.button_group(key="trend_grain").set_value("month").run()
    at.selectbox(key="trend_split").set_value("team").run()
    assert at.query_params == {"period": "12m", "channel": "email", "kpi": "sla",
                               "grain": "month", "split": "team"}  # fmt: skip
    at.selectbox(key="trend_split").set_value("").run()  # back to the total: no parameter
    assert "split" not in at.query_params
    assert any(t.startswith("SLA") for t in chart_titles(at)), chart_titles(at)


def test_a_value_the_page_does_not_offer_falls_back_to_the_default(open_link) -> None:
    at = open_link("views/trends.py", {"kpi": "happiness", "grain": "year", "split": "colour"})
    assert not at.error and not at.warning
    assert at.selectbox(key="trend_kpi").value == "csat"
    assert at.button_group(key="trend_grain").value == "week"
    assert at.selectbox(key="trend_split").value == ""
    assert at.query_params == {"period": "3m", "kpi": "csat", "grain": "week"}


def test_another_pages_parameters_are_dropped(open_link) -> None:
    at = open_link("views/team.py", {"kpi": "nps", "grain": "month", "colour": "red"})
    assert at.title[0].value == "Team"
    assert at.selectbox(key="team_kpi").value == "nps"
    assert any(t.startswith("NPS by") for t in chart_titles(at)), chart_titles(at)
    assert at.query_params == {"period": "3m", "kpi": "nps"}


def test_a_choice_is_kept_on_a_return_to_its_page(open_link) -> None:
    at = open_link("views/team.py", {"kpi": "fcr"})
    at.switch_page("views/overview.py").run()
    assert "kpi" not in at.query_params
    at.switch_page("views/team.py").run()
    assert at.selectbox(key="team_kpi").value == "fcr"
    assert at.query_params["kpi"] == "fcr"


def test_a_complaints_link_opens_its_count(open_link) -> None:
    at = open_link("views/complaints.py", {"period": "12m", "count": "detractors"})
    assert at.button_group(key="driver").value == "detractors"
    assert "Detractors (NPS 0-6) by category" in chart_titles(at)


def test_a_feedback_link_opens_its_comment_search(open_link) -> None:
    params = {"period": "12m", "words": "bill", "score": "csat", "topic": ["Billing", "Nope"]}
    at = open_link("views/feedback.py", params)
    assert at.text_input(key="comment_words").value == "bill"
    assert at.selectbox(key="comment_score").value == "csat"
    assert at.multiselect(key="comment_category").value == ["Billing"]  # unknown one dropped
    found = at.dataframe[-1].value
    found.columns = found.columns.str.lower()  # however the headers are worded
    assert len(found) > 0
    assert set(found["category"]) == {"Billing"}
    assert found["comment"].str.contains("bill", case=False).all()
    assert at.query_params == {**params, "topic": "Billing"}


def test_reflect_evidence_and_data_links_open_their_choices(open_link) -> None:
    at = open_link("views/reflect.py", {"level": "3"})
    assert at.radio(key="reflect.level").value == 3
    at = open_link("views/evidence.py", {"learner": "Nobody"})  # a store with no reflections
    assert "No reflections yet" in " ".join(c.value for c in at.caption)
    at = open_link("views/data.py", {"tab": "history"})
    assert at.session_state["data_tab"] == "Import history"
    assert at.query_params == {"period": "3m", "tab": "history"}


def test_every_page_answers_at_its_own_name() -> None:
    paths = {a for number, spec in enumerate(PAGES) for a in spec.aliases(number == 0)}
    paths |= {spec.url_path for spec in PAGES[1:]}
    assert {"overview", "trends", "service-levels", "service_levels", "data"} <= paths
    assert {Path(spec.script).stem for spec in PAGES} <= paths
    assert PAGES[0].aliases(True) == ("overview",)
    assert PAGES[2].aliases(False) == ("service_levels",)


def readme_parameters() -> dict[str, set[str]]:
    """The README's table of query parameters: name -> the pages it names."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Links: what the URL carries", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| `")]
    found: dict[str, set[str]] = {}
    for row in rows:
        name, pages = re.findall(r"\|([^|]*)", row)[:2]
        found[name.strip().strip("`")] = {p.strip() for p in pages.split(",")}
    return found


def test_the_readme_lists_every_query_parameter_the_code_reads() -> None:
    titles = {spec.url_path: spec.title for spec in PAGES}
    expected: dict[str, set[str]] = {name: {"every page"} for name in FILTER_PARAMS}
    for page, params in PAGE_PARAMS.items():
        for name in params:
            expected.setdefault(name, set()).add(titles[page])
    assert readme_parameters() == expected


def test_no_page_choice_shares_a_name_with_a_filter() -> None:
    # The filters and a page's choices are written separately; one name would be both.
    assert set(PAGE_PARAMS) <= {spec.url_path for spec in PAGES}
    assert not {name for params in PAGE_PARAMS.values() for name in params} & set(FILTER_PARAMS)
