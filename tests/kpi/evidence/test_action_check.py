"""The action check cannot over-claim: it measures the segment the reflection is about, over
whole weeks of equal length, warns when the "before" weeks hold a spike (and then claims
nothing), gives the effect with its 95% interval, judges the SMART target by the review date,
draws its charts, and a target on the wrong side of the baseline is refused when saved."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kpi import insights
from kpi.engine.filters import Filters
from kpi.errors import InvalidChoice
from kpi.evidence import action_check, baseline, reflections
from kpi.evidence.baseline import TargetOnWrongSide
from kpi.evidence.pack_charts import SMART_TARGET
from kpi.evidence.reflections import Reflection, SmartAction
from kpi.insights.insight_segment import Segment
from kpi.store import annotations
from kpi.store.connection import Store, open_store

# --- generated data: 34 weeks, Billing complaints spike in two weeks before a dated change ------

START = date(2025, 1, 6)  # a Monday
WEEKS = 34  # to Sunday 31 Aug 2025
CHANGE = date(2025, 6, 2)  # a Monday: 8 whole weeks each side
SPIKE_WEEKS = (date(2025, 5, 19), date(2025, 5, 26))  # inside the before weeks
COMPLAINT_P = {"Billing": 0.04, "Faults": 0.03}
SPIKE_P = 0.20
BILLING = Segment(category=("Billing",))
DAILY = 60


def _contacts(
    seed: int = 7, spike_weeks: tuple[date, ...] = SPIKE_WEEKS, spike_p: float = SPIKE_P
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = [START + timedelta(days=d) for d in range(WEEKS * 7)]
    rows = []
    for day in days:
        week = day - timedelta(days=day.weekday())
        category = rng.choice(["Billing", "Faults"], DAILY, p=[0.4, 0.6])
        channel = rng.choice(["email", "phone"], DAILY)
        spike = (category == "Billing") & (week in spike_weeks)
        p = np.where(spike, spike_p, [COMPLAINT_P[c] for c in category])
        opened = [
            datetime.combine(day, datetime.min.time()) + timedelta(hours=9, minutes=int(m))
            for m in rng.integers(0, 8 * 60, DAILY)
        ]
        rows.append(
            pd.DataFrame(
                {
                    "opened_at": opened,
                    "category": category,
                    "channel": channel,
                    "complaint": rng.random(DAILY) < p,
                    "sla_met": rng.random(DAILY) < np.where(channel == "email", 0.90, 0.96),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    return frame.assign(
        source="generated",
        contact_id=[f"c{i}" for i in range(len(frame))],
        status="closed",
        team="Team A",
        priority="normal",
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store file holding the generated contacts (a test copies it before changing it)."""
    path = tmp_path_factory.mktemp("action_check") / "generated.duckdb"
    store = open_store(path)
    with store.transaction() as cur:
        cur.register("frame", _contacts())
        cur.execute("CREATE TABLE staged AS SELECT * FROM frame")
        cur.unregister("frame")
        cur.execute("INSERT INTO contacts BY NAME SELECT * FROM staged")
        cur.execute("DROP TABLE staged")
    store.close()
    yield path


@pytest.fixture
def store(generated: Path, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "store.duckdb"
    copy.write_bytes(generated.read_bytes())
    opened = open_store(copy)
    yield opened
    opened.close()


def _reflection(
    store: Store,
    segment: Segment = BILLING,
    target: float | None = None,
    review: date | None = None,
    kpi: str = "complaint_rate",
    on: date = CHANGE,
) -> Reflection:
    note = annotations.add(store, on, "New billing letter")
    r = reflections.blank("Alex", 3, Filters(category=segment.category), (kpi,))
    action = SmartAction("Send the new billing letter to every customer", kpi, target, review)
    r = reflections.replace(r, annotation_id=note.annotation_id, action=action)
    return reflections.save(store, reflections.replace(r, action=_with(r.action, segment)))


def _with(action: SmartAction, segment: Segment) -> SmartAction:
    return reflections.replace(action, segment=segment)


def _count(store: Store, sql: str, params: list[object]) -> int:
    row = store.cursor().execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


# --- a spike in the before weeks ----------------------------------------------------------------


def test_a_spike_in_the_before_weeks_is_warned_and_no_more_than_chance_claim_is_made(
    store: Store,
) -> None:
    found = action_check.check(store, _reflection(store))
    assert found is not None and found.windows is not None
    (complaints,) = found.kpis
    # The test alone would call the fall "more than chance": it is the spike ending.
    assert complaints.change.significant and complaints.after.value < complaints.before.value
    assert complaints.verdict == "unfair"
    assert set(complaints.flagged) <= set(SPIKE_WEEKS) and complaints.flagged
    text = "\n".join(found.lines())
    assert "Warning: the before weeks are not a fair baseline" in text
    assert "week of 19 May 2025" in text or "week of 26 May 2025" in text
    assert "no claim is made that the action caused this difference" in text
    assert "more than chance" not in text
    (row,) = action_check.table(found).to_dict("records")
    assert row["verdict"] == "not judged: unfair baseline (see the warning)"


def test_without_a_spike_the_same_check_makes_its_claim(store: Store) -> None:
    # Faults had no spike: the baseline is fair and the (absent) change is within chance.
    found = action_check.check(store, _reflection(store, Segment(category=("Faults",))))
    assert found is not None
    (complaints,) = found.kpis
    assert complaints.warnings == () and complaints.verdict == "within"
    assert "This is within chance" in "\n".join(found.lines())


# --- like with like -----------------------------------------------------------------------------


def test_a_segment_limited_check_differs_from_the_all_contacts_one(store: Store) -> None:
    billing = action_check.check(store, _reflection(store))
    everyone = action_check.check(store, _reflection(store, Segment()))
    assert billing is not None and everyone is not None
    assert billing.windows == everyone.windows
    assert billing.windows is not None and billing.windows.weeks == 8
    (segment,), (total,) = billing.kpis, everyone.kpis
    before = billing.windows.before
    counted = _count(
        store,
        "SELECT count(*) FROM contacts WHERE category = 'Billing' AND opened_at >= ? "
        "AND opened_at < ?",
        [before.date_from, before.date_to + timedelta(days=1)],
    )
    assert segment.before.n == counted < total.before.n
    assert segment.before.value != total.before.value
    assert billing.caption().startswith("Category Billing, before and after 2 Jun 2025")
    assert everyone.caption().startswith("All contacts, before and after 2 Jun 2025")


def test_the_windows_are_whole_weeks_of_equal_length_or_say_why(store: Store) -> None:
    # A Wednesday change: its week mixes days before and after, so it is left out.
    found = action_check.check(store, _reflection(store, on=date(2025, 6, 4)))
    assert found is not None and found.windows is not None
    w = found.windows
    assert (w.before.date_from, w.before.date_to) == (date(2025, 4, 7), date(2025, 6, 1))
    assert (w.after.date_from, w.after.date_to) == (date(2025, 6, 9), date(2025, 8, 3))
    assert "The week of the change (2 Jun 2025) is left out" in found.lines()[1]
    # Three whole weeks of data after 4 Aug: both sides shrink to three.
    late = action_check.check(store, _reflection(store, on=date(2025, 8, 11)))
    assert late is not None and late.windows is not None and late.windows.weeks == 3
    assert late.windows.before.days == late.windows.after.days == 21
    assert any("3 whole weeks each side, not 8" in line for line in late.lines())
    # No whole week after the change yet: no comparison, and why.
    none = action_check.check(store, _reflection(store, on=date(2025, 8, 27)))
    assert none is not None and none.kpis == () and none.windows is None
    assert "no check yet (the data hold no whole week from 1 Sep 2025 yet)" in none.caption()


# --- the effect, the target ---------------------------------------------------------------------


def test_the_check_reports_the_effect_with_its_interval(store: Store) -> None:
    found = action_check.check(store, _reflection(store))
    assert found is not None
    (c,) = found.kpis
    assert c.effect.low is not None and c.effect.high is not None
    assert c.effect.low < c.effect.difference < c.effect.high < 0
    shown = f"{c.effect.difference:+.1f} percentage points (95% interval {c.effect.low:+.1f} to "
    assert shown in found.lines()[1]
    (row,) = action_check.table(found).to_dict("records")
    assert row["difference (95% interval)"] == (
        f"{c.effect.difference:+.1f} percentage points ({c.effect.low:+.1f} to {c.effect.high:+.1f})"
    )


@pytest.mark.parametrize(
    ("target", "review", "expected"),
    [
        (6.0, date(2025, 8, 31), "Target met by the review date (31 Aug 2025)"),
        (3.0, date(2025, 8, 31), "Target not met by the review date (31 Aug 2025)"),
        (6.0, date(2025, 12, 1), "Review date 1 Dec 2025 not reached yet"),
    ],
)
def test_the_target_is_judged_by_the_review_date(
    store: Store, target: float, review: date, expected: str
) -> None:
    found = action_check.check(store, _reflection(store, target=target, review=review))
    assert found is not None
    assert found.target.startswith(expected), found.target
    if "reached" not in expected:
        # Judged on Billing over the whole weeks from the change to the review date.
        assert "Complaint rate for category Billing was" in found.target
        assert "2 Jun 2025 - 31 Aug 2025" in found.target
    else:
        assert "the data run to 31 Aug 2025" in found.target


# --- the target's side of the baseline ----------------------------------------------------------


def test_a_target_on_the_wrong_side_of_the_baseline_is_refused_naming_it(store: Store) -> None:
    # Billing's complaint rate before the change is about 8% (lower is better): a target of
    # 9% would be met by doing nothing.
    with pytest.raises(TargetOnWrongSide) as refused:
        _reflection(store, target=9.0, review=date(2025, 8, 31))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("a target of 9.0% for Complaint rate (category Billing) is above")
    assert "n = " in message and "7 Apr 2025 - 1 Jun 2025" in message
    assert "the 8 whole weeks before the change" in message
    # Higher is better for SLA: 80% is below email's baseline of about 90%.
    with pytest.raises(TargetOnWrongSide, match=r"is below its baseline of 9\d\.\d%"):
        _reflection(store, Segment(channel=("email",)), 80.0, date(2025, 8, 31), "sla")
    saved = _reflection(store, Segment(channel=("email",)), 95.0, date(2025, 8, 31), "sla")
    assert saved.action.target == 95.0


def test_the_segment_is_stored_with_the_reflection(store: Store) -> None:
    block = Segment(channel=("email",), weekday=0, hours=(9, 11))
    saved = _reflection(store, block, 99.5, date(2025, 8, 31), "sla")
    assert saved.reflection_id is not None
    again = reflections.get(store, saved.reflection_id)
    assert again.action.segment == block
    assert "Measure: SLA to 99.5% for channel email, Monday 09:00-11:59" in again.action.describe()
    with pytest.raises(InvalidChoice, match="only SLA can"):
        reflections.save(store, reflections.replace(again, action=_with_kpi(again.action, "fcr")))


def _with_kpi(action: SmartAction, kpi: str) -> SmartAction:
    return reflections.replace(action, kpi=kpi)


def test_a_weekday_and_hour_block_is_measured_on_its_hours_only(store: Store) -> None:
    block = Segment(channel=("email",), weekday=0, hours=(9, 11))
    found = action_check.check(store, _reflection(store, block, 99.5, date(2025, 8, 31), "sla"))
    assert found is not None and found.windows is not None
    (sla,) = found.kpis
    before = found.windows.before
    # Counted independently: opened in UK local time on a Monday, 09:00 to 11:59.
    opened = (
        store.cursor()
        .execute("SELECT opened_at FROM contacts WHERE channel = 'email'")
        .fetchdf()["opened_at"]
    )
    local = opened.dt.tz_localize("UTC").dt.tz_convert("Europe/London")
    inside = (
        (local.dt.day_of_week == 0)
        & local.dt.hour.between(9, 11)
        & (local.dt.date >= before.date_from)
        & (local.dt.date <= before.date_to)
    )
    assert sla.before.n == int(inside.sum()) and 0 < sla.before.n < 8 * DAILY


# --- charts ----------------------------------------------------------------------------------------


def test_the_check_draws_before_and_after_bars_and_the_weekly_series(store: Store) -> None:
    r = _reflection(store, target=6.0, review=date(2025, 8, 31))
    bars, weekly = action_check.chart(store, r)
    assert bars.kind == "bars" and bars.lines == {"SMART target 6.0%": 6.0}
    assert bars.title.startswith(
        "Complaint rate, category Billing: 8 whole weeks before and after 2 Jun 2025 (n = "
    )
    assert [row["period"] for row in bars.rows] == [
        "before (7 Apr 2025 - 1 Jun 2025)",
        "after (2 Jun 2025 - 27 Jul 2025)",
    ]
    assert all(row["ci_low"] < row["value"] < row["ci_high"] for row in bars.rows)
    assert weekly.kind == "line" and weekly.marker == "2025-06-02"
    flagged = [row["week"] for row in weekly.rows if row["signal"]]
    assert flagged and set(flagged) <= {d.isoformat() for d in SPIKE_WEEKS}


# --- from the sample's insights ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("sample_check") / "store.duckdb"
    path.write_bytes(seeded_template.read_bytes())
    opened = open_store(path)
    yield opened
    opened.close()


def test_a_reflection_carries_its_insights_segment(sample: Store) -> None:
    march = Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    drivers = insights.detect(sample, march, ("driver",))
    billing = next(i for i in drivers if i.title.startswith("Billing drives complaints"))
    r = reflections.from_insight(billing, "Alex", 3, sample)
    assert r.action.segment == Segment(category=("Billing",))
    breaches = insights.detect(sample, Filters(), ("concentration",))
    monday = next(i for i in breaches if i.chart.kind == "heatmap")
    segment = reflections.from_insight(monday, "Alex", 2, sample).action.segment
    assert segment.channel == ("email",) and segment.weekday == 0
    assert segment.hours is not None and segment.hours[0] == 8
    by_priority = next(i for i in breaches if i.chart.x == "priority")
    assert reflections.from_insight(by_priority, "Alex", 2, sample).action.segment.priority


def test_the_check_on_the_sample_knowledge_base_change_claims_the_fcr_rise(sample: Store) -> None:
    note = annotations.add(sample, date(2026, 1, 12), "New knowledge base")
    r = reflections.blank("Alex", 3, Filters(), ("fcr",))
    action = SmartAction("Use the new knowledge base on every call", "fcr", 75, date(2026, 3, 1))
    r = reflections.save(
        sample, reflections.replace(r, annotation_id=note.annotation_id, action=action)
    )
    found = action_check.check(sample, r)
    assert found is not None
    (fcr,) = found.kpis
    assert fcr.verdict == "more" and fcr.after.value > fcr.before.value
    assert fcr.effect.low is not None and fcr.effect.low > 0
    assert any(
        line.startswith("This is a real improvement, more than chance") for line in found.lines()
    )


def test_a_reflection_saved_before_actions_had_a_segment_reads_its_filters(store: Store) -> None:
    saved = _reflection(store)
    with store.transaction() as cur:
        cur.execute("UPDATE reflections SET action_segment = NULL")
    assert saved.reflection_id is not None
    assert reflections.get(store, saved.reflection_id).action.segment == BILLING


def test_chart_titles_name_no_colleague_but_the_learner(store: Store) -> None:
    colleague = _reflection(store, Segment(agent=("Bethan Price",)))
    (bars, weekly) = action_check.chart(store, colleague)
    # The colleague reads as counted by the redaction's own words ("one colleague").
    assert "agent one colleague" in bars.title and "Bethan" not in bars.title + weekly.title
    mine = reflections.save(store, reflections.replace(colleague, learner="Bethan Price"))
    assert "agent Bethan Price" in action_check.chart(store, mine)[0].title


# --- the after weeks, which way it moved, the target's edge, SLA-only segments, the target line ---


def _store_of(frame: pd.DataFrame, path: Path) -> Store:
    opened = open_store(path)
    with opened.transaction() as cur:
        cur.register("frame", frame)
        cur.execute("INSERT INTO contacts BY NAME SELECT * FROM frame")
        cur.unregister("frame")
    return opened


def test_a_spike_in_the_after_weeks_is_warned_and_no_more_than_chance_claim_is_made(
    tmp_path: Path,
) -> None:
    # No spike before the change; two weeks of 20% Billing complaints just after it.
    spikes = (date(2025, 6, 9), date(2025, 6, 16))
    store = _store_of(_contacts(spike_weeks=spikes), tmp_path / "after.duckdb")
    try:
        r = _reflection(store)
        found = action_check.check(store, r)
        assert found is not None
        (complaints,) = found.kpis
        # The test alone calls the rise "more than chance": it is the two unusual weeks.
        assert complaints.change.significant and complaints.warnings == ()
        assert complaints.verdict == "unusual_after"
        assert set(complaints.flagged) == set(spikes)
        text = "\n".join(found.lines())
        assert "Warning: the after weeks hold unusual weeks: in the week of 9 Jun 2025" in text
        assert "in the week of 16 Jun 2025 Complaint rate was" in text
        assert "a spike above the other after weeks" in text
        assert "no claim is made that the action caused this difference" in text
        assert "more than chance" not in text
        (row,) = action_check.table(found).to_dict("records")
        assert row["verdict"] == "not judged: an unusual week after the change (see the warning)"
        _, weekly = action_check.chart(store, r, found)
        flagged = {row["week"] for row in weekly.rows if row["signal"]}
        assert flagged == {d.isoformat() for d in spikes}
    finally:
        store.close()


def test_the_verdict_says_which_way_the_kpi_moved(tmp_path: Path) -> None:
    # Billing complaints rise from about 4% to 7% after the change: lower is better.
    after = tuple(CHANGE + timedelta(days=7 * i) for i in range(8))
    store = _store_of(_contacts(spike_weeks=after, spike_p=0.07), tmp_path / "worse.duckdb")
    try:
        found = action_check.check(store, _reflection(store))
        assert found is not None
        (complaints,) = found.kpis
        assert complaints.verdict == "more" and complaints.after.value > complaints.before.value
        assert any(
            line.startswith("This is a real worsening, more than chance (two-proportion z-test")
            for line in found.lines()
        )
        (row,) = action_check.table(found).to_dict("records")
        assert row["verdict"] == "more than chance: a real worsening"
    finally:
        store.close()
    assert action_check.movement("complaint_rate", -1.2) == "a real improvement"
    assert action_check.movement("fcr", -1.2) == "a real worsening"
    assert action_check.movement("contacts", 40.0) == "a real rise"
    assert action_check.movement("contacts", -40.0) == "a real fall"


def test_a_target_equal_to_the_baseline_is_refused_and_close_ones_print_apart(
    store: Store,
) -> None:
    email = Segment(channel=("email",))
    note = annotations.add(store, CHANGE, "New email templates")
    found = baseline.baseline(store, email, "sla", Filters(), note.annotation_id)
    assert found is not None and found.result.value is not None
    value = found.result.value
    r = reflections.blank("Alex", 3, Filters(channel=("email",)), ("sla",))
    r = reflections.replace(r, annotation_id=note.annotation_id)

    def save(target: float) -> Reflection:
        action = SmartAction("Use the new templates", "sla", target, date(2025, 8, 31), email)
        return reflections.save(store, reflections.replace(r, action=action))

    with pytest.raises(TargetOnWrongSide) as equal:
        save(value)
    assert " is equal to its baseline of " in str(equal.value)
    assert "so that target is already met without any change" in str(equal.value)
    # Just below the baseline: the two numbers printed must differ.
    with pytest.raises(TargetOnWrongSide) as close:
        save(value - 0.004)
    shown = re.search(r"a target of (\S+) .* below its baseline of (\S+) \(n = ", str(close.value))
    assert shown is not None and shown.group(1) != shown.group(2), str(close.value)
    assert shown.group(1).endswith("%") and shown.group(2).endswith("%")
    assert save(value + 0.01).action.target == pytest.approx(value + 0.01)


def test_distinct_values_print_enough_digits_to_tell_two_numbers_apart() -> None:
    assert baseline.distinct_values(92.9, 92.9088, "%") == ("92.90%", "92.91%")
    assert baseline.distinct_values(75.0, 80.0, "%") == ("75.0%", "80.0%")
    assert baseline.distinct_values(92.9, 92.9, "%") == ("92.9%", "92.9%")


def test_a_weekday_and_hour_segment_says_it_is_measured_on_sla(store: Store) -> None:
    # The reflection names complaint rate, but a weekday and hour block has only SLA.
    block = Segment(channel=("email",), weekday=0, hours=(9, 11))
    note = annotations.add(store, CHANGE, "New Monday rota")
    r = reflections.blank("Alex", 3, Filters(channel=("email",)), ("complaint_rate",))
    action = SmartAction("Put two people on email on Monday mornings", None, None, None, block)
    r = reflections.save(
        store, reflections.replace(r, annotation_id=note.annotation_id, action=action)
    )
    found = action_check.check(store, r)
    assert found is not None
    assert [k.key for k in found.kpis] == ["sla"]
    assert found.lines()[1] == (
        "Measured on SLA: a weekday and hour segment can only be measured by SLA."
    )
    # An SLA action on the same block says nothing: nothing was swapped.
    same = action_check.check(store, _reflection(store, block, 99.5, date(2025, 8, 31), "sla"))
    assert same is not None and same.measured is None
    assert not any(line.startswith("Measured on SLA") for line in same.lines())


def test_the_smart_target_line_reads_as_on_every_other_chart(store: Store) -> None:
    r = _reflection(store, target=6.0, review=date(2025, 8, 31))
    bars, weekly = action_check.chart(store, r)
    label = f"{SMART_TARGET} 6.0%"
    assert label == "SMART target 6.0%"
    assert bars.lines == weekly.lines == {label: 6.0}
