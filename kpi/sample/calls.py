"""Phone calls as a contact-centre call log workbook (one sheet, one row per call)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kpi.sample.arrivals import arrivals
from kpi.sample.clock import normalise
from kpi.sample.story import (
    KB_CHANGE_AT,
    PEAK_MONTH,
    SPIKE_COMPLAINT_RATE,
    SPIKE_MONTH,
    TEAM_SHARE,
    Customers,
    assign_agents,
    link_repeats,
    pick_customers,
)

CALL_HEADER = [
    "Call ID",
    "Start time",
    "Team",
    "Agent",
    "Queue",
    "Customer ref",
    "Wait (s)",
    "Handle time",
    "Answered",
    "Abandoned",
    "Resolved first time",
    "Escalated",
    "Complaint",
]
FCR_P = (0.645, 0.78)  # before, after the knowledge-base change
COMPLAINT_P, ESCALATION_P = 0.025, 0.04
TEXT_DATE_SHARE = 0.05  # rows whose Start time was typed as UK text, as real sheets have
MEDIAN_WAIT_S, MEDIAN_PATIENCE_S, MISDIAL_P = 38.0, 360.0, 0.008
TALK_MEDIAN_S = {"Faults": 540.0, "Moving home": 480.0, "Billing": 450.0, "Broadband setup": 500.0}
HOUR_LOAD = np.array([1.0] * 9 + [1.5, 1.6, 1.3, 1.1, 1.1, 1.2, 1.1, 1.0, 0.9] + [0.8] * 6)


def _waits(rng: np.random.Generator, c: pd.DataFrame) -> None:
    """Queue waits grow with load; callers hang up when the wait outlasts their patience."""
    stamp = pd.DatetimeIndex(c["opened"].to_numpy().astype("datetime64[s]"))
    load = HOUR_LOAD[stamp.hour] * np.where(stamp.day_of_week == 0, 1.4, 1.0)
    load = load * np.where((stamp.year == PEAK_MONTH[0]) & (stamp.month == PEAK_MONTH[1]), 1.5, 1.0)
    queue_wait = MEDIAN_WAIT_S * load * rng.lognormal(0.0, 0.9, len(c))
    # Most callers hold on for minutes, so the abandon share climbs with the wait; a few hang up
    # within seconds (misdials), which is why abandonment KPIs can exclude short abandons.
    patience = MEDIAN_PATIENCE_S * rng.lognormal(0.0, 0.9, len(c))
    patience = np.where(rng.random(len(c)) < MISDIAL_P, rng.uniform(1.0, 5.0, len(c)), patience)
    c["abandoned"] = patience < queue_wait
    c["wait"] = np.round(np.minimum(queue_wait, patience)).astype(np.int64)
    c["answered"] = ~c["abandoned"]
    c["spike"] = (
        (stamp.year == SPIKE_MONTH[0])
        & (stamp.month == SPIKE_MONTH[1])
        & (c["category"] == "Billing")
    )


def _outcomes(rng: np.random.Generator, c: pd.DataFrame) -> None:
    n, answered = len(c), c["answered"].to_numpy()
    complaint_p = COMPLAINT_P * np.where(c["spike"], SPIKE_COMPLAINT_RATE, 1.0)
    c["complaint"] = answered & (rng.random(n) < complaint_p)
    c["escalated"] = answered & (rng.random(n) < np.where(c["complaint"], 0.3, ESCALATION_P))
    fcr_p = np.where(c["opened"] >= KB_CHANGE_AT, FCR_P[1], FCR_P[0])
    fcr_p = fcr_p * np.where(c["complaint"], 0.55, 1.0) * np.where(c["escalated"], 0.5, 1.0)
    c["fcr"] = answered & (rng.random(n) < fcr_p)
    talk = c["category"].map(TALK_MEDIAN_S).fillna(390.0).to_numpy() * rng.lognormal(0.0, 0.5, n)
    talk = talk * np.where(c["complaint"], 1.5, 1.0) * np.where(c["escalated"], 1.3, 1.0)
    hold = np.where(rng.random(n) < 0.3, rng.lognormal(np.log(60.0), 0.7, n), 0.0)
    wrap = rng.uniform(20.0, 120.0, n)
    c["handle"] = np.where(answered, np.round(talk + hold + wrap), 0).astype(np.int64)
    c["ended"] = normalise((c["opened"] + c["wait"] + c["handle"]).to_numpy())


def build_calls(rng: np.random.Generator, customers: Customers, scale: float) -> pd.DataFrame:
    """Every call with its story fields; `sheet_rows` turns it into the workbook rows."""
    c = arrivals(rng, ("phone",), scale)
    c["id"] = [f"CALL-{i:06d}" for i in range(1, len(c) + 1)]
    c["team"] = rng.choice(list(TEAM_SHARE), len(c), p=list(TEAM_SHARE.values()))
    _waits(rng, c)
    _outcomes(rng, c)
    day = c["opened"].to_numpy().astype("datetime64[s]").astype("datetime64[D]")
    agents = assign_agents(rng, c["team"].to_numpy(), day, np.ones(len(c), dtype=bool))
    c["agent"] = np.where(c["answered"].to_numpy(), agents, np.array(None, dtype=object))
    unresolved = c["answered"].to_numpy() & ~c["fcr"].to_numpy()
    picked = pick_customers(rng, customers, len(c))
    c["customer"] = link_repeats(rng, c["opened"].to_numpy(), picked, unresolved)
    c["text_date"] = rng.random(len(c)) < TEXT_DATE_SHARE
    return c


def _yes(flag: bool) -> str:
    return "Y" if flag else "N"


def sheet_rows(c: pd.DataFrame, customers: Customers) -> list[list[object]]:
    """Workbook rows: real date and time cells, except the share of Start times typed as text."""
    starts = pd.DatetimeIndex(c["opened"].to_numpy().astype("datetime64[s]")).to_pydatetime()
    refs = customers.account_refs[c["customer"].to_numpy()]
    rows: list[list[object]] = []
    for i, r in enumerate(c.to_dict("records")):
        start: object = starts[i].strftime("%d/%m/%Y %H:%M") if r["text_date"] else starts[i]
        handle = None
        if r["answered"]:
            seconds = int(r["handle"])
            handle = dt.time(seconds // 3600, seconds % 3600 // 60, seconds % 60)
        fcr = _yes(r["fcr"]) if r["answered"] else None
        rows.append(
            [r["id"], start, r["team"], r["agent"], r["category"], str(refs[i]), int(r["wait"])]
            + [handle, _yes(r["answered"]), _yes(r["abandoned"]), fcr]
            + [_yes(r["escalated"]), _yes(r["complaint"])]
        )
    return rows
