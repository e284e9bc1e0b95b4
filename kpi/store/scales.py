"""The words of ordinal survey scales: a mapping's ``scale = ["Bad", "OK", "Good"]`` stores its
answers as 1..k, and the words are kept here, by source and score, so that a page can show
"Good" where the store holds 3.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from kpi.store.connection import Store


def record_scale_labels(
    cur: duckdb.DuckDBPyConnection, source: str, score: str, words: Sequence[str]
) -> None:
    """``words`` (lowest first) as the labels of 1..k for ``score`` answers of ``source``,
    replacing any it had (a mapping may reword its scale)."""
    cur.execute("DELETE FROM scale_labels WHERE source = ? AND score = ?", [source, score])
    if words:
        cur.execute(
            """INSERT INTO scale_labels SELECT ?, ?, CAST(generate_subscripts($w, 1) AS DOUBLE),
                   unnest($w)""".replace("$w", "?::VARCHAR[]"),
            [source, score, list(words), list(words)],
        )


def scale_labels(store: Store, score: str) -> dict[float, str]:
    """The word for each point of ``score``'s ordinal scales, e.g. {1.0: "Bad", 2.0: "Good"};
    where sources word one point differently, the words are joined ("Good / Fine"); empty when
    no source gave ``score`` a scale of words."""
    rows = (
        store.cursor()
        .execute(
            """SELECT value, string_agg(DISTINCT label, ' / ' ORDER BY label)
               FROM scale_labels WHERE score = ? GROUP BY value ORDER BY value""",
            [score],
        )
        .fetchall()
    )
    return {float(value): str(label) for value, label in rows}


def score_choices(labels: dict[float, str], low: float, high: float) -> dict[float, str]:
    """Each whole point from ``low`` to ``high`` and how a slider shows it: "3 · Good" where the
    scale has a word for it, else the number."""
    points = [float(v) for v in range(int(low), int(high) + 1)]
    return {v: f"{v:g} · {labels[v]}" if v in labels else f"{v:g}" for v in points}
