"""The fictional cast and calendar of the sample: Brightwater Home Services' customer-care teams.

Every name, id, email address and account number here is invented; emails use the reserved
example.com / example.co.uk domains and phone numbers come from Ofcom's drama ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from kpi.sample.clock import seconds

FIRST_DAY, LAST_DAY = date(2025, 5, 1), date(2026, 10, 31)
# The export was taken at midnight after the last day, so late tickets are still open.
EXPORT_AT = seconds("2026-11-01 00:00:00")
KB_CHANGE_DAY = date(2026, 1, 12)
KB_CHANGE_AT = seconds(f"{KB_CHANGE_DAY.isoformat()} 00:00:00")
#: The dated notes the sample team keeps (what `kpi seed` adds beside the imports): the one
#: planted change a team would have written down on the day it made it.
DATED_NOTES: tuple[tuple[date, str], ...] = (
    (KB_CHANGE_DAY, "New knowledge-base articles live for phone and email"),
)
PEAK_MONTH, SPIKE_MONTH = (2025, 12), (2026, 3)
PEAK_FACTOR = 1.45  # December volume against an ordinary month
SPIKE_BILLING_VOLUME, SPIKE_COMPLAINT_RATE = 2.2, 3.0
NEW_STARTER, NEW_STARTER_JOINED = "Bethan Morgan", date(2026, 9, 7)
NEW_STARTER_SURVEYS = 6

# Category -> share of contacts; Billing is first because the March spike reweights it.
CATEGORIES: dict[str, float] = {
    "Billing": 0.20,
    "Payments": 0.12,
    "Meter reading": 0.11,
    "Moving home": 0.09,
    "Faults": 0.12,
    "Broadband setup": 0.08,
    "Account changes": 0.10,
    "Tariffs and renewals": 0.08,
    "Smart meters": 0.07,
    "Priority services": 0.03,
}

TEAMS: dict[str, tuple[str, ...]] = {
    "Leeds Care": (
        "Amelia Booth",
        "Daniel Haigh",
        "Priya Mistry",
        "Liam Brearley",
        "Sophie Ackroyd",
        "Marcus Oyelaran",
    ),
    "Cardiff Care": (
        "Rhys Pritchard",
        "Ffion Davies",
        "Owen Jenkins",
        "Hannah Lloyd",
        "Carys Bevan",
        "Jamal Hughes",
    ),
}
TEAM_SHARE = {"Leeds Care": 0.55, "Cardiff Care": 0.45}
# Small, steady differences between colleagues (workload weight, effect on customer mood), so a
# per-agent view has texture without any agent being a planted signal.
AGENT_WEIGHT = np.array([1.0, 1.15, 0.9, 1.05, 0.95, 1.1])
AGENT_MOOD = np.array([0.1, -0.05, 0.15, -0.1, 0.0, 0.05])
NEW_STARTER_WEIGHT = 0.25  # relative to a regular colleague, phone only

FIRST_NAMES = [
    "Oliver",
    "Amelia",
    "George",
    "Isla",
    "Harry",
    "Ava",
    "Jack",
    "Mia",
    "Noah",
    "Grace",
    "Leo",
    "Freya",
    "Oscar",
    "Lily",
    "Arthur",
    "Evie",
    "Alfie",
    "Poppy",
    "Theo",
    "Ella",
    "Jacob",
    "Ruby",
    "Henry",
    "Sophie",
    "Archie",
    "Chloe",
    "Joshua",
    "Zara",
    "Mohammed",
    "Aisha",
    "Callum",
    "Niamh",
    "Ewan",
    "Megan",
    "Dylan",
    "Carys",
    "Tomasz",
    "Anya",
    "Kwame",
    "Shreya",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Lewis",
    "James",
    "Phillips",
    "Mason",
    "Mitchell",
    "Rose",
    "Davis",
    "Rodriguez",
    "Cox",
    "Alexander",
    "Morgan",
    "Moore",
    "Parker",
    "Hughes",
    "Kowalski",
    "Okafor",
    "Begum",
    "Fraser",
]


def month_factor(year: int, month: int) -> float:
    """How much busier a month is than an ordinary one (the planted December peak and March spike)."""
    if (year, month) == PEAK_MONTH:
        return PEAK_FACTOR
    if (year, month) == SPIKE_MONTH:
        # Only Billing grows, so the month grows by Billing's extra share.
        return 1.0 + CATEGORIES["Billing"] * (SPIKE_BILLING_VOLUME - 1.0)
    return 1.0


def category_weights(in_spike: bool) -> np.ndarray:
    weights = np.array(list(CATEGORIES.values()))
    if in_spike:
        weights = weights.copy()
        weights[0] *= SPIKE_BILLING_VOLUME
    return weights / weights.sum()


@dataclass(frozen=True)
class Customers:
    """A pool of recurring customers; a few contact often, most once or twice."""

    names: np.ndarray
    emails: np.ndarray
    requester_ids: np.ndarray
    account_refs: np.ndarray
    weights: np.ndarray


def make_customers(rng: np.random.Generator, count: int) -> Customers:
    first = rng.choice(FIRST_NAMES, count)
    last = rng.choice(LAST_NAMES, count)
    names = np.char.add(np.char.add(first, " "), last)
    domain = np.where(rng.random(count) < 0.6, "example.com", "example.co.uk")
    number = rng.integers(1, 100, count).astype(str)
    local = np.char.lower(np.char.add(np.char.add(np.char.add(first, "."), last), number))
    emails = np.char.add(np.char.add(local, "@"), domain)
    requester_ids = 36_100_000_000 + rng.permutation(count) * 7 + rng.integers(0, 7, count)
    refs = np.char.add("AC", (100_000 + rng.permutation(count) * 3).astype(str))
    # Heavy-tailed contact propensity gives the repeat contacts an FCR "no repeat" view needs.
    weights = rng.lognormal(0.0, 0.8, count)
    return Customers(names, emails, requester_ids, refs, weights / weights.sum())


def pick_customers(rng: np.random.Generator, customers: Customers, size: int) -> np.ndarray:
    return rng.choice(len(customers.weights), size=size, p=customers.weights)


def link_repeats(
    rng: np.random.Generator, opened: np.ndarray, customer: np.ndarray, unresolved: np.ndarray
) -> np.ndarray:
    """Make some later contact (1-7 days on) come from the same customer as an unresolved one.

    `opened` must be sorted. Customers whose problem was not fixed come back, which is what the
    "no repeat within 7 days" FCR variant looks for.
    """
    out = customer.copy()
    source = np.flatnonzero(unresolved & (rng.random(len(opened)) < 0.35))
    target_time = opened[source] + rng.uniform(1.0, 7.0, len(source)) * 86_400
    target = np.searchsorted(opened, target_time)
    ok = target < len(opened)
    out[target[ok]] = out[source[ok]]
    return out


def assign_agents(
    rng: np.random.Generator, team: np.ndarray, day: np.ndarray, is_phone: np.ndarray
) -> np.ndarray:
    """Pick the colleague who handled each contact; the new starter takes a few calls from joining."""
    agents = np.empty(len(team), dtype=object)
    probs = AGENT_WEIGHT / AGENT_WEIGHT.sum()
    for name, members in TEAMS.items():
        mask = team == name
        agents[mask] = np.array(members, dtype=object)[rng.choice(6, mask.sum(), p=probs)]
    joined = np.datetime64(NEW_STARTER_JOINED, "D")
    eligible = (team == "Cardiff Care") & is_phone & (day >= joined)
    share = NEW_STARTER_WEIGHT / (NEW_STARTER_WEIGHT + len(TEAMS["Cardiff Care"]))
    agents[eligible & (rng.random(len(team)) < share)] = NEW_STARTER
    return agents


def agent_mood(agents: np.ndarray) -> np.ndarray:
    mood = {name: AGENT_MOOD[i] for members in TEAMS.values() for i, name in enumerate(members)}
    return np.array([mood.get(a, 0.0) for a in agents])
