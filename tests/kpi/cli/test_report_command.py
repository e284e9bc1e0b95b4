"""`kpi report`: in-memory reports from files, a store, the three formats, and one-line errors."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from kpi.cli import report_command as cli_report
from kpi.cli.main import main
from kpi.ingest.importer import import_file
from kpi.metrics.registry import KEYS
from kpi.store.connection import open_store
from tests.paths import ROOT

SAMPLES = ROOT / "sample_data"
SCHEMA = json.loads((ROOT / "kpi" / "cli" / "report.schema.json").read_text())

MAPPING = """\
kind = "contacts"
date_format = "%d-%m-%Y %H:%M"
timezone = "Europe/London"

[columns]
contact_id = "number"
opened_at = ["Date", "Time"]
channel = "contact_type"
sla_met = "made_sla"
status = "state"

[values.status]
"Awaiting User Info" = "pending"
"Closed" = "closed"
"""
TICKETS = """\
number,Date,Time,contact_type,made_sla,state
INC1,03-03-2025,09:00,phone,Y,Closed
INC2,04-03-2025,10:30,email,N,Awaiting User Info
INC3,14-03-2025,10:30,email,Y,Closed
"""


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Parse with a parser of our own (as kpi.cli.main does) and run the command in process."""
    parser = argparse.ArgumentParser(prog="kpi")
    cli_report.register(parser.add_subparsers(dest="command", required=True), "KPIs")
    args = parser.parse_args(["report", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mapped_export(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "tickets.csv").write_text(TICKETS)
    (tmp_path / "tickets.toml").write_text(MAPPING)
    return tmp_path / "tickets.csv", tmp_path / "tickets.toml"


@pytest.fixture(autouse=True)
def no_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the default store somewhere we can check stays untouched."""
    path = tmp_path / "default" / "team.duckdb"
    monkeypatch.setenv("KPI_DB", str(path))
    return path


def test_file_with_mapping_works_in_memory_and_writes_nothing(
    mapped_export, no_default_store, capsys
):
    export, mapping = mapped_export
    before = sorted(p.name for p in export.parent.iterdir())
    code, out, err = run([str(export), "--mapping", str(mapping), "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    metrics = doc["rows"][0]["metrics"]
    assert list(metrics) == list(KEYS)
    assert metrics["contacts"]["value"] == 3
    assert metrics["sla"]["value"] == pytest.approx(200 / 3)
    assert metrics["sla"]["definition"].startswith("SLA (source flag)")
    assert metrics["backlog"]["value"] == 1  # the pending one
    assert metrics["nps"]["value"] is None and metrics["nps"]["reason"]
    assert sorted(p.name for p in export.parent.iterdir()) == before
    assert not no_default_store.exists()


def test_json_for_a_store_by_segment_and_month_matches_the_schema(tmp_path, capsys):
    db = tmp_path / "team.duckdb"
    store = open_store(db)
    for name in ("zendesk_tickets.csv", "survey_responses.csv"):
        import_file(store, SAMPLES / name)
    store.close()
    code, out, err = run(
        ["--db", str(db), "--by", "channel", "--grain", "month", "--format", "json"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["grain"] == "month" and doc["by"] == ["channel"]
    totals = [r for r in doc["rows"] if r["segment"] == {}]
    segments = [r for r in doc["rows"] if r["segment"]]
    assert totals and segments
    # Counts recombine: per month, the channels' contacts add up to the total.
    for total in totals:
        parts = [r for r in segments if r["period"] == total["period"]]
        assert (
            sum(r["metrics"]["contacts"]["n"] for r in parts) == total["metrics"]["contacts"]["n"]
        )


def test_csv_and_table_formats(mapped_export, capsys):
    export, mapping = mapped_export
    code, out, _ = run(
        [str(export), "--mapping", str(mapping), "--by", "channel", "--format", "csv"], capsys
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0].keys() >= {"channel", "period", "kpi", "value", "n", "definition"}
    contacts = {r["channel"]: r["value"] for r in rows if r["kpi"] == "contacts"}
    assert contacts == {"(all)": "3.0", "email": "2.0", "phone": "1.0"}
    code, out, _ = run(
        [str(export), "--mapping", str(mapping), "--from", "2025-03-01", "--to", "2025-03-07"],
        capsys,
    )
    assert code == 0
    assert "1 Mar 2025 - 7 Mar 2025" in out and "SLA" in out and "small sample" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "yesterday"], "--from 'yesterday' is not a date"),
        (["--by", "colour"], "cannot break down by colour"),
        (["--kpis", "happiness"], "unknown KPI happiness"),
        (["--as-of", "teatime"], "--as-of 'teatime' is not an instant"),
        (["--from", "0001-01-01"], "--from '0001-01-01' is outside the years a report covers"),
        (["--to", "9999-12-31"], "--to '9999-12-31' is outside the years a report covers"),
        (["--as-of", "9999-12-31T10:00"], "--as-of '9999-12-31T10:00' is outside the years"),
        (["--from", "2025-03-10", "--to", "2025-03-01"], "starts"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(mapped_export, argv, message, capsys):
    export, mapping = mapped_export
    code, out, err = run([str(export), "--mapping", str(mapping), *argv], capsys)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_missing_inputs_are_one_line_and_exit_2(tmp_path, capsys):
    code, _, err = run([str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and "no such file" in err
    code, _, err = run(["--db", str(tmp_path / "absent.duckdb")], capsys)
    assert code == 2 and "no store" in err
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("just,a,header\n")
    code, _, err = run([str(garbage)], capsys)
    assert code == 2 and err.startswith("kpi: ") and err.count("\n") == 1


def test_the_installed_command(mapped_export, tmp_path):
    export, mapping = mapped_export
    kpi = Path(sys.executable).parent / "kpi"
    if not kpi.exists():
        pytest.skip("the kpi entry point is not installed in this environment")
    env = {**os.environ, "KPI_DB": str(tmp_path / "unused.duckdb")}
    ok = subprocess.run(
        [str(kpi), "report", str(export), "--mapping", str(mapping), "--format", "json", "--as-of", "2025-03-31T17:00"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["as_of"] == "2025-03-31T16:00:00"  # 17:00 BST, as UTC
    bad = subprocess.run(
        [str(kpi), "report", str(export), "--grain", "year"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_report_set_says_what_it_overrode_before_the_table(tmp_path, capsys):
    db = tmp_path / "store.duckdb"
    open_store(db).close()
    argv = ["report", "--db", str(db), "--kpis", "fcr", "--set", "fcr_variant=flag"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "for this report only: fcr_variant = flag (nothing saved)"
    assert out.splitlines()[1].startswith("KPIs for all dates")
    # JSON stays JSON: the line goes to stderr.
    assert main([*argv, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["rows"] is not None
    assert err == "for this report only: fcr_variant = flag (nothing saved)\n"


def test_report_set_refuses_the_same_setting_twice(tmp_path, capsys):
    db = tmp_path / "store.duckdb"
    open_store(db).close()
    argv = [
        "report",
        "--db",
        str(db),
        "--set",
        "fcr_variant=flag",
        "--set",
        "fcr_variant=one_touch",
    ]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "kpi: fcr_variant is set twice; give it once\n"


def test_a_mean_on_a_known_scale_has_its_interval_limited_to_the_scale(tmp_path, capsys):
    source = tmp_path / "answers.csv"
    source.write_text(
        "Id,Answered,Satisfaction\nR1,2025-03-03,Good\nR2,2025-03-04,Bad\nR3,2025-03-05,Good\n"
    )
    mapping = tmp_path / "words.toml"
    mapping.write_text(
        'kind = "responses"\n[columns]\nresponse_id = "Id"\nresponded_at = "Answered"\n'
        '[scores.csat]\ncolumn = "Satisfaction"\nscale = ["Bad", "Good"]\n'
    )
    argv = ["report", str(source), "--mapping", str(mapping), "--kpis", "csat_mean"]
    assert main([*argv, "--format", "json"]) == 0
    mean = json.loads(capsys.readouterr().out)["rows"][0]["metrics"]["csat_mean"]
    # Student's t alone gives about 0.23 to 3.10 for these three answers on a 1-2 scale.
    assert (round(mean["value"], 3), mean["ci_low"], mean["ci_high"]) == (1.667, 1.0, 2.0)
    assert "(1-2; its interval limited to the scale)" in mean["definition"]
