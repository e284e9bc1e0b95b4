"""`kpi settings` lists and changes the settings; `kpi report --set` changes one for one report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpi.cli.main import main
from kpi.metrics.settings import Settings, load_settings
from kpi.metrics.settings_form import setting_keys
from kpi.store.connection import open_store


def _run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    open_store(path).close()
    return path


def test_the_list_shows_every_setting_with_value_default_allowed_and_meaning(capsys, db) -> None:
    code, out, _ = _run(capsys, "settings", "--db", str(db))
    assert code == 0
    for key in setting_keys(Settings()).values():
        assert f"{key.key} = {key.default()}   (default {key.default()})" in out
        assert f"    allowed: {key.allowed}" in out
        assert f"    {key.description}" in out
    assert "sla_variant = auto   (default auto)" in out
    assert "    allowed: auto, targets, source_flag" in out


def test_without_a_store_the_list_shows_the_defaults_and_creates_nothing(capsys, tmp_path) -> None:
    missing = tmp_path / "none.duckdb"
    code, out, _ = _run(capsys, "settings", "--db", str(missing))
    assert code == 0 and out.startswith(f"no store at {missing} yet: these are the defaults.")
    assert not missing.exists()


def test_set_saves_a_checked_value_and_the_list_marks_it_changed(capsys, db) -> None:
    code, out, _ = _run(capsys, "settings", "set", "sla_variant", "source_flag", "--db", str(db))
    assert code == 0
    assert out == f"sla_variant = source_flag (was auto); saved in {db}\n"
    store = open_store(db)
    try:
        assert load_settings(store).sla_variant == "source_flag"
    finally:
        store.close()
    _, listing, _ = _run(capsys, "settings", "--db", str(db))
    assert "sla_variant = source_flag *   (default auto)" in listing


def test_a_wrong_value_is_one_line_exit_2_and_changes_nothing(capsys, db) -> None:
    code, out, err = _run(capsys, "settings", "--db", str(db), "set", "hours", "office")
    assert code == 2 and out == ""
    assert err == "kpi: hours cannot be 'office'; allowed: business, calendar\n"
    code, _, err = _run(capsys, "settings", "--db", str(db), "set", "minimun_n", "5")
    assert code == 2
    assert err.startswith("kpi: there is no setting 'minimun_n'; did you mean minimum_n?")
    store = open_store(db)
    try:
        assert load_settings(store) == Settings()
    finally:
        store.close()


def _flagged_store(db: Path) -> None:
    """Two contacts with times (both meet their targets) whose source flags one as missed."""
    store = open_store(db)
    try:
        for i, flag in enumerate((True, False)):
            store.con.execute(
                "INSERT INTO contacts (source, contact_id, opened_at, first_response_at, "
                "resolved_at, status, priority, sla_met) VALUES ('t', ?, TIMESTAMP "
                "'2025-03-03 09:00', TIMESTAMP '2025-03-03 10:00', TIMESTAMP "
                "'2025-03-03 11:00', 'resolved', 'normal', ?)",
                [f"c{i}", flag],
            )
    finally:
        store.close()


def test_report_set_uses_a_setting_for_one_report_without_saving_it(capsys, db) -> None:
    _flagged_store(db)
    base = ["report", "--db", str(db), "--kpis", "sla", "--format", "json"]
    _, out, _ = _run(capsys, *base)
    sla = json.loads(out)["rows"][0]["metrics"]["sla"]
    assert (sla["variant"], sla["value"]) == ("targets", 100.0)
    code, out, _ = _run(capsys, *base, "--set", "sla_variant=source_flag", "--set", "minimum_n=1")
    assert code == 0
    sla = json.loads(out)["rows"][0]["metrics"]["sla"]
    assert (sla["variant"], sla["value"], sla["small_sample"]) == ("source_flag", 50.0, False)
    assert "chosen in settings" in sla["definition"]
    store = open_store(db)
    try:
        assert load_settings(store) == Settings()  # nothing saved
    finally:
        store.close()


def test_report_set_refuses_a_wrong_setting_in_one_line(capsys, db) -> None:
    code, out, err = _run(capsys, "report", "--db", str(db), "--set", "sla_variant=flag")
    assert code == 2 and out == ""
    assert err == "kpi: sla_variant cannot be 'flag'; allowed: auto, targets, source_flag\n"


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        (
            "targets.nps",
            "150",
            "the nps target must be between -100 and +100 (NPS points), not 150",
        ),
        ("minimum_n", "99999999999999999999", "minimum_n must be a whole number from 1 to 100000"),
        (
            "sla_targets.normal.first_response_hours",
            "1e308",
            "the normal first response target must be more than 0 and at most 8760 hours",
        ),
    ],
)
def test_a_value_outside_its_range_is_refused_naming_the_range(capsys, db, key, value, said):
    code, out, err = _run(capsys, "settings", "--db", str(db), "set", key, value)
    assert code == 2 and out == ""
    assert err.startswith(f"kpi: {key} cannot be {value!r} ({said}") and err.count("\n") == 1
    store = open_store(db)
    try:
        assert load_settings(store) == Settings()
    finally:
        store.close()
