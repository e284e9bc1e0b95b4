"""Red, amber, green against a team's target, decided with the interval and said in words.

Green: the value meets the target (in the KPI's direction). Amber: it misses, but the 95%
interval still reaches the target, so the miss may be chance. Red: the whole interval misses.
A value without an interval (medians, counts) is amber when it misses by under 5% of the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kpi.metrics.settings import KpiTarget

Status = Literal["green", "amber", "red"]
NEAR = 0.05

#: Words and a shape per status, so the colour is never the only cue.
LABELS: dict[Status, tuple[str, str]] = {
    "green": ("On target", "✔"),
    "amber": ("Near target", "▲"),
    "red": ("Off target", "✖"),
}


@dataclass(frozen=True)
class Rag:
    status: Status
    text: str

    @property
    def label(self) -> str:
        return LABELS[self.status][0]

    @property
    def symbol(self) -> str:
        return LABELS[self.status][1]


def _meets(value: float, target: KpiTarget) -> bool:
    return value >= target.value if target.direction == "higher" else value <= target.value


def rag(
    value: float | None,
    target: KpiTarget | None,
    ci_low: float | None = None,
    ci_high: float | None = None,
) -> Rag | None:
    """The status of a value against a target; None when either is missing."""
    if value is None or target is None:
        return None
    aim = f"target {'≥' if target.direction == 'higher' else '≤'} {target.value:g}"
    if _meets(value, target):
        return Rag("green", f"On target ({aim})")
    if ci_low is not None and ci_high is not None:
        reachable = ci_high if target.direction == "higher" else ci_low
        if _meets(reachable, target):
            return Rag("amber", f"Near target ({aim}; the 95% interval reaches it)")
        return Rag("red", f"Off target ({aim}; the whole 95% interval misses it)")
    if abs(value - target.value) <= NEAR * abs(target.value):
        return Rag("amber", f"Near target ({aim}; within 5%)")
    return Rag("red", f"Off target ({aim})")


LEGEND = (
    "✔ On target: meets the target. ▲ Near target: misses it, but the 95% interval reaches it "
    "(could be chance). ✖ Off target: the whole interval misses it. A change against the "
    "previous period is marked only when a test finds it unlikely to be chance (p < 0.05)."
)
