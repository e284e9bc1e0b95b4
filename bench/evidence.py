"""Benchmark: how long one evidence pack takes (target: under 5 seconds).

Imports the sample data into a temporary store (not timed), writes a reflection on the March
2026 billing-complaint insight, then times in one fresh process what `kpi evidence` does: start
one Chromium through Kaleido, build the pack (charts re-rendered from the reflection's filters,
figures, provenance), and write both the PDF and the DOCX. A second pack in the same process
(browser already running) is timed too. A script, not a test: run ``python bench/evidence.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpi import insights  # noqa: E402
from kpi.charts import images  # noqa: E402
from kpi.engine.filters import Filters  # noqa: E402
from kpi.evidence import documents, reflections  # noqa: E402
from kpi.evidence import packs as evidence  # noqa: E402
from kpi.ingest.importer import import_file  # noqa: E402
from kpi.store.connection import open_store  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
MARCH_2026 = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
TARGET_SECONDS = 5.0


def _prepare(path: Path) -> int:
    store = open_store(path)
    for file in sorted(SAMPLE.iterdir()):
        if file.suffix in (".csv", ".xlsx"):
            import_file(store, file)
    driver = next(
        i for i in insights.detect(store, MARCH_2026, ("driver",)) if "complaints" in i.title
    )
    r = reflections.from_insight(driver, "Amelia Booth", level=3, store=store)
    r = replace(
        r,
        metrics=("complaint_rate",),
        sections={"description": "Billing complaints doubled in March."},
    )
    saved = reflections.save(store, r)
    store.close()
    assert saved.reflection_id is not None  # save gives a new reflection its id
    return saved.reflection_id


def _pack(path: Path, reflection_id: int, renderer: images.ChartRenderer) -> tuple[int, int]:
    store = open_store(path)
    try:
        pack = evidence.build(store, reflection_id, renderer)
    finally:
        store.close()
    return len(documents.pdf_bytes(pack)), len(documents.docx_bytes(pack))


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.duckdb"
        started = time.perf_counter()
        reflection_id = _prepare(path)
        print(
            f"setup (import sample data, detect, save reflection): {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        renderer = images.ChartRenderer().start()
        try:
            pdf, docx = _pack(path, reflection_id, renderer)
            first = time.perf_counter() - started
            started = time.perf_counter()
            _pack(path, reflection_id, renderer)
            second = time.perf_counter() - started
        finally:
            renderer.close()
    verdict = "within" if first < TARGET_SECONDS else "OVER"
    print(
        f"first pack (starts Chromium, PDF {pdf / 1024:.0f} KiB + DOCX {docx / 1024:.0f} KiB): {first:.2f} s"
    )
    print(f"second pack (browser already running): {second:.2f} s")
    print(f"target {TARGET_SECONDS:.0f} s: {verdict}; first/second ratio {first / second:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
