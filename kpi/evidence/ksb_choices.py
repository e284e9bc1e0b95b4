"""Which KSBs a reflection may be mapped to, read from the catalogue (built-in or the provider's
wording), so no page names a standard.

A learner's own standard comes first; after it, every other standard's KSBs pitched at the
learner's level or above (a Level 3 learner is not offered Level 2 wording; a Level 2 learner
may stretch to Level 3 KSBs, such as the team leader standard's data skills).
"""

from __future__ import annotations

from kpi.evidence.ksbs import Ksb, catalogue
from kpi.store.connection import Store


def ksbs_for(store: Store | None, standard: str, level: int) -> list[Ksb]:
    """The KSBs to offer for a reflection on ``standard`` by a learner at ``level``: that
    standard's first, then the others at ``level`` or above, in catalogue order."""
    rows = catalogue(store)
    own = [k for k in rows if k.standard == standard]
    others = [k for k in rows if k.standard != standard and k.level >= level]
    return own + others
