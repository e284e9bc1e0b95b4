"""Fixtures shared by every test folder: stores seeded from the real sample data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kpi.ingest import import_file
from kpi.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
REAL_SAMPLES = ROOT.parent / "shared" / "real-samples"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file holding every sample export, built once per test session."""
    path = tmp_path_factory.mktemp("template") / "sample.duckdb"
    store = open_store(path)
    for file in sorted(SAMPLE_DATA.iterdir()):
        if file.suffix in (".csv", ".xlsx"):
            import_file(store, file)
    store.close()
    return path


@pytest.fixture
def seeded_db(seeded_template: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded store that a test may change."""
    path = tmp_path / "store.duckdb"
    shutil.copy(seeded_template, path)
    return path
