"""Finding what customers wrote: survey comments (already scrubbed at import) by words, score,
category and the global filters, newest first.

The search text reaches the backend as a literal Ibis quotes, never pasted into SQL, and the
pages show comments as plain text.
"""

from __future__ import annotations

import pandas as pd

from kpi.engine import breakdowns
from kpi.engine.filters import Filters
from kpi.store.connection import Store

SCORES = ("nps", "csat", "ces")
COLUMNS = ["responded_at", "channel", "category", "nps", "csat", "ces", "comment"]


def search(
    store: Store,
    filters: Filters,
    words: str = "",
    score: str | None = None,
    score_range: tuple[float, float] | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """Comments matching every condition given: all ``words`` (any case), ``score`` within
    ``score_range`` (inclusive, on the answer's own scale). Returns at most ``limit`` rows."""
    if score is not None and score not in SCORES:
        raise ValueError(f"no score called {score!r}; choose nps, csat or ces")
    s, t = breakdowns.responses(store, filters, ("channel", "category"))
    t = t.filter(t.comment.notnull() & (t.comment.strip() != ""))
    for word in words.lower().split():
        t = t.filter(t.comment.lower().contains(word))
    if score is not None and score_range is not None:
        low, high = score_range
        t = t.filter(t[score].between(low, high))
    newest = t.order_by([t.responded_at.desc(nulls_first=False), t.response_id]).limit(limit)
    frame = s.backend.execute(newest.select(*COLUMNS))
    frame["responded_at"] = (
        pd.to_datetime(frame["responded_at"])
        .dt.tz_localize("UTC")
        .dt.tz_convert(s.settings.timezone)
        .dt.strftime("%Y-%m-%d %H:%M")
    )
    return frame
