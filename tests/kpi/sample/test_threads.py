"""The sample team's public social queue: posts to @BrightwaterHelp and the replies, one row per
message in the Customer Support on Twitter dump's layout, rolled up by the importer to one contact
per thread with its first response."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from kpi.engine.report import report
from kpi.ingest.importer import import_file
from kpi.sample import FILE_NAMES, THREADS_FILE, generate
from kpi.sample.clock import seconds
from kpi.sample.threads import HANDLE, HEADER, export_frame
from kpi.store.connection import open_store

X_TIME = "%a %b %d %H:%M:%S %z %Y"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample-threads")
    generate(out, seed=11, scale=0.05)
    return out


@pytest.fixture(scope="module")
def messages(sample: Path) -> pd.DataFrame:
    frame = pd.read_csv(sample / THREADS_FILE, dtype=str, keep_default_na=False)
    frame["at"] = pd.to_datetime(frame["created_at"], format=X_TIME)
    return frame


Contact = tuple[dt.datetime, dt.datetime | None, dt.datetime, str]


def _reference(messages: pd.DataFrame) -> dict[str, Contact]:
    """Plain Python: walk each reply up to the post that started its thread; its contact is
    opened at that post, first answered at the desk's first message, last active at its last
    message, and waits (open) when that last message is the customer's."""
    parent = dict(zip(messages["tweet_id"], messages["in_response_to_tweet_id"], strict=True))
    threads: dict[str, list[tuple[dt.datetime, bool]]] = {}
    rows = zip(messages["tweet_id"], messages["inbound"], messages["at"], strict=True)
    for tweet, inbound, at in rows:
        root = tweet
        while parent[root]:
            root = parent[root]
        utc = at.tz_convert(None).to_pydatetime()
        threads.setdefault(root, []).append((utc, inbound == "True"))
    out: dict[str, Contact] = {}
    for root, events in threads.items():
        events.sort()
        replies = [at for at, inbound in events if not inbound]
        status = "open" if events[-1][1] else "resolved"
        out[root] = (events[0][0], replies[0] if replies else None, events[-1][0], status)
    return out


def test_the_worked_example_of_one_thread_is_laid_out_as_the_dump() -> None:
    # A post at 09:31:35 on 1 May 2025 (BST, so 08:31:35 UTC), the desk's reply at 09:40:00 and
    # the customer's thanks at 10:02:10; customer 7 writes as 300007. Ids follow time; each reply
    # names the message it answers, and each answered message the reply it got.
    thread = pd.DataFrame(
        {
            "opened": [
                seconds(t)
                for t in ("2025-05-01 09:31:35", "2025-05-01 09:40:00", "2025-05-01 10:02:10")
            ],
            "thread": [0, 0, 0],
            "inbound": [True, False, True],
            "customer": [7, 7, 7],
            "text": ["my bill has gone up", "Sorry to hear that. ^AB", "thanks"],
        }
    )
    out = export_frame(thread)
    assert list(out.columns) == HEADER
    assert out.to_dict("records") == [
        {
            "tweet_id": 4_100_001,
            "author_id": "300007",
            "inbound": "True",
            "created_at": "Thu May 01 08:31:35 +0000 2025",
            "text": "@BrightwaterHelp my bill has gone up",
            "response_tweet_id": "4100002",
            "in_response_to_tweet_id": "",
        },
        {
            "tweet_id": 4_100_002,
            "author_id": "BrightwaterHelp",
            "inbound": "False",
            "created_at": "Thu May 01 08:40:00 +0000 2025",
            "text": "@300007 Sorry to hear that. ^AB",
            "response_tweet_id": "4100003",
            "in_response_to_tweet_id": "4100001",
        },
        {
            "tweet_id": 4_100_003,
            "author_id": "300007",
            "inbound": "True",
            "created_at": "Thu May 01 09:02:10 +0000 2025",
            "text": "@BrightwaterHelp thanks",
            "response_tweet_id": "",
            "in_response_to_tweet_id": "4100002",
        },
    ]


def test_the_threads_are_written_by_default_and_leaving_them_out_changes_nothing_else(
    sample: Path, tmp_path: Path
) -> None:
    assert THREADS_FILE in FILE_NAMES
    written = generate(tmp_path, seed=11, scale=0.05, threads=False)
    assert THREADS_FILE not in [p.name for p in written]
    for path in written:
        assert path.read_bytes() == (sample / path.name).read_bytes(), path.name


def test_every_post_starts_a_customer_thread_the_desk_answers_in_its_hours(
    messages: pd.DataFrame,
) -> None:
    assert list(messages.columns[:-1]) == HEADER
    assert messages["tweet_id"].is_unique
    starts = messages[messages["in_response_to_tweet_id"] == ""]
    assert (starts["inbound"] == "True").all()  # no thread the company started
    desk = messages[messages["inbound"] == "False"]
    assert (desk["author_id"] == HANDLE).all()
    local = desk["at"].dt.tz_convert("Europe/London")
    weekday = (local.dt.day_of_week < 5) & local.dt.hour.between(8, 19)
    saturday = (local.dt.day_of_week == 5) & local.dt.hour.between(9, 16)
    assert (weekday | saturday).all()
    # Each reply comes after the message it answers, and ids follow time.
    at = dict(zip(messages["tweet_id"], messages["at"], strict=True))
    replies = messages[messages["in_response_to_tweet_id"] != ""]
    assert all(
        at[p] <= t for p, t in zip(replies["in_response_to_tweet_id"], replies["at"], strict=True)
    )
    assert messages["at"].is_monotonic_increasing


def test_the_text_names_nobody_and_carries_no_contact_details(messages: pd.DataFrame) -> None:
    text = messages["text"]
    assert text.str.match(r"@(BrightwaterHelp|3\d{5}) ").all()
    body = text.str.replace(r"^@\S+ ", "", regex=True)
    assert not body.str.contains(r"\d|@|https?:|www\.", regex=True).any()
    # Agents sign with initials only (as the dump's ^AB), never a name.
    signed = body[messages["inbound"] == "False"]
    assert signed.str.fullmatch(r"[^\^]+ \^[A-Z]{2}").all()


def test_the_importer_rolls_each_thread_up_to_one_social_contact(
    sample: Path, messages: pd.DataFrame
) -> None:
    store = open_store(":memory:")
    result = import_file(store, sample / THREADS_FILE)
    assert result.layout == "twitter_customer_support"
    assert (result.rows_read, result.rows_quarantined, result.warnings) == (len(messages), 0, 0)
    expected = _reference(messages)
    assert result.inserted == len(expected)
    stored = (
        store.cursor()
        .execute(
            "SELECT contact_id, opened_at, first_response_at, updated_at, status, channel, team "
            "FROM contacts"
        )
        .fetchall()
    )
    assert {row[0]: row[1:5] for row in stored} == expected
    assert {(row[5], row[6]) for row in stored} == {("social", HANDLE)}
    # The export was taken before the desk answered the last evening's posts, if any.
    waiting = [root for root, contact in expected.items() if contact[3] == "open"]
    assert all(expected[root][0] >= dt.datetime(2026, 10, 30) for root in waiting)


def test_a_thread_awaits_a_reply_only_while_the_customer_has_the_last_word(
    tmp_path: Path,
) -> None:
    # Thread 0: post 10:00, desk 10:20 (last word the desk's: answered, never in the backlog).
    # Thread 1: post 11:00, desk 11:30, customer again 12:00 (waits: open, in the backlog).
    posts = [
        ("2026-03-02 10:00:00", 0, True),
        ("2026-03-02 10:20:00", 0, False),
        ("2026-03-02 11:00:00", 1, True),
        ("2026-03-02 11:30:00", 1, False),
        ("2026-03-02 12:00:00", 1, True),
    ]
    frame = pd.DataFrame(
        {
            "opened": [seconds(at) for at, _, _ in posts],
            "thread": [thread for _, thread, _ in posts],
            "inbound": [inbound for _, _, inbound in posts],
            "customer": [1, 1, 2, 2, 2],
            "text": ["help", "on it", "help", "on it", "still broken"],
        }
    )
    path = tmp_path / THREADS_FILE
    export_frame(frame).to_csv(path, index=False)
    store = open_store(":memory:")
    import_file(store, path)
    stored = store.cursor().execute("SELECT contact_id, status FROM contacts").fetchall()
    assert sorted(stored) == [("4100001", "resolved"), ("4100003", "open")]
    backlog = report(store, metrics=("backlog",)).totals()["backlog"]
    assert backlog.value == 1
