"""`kpi evidence ID` and `kpi evidence verify FILE`: a real pack exported by the command
verifies (exit 0); a copy with one figure changed does not (exit 1); problems end in one line
and exit 2."""

from __future__ import annotations

import argparse
import shutil
from datetime import date
from pathlib import Path

import docx
import pytest

from kpi import insights
from kpi.cli import evidence_command
from kpi.engine.filters import Filters
from kpi.evidence import reflections
from kpi.store.connection import open_store

MARCH_2026 = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


@pytest.fixture(scope="module")
def signed_db(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with EV-0001 signed off by its supervisor."""
    path = tmp_path_factory.mktemp("cli_verify") / "store.duckdb"
    shutil.copy(seeded_template, path)
    s = open_store(path)
    driver = next(i for i in insights.detect(s, MARCH_2026, ("driver",)) if "complaints" in i.title)
    r = reflections.from_insight(driver, "Amelia Booth", level=3)
    r = reflections.replace(r, sections={**r.sections, "description": "Billing complaints rose."})
    r = reflections.save(s, r)
    reflections.submit(s, r.reflection_id)
    reflections.review(s, r.reflection_id, "Sam Supervisor", "Well evidenced.", True)
    s.close()
    return path


def _kpi(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kpi")
    evidence_command.register(parser.add_subparsers(dest="command"), "evidence")
    args = parser.parse_args(["evidence", *argv])
    return args.func(args)


def _one_figure_changed(path: Path, out: Path) -> Path:
    """The DOCX with the first key figure's value changed, as an editor in Word would."""
    document = docx.Document(str(path))
    table = next(t for t in document.tables if t.cell(0, 0).text == "Figure")
    value = table.cell(1, 1).paragraphs[0].runs[0]
    value.text = "0.1%" if value.text != "0.1%" else "0.2%"
    document.save(str(out))
    return out


@pytest.mark.chromium
@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_an_exported_pack_verifies_and_exits_0(
    signed_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture, fmt: str
) -> None:
    assert _kpi("1", "--format", fmt, "--out", str(tmp_path), "--db", str(signed_db)) == 0
    (written,) = tmp_path.glob(f"*.{fmt}")
    capsys.readouterr()
    assert _kpi("verify", str(written), "--db", str(signed_db)) == 0
    out = capsys.readouterr().out
    assert "is authentic and unchanged: EV-0001" in out and "(not verified)" in out
    if fmt == "docx":
        altered = _one_figure_changed(written, tmp_path / "altered.docx")
        assert _kpi("verify", str(altered), "--db", str(signed_db)) == 1
        assert "altered.docx was altered after it was made" in capsys.readouterr().out


def test_verify_without_a_file_or_with_a_broken_one_exits_2_in_one_line(
    signed_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert _kpi("verify", "--db", str(signed_db)) == 2
    assert "kpi evidence verify FILE" in capsys.readouterr().err
    broken = tmp_path / "pack.pdf"
    broken.write_bytes(b"%PDF-1.4 cut short")
    assert _kpi("verify", str(broken), "--db", str(signed_db)) == 2
    err = capsys.readouterr().err
    assert err.startswith("kpi: pack.pdf cannot be read as a PDF") and err.count("\n") == 1
    assert _kpi("seven", "--db", str(signed_db)) == 2
    assert "give a reflection's number" in capsys.readouterr().err
