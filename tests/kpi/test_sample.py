"""The sample-data generator: reproducible files, exact layouts and the planted patterns."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from kpi.sample import FILE_NAMES, INTERVALS_FILE, THREADS_FILE, generate
from tests.paths import SAMPLE_DATA

COMMITTED = SAMPLE_DATA
ZENDESK_HEADER = (
    "Summation column,Id,Requester,Requester id,Requester external id,Requester email,"
    "Requester domain,Submitter,Assignee,Group,Subject,Tags,Status,Priority,Via,Ticket type,"
    "Created at,Updated at,Assigned at,Organization,Due date,Initially assigned at,Solved at,"
    "Resolution time,Satisfaction Score,Group stations,Assignee stations,Reopens,Replies,"
    "First reply time in minutes,First reply time in minutes within business hours,"
    "First resolution time in minutes,First resolution time in minutes within business hours,"
    "Full resolution time in minutes,Full resolution time in minutes within business hours,"
    "Agent wait time in minutes,Agent wait time in minutes within business hours,"
    "Requester wait time in minutes,Requester wait time in minutes within business hours,"
    "On hold time in minutes,On hold time in minutes within business hours,Contact reason [list]"
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
SURVEY_HEADER = (
    "response_id,contact_id,responded_at,channel,team,agent,category,nps,csat,ces,comment"
)
INTERVALS_HEADER = (
    "interval_start,interval_minutes,queue,channel,offered,answered,abandoned,short_abandoned,"
    "answered_within,threshold_seconds,wait_seconds_total,handle_seconds_total,"
    "service_level_percent,asa_seconds"
)
# The Customer Support on Twitter dump's own header.
THREADS_HEADER = (
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id"
)
KB_CHANGE = pd.Timestamp("2026-01-12")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out)
    return out


@pytest.fixture(scope="module")
def tickets(full: Path) -> pd.DataFrame:
    frame = pd.read_csv(full / "zendesk_tickets.csv", keep_default_na=False, na_values=[""])
    frame["created"] = pd.to_datetime(frame["Created at"])
    frame["complaint"] = frame["Tags"].str.split().map(lambda tags: "complaint" in tags)
    return frame


@pytest.fixture(scope="module")
def calls(full: Path) -> pd.DataFrame:
    frame = pd.read_excel(full / "call_log.xlsx", sheet_name="Calls")
    # Text cells are UK day-first; real date cells arrive as datetimes already.
    frame["start"] = frame["Start time"].map(
        lambda v: pd.to_datetime(v, format="%d/%m/%Y %H:%M") if isinstance(v, str) else v
    )
    return frame


@pytest.fixture(scope="module")
def surveys(full: Path) -> pd.DataFrame:
    return pd.read_csv(full / "survey_responses.csv", keep_default_na=False, na_values=[""])


def _contacts_per_month(tickets: pd.DataFrame, calls: pd.DataFrame) -> pd.Series:
    months = pd.concat([tickets["created"], calls["start"]]).dt.to_period("M")
    return months.value_counts().sort_index()


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=7, scale=0.05)
    second = generate(tmp_path / "b", seed=7, scale=0.05)
    assert [p.name for p in first] == list(FILE_NAMES)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_another_seed_writes_different_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=7, scale=0.05)
    second = generate(tmp_path / "b", seed=8, scale=0.05)
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(first, second, strict=True))


def test_progress_is_reported_in_plain_words(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(tmp_path, scale=0.05, progress=messages.append)
    assert any("zendesk_tickets.csv" in m for m in messages)


def test_committed_sample_data_is_a_fresh_full_generation(full: Path) -> None:
    for name in FILE_NAMES:
        assert (COMMITTED / name).read_bytes() == (full / name).read_bytes(), name


def test_committed_sample_data_stays_under_ten_megabytes() -> None:
    assert sum(p.stat().st_size for p in COMMITTED.iterdir()) < 10_000_000


def test_workbook_carries_no_clock_time(full: Path) -> None:
    with zipfile.ZipFile(full / "call_log.xlsx") as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert core.count("2026-01-01T00:00:00Z") == 2


def test_files_have_the_exact_headers_the_importer_detects(full: Path) -> None:
    csvs = [name for name in FILE_NAMES if name.endswith(".csv")]
    lines = {n: (full / n).read_text(encoding="utf-8").split("\n", 1)[0] for n in csvs}
    assert lines == {
        "zendesk_tickets.csv": ZENDESK_HEADER,
        "survey_responses.csv": SURVEY_HEADER,
        INTERVALS_FILE: INTERVALS_HEADER,
        THREADS_FILE: THREADS_HEADER,
    }
    book = openpyxl.load_workbook(full / "call_log.xlsx", read_only=True)
    assert book.sheetnames == ["Calls"]
    header = next(book["Calls"].iter_rows(max_row=1, values_only=True))
    assert list(header) == CALL_HEADER


def test_row_counts_are_in_the_intended_ranges(
    tickets: pd.DataFrame, calls: pd.DataFrame, surveys: pd.DataFrame
) -> None:
    assert 22_000 <= len(tickets) <= 28_000
    assert 14_000 <= len(calls) <= 20_000
    assert 7_000 <= len(surveys) <= 10_000
    assert tickets["Id"].is_unique and calls["Call ID"].is_unique
    assert surveys["response_id"].is_unique


def test_resolution_minutes_agree_with_timestamps_across_clock_changes(
    tickets: pd.DataFrame,
) -> None:
    solved = tickets.dropna(subset=["Solved at"])

    def utc(column: str) -> pd.Series:
        local = pd.to_datetime(solved[column])
        return local.dt.tz_localize("Europe/London", ambiguous=False, nonexistent="shift_forward")

    minutes = (utc("Solved at") - utc("Created at")).dt.total_seconds() / 60
    assert (minutes - solved["Full resolution time in minutes"]).abs().max() <= 1
    assert (
        solved["First reply time in minutes"] <= solved["Full resolution time in minutes"]
    ).all()


def test_some_call_start_times_are_typed_as_uk_text(calls: pd.DataFrame) -> None:
    as_text = calls["Start time"].map(lambda v: isinstance(v, str))
    assert 0.03 < as_text.mean() < 0.07
    assert calls.loc[as_text, "Start time"].str.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d").all()


def test_unanswered_calls_have_no_agent_handle_time_or_fcr_flag(calls: pd.DataFrame) -> None:
    missed = calls[calls["Answered"] == "N"]
    assert (missed["Abandoned"] == "Y").all()
    assert missed[["Agent", "Handle time", "Resolved first time"]].isna().all().all()


def test_abandon_share_rises_with_wait(calls: pd.DataFrame) -> None:
    abandoned = calls["Abandoned"] == "Y"
    short, long = calls["Wait (s)"] < 60, calls["Wait (s)"] >= 240
    assert abandoned[long].mean() > 3 * abandoned[short].mean()


def test_some_comments_carry_fake_contact_details_to_scrub(surveys: pd.DataFrame) -> None:
    comments = surveys["comment"].dropna()
    assert comments.str.contains(r"@example\.co(?:m|\.uk)").sum() >= 5
    assert comments.str.contains(r"07700 900\d{3}").sum() >= 5


def test_scores_stay_on_their_scales(surveys: pd.DataFrame) -> None:
    assert surveys["nps"].dropna().between(0, 10).all()
    assert surveys["csat"].dropna().between(1, 5).all()
    assert surveys["ces"].dropna().between(1, 7).all()
    assert surveys[["nps", "csat", "ces"]].notna().any(axis=1).all()


def test_monday_morning_emails_wait_far_longer_for_a_first_reply(tickets: pd.DataFrame) -> None:
    email = tickets[tickets["Via"] == "Mail"]
    when = email["created"]
    monday_morning = (when.dt.day_of_week == 0) & (when.dt.hour >= 8) & (when.dt.hour < 12)
    for column in (
        "First reply time in minutes",
        "First reply time in minutes within business hours",
    ):
        assert (
            email.loc[monday_morning, column].median()
            >= 2 * email.loc[~monday_morning, column].median()
        )


def test_billing_complaints_spike_in_march_2026(tickets: pd.DataFrame, calls: pd.DataFrame) -> None:
    billing_tickets = tickets[
        (tickets["Contact reason [list]"] == "Billing") & tickets["complaint"]
    ]
    billing_calls = calls[(calls["Queue"] == "Billing") & (calls["Complaint"] == "Y")]
    per_month = _contacts_per_month(billing_tickets, billing_calls)
    march = pd.Period("2026-03", "M")
    assert per_month[march] >= 2 * per_month.drop(march).mean()


def test_march_2026_billing_answers_are_mostly_detractors(
    tickets: pd.DataFrame, calls: pd.DataFrame, surveys: pd.DataFrame
) -> None:
    in_march = tickets["created"].dt.to_period("M") == pd.Period("2026-03", "M")
    ids = set(
        tickets.loc[in_march & (tickets["Contact reason [list]"] == "Billing"), "Id"].astype(str)
    )
    call_march = calls["start"].dt.to_period("M") == pd.Period("2026-03", "M")
    ids |= set(calls.loc[call_march & (calls["Queue"] == "Billing"), "Call ID"])
    nps = surveys.loc[surveys["contact_id"].isin(ids), "nps"].dropna()
    assert len(nps) >= 50
    assert (nps <= 4).mean() > 0.6


def test_first_contact_resolution_steps_up_after_the_knowledge_base_change(
    tickets: pd.DataFrame, calls: pd.DataFrame
) -> None:
    answered = calls[calls["Answered"] == "Y"]
    fcr = answered["Resolved first time"] == "Y"
    after = answered["start"] >= KB_CHANGE
    assert fcr[after].mean() - fcr[~after].mean() >= 0.08
    solved = tickets.dropna(subset=["Solved at"])
    one_touch = (solved["Replies"] <= 1) & (solved["Reopens"] == 0)
    later = solved["created"] >= KB_CHANGE
    assert one_touch[later].mean() - one_touch[~later].mean() >= 0.08
    assert (solved["Reopens"] > 0)[later].mean() < (solved["Reopens"] > 0)[~later].mean()


def test_december_2025_is_the_peak_month(tickets: pd.DataFrame, calls: pd.DataFrame) -> None:
    per_month = _contacts_per_month(tickets, calls)
    assert len(per_month) == 18
    assert per_month[pd.Period("2025-12", "M")] > 1.25 * per_month.mean()
    assert per_month.idxmax() == pd.Period("2025-12", "M")


def test_new_starter_has_six_perfect_csat_answers_and_few_contacts(
    tickets: pd.DataFrame, calls: pd.DataFrame, surveys: pd.DataFrame
) -> None:
    answers = surveys.loc[surveys["agent"] == "Bethan Morgan", "csat"]
    assert answers.tolist() == [5] * 6
    handled = calls.loc[calls["Agent"] == "Bethan Morgan", "start"]
    assert 6 <= len(handled) <= 60 and handled.min() >= pd.Timestamp("2026-09-01")
    assert (tickets["Assignee"] == "Bethan Morgan").sum() == 0


def test_zendesk_ratings_cover_about_fifteen_percent_of_solved_tickets(
    tickets: pd.DataFrame, surveys: pd.DataFrame
) -> None:
    solved = tickets.dropna(subset=["Solved at"])
    rated = solved["Satisfaction Score"].isin(["Good", "Bad"])
    assert 0.12 < rated.mean() < 0.18
    # No ticket is rated twice: Zendesk's own rating and the survey never overlap.
    assert not set(solved.loc[rated, "Id"].astype(str)) & set(surveys["contact_id"])


def test_the_interval_report_and_social_threads_are_in_the_intended_ranges(full: Path) -> None:
    intervals = pd.read_csv(full / INTERVALS_FILE)
    threads = pd.read_csv(full / THREADS_FILE, keep_default_na=False, dtype=str)
    assert 3_500 <= len(intervals) <= 5_000  # a day and queue each
    posts = threads["in_response_to_tweet_id"] == ""
    assert 900 <= posts.sum() <= 1_300  # threads, about two a day
    assert 3 * posts.sum() <= len(threads) <= 4 * posts.sum()  # with replies and follow-ups
