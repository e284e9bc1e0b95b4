"""KSB coverage: which KSBs of a standard the learner's reflections evidence, and the gaps.

A KSB is covered by a reflection mapped to it; "reviewed" counts those a supervisor signed off.
"""

from __future__ import annotations

import pandas as pd

from kpi.evidence import ksbs
from kpi.store.connection import Store


def ksb_coverage(store: Store, standard: str) -> pd.DataFrame:
    """Every KSB of a standard with how many reflections evidence it, and how many of those are
    reviewed; KSBs with none show 0 (the gaps)."""
    counts = (
        store.cursor()
        .execute(
            """SELECT k.ref, count(*) AS reflections,
                  count(*) FILTER (WHERE r.status = 'reviewed') AS reviewed
           FROM reflection_ksbs k JOIN reflections r USING (reflection_id)
           GROUP BY k.ref"""
        )
        .fetchall()
    )
    found = {ref: (int(a), int(b)) for ref, a, b in counts}
    rows = [
        {
            "ref": k.ref,
            "ksb": k.label,
            "type": k.type,
            "description": k.description,
            "reflections": found.get(k.ref, (0, 0))[0],
            "reviewed": found.get(k.ref, (0, 0))[1],
            "status": k.status,
        }
        for k in ksbs.catalogue(store, standard)
    ]
    columns = ["ref", "ksb", "type", "description", "reflections", "reviewed", "status"]
    return pd.DataFrame(rows, columns=columns)


def coverage_summary(table: pd.DataFrame) -> str:
    """One line on a ``ksb_coverage`` table: how many KSBs have evidence and how many are gaps."""
    gaps = int((table.reflections == 0).sum())
    return f"{len(table) - gaps} of {len(table)} KSBs have evidence; {gaps} have none yet."
