"""The sample team's queue interval report: the calls of the call log, counted per day and queue.

A contact-centre platform reports its queues as counts and totals per interval; this is that
report for the same calls the call log lists one by one, so the call KPIs worked out from either
agree (a check on both). Its queues are the call log's queues (the contact categories, which
both teams answer, so a queue's row names no team, as a platform's queue view does), so wherever
both sources cover a queue and a period they hold the same calls, and the report using one and
leaving the other out loses nothing. Daily intervals, as a
platform's daily queue view gives them: a report's periods are days, weeks and months, and the
sample stays small. Its own service level % and ASA columns are rounded as a platform shows them,
and agree with its counts. No randomness: it is an aggregate of the calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FILE_NAME = "queue_intervals.csv"
INTERVAL_MINUTES = 24 * 60  # daily: the engine reports by day at the finest
THRESHOLD_SECONDS = 20
SHORT_ABANDON_SECONDS = 5  # the dashboard's default short-abandon time
HEADER = [
    "interval_start",
    "interval_minutes",
    "queue",
    "channel",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within",
    "threshold_seconds",
    "wait_seconds_total",
    "handle_seconds_total",
    "service_level_percent",
    "asa_seconds",
]


def interval_report(calls: pd.DataFrame) -> pd.DataFrame:
    """One row per day and queue with calls, in time order (``calls`` as ``build_calls``
    makes them: opened, category, wait, handle, answered, abandoned)."""
    c = pd.DataFrame(
        {
            "start": pd.DatetimeIndex(calls["opened"].to_numpy().astype("datetime64[s]")).floor(
                f"{INTERVAL_MINUTES}min"
            ),
            # The call log's Queue column is the category, as the engine reads an interval's queue.
            "queue": calls["category"].to_numpy(),
            "answered": calls["answered"].to_numpy(dtype=bool),
            "abandoned": calls["abandoned"].to_numpy(dtype=bool),
            "wait": calls["wait"].to_numpy(dtype=np.int64),
            "handle": calls["handle"].to_numpy(dtype=np.int64),
        }
    )
    c["short"] = c["abandoned"] & (c["wait"] < SHORT_ABANDON_SECONDS)
    c["within"] = c["answered"] & (c["wait"] <= THRESHOLD_SECONDS)
    c["answered_wait"] = np.where(c["answered"], c["wait"], 0)
    c["answered_handle"] = np.where(c["answered"], c["handle"], 0)
    grouped = c.groupby(["start", "queue"], sort=True).agg(
        offered=("answered", "size"),
        answered=("answered", "sum"),
        abandoned=("abandoned", "sum"),
        short_abandoned=("short", "sum"),
        answered_within=("within", "sum"),
        wait_seconds_total=("answered_wait", "sum"),
        handle_seconds_total=("answered_handle", "sum"),
    )
    out = grouped.reset_index()
    out["interval_start"] = out["start"].dt.strftime("%Y-%m-%d %H:%M")
    out["interval_minutes"] = INTERVAL_MINUTES
    out["channel"] = "phone"
    out["threshold_seconds"] = THRESHOLD_SECONDS
    # The platform's own figures, rounded to one place as its screens show them.
    out["service_level_percent"] = (100 * out["answered_within"] / out["offered"]).round(1)
    asa = out["wait_seconds_total"] / out["answered"].where(out["answered"] > 0)
    out["asa_seconds"] = asa.round(1)
    return out[HEADER]
