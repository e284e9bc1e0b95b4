"""Written contacts (email, web form, chat, social) as a Zendesk Support admin CSV export."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi.sample.arrivals import arrivals
from kpi.sample.clock import DAY, WorkingCalendar, calendar_minutes, normalise
from kpi.sample.story import (
    EXPORT_AT,
    KB_CHANGE_AT,
    SPIKE_COMPLAINT_RATE,
    SPIKE_MONTH,
    TEAM_SHARE,
    Customers,
    assign_agents,
    link_repeats,
    pick_customers,
)

PRIORITIES = np.array(["Low", "Normal", "High", "Urgent"], dtype=object)
PRIORITY_P = {"Faults": [0.05, 0.45, 0.32, 0.18], "other": [0.22, 0.57, 0.15, 0.06]}
PRIORITY_SPEED = np.array([1.5, 1.0, 0.5, 0.25])  # multiplies waiting times: urgent goes first
FIRST_REPLY_MEDIAN_MIN = {"email": 220.0, "web": 220.0, "social": 60.0}  # working minutes
MONDAY_MORNING_SLOWDOWN = 4.5  # the planted backlog: Monday 08:00-12:00 emails wait ~10 office h
ONE_TOUCH = {"email": 0.48, "web": 0.45, "social": 0.42, "chat": 0.62}
KB_ONE_TOUCH_GAIN = 0.13  # the knowledge-base change lets agents fix more on the first reply
REOPEN_P = (0.16, 0.09)  # before, after the knowledge-base change
COMPLAINT_P, ESCALATION_P = 0.025, 0.04
VIA = {"email": "Mail", "web": "Web Form", "chat": "Chat"}
TYPES = np.array(["Question", "Incident", "Problem", "Task"], dtype=object)
SUBJECTS = {
    "Billing": ("Query about my latest bill", "Bill looks too high", "Charged twice this month"),
    "Payments": ("Direct debit amount", "Payment not showing", "Refund of credit balance"),
    "Meter reading": (
        "Submitting a meter reading",
        "Estimated reading is wrong",
        "Reading rejected",
    ),
    "Moving home": ("Moving house next month", "Final bill for old address", "New tenancy start"),
    "Faults": ("Broadband keeps dropping", "No hot water / boiler fault", "Power cut at home"),
    "Broadband setup": ("Router not arrived", "Activation date", "Slow speeds after setup"),
    "Account changes": (
        "Change of name on account",
        "Update contact details",
        "Add a second holder",
    ),
    "Tariffs and renewals": ("Fixed tariff ending", "Cheaper tariff?", "Renewal quote"),
    "Smart meters": (
        "Smart meter booking",
        "In-home display not working",
        "Meter not sending reads",
    ),
    "Priority services": (
        "Join priority services register",
        "Medical equipment at home",
        "Large print bills",
    ),
}


def _lognormal(rng: np.random.Generator, median: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(median) * rng.lognormal(0.0, sigma, len(median))


def _profile(rng: np.random.Generator, t: pd.DataFrame) -> None:
    """Who, what and how urgent: fields fixed when the ticket is created."""
    n, faults = len(t), (t["category"] == "Faults").to_numpy()
    prio = np.zeros(n, dtype=np.int64)
    for key, mask in (("Faults", faults), ("other", ~faults)):
        prio[mask] = rng.choice(4, mask.sum(), p=PRIORITY_P[key])
    t["prio"] = prio
    t["type"] = TYPES[
        np.where(
            faults,
            rng.choice(4, n, p=[0.25, 0.6, 0.1, 0.05]),
            rng.choice(4, n, p=[0.6, 0.15, 0.03, 0.22]),
        )
    ]
    t["via"] = t["channel"].map(VIA).fillna("Twitter").to_numpy()
    t.loc[(t["channel"] == "social").to_numpy() & (rng.random(n) < 0.55), "via"] = "Facebook"
    t["team"] = rng.choice(list(TEAM_SHARE), n, p=list(TEAM_SHARE.values()))
    day = t["opened"].to_numpy().astype("datetime64[s]").astype("datetime64[D]")
    t["agent"] = assign_agents(rng, t["team"].to_numpy(), day, np.zeros(n, dtype=bool))
    stamp = pd.DatetimeIndex(t["opened"].to_numpy().astype("datetime64[s]"))
    spike = (
        (stamp.year == SPIKE_MONTH[0])
        & (stamp.month == SPIKE_MONTH[1])
        & (t["category"] == "Billing")
    )
    t["complaint"] = rng.random(n) < COMPLAINT_P * np.where(spike, SPIKE_COMPLAINT_RATE, 1.0)
    esc_p = ESCALATION_P * np.where(faults, 2.0, 1.0) * np.where(prio == 3, 2.0, 1.0)
    t["escalated"] = rng.random(n) < np.where(t["complaint"], 0.35, esc_p)
    t["assignee_stations"] = 1 + t["escalated"] + (rng.random(n) < 0.07)
    t["group_stations"] = 1 + (t["escalated"] & (rng.random(n) < 0.5))
    t["monday_morning"] = (
        (stamp.day_of_week == 0) & (stamp.hour >= 8) & (stamp.hour < 12) & (t["channel"] == "email")
    )
    t["after_kb"] = t["opened"].to_numpy() >= KB_CHANGE_AT


def _first_reply(rng: np.random.Generator, t: pd.DataFrame, cal: WorkingCalendar) -> np.ndarray:
    """Queue work is answered while the teams are in; chat is answered live within minutes."""
    opened, speed = t["opened"].to_numpy(), PRIORITY_SPEED[t["prio"].to_numpy()]
    median = t["channel"].map(FIRST_REPLY_MEDIAN_MIN).fillna(0.0).to_numpy() * speed
    median = median * np.where(t["monday_morning"], MONDAY_MORNING_SLOWDOWN, 1.0)
    queued = cal.add(opened, _lognormal(rng, median * 60, 0.7))
    live = opened + _lognormal(rng, np.full(len(t), 90.0), 0.8)
    return normalise(np.where(t["channel"] == "chat", live, queued).astype(np.int64))


def _resolution(rng: np.random.Generator, t: pd.DataFrame, cal: WorkingCalendar) -> None:
    """Replies, reopens and the first and final solve times."""
    n, chat = len(t), (t["channel"] == "chat").to_numpy()
    p_one = t["channel"].map(ONE_TOUCH).to_numpy() + np.where(t["after_kb"], KB_ONE_TOUCH_GAIN, 0.0)
    p_one = p_one * np.where(t["complaint"], 0.3, 1.0) * np.where(t["escalated"], 0.0, 1.0)
    one_touch = rng.random(n) < p_one
    replies = np.where(one_touch, 1, 1 + rng.geometric(0.5, n)) + t["escalated"] + t["complaint"]
    speed = PRIORITY_SPEED[t["prio"].to_numpy()] * np.where(t["escalated"], 2.0, 1.0)
    follow_up = cal.add(
        t["reply"].to_numpy(), _lognormal(rng, 4 * 3600 * (replies - 1) * speed, 0.8)
    )
    quick = t["reply"].to_numpy() + _lognormal(rng, np.where(chat, 480.0, 90.0), 0.6)
    t["first_solved"] = normalise(np.where(one_touch, quick, follow_up).astype(np.int64))
    reopen_p = np.where(t["after_kb"], REOPEN_P[1], REOPEN_P[0]) * ~one_touch
    reopens = np.where(rng.random(n) < reopen_p, 1 + (rng.random(n) < 0.15), 0)
    t["reopened_at"] = normalise(
        (t["first_solved"].to_numpy() + rng.uniform(0.3, 6.0, n) * DAY).astype(np.int64)
    )
    again = cal.add(
        t["reopened_at"].to_numpy(), _lognormal(rng, 3 * 3600 * np.maximum(reopens, 1), 0.8)
    )
    t["solved"] = np.where(reopens > 0, again, t["first_solved"])
    t["replies"], t["reopens"], t["one_touch"] = replies + reopens, reopens, one_touch


def _status(rng: np.random.Generator, t: pd.DataFrame) -> None:
    """What the export shows at EXPORT_AT: later events have not happened yet."""
    n = len(t)
    # A reopen due after the export has not happened yet: the ticket is still solved.
    not_yet = ((t["reopens"] > 0) & (t["reopened_at"] >= EXPORT_AT)).to_numpy()
    t.loc[not_yet, "solved"] = t.loc[not_yet, "first_solved"]
    t.loc[not_yet, "replies"] -= t.loc[not_yet, "reopens"]
    t.loc[not_yet, "reopens"] = 0
    replied, first_done = t["reply"] < EXPORT_AT, t["first_solved"] < EXPORT_AT
    done = t["solved"] < EXPORT_AT
    waiting = rng.choice(
        np.array(["Open", "Pending", "On-hold"], dtype=object), n, p=[0.5, 0.35, 0.15]
    )
    t["status"] = np.where(
        done, np.where(t["solved"] < EXPORT_AT - 4 * DAY, "Closed", "Solved"), waiting
    )
    t.loc[first_done & ~done, "status"] = "Open"  # reopened and not solved again yet
    t.loc[~replied, "status"] = "New"
    t.loc[~replied, "agent"] = None
    # An unsolved ticket has had fewer replies so far than its story will end with.
    so_far = np.where(replied, np.maximum(t["replies"] - 1, 1), 0)
    t["replies"] = np.where(first_done, t["replies"], so_far)
    t["reopens"] = np.where(first_done, t["reopens"], 0)
    t["assignee_stations"] = np.where(replied, t["assignee_stations"], 0)
    t["replied"], t["first_done"], t["done"] = replied, first_done, done
    last_event = np.where(first_done, t["reopened_at"], np.where(replied, t["reply"], t["opened"]))
    closed_at = t["solved"] + 4 * DAY + rng.integers(0, 3600, n)
    t["updated"] = np.where(
        done, np.where(t["status"] == "Closed", closed_at, t["solved"]), last_event
    )
    t["updated"] = normalise(np.minimum(t["updated"].to_numpy(), EXPORT_AT - 60).astype(np.int64))


def build_tickets(
    rng: np.random.Generator,
    customers: Customers,
    service: WorkingCalendar,
    office: WorkingCalendar,
    scale: float,
) -> pd.DataFrame:
    """Every ticket with its story fields; `export_frame` turns it into the Zendesk layout.

    The teams work `service` hours; the "within business hours" figures use `office` hours.
    """
    t = arrivals(rng, ("email", "web", "chat", "social"), scale)
    t["id"] = 104_217 + np.arange(len(t))  # Zendesk ids grow with creation time
    _profile(rng, t)
    t["reply"] = _first_reply(rng, t, service)
    _resolution(rng, t, service)
    _status(rng, t)
    repeat = t["done"].to_numpy() & ~t["one_touch"].to_numpy()
    picked = pick_customers(rng, customers, len(t))
    t["customer"] = link_repeats(rng, t["opened"].to_numpy(), picked, repeat)
    t["subject"] = [
        SUBJECTS[c][k] for c, k in zip(t["category"], rng.integers(0, 3, len(t)), strict=True)
    ]
    t["first_reply_min"] = calendar_minutes(t["opened"].to_numpy(), t["reply"].to_numpy())
    t["first_reply_bh"] = office.between_minutes(t["opened"].to_numpy(), t["reply"].to_numpy())
    t["first_res_min"] = calendar_minutes(t["opened"].to_numpy(), t["first_solved"].to_numpy())
    t["first_res_bh"] = office.between_minutes(t["opened"].to_numpy(), t["first_solved"].to_numpy())
    t["full_res_min"] = calendar_minutes(t["opened"].to_numpy(), t["solved"].to_numpy())
    t["full_res_bh"] = office.between_minutes(t["opened"].to_numpy(), t["solved"].to_numpy())
    t["satisfaction"] = "Not Offered"  # the surveys decide which tickets were rated
    return t
