"""Reports laid out as tables, numbers written with their unit, and every table a page shows
in words a person reads: human headers, units, dashes with a reason, no raw keys."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from kpi.engine.breakdowns import DRIVERS, drivers, pareto
from kpi.engine.comments import search
from kpi.engine.comparison import me_against_rest
from kpi.engine.filters import Filters
from kpi.engine.page_data import by_segment, dated
from kpi.engine.report import report
from kpi.engine.results import MetricResult
from kpi.engine.tables import (
    EMPTY,
    PeopleTable,
    for_people,
    format_change,
    format_interval,
    format_value,
    header,
    long_frame,
    period_label,
)
from kpi.ingest.importer import import_file
from kpi.metrics.registry import KEYS, REGISTRY
from kpi.metrics.settings import Settings
from kpi.store.batches import undo
from kpi.store.connection import open_store
from kpi.store.quarantine import imports_table, quarantined_rows, warnings

#: A raw key as code spells it ("ci_low", "first_response_hours"): never a header or a cell.
RAW_KEY = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
#: How a missing value leaks into a table when nobody formats it.
LEAKS = {"None", "nan", "NaN", "NaT", "<NA>"}
#: Columns that show what the imported files themselves say (their names, columns, text).
FROM_THE_FILES = ("File", "Column", "Value", "Row as read", "Reason", "Issue", "Comment")
#: What a value of each unit ends with on screen (NPS points and counts are bare numbers).
UNIT_ENDS = {"%": "%", "hours": " h", "seconds": " s"}


@pytest.fixture
def store():
    store = open_store(":memory:")
    for i, (channel, complaint) in enumerate([("email", True), ("email", False), ("phone", False)]):
        store.cursor().execute(
            "INSERT INTO contacts (source, contact_id, opened_at, channel, complaint) "
            "VALUES ('t', ?, ?, ?, ?)",
            [f"c{i}", datetime(2026, 3, 2 + i, 10), channel, complaint],
        )
    yield store
    store.close()


def test_long_frame_has_a_row_per_segment_and_kpi(store) -> None:
    result = report(store, Filters(), by=("channel",), settings=Settings(hours="calendar"),
                    metrics=("complaint_rate", "contacts"))  # fmt: skip
    frame = long_frame(result, ("complaint_rate",))
    assert list(frame.channel) == ["All", "email", "phone"]
    assert list(frame.numerator) == [1, 1, 0]
    assert list(frame.n) == [3, 2, 1]
    assert "period" not in frame
    assert list(long_frame(result, ("contacts",), totals=False).channel) == ["email", "phone"]


def test_long_frame_by_period(store) -> None:
    filters = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    result = report(store, filters, grain="week", metrics=("contacts",))
    frame = long_frame(result, ("contacts",))
    assert list(frame.period) == ["2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16",
                                  "2026-03-23", "2026-03-30"]  # fmt: skip
    assert frame.value.sum() == 3


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(82.68, "%", "82.7%"), (34.75, "points", "+34.8"), (1.04, "hours", "1.0 h"),
     (604.7, "seconds", "605 s"), (6208.0, "count", "6,208"), (None, "%", "—")],
)  # fmt: skip
def test_format_value(value, unit, text) -> None:
    assert format_value(value, unit) == text


def test_format_interval_and_change() -> None:
    result = MetricResult("csat", 82.7, 1865, "d", "auto", "%", ci_low=80.9, ci_high=84.3)
    assert format_interval(result) == "n = 1,865 · 95% CI 80.9% to 84.3%"
    median = MetricResult("first_response_hours", 1.0, 10, "d", "s", "hours", extra={"p90": 6.5})
    assert format_interval(median) == "n = 10 · p90 6.5 h"
    assert format_change(-2.34, "%") == "-2.3 pts"
    assert format_change(-30, "seconds") == "−30 s"


def test_a_kpi_table_has_human_headers_units_and_says_why_a_value_is_missing(store) -> None:
    result = report(store, Filters(), by=("channel",), settings=Settings(hours="calendar"),
                    metrics=("complaint_rate", "contacts", "csat"))  # fmt: skip
    shown = for_people(long_frame(result, ("complaint_rate", "contacts", "csat")))
    frame = shown.frame
    assert list(frame.columns) == ["Channel", "KPI", "Value", "n", "95% interval",
                                   "Small sample?", "Counted (of n)", "Why no value"]  # fmt: skip
    rate = frame[(frame.Channel == "All") & (frame.KPI == "Complaint rate")].iloc[0]
    assert rate.Value == "33.3%" and rate["Counted (of n)"] == "1 of 3"
    assert rate["95% interval"].endswith("%") and " to " in rate["95% interval"]
    csat = frame[frame.KPI == "CSAT"].iloc[0]  # no survey answers in this store
    assert csat.Value == EMPTY and csat["Why no value"].startswith("no ")
    assert frame[frame.KPI == "Contacts"]["95% interval"].eq(EMPTY).all()
    assert shown.formats == {"n": "localized"}  # n stays a number, so it sorts
    assert "counts are whole" in shown.note and "small sample" in shown.note


@pytest.mark.parametrize(
    ("period", "grain", "text"),
    [("2026-08-01", "month", "Aug 2026"), ("2026-03-02", "week", "w/c 2 Mar 2026"),
     ("undated", "week", "undated"), (None, "day", EMPTY)],
)  # fmt: skip
def test_periods_read_as_dates(period, grain, text) -> None:
    assert period_label(period, grain) == text


def test_a_part_period_says_so_in_its_label() -> None:
    frame = pd.DataFrame({"period": ["2026-07-27", "2026-08-03"], "kpi": ["CSAT"] * 2,
                          "key": ["csat"] * 2, "value": [100.0, 84.7], "n": [8, 137],
                          "partial": [True, False], "covered_days": [1, 7], "days": [7, 7]})  # fmt: skip
    table = for_people(frame, "week")
    shown = table.frame
    assert "part period" in table.note
    assert list(shown.Week) == ["w/c 27 Jul 2026", "w/c 3 Aug 2026"]
    assert list(shown["Days covered"]) == ["1 of 7 days", "whole"]
    assert list(shown.columns[:3]) == ["Week", "Days covered", "KPI"]
    assert not {"partial", "covered_days", "days"} & set(shown.columns)


def test_a_key_nobody_declared_still_reads_as_words() -> None:
    assert header("ci_low") == "Ci low" and header("n") == "n" and header("KPI") == "KPI"
    assert header("small_sample") == "Small sample?"


@pytest.fixture
def sample_store(seeded_db: Path, tmp_path: Path):
    """The seeded sample, plus an import with a quarantined row that was then undone, so that
    quarantine, warnings and "undone at" have something to show."""
    s = open_store(seeded_db)
    bad = tmp_path / "contacts.csv"
    bad.write_text("contact_id,opened_at,subject\nq1,2025-03-01 10:00,fine\nq2,,no date\n")
    import_file(s, bad, layout="generic_contacts")
    later = tmp_path / "later.csv"
    later.write_text("contact_id,opened_at,subject\nq3,2025-03-02 10:00,later\n")
    undo(s, import_file(s, later, layout="generic_contacts").batch_id)
    yield s
    s.close()


def page_tables(store) -> dict[str, PeopleTable]:
    """What every page shows as a table, built as the pages build them."""
    march = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    team_keys = ("csat", "nps", "fcr", "sla", "first_response_hours", "aht_seconds",
                 "complaint_rate")  # fmt: skip
    sla_keys = ("sla", "sla_first_response", "sla_resolution")
    tables = {}
    for grain in ("day", "week", "month"):
        trend = dated(long_frame(report(store, march, grain=grain, metrics=KEYS), KEYS))
        tables[f"Trends by {grain}"] = for_people(trend, grain)
    split = report(store, march, by=("agent",), grain="week", metrics=("csat",))
    tables["Trends split by agent"] = for_people(dated(long_frame(split, ("csat",), False)))
    for field in ("team", "agent"):
        found = report(store, march, by=(field,), metrics=team_keys)
        tables[f"Team by {field}"] = for_people(by_segment(found, team_keys))
    tables["Team: me against the rest"] = for_people(
        me_against_rest(store, march, "Priya Mistry", team_keys).table()
    )
    for field in ("priority", "channel"):
        found = report(store, march, by=(field,), metrics=sla_keys)
        tables[f"Service levels by {field}"] = for_people(by_segment(found, sla_keys, True))
    for driver in DRIVERS:
        tables[f"Complaints: {driver}"] = for_people(pareto(drivers(store, march, driver)))
    tables["Feedback comments"] = for_people(search(store, Filters()))
    tables["Data: imports"] = for_people(imports_table(store))
    tables["Data: quarantine"] = for_people(quarantined_rows(store))
    tables["Data: warnings"] = for_people(warnings(store))
    return tables


def test_every_page_table_reads_as_words_with_units_and_no_leaked_empties(sample_store) -> None:
    tables = page_tables(sample_store)
    assert all(not t.frame.empty for name, t in tables.items() if name != "Data: warnings"), [
        name for name, t in tables.items() if t.frame.empty
    ]
    for name, table in tables.items():
        frame = table.frame
        raw = [c for c in frame.columns if RAW_KEY.match(str(c))]
        assert not raw, f"{name}: raw keys as headers {raw}"
        cells = {str(v) for v in frame.astype(str).to_numpy().ravel()}
        assert not cells & LEAKS, f"{name}: {cells & LEAKS}"
        ours = frame.drop(columns=[c for c in FROM_THE_FILES if c in frame])
        keys = [c for c in ours.astype(str).to_numpy().ravel() if RAW_KEY.match(c)]
        assert not keys, f"{name}: raw keys in cells {keys}"
        assert not [c for c in frame if frame[c].dtype == float and c not in table.formats]


def test_every_kpi_value_in_a_page_table_carries_its_unit(sample_store) -> None:
    for name, table in page_tables(sample_store).items():
        frame = table.frame
        if "KPI" not in frame or "Value" not in frame:
            continue
        units = {m.label: m.unit for m in REGISTRY.values()}
        for kpi, value, interval in zip(frame.KPI, frame.Value, frame["95% interval"], strict=True):
            end = UNIT_ENDS.get(units[kpi])
            if end and value != EMPTY:
                assert value.endswith(end), f"{name}: {kpi} {value}"
                assert interval == EMPTY or interval.endswith(end), f"{name}: {interval}"
    shares = page_tables(sample_store)["Complaints: complaints"]
    assert shares.formats["Share of all"] == "%.1f%%"  # a number that sorts, shown with its %


def test_empty_cells_are_dashes_with_a_reason(sample_store) -> None:
    tables = page_tables(sample_store)
    imports = tables["Data: imports"]
    assert imports.frame["Undone at"].iloc[-1] == EMPTY  # the seeded batches are in force
    assert "the batch is in force" in imports.note
    assert imports.frame["Undone at"].iloc[0] != EMPTY  # the later import was undone
    assert imports.frame.Layout.iloc[0] == "generic contacts"
    quarantine = tables["Data: quarantine"].frame
    assert list(quarantine.columns)[:4] == ["Batch", "File", "Row", "Reason"]
    assert len(quarantine) == 1 and quarantine.Row.iloc[0] == 2  # the second data row
    comments = tables["Feedback comments"]
    assert comments.frame["Answered at"].str.match(r"\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}").all()
    if (comments.frame["CES score"] == EMPTY).any():
        assert "not answered" in comments.note
    assert not pd.Series(tables["Team by agent"].frame.Agent).isin([EMPTY, "None"]).any()
