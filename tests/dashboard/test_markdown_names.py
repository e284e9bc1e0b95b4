"""Names are shown as typed (issue 14, point 14): a team, agent, category or file name written as
Markdown never becomes a link or an external image on any page.

The store holds the sample data plus a few tickets whose team, agents and category are Markdown
links and images; every page is run with the team filter on that team and "this is me" set to
one of its agents, and every piece of text Streamlit renders as Markdown (titles, captions,
alerts, labels, help) is read back from the page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from kpi.charts.disclosure import WORD_JOINER, escape_markdown
from kpi.ingest.importer import import_file
from kpi.store import viewer
from kpi.store.connection import open_store
from tests.dashboard.test_views import VIEW_SCRIPTS
from tests.paths import APP, SAMPLE_DATA

TEAM = "[click](http://evil.example)"
ME = "![x](http://evil.example/x.png)"
COLLEAGUE = "**Bold** <img src=http://evil.example/y.png>"
CATEGORY = "[cause](http://evil.example/c)"
FILE_NAME = "![pic](evil.example) [f](x).csv"

#: Proto fields Streamlit renders as Markdown; st.text, st.code, tables and charts are not read
#: (plain text, or escaped by the chart builder).
MARKDOWN_FIELDS = {"body", "label", "help", "text", "caption"}
PLAIN_ELEMENTS = {"text", "code", "arrow_data_frame", "dataframe", "plotly_chart", "json"}


def _export(rows: int = 40) -> bytes:
    """The latest sample tickets, moved to a team of Markdown names with new ids."""
    tickets = pd.read_csv(SAMPLE_DATA / "zendesk_tickets.csv", dtype=str, keep_default_na=False)
    latest = tickets.tail(rows).copy()
    latest["Id"] = [str(900000 + i) for i in range(rows)]
    latest["Group"] = TEAM
    latest["Assignee"] = [ME if i % 2 else COLLEAGUE for i in range(rows)]
    latest["Contact reason [list]"] = CATEGORY
    buffer = io.StringIO()
    latest.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


@pytest.fixture
def markdown_db(seeded_db: Path, tmp_path: Path) -> Path:
    export = tmp_path / "markdown_names.csv"
    export.write_bytes(_export())
    store = open_store(seeded_db)
    result = import_file(store, export)
    viewer.set_me(store, ME)
    store.close()
    assert result.rows_imported == 40
    return seeded_db


def _strings(message: Message) -> Iterator[tuple[str, str]]:
    for field, value in message.ListFields():
        if isinstance(value, Message):
            yield from _strings(value)
        elif isinstance(value, str):
            yield field.name, value


def rendered_markdown(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit reads as Markdown."""
    found: list[str] = []

    def walk(node) -> None:
        if getattr(node, "type", None) in PLAIN_ELEMENTS:
            return
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            found.extend(v for name, v in _strings(proto) if name in MARKDOWN_FIELDS)
        children = getattr(node, "children", None) or {}
        for child in children.values() if isinstance(children, dict) else children:
            walk(child)

    walk(at._tree)
    return found


def shown(markdown: str) -> str:
    """What a reader sees of escaped Markdown: each backslash escape is its character, and the
    invisible word joiners that stop bare addresses becoming links are not seen."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


def live_markdown(texts: list[str]) -> list[str]:
    """The texts holding a link or image Markdown would draw: ``](`` or ``![`` not escaped."""
    return [t for t in texts if re.search(r"(?<!\\)\]\(|(?<!\\)!\[|(?<!\\)<img", t)]


@pytest.mark.parametrize("script", VIEW_SCRIPTS)
def test_no_page_turns_a_name_into_a_link_or_an_image(
    markdown_db: Path, monkeypatch: pytest.MonkeyPatch, script: str
) -> None:
    monkeypatch.setenv("KPI_DB", str(markdown_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"period": "12m", "team": TEAM})
    at.run()
    at.switch_page(script).run()
    assert not at.exception, [e.value for e in at.exception]
    texts = rendered_markdown(at)
    assert live_markdown(texts) == []
    if script not in (
        "views/data.py",
        "views/settings.py",
        "views/evidence.py",
        "views/portfolio.py",
    ):
        # The filters caption names the team: shown, escaped.
        assert any(escape_markdown(TEAM) in t for t in texts), texts


def test_the_team_page_names_me_and_my_team_as_typed(
    markdown_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPI_DB", str(markdown_db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"period": "12m"})
    at.run()
    at.switch_page("views/team.py").run()
    me_caption = next(c.value for c in at.caption if c.value.startswith("Me: "))
    assert me_caption.startswith(f"Me: {escape_markdown(ME)}. The rest of the team: 1 colleagues")
    assert escape_markdown(TEAM) in me_caption
    assert live_markdown(rendered_markdown(at)) == []


def test_an_uploaded_files_name_is_shown_as_typed(app_for, tmp_path: Path) -> None:
    at = app_for(tmp_path / "store.duckdb", "views/data.py")
    at.file_uploader(key="uploads").set_value((FILE_NAME, _export(5), "text/csv"))
    at.run()
    at.button(key="import").click().run()
    assert not at.exception
    texts = rendered_markdown(at)
    assert live_markdown(texts) == []
    assert f"**{escape_markdown(FILE_NAME)}** - layout zendesk" in texts
