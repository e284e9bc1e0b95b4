"""Drill-through on the pages: a tile's or a breakdown bar's "Show the N contacts behind this"
opens a dialog whose rows number N, the number's own n, with human headers and no download."""

from __future__ import annotations

import re
from pathlib import Path

from kpi.store import viewer
from kpi.store.connection import open_store
from tests.dashboard.test_markdown_names import shown

OVERVIEW = "views/overview.py"
SERVICE = "views/service_levels.py"
TEAM = "views/team.py"


def _count(text: str) -> int:
    """The first number in a text ("Show the 3,602 contacts..." -> 3602)."""
    found = re.search(r"\d[\d,]*", text)
    assert found, text
    return int(found.group().replace(",", ""))


def _drill_buttons(at) -> dict[str, str]:
    return {b.key: shown(b.label) for b in at.button if b.key and b.key.startswith("drill_")}


def _dialog_count(at) -> int:
    """How many rows the open dialog says are behind the number."""
    notes = [shown(c.value) for c in at.caption if shown(c.value).startswith(("Showing", "All "))]
    assert len(notes) == 1, notes
    match = re.match(r"(?:Showing [\d,]+ of|All) ([\d,]+) ", notes[0])
    assert match, notes[0]
    return int(match.group(1).replace(",", ""))


def _drill_table(at):
    """The open dialog's table (the page's own tables have no row times)."""
    tables = [d.value for d in at.dataframe]
    found = [t for t in tables if {"Opened (UTC)", "Answered (UTC)"} & set(t.columns)]
    assert len(found) == 1, [list(t.columns) for t in tables]
    return found[0]


def _tile_ns(at) -> list[int]:
    return [_count(c.value) for c in at.caption if c.value.startswith("n = ")]


def test_each_overview_tile_offers_the_rows_behind_its_n(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, OVERVIEW)
    buttons = _drill_buttons(at)
    # Every tile but the backlog (a stock, not the period's rows) has its button.
    assert "drill_backlog" not in buttons
    assert {"drill_sla", "drill_fcr", "drill_csat", "drill_nps", "drill_complaint_rate"} <= set(
        buttons
    )
    # The button's N is the tile's n.
    assert _count(buttons["drill_csat"]) in _tile_ns(at)
    for key in ("drill_sla", "drill_csat", "drill_first_response_hours"):
        at.button(key=key).click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert _dialog_count(at) == _count(buttons[key])
        table = _drill_table(at)
        assert len(table) == min(500, _count(buttons[key]))
        assert not [c for c in table.columns if "_" in c or c != c.strip()]
        assert not at.get("download_button") or all(
            "contacts behind" not in d.proto.label for d in at.get("download_button")
        )


def test_sla_rows_say_which_target_was_breached_and_by_how_much(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, OVERVIEW)
    at.button(key="drill_sla").click().run()
    table = _drill_table(at)
    assert {"First response target", "First response over target by", "Met every target"} <= set(
        table.columns
    )
    assert "Customer (pseudonymised)" in table.columns
    first = table.iloc[0]  # breaches come first
    assert first["Met every target"] == "no"
    assert "h" in first["First response over target by"] + first["Resolution over target by"]


def test_a_service_level_bar_opens_the_rows_behind_that_priority(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, SERVICE)
    picker = at.selectbox(key="drill_pick_sla_by_priority")
    assert picker.value is None
    assert not [b for b in at.button if b.key == "drill_sla_by_priority"]
    first = picker.options[0]  # e.g. "urgent: n = 123"
    picker.set_value(0).run()
    button = at.button(key="drill_sla_by_priority")
    assert _count(button.label) == _count(first.split(": n = ")[1])
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _dialog_count(at) == _count(first.split(": n = ")[1])
    priority = first.split(":")[0]
    assert set(_drill_table(at)["Priority"]) == {priority}


def test_a_team_row_opens_the_rows_behind_that_teams_figure(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, TEAM)
    at.selectbox(key="team_kpi").set_value("csat").run()
    picker = at.selectbox(key="drill_pick_csat_by_team")
    picker.set_value(0).run()
    n = _count(picker.options[0].split(": n = ")[1])
    at.button(key="drill_csat_by_team").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _dialog_count(at) == n
    rows = _drill_table(at)
    assert set(rows["Team"]) == {picker.options[0].split(":")[0]}
    assert {"Score", "Scale", "Satisfied", "Comment (scrubbed)"} <= set(rows.columns)


def test_a_trend_point_opens_the_rows_behind_that_period(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/trends.py")
    picker = at.selectbox(key="drill_pick_trend_csat")
    assert picker.value is None
    assert picker.options[1].startswith("w/c ")
    picker.set_value(1).run()
    n = _count(picker.options[1].split(": n = ")[1])
    at.button(key="drill_trend_csat").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _dialog_count(at) == n
    assert len(_drill_table(at)) == min(n, 500)


def test_feedback_tiles_offer_the_answers_behind_their_n(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/feedback.py")
    buttons = _drill_buttons(at)
    assert {"drill_nps", "drill_csat", "drill_ces", "drill_responses"} <= set(buttons)
    assert "answers behind this" in buttons["drill_nps"]
    assert _count(buttons["drill_nps"]) in _tile_ns(at)
    at.button(key="drill_nps").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _dialog_count(at) == _count(buttons["drill_nps"])
    assert "Promoter, passive or detractor" in _drill_table(at).columns


def test_complaints_tiles_offer_the_contacts_behind_their_n(app_for, seeded_db: Path) -> None:
    at = app_for(seeded_db, "views/complaints.py")
    buttons = _drill_buttons(at)
    assert {"drill_complaint_rate", "drill_escalation_rate", "drill_reopen_rate"} <= set(buttons)
    at.button(key="drill_complaint_rate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _dialog_count(at) == _count(buttons["drill_complaint_rate"])
    assert _drill_table(at)["Complaint"].iloc[0] == "yes"  # complaints first


def test_me_and_the_rest_of_my_team_each_open_their_own_rows(app_for, seeded_db: Path) -> None:
    store = open_store(seeded_db)
    viewer.set_me(store, "Priya Mistry")
    store.close()
    at = app_for(seeded_db, TEAM)
    at.selectbox(key="team_kpi").set_value("sla").run()
    buttons = _drill_buttons(at)
    assert buttons["drill_me_sla"].startswith("Me (Priya Mistry): Show the ")
    assert buttons["drill_rest_sla"].startswith("Rest of the team: Show the ")
    at.button(key="drill_me_sla").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _dialog_count(at) == _count(buttons["drill_me_sla"].split(": ", 1)[1])
    assert set(_drill_table(at)["Agent"]) == {"Priya Mistry"}


def test_the_rest_of_my_teams_rows_name_no_colleague(app_for, seeded_db: Path) -> None:
    store = open_store(seeded_db)
    viewer.set_me(store, "Priya Mistry")
    store.close()
    at = app_for(seeded_db, TEAM)
    at.selectbox(key="team_kpi").set_value("sla").run()
    label = _drill_buttons(at)["drill_rest_sla"]
    at.button(key="drill_rest_sla").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _dialog_count(at) == _count(label.split(": ", 1)[1])
    agents = set(_drill_table(at)["Agent"])
    assert agents and all(a.startswith("Colleague ") for a in agents), agents
