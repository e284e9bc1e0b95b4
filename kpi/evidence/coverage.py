"""KSB coverage: which KSBs of a learner's standard their reflections evidence, and the gaps.

Coverage is per learner and against the learner's own standard (``kpi.evidence.learners``): one
learner's reflections never fill another's gaps. A KSB is covered by a reflection mapped to it;
"reviewed" counts those a supervisor signed off. A reflection mapped to a KSB of another
standard is left out and listed, since it cannot count at gateway.
"""

from __future__ import annotations

import pandas as pd

from kpi.evidence import ksbs
from kpi.evidence.learners import registration
from kpi.store.connection import Store

COLUMNS = ["ref", "ksb", "type", "description", "reflections", "reviewed", "evidence", "status"]


def _mapped(store: Store, learner: str | None) -> dict[str, list[tuple[str, str]]]:
    """KSB ref -> (evidence reference, status) of each reflection mapped to it, oldest first."""
    sql = """SELECT k.ref, r.reflection_id, r.status
             FROM reflection_ksbs k JOIN reflections r USING (reflection_id)"""
    params: list[str] = []
    if learner is not None:
        sql += " WHERE r.learner = ?"
        params.append(learner.strip())
    rows = store.cursor().execute(sql + " ORDER BY r.reflection_id", params).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for ref, reflection_id, status in rows:
        out.setdefault(str(ref), []).append((f"EV-{int(reflection_id):04d}", str(status)))
    return out


def ksb_coverage(store: Store, standard: str, learner: str | None = None) -> pd.DataFrame:
    """Every KSB of a standard with how many reflections evidence it (of ``learner`` when
    given; of everyone otherwise), how many of those are reviewed and their references; KSBs
    with none show 0 (the gaps)."""
    found = _mapped(store, learner)
    rows = []
    for k in ksbs.catalogue(store, standard):
        evidence = found.get(k.ref, [])
        rows.append(
            {
                "ref": k.ref,
                "ksb": k.label,
                "type": k.type,
                "description": k.description,
                "reflections": len(evidence),
                "reviewed": sum(status == "reviewed" for _, status in evidence),
                "evidence": ", ".join(ref for ref, _ in evidence),
                "status": k.status,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def learner_coverage(store: Store, learner: str) -> pd.DataFrame:
    """``ksb_coverage`` for one learner against the standard they are registered on."""
    return ksb_coverage(store, registration(store, learner).standard, learner)


def off_standard(store: Store, learner: str) -> list[str]:
    """ "EV-0003 ST0071:K2" for each of the learner's mappings to another standard's KSB."""
    own = registration(store, learner).standard
    known = ksbs.by_ref(store)
    return [
        f"{reference} {ref}"
        for ref, evidence in _mapped(store, learner).items()
        if ref not in known or known[ref].standard != own
        for reference, _ in evidence
    ]


def coverage_summary(table: pd.DataFrame) -> str:
    """One line on a ``ksb_coverage`` table: how many KSBs have evidence and how many are gaps."""
    gaps = int((table.reflections == 0).sum())
    return f"{len(table) - gaps} of {len(table)} KSBs have evidence; {gaps} have none yet."
