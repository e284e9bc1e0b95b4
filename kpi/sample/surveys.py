"""Post-contact survey answers (NPS, CSAT, CES with comments) and Zendesk's own Good/Bad ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi.sample.clock import normalise
from kpi.sample.story import EXPORT_AT, NEW_STARTER, NEW_STARTER_SURVEYS, SPIKE_MONTH, agent_mood

SURVEY_HEADER = [
    "response_id",
    "contact_id",
    "responded_at",
    "channel",
    "team",
    "agent",
    "category",
    "nps",
    "csat",
    "ces",
    "comment",
]
RESPONSE_P = {"email": 0.24, "web": 0.22, "chat": 0.27, "social": 0.14, "phone": 0.21}
ZENDESK_RATED_P, ZENDESK_OFFERED_P = 0.19, 0.4
SPIKE_MOOD = 3.2  # how much angrier March 2026 Billing customers are
COMMENT_P, PII_P = 0.55, 0.012
POSITIVE = (
    "Really helpful, thanks",
    "Quick and easy, sorted first time",
    "Friendly and clear about my {topic}",
    "Great service, no fuss",
    "Explained my {topic} properly",
    "Very patient and polite",
    "Sorted in one go",
    "Happy with how my {topic} query was handled",
)
NEUTRAL = (
    "Got there in the end",
    "OK but took a while to get an answer",
    "Fine, but I had to explain twice",
    "Answer was fine, the wait was long",
    "Average, nothing special",
)
NEGATIVE = (
    "Still waiting for my {topic} issue to be fixed",
    "Had to chase three times",
    "Nobody got back to me as promised",
    "Passed from one person to another",
    "Really unhappy, I want to complain",
    "Took far too long to sort my {topic}",
)
SPIKE_NEGATIVE = (
    "My bill went up without any warning",
    "Charged the wrong amount again",
    "Bill makes no sense",
)
# Fake contact details (reserved example.com domain, Ofcom drama numbers) for the importer's scrubber.
PII = (
    "Please call me on 07700 900{n:03d}",
    "Email me at jo.bloggs@example.com instead",
    "My number is 0113 496 0{n:03d} if you need it",
    "Reply to sam.taylor{n}@example.co.uk please",
    "Ring 029 2018 0{n:03d} after 5pm",
)


def resolved_contacts(tickets: pd.DataFrame, calls: pd.DataFrame) -> pd.DataFrame:
    """Solved tickets and answered calls with how rough the customer's experience was."""
    t = tickets[tickets["done"] & tickets["agent"].notna()]
    t_friction = (
        0.45 * np.log1p(t["full_res_bh"] / 480.0) + 0.45 * t["reopens"] + 0.12 * (t["replies"] - 1)
    )
    c = calls[calls["answered"]]
    c_friction = c["wait"] / 240.0 + 0.8 * ~c["fcr"]
    columns = ["channel", "team", "agent", "category", "complaint", "escalated", "opened"]
    both = pd.concat(
        [
            t[columns].assign(
                contact_id=t["id"].astype(str),
                end=t["solved"],
                friction=t_friction,
                source="ticket",
            ),
            c[columns].assign(
                contact_id=c["id"], end=c["ended"], friction=c_friction, source="call"
            ),
        ],
        ignore_index=True,
    )
    stamp = pd.DatetimeIndex(both["opened"].to_numpy().astype("datetime64[s]"))
    in_spike = (stamp.year == SPIKE_MONTH[0]) & (stamp.month == SPIKE_MONTH[1])
    both["spike"] = in_spike & (both["category"] == "Billing").to_numpy()
    return both


def _scores(rng: np.random.Generator, r: pd.DataFrame) -> None:
    """One latent mood per contact drives all three scores, so they agree as real answers do."""
    n = len(r)
    mood = 1.0 + rng.normal(0.0, 0.9, n) + agent_mood(r["agent"].to_numpy()) - r["friction"]
    mood = mood - 1.6 * r["complaint"] - 0.5 * r["escalated"] - SPIKE_MOOD * r["spike"]
    r["nps"] = np.clip(np.round(7.4 + 1.7 * mood + rng.normal(0, 0.8, n)), 0, 10).astype(np.int64)
    r["csat"] = np.clip(np.round(3.9 + 0.85 * mood + rng.normal(0, 0.45, n)), 1, 5).astype(np.int64)
    r["ces"] = np.clip(np.round(5.2 + 1.2 * mood + rng.normal(0, 0.7, n)), 1, 7).astype(np.int64)


def _respondents(rng: np.random.Generator, r: pd.DataFrame) -> np.ndarray:
    """Who answered: a channel-dependent share, and exactly six for the new starter."""
    delay = np.maximum(rng.lognormal(np.log(4 * 3600), 1.0, len(r)), 600)
    r["responded"] = normalise((r["end"] + delay).astype(np.int64).to_numpy())
    in_time = (r["responded"] < EXPORT_AT).to_numpy()
    starter = (r["agent"] == NEW_STARTER).to_numpy()
    chosen = (rng.random(len(r)) < r["channel"].map(RESPONSE_P).to_numpy()) & in_time & ~starter
    candidates = np.flatnonzero(starter & in_time)
    picked = rng.choice(candidates, min(NEW_STARTER_SURVEYS, len(candidates)), replace=False)
    chosen[picked] = True
    # The planted "perfect score on tiny n": all six new-starter answers are 5/5.
    r.loc[starter, "csat"], r.loc[starter, "nps"] = 5, rng.choice([9, 10], starter.sum())
    r.loc[starter, "ces"] = rng.choice([6, 7], starter.sum())
    return chosen


def _comment_pool(csat: int, spike: bool) -> tuple[str, ...]:
    if csat >= 4:
        return POSITIVE
    if csat == 3:
        return NEUTRAL
    return SPIKE_NEGATIVE if spike else NEGATIVE


def _comments(rng: np.random.Generator, s: pd.DataFrame) -> list[str]:
    """Short templated comments; a few carry fake contact details for the scrubber."""
    out = []
    for i, (csat, category, spike) in enumerate(
        zip(s["csat"], s["category"], s["spike"], strict=True)
    ):
        draw = rng.random(3)
        if draw[0] > COMMENT_P:
            out.append("")
            continue
        pool = _comment_pool(csat, spike)
        text = pool[int(draw[1] * len(pool))].format(topic=category.lower())
        if draw[2] < PII_P:
            text += ". " + PII[i % len(PII)].format(n=i % 1000)
        out.append(text)
    return out


def build_surveys(
    rng: np.random.Generator, tickets: pd.DataFrame, calls: pd.DataFrame
) -> pd.DataFrame:
    """Survey answers in the generic survey layout; also sets the tickets' Satisfaction Score."""
    r = resolved_contacts(tickets, calls)
    _scores(rng, r)
    chosen = _respondents(rng, r)
    _rate_tickets(rng, tickets, r, chosen)
    s = r[chosen].sort_values(["responded", "contact_id"], kind="stable").reset_index(drop=True)
    starter = (s["agent"] == NEW_STARTER).to_numpy()
    blank = rng.random((len(s), 3)) < np.array([0.06, 0.04, 0.10])
    blank[starter] = False
    blank[blank.all(axis=1), 1] = False  # every answer keeps at least one score
    out = pd.DataFrame({"response_id": [f"R-{i:06d}" for i in range(1, len(s) + 1)]})
    out["contact_id"] = s["contact_id"]
    stamp = pd.DatetimeIndex(s["responded"].to_numpy().astype("datetime64[s]"))
    out["responded_at"] = stamp.strftime("%d/%m/%Y %H:%M")
    for column in ("channel", "team", "agent", "category"):
        out[column] = s[column]
    for k, column in enumerate(("nps", "csat", "ces")):
        out[column] = s[column].astype("Int64").where(~blank[:, k])
    out["comment"] = _comments(rng, s)
    return out[SURVEY_HEADER]


def _rate_tickets(
    rng: np.random.Generator, tickets: pd.DataFrame, r: pd.DataFrame, chosen: np.ndarray
) -> None:
    """Zendesk's binary CSAT on tickets the survey did not reach, so no contact is rated twice."""
    spare = (r["source"] == "ticket").to_numpy() & ~chosen & (r["agent"] != NEW_STARTER).to_numpy()
    draw = rng.random(len(r))
    rated = spare & (draw < ZENDESK_RATED_P)
    offered = spare & ~rated & (draw < ZENDESK_RATED_P + (1 - ZENDESK_RATED_P) * ZENDESK_OFFERED_P)
    label = np.where(
        rated, np.where(r["csat"] >= 4, "Good", "Bad"), np.where(offered, "Offered", "Not Offered")
    )
    by_id = pd.Series(
        label[(r["source"] == "ticket").to_numpy()],
        index=r.loc[r["source"] == "ticket", "contact_id"],
    )
    tickets["satisfaction"] = tickets["id"].astype(str).map(by_id).fillna("Not Offered").to_numpy()
