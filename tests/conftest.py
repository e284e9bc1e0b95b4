"""Fixtures shared by every test folder: stores seeded from the sample data, the real exports
beside the repository, and the rules for tests that need what a fresh clone may lack.

Three markers say what a test needs from outside the repository:

- ``real_samples``: the real exports in ``KPI_REAL_SAMPLES`` (default ``../shared/real-samples``),
  reached through the ``real_samples`` fixture. They are third-party files, never copied here.
- ``chromium``: Debian's Chromium (browser tests, and chart images through Kaleido).
- ``backends``: PostgreSQL and PySpark in local mode (``tests/backends.py``; the ``postgres``
  and ``spark`` fixtures), for the engine on other backends.

With ``CI=true`` all must be there and such tests run (and fail if they cannot); elsewhere a
test whose need is missing is skipped with a reason naming the folder or the install command.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import ibis
import pytest
from hypothesis import HealthCheck, settings

from kpi.charts.images import find_browser
from kpi.ingest.importer import import_file
from kpi.store.connection import open_store
from tests.backends import (
    fresh_database,
    missing_backends,
    postgres_backend,
    postgres_server,
    spark_backend,
)
from tests.paths import IN_CI, REAL_SAMPLES, SAMPLE_DATA

# CI: the same examples on every run (a red build reproduces) and more of them where a test does
# not set its own count; no deadline, since the machines are shared and noisy.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100)
settings.load_profile("ci" if IN_CI else "dev")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "real_samples" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "real_samples"
        ):
            raise pytest.UsageError(f"{item.nodeid} uses real_samples without its marker")
    if IN_CI:
        return
    missing = {
        "real_samples": None
        if REAL_SAMPLES.is_dir()
        else f"the real exports are not in {REAL_SAMPLES} (set KPI_REAL_SAMPLES to their folder)",
        "chromium": None
        if find_browser()
        else "Chromium is not installed: apt-get install chromium (make test installs it as root)",
        "backends": missing_backends(),
    }
    for item in items:
        for marker, reason in missing.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))
                _SKIPPED.setdefault(marker, []).append(item.nodeid)
    _REASONS.update({marker: reason for marker, reason in missing.items() if reason})


#: What was skipped for a missing need, by marker, for the closing summary.
_SKIPPED: dict[str, list[str]] = {}
_REASONS: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """One line per missing need: how many tests it skipped and why."""
    for marker, nodeids in _SKIPPED.items():
        terminalreporter.write_line(
            f"skipped {len(nodeids)} {marker} tests: {_REASONS[marker]}", yellow=True
        )


@pytest.fixture(scope="session")
def real_samples() -> Path:
    """The folder of real exports (tests that take this carry the ``real_samples`` marker)."""
    if not REAL_SAMPLES.is_dir():
        pytest.fail(f"CI=true needs the real exports in {REAL_SAMPLES} (or set KPI_REAL_SAMPLES)")
    return REAL_SAMPLES


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of the test session's PostgreSQL server (tests carry the ``backends`` marker)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres(postgres_url: str) -> Iterator[ibis.BaseBackend]:
    """An Ibis backend on PostgreSQL (``tests.backends``; tests carry the ``backends`` marker)."""
    backend = postgres_backend(postgres_url)
    yield backend
    backend.disconnect()


@pytest.fixture
def postgres_store(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped afterwards: a
    PostgreSQL store of the test's own."""
    with fresh_database(postgres_url, f"kpi_{abs(hash(request.node.nodeid)) % 10**9}") as url:
        yield url


@pytest.fixture(scope="session")
def spark() -> Iterator[ibis.BaseBackend]:
    """An Ibis backend on PySpark in local mode (tests carry the ``backends`` marker)."""
    with spark_backend() as backend:
        yield backend


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
