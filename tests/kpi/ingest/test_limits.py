"""The bounds an import keeps to (kpi.ingest.limits): defaults, the environment, the README."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi.errors import ImportProblem
from kpi.ingest.limits import ENVIRONMENT, ImportLimits, from_environment
from tests.paths import ROOT


def test_without_variables_the_defaults_hold():
    assert from_environment({}) == ImportLimits()


def test_each_variable_changes_its_limit():
    limits = from_environment(
        {
            "KPI_MAX_FUTURE_DAYS": "0.5",
            "KPI_EARLIEST_DATE": "2015-04-01",
            "KPI_XLSX_MAX_CELLS": "2e6",
            "KPI_XLSX_MAX_MB": "64",
        }
    )
    assert limits.max_future_days == 0.5
    assert limits.earliest() == dt.datetime(2015, 4, 1)
    assert limits.xlsx_max_cells == 2_000_000
    assert limits.xlsx_max_mb == 64.0


def test_the_latest_plausible_instant_is_the_import_time_plus_the_tolerance():
    limits = ImportLimits(max_future_days=2, now=dt.datetime(2026, 11, 30, 12, 0))
    assert limits.latest() == dt.datetime(2026, 12, 2, 12, 0)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("KPI_MAX_FUTURE_DAYS", "soon", "days after the import"),
        ("KPI_EARLIEST_DATE", "01/01/1990", "YYYY-MM-DD"),
        ("KPI_XLSX_MAX_MB", "-5", "cannot be negative"),
        ("KPI_XLSX_MAX_MB", "nan", "finite"),
        ("KPI_MAX_FUTURE_DAYS", "inf", "finite"),
        ("KPI_XLSX_MAX_CELLS", "inf", "cells a workbook sheet may declare"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(variable, value, words):
    with pytest.raises(ImportProblem) as caught:
        from_environment({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}={value!r}") and words in message
    assert "\n" not in message


def test_the_readme_names_every_limit_with_its_default():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    defaults = ImportLimits()
    shown = {
        "max_future_days": f"default {defaults.max_future_days:g}",
        "earliest_date": f"default\n  {defaults.earliest_date.isoformat()}",
        "xlsx_max_cells": f"default {defaults.xlsx_max_cells:,}",
        "xlsx_max_mb": f"default {defaults.xlsx_max_mb:g}",
        "xlsx_max_strings_mb": f"default {defaults.xlsx_max_strings_mb:g}",
        "max_quarantine": f"default {defaults.max_quarantine:g}",
    }
    flat = " ".join(readme.split())
    for variable, (field, _meaning) in ENVIRONMENT.items():
        assert f"`{variable}`" in readme, variable
        assert " ".join(shown[field].split()) in flat, (variable, shown[field])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_a_limit_given_in_code_or_on_the_command_line_must_be_finite_and_not_negative(value):
    with pytest.raises(ImportProblem) as caught:
        ImportLimits().with_changes(max_future_days=value)
    assert "max future days" in str(caught.value) and "finite number, 0 or more" in str(
        caught.value
    )


def test_the_quarantine_bar_is_a_percentage_from_the_environment_or_the_command_line():
    assert ImportLimits().max_quarantine == 100.0
    assert from_environment({"KPI_MAX_QUARANTINE": "5"}).max_quarantine == 5.0
    for text in ("101", "-1", "lots"):
        with pytest.raises(ImportProblem) as caught:
            from_environment({"KPI_MAX_QUARANTINE": text})
        assert str(caught.value).startswith(f"KPI_MAX_QUARANTINE={text!r} is not valid")
    with pytest.raises(ImportProblem) as caught:
        ImportLimits().with_changes(max_quarantine=150.0)
    assert "give a percentage from 0 to 100" in str(caught.value)


def test_an_earliest_date_before_the_years_reports_cover_is_refused():
    with pytest.raises(ImportProblem, match="cannot be 1899-12-31: reports cover dates from 1900"):
        ImportLimits().with_changes(earliest_date=dt.date(1899, 12, 31))
    with pytest.raises(ImportProblem, match="cannot be 0001-01-01"):
        from_environment({"KPI_EARLIEST_DATE": "0001-01-01"})
    assert ImportLimits().with_changes(earliest_date=dt.date(1900, 1, 1)).earliest() == (
        dt.datetime(1900, 1, 1)
    )


def test_a_tolerance_of_any_length_stops_at_the_last_instant_reports_cover():
    now = dt.datetime(2026, 11, 30, 12)
    assert ImportLimits(now=now, max_future_days=1e12).latest() == dt.datetime(
        2200, 12, 31, 23, 59, 59, 999999
    )  # not an OverflowError from now + a trillion days
    assert ImportLimits(now=now, max_future_days=3).latest() == dt.datetime(2026, 12, 3, 12)
