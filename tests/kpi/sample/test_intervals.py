"""The sample team's queue interval report: the call log's calls counted per hour and team, so
the call KPIs pooled from it equal those worked out call by call."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from kpi.engine.report import report
from kpi.ingest.importer import import_file
from kpi.sample import FILE_NAMES, INTERVALS_FILE, generate
from kpi.sample.intervals import HEADER
from kpi.store.connection import open_store

CALL_KPIS = ("aht_seconds", "asa_seconds", "abandonment_rate", "service_level")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample-intervals")
    generate(out, seed=11, scale=0.05, intervals=True)
    return out


def test_the_interval_report_is_written_only_when_asked_and_leaves_the_other_files_alone(
    sample: Path, tmp_path: Path
) -> None:
    plain = generate(tmp_path, seed=11, scale=0.05)
    assert [p.name for p in plain] == list(FILE_NAMES)
    assert not (tmp_path / INTERVALS_FILE).exists()
    for name in FILE_NAMES:
        assert (tmp_path / name).read_bytes() == (sample / name).read_bytes(), name


def test_the_interval_report_counts_every_call_of_the_call_log_once(sample: Path) -> None:
    intervals = pd.read_csv(sample / INTERVALS_FILE)
    calls = pd.read_excel(sample / "call_log.xlsx", sheet_name="Calls")
    assert list(intervals.columns) == HEADER
    assert intervals["offered"].sum() == len(calls)
    assert intervals["answered"].sum() == (calls["Answered"] == "Y").sum()
    assert intervals["abandoned"].sum() == (calls["Abandoned"] == "Y").sum()


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
