"""The rows behind a number: as many as the number's n, filtered exactly as it was (period,
filters, a breakdown's segment, a chart's point), with the fields that decided each outcome and
no raw customer ids."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from kpi.engine.drill import DRILL_LIMIT, drill, drillable, period_filters
from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.engine.tables import EMPTY
from kpi.errors import InvalidChoice
from kpi.store.connection import Store, open_store

MARCH = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
EMAIL_IN_MARCH = Filters(date(2026, 3, 1), date(2026, 3, 31), channel=("email", "chat"))
#: The KPIs the issue names, and the others of each kind (proportions, NPS, means, medians).
NAMED = ("sla", "fcr", "csat", "nps", "first_response_hours", "complaint_rate")
OTHERS = ("ces", "csat_mean", "resolution_hours", "aht_seconds", "service_level", "contacts")


@pytest.fixture
def store(seeded_db: Path) -> Store:
    s = open_store(seeded_db)
    yield s
    s.close()


@pytest.mark.parametrize("filters", [MARCH, EMAIL_IN_MARCH], ids=["march", "email and chat"])
def test_the_rows_behind_each_number_are_as_many_as_its_n(store: Store, filters: Filters) -> None:
    totals = report(store, filters, metrics=NAMED + OTHERS).totals()
    as_of = report(store, filters, metrics=("contacts",)).as_of
    # Most KPIs have rows here (email and chat have no calls), so n is seldom a trivial 0.
    assert len([k for k in totals if totals[k].n > 0]) >= 9
    for key in NAMED + OTHERS:
        found = drill(store, key, filters, as_of=as_of)
        assert found.n == totals[key].n, key
        assert len(found.rows) == min(found.n, DRILL_LIMIT), key


@pytest.mark.parametrize("field", ["team", "priority"])
def test_a_breakdown_rows_drill_through_matches_that_rows_n(store: Store, field: str) -> None:
    # Answers have no priority of their own: theirs comes from the linked contact, as in the
    # report's breakdown.
    shown = report(store, MARCH, by=(field,), metrics=("sla", "csat", "fcr"))
    segments = [row for row in shown.rows if row.segment]
    assert len(segments) >= 2
    for row in segments:
        for key in ("sla", "csat", "fcr"):
            found = drill(store, key, MARCH, segment=row.segment, as_of=shown.as_of)
            assert found.n == row.metrics[key].n, (row.segment, key)


def test_a_weekly_charts_points_drill_through_to_their_own_n(store: Store) -> None:
    # A window starting mid-week: its first point is a part week, and keeps only its days.
    window = Filters(date(2026, 3, 4), date(2026, 3, 31))
    weekly = report(store, window, grain="week", metrics=("csat", "first_response_hours"))
    points = [row for row in weekly.rows if not row.segment and row.period]
    assert points[0].period == "2026-03-02"
    for row in points:
        point = period_filters(window, "week", date.fromisoformat(str(row.period)))
        for key in ("csat", "first_response_hours"):
            found = drill(store, key, point, as_of=weekly.as_of)
            assert found.n == row.metrics[key].n, (row.period, key)


def test_sla_rows_show_the_target_the_elapsed_time_and_the_breach(store: Store) -> None:
    result = report(store, MARCH, metrics=("sla",)).totals()["sla"]
    found = drill(store, "sla", MARCH, limit=100_000)
    rows = found.rows
    assert found.n == len(rows) == result.n
    assert (rows["Met every target"] == "yes").sum() == result.numerator
    breached = rows[rows["Met every target"] == "no"]
    over = breached[["First response over target by", "Resolution over target by"]]
    # Every breach says by how much, in hours; met rows were breached nowhere.
    assert (over != EMPTY).any(axis=1).all()
    assert over.stack().loc[lambda s: s != EMPTY].str.fullmatch(r"[\d,]+\.\d h").all()
    met = rows[rows["Met every target"] == "yes"]
    assert (met["First response over target by"] == EMPTY).all()
    assert rows["First response target"].str.fullmatch(r"\d+\.\d h").all()
    # What counts against the SLA comes first.
    assert rows["Met every target"].iloc[0] == "no"


def test_csat_rows_show_the_score_its_scale_and_whether_it_counted(store: Store) -> None:
    result = report(store, MARCH, metrics=("csat",)).totals()["csat"]
    rows = drill(store, "csat", MARCH, limit=100_000).rows
    assert (rows["Satisfied"] == "yes").sum() == result.numerator
    assert set(rows["Scale"]) <= {"1 to 5", "1 to 10", "1 to 2", "0 to 10", "1 to 7"}
    assert rows["Score"].str.fullmatch(r"\d+(\.\d+)?").all()


def test_fcr_rows_show_what_decided_first_contact_resolution(store: Store) -> None:
    result = report(store, MARCH, metrics=("fcr",)).totals()["fcr"]
    rows = drill(store, "fcr", MARCH, limit=100_000).rows
    assert (rows["Resolved first time"] == "yes").sum() == result.numerator
    deciding = {"Agent replies", "Reopens", "Resolved at first contact (source's flag)"}
    assert deciding & set(rows.columns), rows.columns


def test_customers_appear_only_pseudonymised(store: Store) -> None:
    rows = drill(store, "complaint_rate", MARCH, limit=100_000).rows
    assert "Customer (pseudonymised)" in rows.columns
    assert not [c for c in rows.columns if "customer_id" in c.lower() or "_" in c]
    keys = {k for (k,) in store.cursor().execute("SELECT customer_key FROM contacts").fetchall()}
    assert set(rows["Customer (pseudonymised)"]) - {EMPTY} <= keys
    assert not rows["Subject (scrubbed)"].str.contains("@").any()


def test_a_long_list_is_cut_and_says_how_many_there_are(store: Store) -> None:
    found = drill(store, "contacts", MARCH, limit=20)
    assert len(found.rows) == 20
    assert found.note.startswith(f"Showing 20 of {found.n:,} contacts (")
    few = drill(store, "contacts", MARCH.with_dates(date(2026, 3, 2), date(2026, 3, 2)))
    assert few.note.startswith(f"All {few.n:,} contacts")


def test_the_backlog_has_no_rows_to_drill_into(store: Store) -> None:
    assert not drillable("backlog")
    assert drillable("sla") and drillable("responses")
    with pytest.raises(InvalidChoice, match="backlog"):
        drill(store, "backlog", MARCH)


def test_open_contacts_are_judged_at_the_reports_as_of(store: Store) -> None:
    as_of = datetime(2026, 3, 20, 12)
    result = report(store, MARCH, as_of=as_of, metrics=("sla",)).totals()["sla"]
    assert drill(store, "sla", MARCH, as_of=as_of).n == result.n


def test_nps_rows_say_who_promoted_and_who_detracted_detractors_first(store: Store) -> None:
    result = report(store, MARCH, metrics=("nps",)).totals()["nps"]
    found = drill(store, "nps", MARCH, limit=100_000)
    groups = found.rows["Promoter, passive or detractor"]
    assert (groups == "promoter").sum() == result.extra["promoters"]
    assert (groups == "detractor").sum() == result.extra["detractors"]
    assert groups.iloc[0] == "detractor"
    assert "(detractors first, then oldest first)" in found.note


def test_a_rates_successes_alone_are_as_many_as_its_numerator(store: Store) -> None:
    result = report(store, MARCH, metrics=("complaint_rate",)).totals()["complaint_rate"]
    found = drill(store, "complaint_rate", MARCH, only="successes", limit=100_000)
    assert result.numerator and found.n == result.numerator < result.n
    assert set(found.rows["Complaint"]) == {"yes"}
    assert found.where.endswith("; only the contacts counted as complaint")


def test_nps_detractors_alone_are_as_many_as_the_results_detractors(store: Store) -> None:
    result = report(store, MARCH, metrics=("nps",)).totals()["nps"]
    found = drill(store, "nps", MARCH, only="failures", limit=100_000)
    assert found.n == result.extra["detractors"] > 0
    assert set(found.rows["Promoter, passive or detractor"]) == {"detractor"}
    assert found.where.endswith("; only the answers counted as detractors")


def test_only_a_rate_or_nps_has_successes_to_show_alone(store: Store) -> None:
    with pytest.raises(InvalidChoice, match="only a rate or NPS has successes and failures"):
        drill(store, "first_response_hours", MARCH, only="successes")


def test_each_side_of_me_against_the_rest_drills_into_its_own_n(store: Store) -> None:
    from kpi.engine.comparison import me_against_rest
    from kpi.engine.drill import sides

    agent = (
        store.cursor()
        .execute(
            "SELECT agent FROM contacts WHERE agent IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC"
        )
        .fetchall()[0][0]
    )
    found = me_against_rest(store, MARCH, agent, ("sla", "csat"))
    assert found.rest
    mine, rest = sides(found, MARCH).items()
    assert mine[0] == f"Me ({agent})" and rest[0] == "Rest of the team"
    for key in ("sla", "csat"):
        assert drill(store, key, mine[1]).n == found.ours[key].n, key
        assert drill(store, key, rest[1]).n == found.theirs[key].n, key
