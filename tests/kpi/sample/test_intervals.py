"""The sample team's queue interval report: the call log's calls counted per day and queue (the
call log's Queue, the contacts' category), so the call KPIs pooled from it equal those worked out
call by call, in total and queue by queue, and a report holding both uses the call-level rows."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from kpi.engine.intervals import LEFT_OUT
from kpi.engine.report import report
from kpi.ingest.importer import import_file
from kpi.sample import CONTACT_FILES, FILE_NAMES, INTERVALS_FILE, generate
from kpi.sample.intervals import HEADER, INTERVAL_MINUTES
from kpi.store.connection import open_store

CALL_KPIS = ("aht_seconds", "asa_seconds", "abandonment_rate", "service_level")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample-intervals")
    assert [p.name for p in generate(out, seed=11, scale=0.05)] == list(FILE_NAMES)
    return out


def test_the_interval_report_is_written_by_default_and_leaving_it_out_changes_nothing_else(
    sample: Path, tmp_path: Path
) -> None:
    assert INTERVALS_FILE in FILE_NAMES
    plain = generate(tmp_path, seed=11, scale=0.05, intervals=False)
    assert INTERVALS_FILE not in [p.name for p in plain]
    assert not (tmp_path / INTERVALS_FILE).exists()
    for path in plain:
        assert path.read_bytes() == (sample / path.name).read_bytes(), path.name


def test_the_interval_report_counts_every_call_of_the_call_log_once(sample: Path) -> None:
    intervals = pd.read_csv(sample / INTERVALS_FILE)
    calls = pd.read_excel(sample / "call_log.xlsx", sheet_name="Calls")
    assert list(intervals.columns) == HEADER
    assert intervals["offered"].sum() == len(calls)
    assert intervals["answered"].sum() == (calls["Answered"] == "Y").sum()
    assert intervals["abandoned"].sum() == (calls["Abandoned"] == "Y").sum()


def test_its_queues_are_the_call_logs_queues_counted_per_day(sample: Path) -> None:
    intervals = pd.read_csv(sample / INTERVALS_FILE)
    calls = pd.read_excel(sample / "call_log.xlsx", sheet_name="Calls")
    assert set(intervals["queue"]) == set(calls["Queue"])
    assert INTERVAL_MINUTES == 24 * 60
    assert (intervals["interval_minutes"] == INTERVAL_MINUTES).all()
    assert intervals["interval_start"].str.endswith(" 00:00").all()
    assert not intervals.duplicated(["interval_start", "queue"]).any()  # the row's key
    offered = intervals.groupby("queue")["offered"].sum()
    assert offered.to_dict() == calls["Queue"].value_counts().to_dict()


def test_call_kpis_from_the_interval_report_equal_those_from_the_call_log(sample: Path) -> None:
    from_calls, from_intervals = open_store(":memory:"), open_store(":memory:")
    import_file(from_calls, sample / "call_log.xlsx")
    result = import_file(from_intervals, sample / INTERVALS_FILE)
    assert result.layout == "generic_intervals" and result.rows_quarantined == 0
    assert result.warnings == 0  # its own service level % and ASA agree with its counts
    calls, pooled = report(from_calls).totals(), report(from_intervals).totals()
    for key in CALL_KPIS:
        assert pooled[key].variant == "intervals", key
        assert pooled[key].n == calls[key].n, key
        assert math.isclose(pooled[key].value, calls[key].value, rel_tol=1e-9), key


def test_a_store_with_both_uses_the_call_level_rows_and_says_the_report_was_left_out(
    sample: Path,
) -> None:
    # Same calls in both sources: every queue and month the call log covers, the interval
    # report covers too, so each call KPI is the call log's, with the calls left out named.
    from_calls, both = open_store(":memory:"), open_store(":memory:")
    import_file(from_calls, sample / "call_log.xlsx")
    import_file(both, sample / "call_log.xlsx")
    import_file(both, sample / INTERVALS_FILE)
    calls = report(from_calls, by=("category",), grain="month")
    mixed = report(both, by=("category",), grain="month")
    assert len(mixed.rows) == len(calls.rows) > 10
    for plain_row, row in zip(calls.rows, mixed.rows, strict=True):
        assert (row.segment, row.period) == (plain_row.segment, plain_row.period)
        for key in CALL_KPIS:
            result = row.metrics[key]
            assert result.variant != "intervals", key
            assert result.value == plain_row.metrics[key].value, key
            assert result.n == plain_row.metrics[key].n, key
            if result.n:
                assert result.extra[LEFT_OUT] == result.n, key
                assert "interval reports also cover this selection" in result.definition


def test_without_either_option_only_the_contact_files_are_written(tmp_path: Path) -> None:
    written = generate(tmp_path, seed=11, scale=0.05, intervals=False, threads=False)
    assert [p.name for p in written] == list(CONTACT_FILES)
