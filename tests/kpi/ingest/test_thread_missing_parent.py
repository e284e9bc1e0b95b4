"""A message thread whose first message in the file replies to a message the file lacks (an
export that began mid-conversation) is said to be exactly that, naming the missing message's id,
and never reported as a thread the company started; every row is still counted (issue 9, left
over from stop 17).

The file is laid out as the public "Customer Support on Twitter" dump: reply ids written as
decimals ("119236.0"), Twitter's own created_at."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpi.ingest.importer import import_file, top_reasons
from kpi.store.connection import Store, open_store

HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id"
#: Rows 1-3: the company answers tweet 119236, which the export does not hold, then the
#: customer and the company again. Rows 4-5: a customer's thread, answered in 8.5 minutes.
#: Row 6: the company's announcement (a thread it started). Row 7: a customer thanks the
#: company in reply to tweet 118000, also not in the file.
TWEETS = [
    "119237,AppleSupport,False,Tue Oct 31 22:05:10 +0000 2017,@105834 We'd like to help,"
    "119238,119236.0",
    "119238,105834,True,Tue Oct 31 22:15:02 +0000 2017,@AppleSupport done,119239,119237.0",
    "119239,AppleSupport,False,Tue Oct 31 22:20:45 +0000 2017,@105834 Replied there,,119238.0",
    "119240,105835,True,Tue Oct 31 23:01:00 +0000 2017,@AppleSupport battery dies at 40%,119241,",
    "119241,AppleSupport,False,Tue Oct 31 23:09:30 +0000 2017,@105835 Sorry to hear that,,119240.0",
    "119250,AppleSupport,False,Wed Nov 01 07:00:00 +0000 2017,iOS 11.1 is out today,,",
    "119242,105836,True,Wed Nov 01 08:00:00 +0000 2017,@AppleSupport thanks that fixed it,,"
    "118000.0",
]


@pytest.fixture
def store():
    opened = open_store(":memory:")
    yield opened
    opened.close()


def export(folder: Path) -> Path:
    path = folder / "twcs_sample.csv"
    path.write_text("\n".join([HEADER, *TWEETS]) + "\n", encoding="utf-8")
    return path


def quarantined(store: Store) -> list[tuple]:
    return store.con.execute(
        "SELECT row_number, column_name, value, reason FROM quarantine ORDER BY row_number"
    ).fetchall()


def test_a_reply_to_a_tweet_not_in_the_file_says_so_naming_the_missing_id(tmp_path, store):
    result = import_file(store, export(tmp_path))
    assert result.layout == "twitter_customer_support"
    missing = (
        "thread '119237' starts with a reply to message '119236', which is not in the file, so "
        "who started it is unknown (its first message is missing) and it is not a contact"
    )
    found = quarantined(store)
    assert [(row, column, value) for row, column, value, _ in found[:3]] == [
        (1, "[rollup] in_reply_to", "119237"),
        (2, "[rollup] in_reply_to", "119237"),
        (3, "[rollup] in_reply_to", "119237"),
    ]
    assert all(reason == missing for *_, reason in found[:3])
    # The company's own announcement is a thread it started, and is said to be.
    assert found[3][:3] == (6, "[rollup] started_by", "119250")
    assert "was not started by an event with inbound = True" in found[3][3]


def test_every_row_of_a_thread_missing_its_first_message_is_counted(tmp_path, store):
    result = import_file(store, export(tmp_path))
    # 7 tweets read: 3 of the thread missing its first tweet and the announcement set aside;
    # 2 contacts (119240 with its reply rolled up, and 119242) imported.
    assert (result.rows_read, result.rows_imported, result.rows_quarantined) == (7, 3, 4)
    assert (result.inserted, result.rolled_up) == (2, 1)
    assert result.rows_read == result.rows_imported + result.rows_quarantined
    contacts = store.con.execute(
        "SELECT contact_id, opened_at, first_response_at FROM contacts ORDER BY contact_id"
    ).fetchall()
    assert contacts == [
        ("119240", dt.datetime(2017, 10, 31, 23, 1), dt.datetime(2017, 10, 31, 23, 9, 30)),
        ("119242", dt.datetime(2017, 11, 1, 8, 0), None),
    ]


def test_a_customer_thread_missing_its_first_message_is_imported_and_said(tmp_path, store):
    result = import_file(store, export(tmp_path))
    (note,) = [n for n in result.notes if "not in the file" in n]
    assert note.startswith(
        "[rollup] 1 thread starts with a reply to a message not in the file (e.g. '119242' "
        "replies to '118000')"
    )


def test_the_summary_groups_threads_missing_their_first_message_as_one_problem(tmp_path, store):
    result = import_file(store, export(tmp_path))
    assert result.batch_id is not None
    reasons = top_reasons(store.con.cursor(), "quarantine", "reason", result.batch_id)
    assert reasons[0][:2] == (
        "thread … starts with a reply to message …, which is not in the file, so who started "
        "it is unknown (its first message is missing) and it is not a contact",
        3,
    )
