"""KSB coverage: which KSBs the reflections evidence, and the gaps."""

from __future__ import annotations

from kpi.evidence import coverage
from kpi.store.connection import Store


def test_the_coverage_summary_counts_ksbs_without_evidence_as_gaps(store: Store) -> None:
    table = coverage.ksb_coverage(store, "ST0071")
    assert coverage.coverage_summary(table) == (
        f"0 of {len(table)} KSBs have evidence; {len(table)} have none yet."
    )
    some = table.assign(reflections=[1, 2] + [0] * (len(table) - 2))
    assert coverage.coverage_summary(some).startswith(f"2 of {len(table)} KSBs have evidence;")
