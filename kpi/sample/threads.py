"""The sample team's public social queue: customers' posts to @BrightwaterHelp on X and the
replies, one row per message, as the Customer Support on Twitter dump lays them out.

The social desk answers public mentions in the platform itself (Zendesk's Twitter and Facebook
tickets are the direct messages it turned into tickets), so these threads are contacts of their
own: each starts with a customer's post, the desk replies, and some customers write back. The
importer rolls each thread up to one contact (opened at the first post, first response at the
desk's first reply, last activity at the last message), so the seeded dashboard shows first
response on social. Customers appear as numbers, as in the public dump; the text is invented,
names nobody and carries no contact details. Times are written in UTC in X's own format
(``Tue Oct 31 22:10:47 +0000 2017``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from kpi.sample.arrivals import STREAMS, Stream, stream_arrivals
from kpi.sample.clock import WorkingCalendar, normalise, to_utc
from kpi.sample.story import EXPORT_AT, FIRST_DAY, LAST_DAY, TEAMS, Customers, pick_customers

FILE_NAME = "social_threads.csv"
HEADER = [
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
]
HANDLE = "BrightwaterHelp"
FIRST_TWEET_ID = 4_100_001
#: Public posts a day on an ordinary Wednesday at scale 1, arriving at any hour like the
#: other written channels (the social stream's own day and hour profile).
_SOCIAL = next(s for s in STREAMS if s.channel == "social")
STREAM = Stream("social", 2.0, _SOCIAL.profiles, _SOCIAL.day_type_factor)
#: The desk works weekdays 08:00-20:00 and Saturdays 09:00-17:00; replies wait for it.
DESK_HOURS, DESK_SATURDAY = (8, 20), (9, 17)
FIRST_REPLY_MEDIAN_S = 35 * 60.0  # of working time
FOLLOW_REPLY_MEDIAN_S = 20 * 60.0
WRITES_BACK_P = (0.55, 0.3)  # the customer answers the desk's first, then its second reply
CUSTOMER_REPLY_MEDIAN_S = 40 * 60.0  # of calendar time
#: Leeds Care staffs the desk; its agents sign their replies with initials, as the dump's do.
_SIGNERS = tuple(f"^{''.join(part[0] for part in name.split())}" for name in TEAMS["Leeds Care"])

_OPENERS = {
    "Billing": "my bill has gone up again and I can't see why, can someone explain?",
    "Payments": "I paid my bill last week but the app still says I owe it. Help?",
    "Meter reading": "tried to send a meter reading three times and the website keeps failing",
    "Moving home": "moving house next month, what do I need to do to move my account?",
    "Faults": "broadband has been down since this morning. Is there an outage?",
    "Broadband setup": "new router arrived but there's no signal light. Engineer booked?",
    "Account changes": "how do I add my partner to the account? Can't find it anywhere",
    "Tariffs and renewals": "my fixed deal ends soon, what are my options?",
    "Smart meters": "smart meter display has gone blank, is it still sending readings?",
    "Priority services": "how do I join the priority services register for my dad?",
}
_FIRST_REPLIES = (
    "Sorry to hear that. Please send us a DM with your account details and we'll take a look.",
    "Thanks for getting in touch. Could you DM us so we can look into this for you?",
    "We're sorry about this. Pop us a DM and we'll get it sorted.",
)
#: A customer's message back and the desk's answer to it.
_EXCHANGES = (
    ("done, sent you a DM", "Thanks, we've replied in DM."),
    ("thanks, still waiting though", "Thanks for bearing with us, we're on it."),
    ("any update on this?", "Thanks for bearing with us, we're on it."),
    ("that's worked, thanks!", "Glad we could help. Anything else, just shout."),
)


def build_threads(rng: np.random.Generator, customers: Customers, scale: float) -> pd.DataFrame:
    """One row per message, in time order: ``opened`` (wall-clock seconds), ``thread``,
    ``inbound``, ``customer`` (index into ``customers``), ``text``."""
    posts = stream_arrivals(rng, STREAM, scale)
    n = len(posts)
    customer = pick_customers(rng, customers, n)
    desk = WorkingCalendar.build(
        FIRST_DAY, date(LAST_DAY.year + 1, 12, 31), hours=DESK_HOURS, saturday=DESK_SATURDAY
    )
    opened = posts["opened"].to_numpy(dtype=np.int64)
    rows = [_messages(opened, np.arange(n), True, customer, _opening_text(posts["category"]))]
    # The desk answers every post; only those of the last evening still wait at the export.
    answered = np.ones(n, dtype=bool)
    last = opened
    replies = np.array(_FIRST_REPLIES)[rng.integers(0, len(_FIRST_REPLIES), n)]
    for depth, back_p in enumerate((1.0, *WRITES_BACK_P)):
        if depth:  # the customer writes back after the desk's reply, at any hour
            answered = answered & (rng.random(n) < back_p)
            last = normalise(last + _lognormal(rng, CUSTOMER_REPLY_MEDIAN_S, n))
            said, replies = np.array(_EXCHANGES)[rng.integers(0, len(_EXCHANGES), n)].T
            rows.append(_messages(last, np.flatnonzero(answered), True, customer, said))
        median = FOLLOW_REPLY_MEDIAN_S if depth else FIRST_REPLY_MEDIAN_S
        last = desk.add(last, _lognormal(rng, median, n))
        texts = np.char.add(replies.astype(str), " " + rng.choice(_SIGNERS, n))
        rows.append(_messages(last, np.flatnonzero(answered), False, customer, texts))
    out = pd.concat(rows, ignore_index=True)
    # The export was taken at midnight after the last day: later messages do not exist yet.
    out = out[out["opened"] < EXPORT_AT]
    return out.sort_values(["opened", "thread"], kind="stable").reset_index(drop=True)


def _lognormal(rng: np.random.Generator, median: float, n: int) -> np.ndarray:
    return median * rng.lognormal(0.0, 1.0, n)


def _opening_text(categories: pd.Series) -> np.ndarray:
    return categories.map(_OPENERS).to_numpy(dtype=str)


def _messages(
    when: np.ndarray, threads: np.ndarray, inbound: bool, customer: np.ndarray, text: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "opened": when[threads],
            "thread": threads,
            "inbound": inbound,
            "customer": customer[threads],
            "text": np.asarray(text)[threads],
        }
    )


def export_frame(messages: pd.DataFrame) -> pd.DataFrame:
    """The dump's columns: ids in time order, each reply pointing at the message before it in
    its thread, customers as numbers and every message addressed with ``@``."""
    m = messages.reset_index(drop=True)
    ids = FIRST_TWEET_ID + np.arange(len(m))
    order = m.sort_values(["thread", "opened"], kind="stable").index.to_numpy()
    thread = m["thread"].to_numpy()[order]
    same = np.r_[False, thread[1:] == thread[:-1]]  # the message before it is in its thread
    parent = np.full(len(m), -1, dtype=np.int64)
    parent[order[same]] = ids[order[np.flatnonzero(same) - 1]]
    child = np.full(len(m), -1, dtype=np.int64)
    child[order[np.flatnonzero(same) - 1]] = ids[order[same]]
    author = (300_000 + m["customer"].to_numpy(dtype=np.int64)).astype(str)
    inbound = m["inbound"].to_numpy(dtype=bool)
    to = np.where(inbound, HANDLE, author)
    return pd.DataFrame(
        {
            "tweet_id": ids,
            "author_id": np.where(inbound, author, HANDLE),
            "inbound": np.where(inbound, "True", "False"),
            "created_at": _x_time(m["opened"].to_numpy(dtype=np.int64)),
            "text": np.char.add(np.char.add("@", to.astype(str)), " " + m["text"].astype(str)),
            "response_tweet_id": _id_text(child),
            "in_response_to_tweet_id": _id_text(parent),
        }
    )[HEADER]


def _x_time(local: np.ndarray) -> np.ndarray:
    """X's own time format in UTC, with English day and month names whatever the locale."""
    utc = pd.DatetimeIndex(to_utc(local).astype("datetime64[s]"))
    days = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])[utc.day_of_week]
    months = np.array(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )[utc.month - 1]
    rest = utc.strftime("%d %H:%M:%S +0000 %Y").to_numpy(dtype=str)
    return np.char.add(np.char.add(np.char.add(days, " "), np.char.add(months, " ")), rest)


def _id_text(ids: np.ndarray) -> np.ndarray:
    return np.where(ids < 0, "", ids.astype(str))
