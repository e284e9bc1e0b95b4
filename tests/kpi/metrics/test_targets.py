"""RAG status against a target: direction respected, the interval decides amber, words always."""

from __future__ import annotations

import pytest

from kpi.metrics.settings import KpiTarget
from kpi.metrics.targets import rag

HIGHER, LOWER = KpiTarget(85, "higher"), KpiTarget(5, "lower")


@pytest.mark.parametrize(
    ("value", "target", "low", "high", "status"),
    [
        (86, HIGHER, 84, 88, "green"),
        (85, HIGHER, 80, 90, "green"),  # meeting the target exactly is on target
        (83, HIGHER, 81, 86, "amber"),  # misses, but the interval reaches 85
        (80, HIGHER, 78, 82, "red"),
        (4, LOWER, 3, 5, "green"),
        (6, LOWER, 4.5, 7, "amber"),
        (7, LOWER, 6, 8, "red"),
        (84, HIGHER, None, None, "amber"),  # no interval: within 5% of the target
        (70, HIGHER, None, None, "red"),
    ],
)
def test_status(value, target, low, high, status) -> None:
    result = rag(value, target, low, high)
    assert result.status == status
    assert result.label in result.text  # the status is always said in words


def test_no_value_or_no_target_has_no_status() -> None:
    assert rag(None, HIGHER) is None
    assert rag(80, None) is None


def test_the_text_names_the_target_and_its_direction() -> None:
    assert "≥ 85" in rag(80, HIGHER, 78, 82).text
    assert "≤ 5" in rag(7, LOWER, 6, 8).text
