"""Worked examples, checked by hand, for every KPI and variant in the registry.

Each test builds a tiny store in real DuckDB, runs the engine and compares with numbers worked
out in the comments. Calendar hours unless the test is about business hours.
"""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from kpi.engine import statistics
from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.metrics import calls, contacts, surveys, volume
from kpi.metrics.registry import KEYS, REGISTRY, Formula, Metric, glossary
from kpi.metrics.settings import Settings
from tests.kpi.stores import make_store

CAL = Settings(hours="calendar")
AS_OF = datetime(2025, 3, 10, 12, 0)


def total(store, settings=CAL, filters=None, as_of=AS_OF, metrics=None):
    result = report(store, filters or Filters(), as_of=as_of, settings=settings, metrics=metrics)
    return result.total().metrics


def test_registry_has_exactly_the_designed_keys():
    assert KEYS == (
        "nps", "csat", "csat_mean", "ces", "fcr", "sla", "sla_first_response",
        "sla_resolution", "first_response_hours", "resolution_hours", "aht_seconds",
        "asa_seconds", "abandonment_rate", "service_level", "reopen_rate", "escalation_rate",
        "complaint_rate", "contacts", "responses", "backlog",
    )  # fmt: skip


def test_every_entry_is_fully_declared():
    for key, metric in REGISTRY.items():
        assert metric.key == key and metric.label and metric.unit
        assert metric.table in ("contacts", "responses")
        assert metric.direction in ("higher", "lower", None)
        for formula in metric.variants.values():
            assert formula.population_name
            if formula.kind in ("proportion", "nps"):
                assert formula.success is not None
    rows = glossary()
    assert [r["key"] for r in rows] == list(KEYS)
    assert all(r["definition"].endswith(".") for r in rows)


def test_declarations_take_keyword_arguments_only():
    nps = REGISTRY["nps"]
    with pytest.raises(TypeError):
        Metric("x", "X", "%", "higher", "contacts", {})  # type: ignore[misc]
    with pytest.raises(TypeError):
        Formula("count", "x.", lambda t, c: t, "rows")  # type: ignore[misc]
    assert nps.variants["standard"].kind == "nps"


def test_each_family_module_declares_its_kpis_in_glossary_order():
    families = [
        [m.key for m in surveys.METRICS],
        [m.key for m in contacts.SERVICE],
        [m.key for m in calls.METRICS],
        [m.key for m in contacts.RATES],
        [m.key for m in volume.METRICS],
    ]
    assert families[0] == ["nps", "csat", "csat_mean", "ces"]
    assert families[2] == ["aht_seconds", "asa_seconds", "abandonment_rate", "service_level"]
    assert families[4] == ["contacts", "responses", "backlog"]
    assert [key for family in families for key in family] == list(KEYS)


# --- responses ---------------------------------------------------------------------------------


def _answer(**values):
    return {"responded_at": datetime(2025, 3, 4, 12), **values}


def test_nps_worked_example():
    # 10, 9, 9 promoters; 7 passive; 3 detractor; blank excluded: n 5, NPS = 100 x (3 - 1) / 5.
    scores = [10, 9, 9, 7, 3, None]
    m = total(make_store(responses=[_answer(nps=s) for s in scores]))["nps"]
    assert m.value == pytest.approx(40.0)
    assert m.n == 5 and m.extra == {"promoters": 3, "detractors": 1}
    interval = statistics.nps_interval(3, 1, 5)
    assert (m.ci_low, m.ci_high) == (interval.low, interval.high)
    # SE = 100 x sqrt((0.6 + 0.2 - 0.4^2) / 5) = 35.78
    assert statistics.nps_standard_error(3, 1, 5) == pytest.approx(35.777, abs=1e-3)
    assert m.small_sample and m.definition.startswith("NPS: ")


def test_six_promoters_of_six_have_an_interval_with_width_and_name_its_method():
    m = total(make_store(responses=[_answer(nps=10) for _ in range(6)]))["nps"]
    assert m.value == pytest.approx(100.0) and m.n == 6
    assert m.ci_low == pytest.approx(23.11, abs=1e-2) and m.ci_high == 100.0
    assert m.definition.endswith(f"95% interval: {statistics.NPS_METHOD}.")


def test_a_rate_names_the_wilson_interval():
    m = total(make_store(responses=[_answer(csat=5, csat_scale_min=1, csat_scale_max=5)]))
    assert m["csat"].definition.endswith("95% interval: Wilson score interval.")


def test_a_mean_of_equal_answers_has_no_interval_and_says_why():
    same = [_answer(csat=4, csat_scale_min=1, csat_scale_max=5) for _ in range(5)]
    m = total(make_store(responses=same))["csat_mean"]
    assert m.value == pytest.approx(4.0) and m.n == 5
    assert (m.ci_low, m.ci_high) == (None, None)
    assert m.definition.endswith(f"95% interval: {statistics.NO_SPREAD}.")
    one = total(make_store(responses=same[:1]))["csat_mean"]
    assert (one.n, one.ci_low, one.ci_high) == (1, None, None)
    assert one.definition.endswith(f"95% interval: {statistics.ONE_VALUE}.")
    spread = [_answer(csat=s, csat_scale_min=1, csat_scale_max=5) for s in (3, 4, 5)]
    m = total(make_store(responses=spread))["csat_mean"]
    assert m.ci_low < 4.0 < m.ci_high
    assert m.definition.endswith(f"95% interval: {statistics.MEAN_METHOD}.")


def test_csat_auto_rule_across_scales():
    rows = [_answer(csat=s, csat_scale_min=1, csat_scale_max=5) for s in (5, 4, 3, 1)]  # 2 of 4
    rows += [_answer(csat=s, csat_scale_min=1, csat_scale_max=2) for s in (2, 1, 2)]  # Good x2
    rows += [_answer(csat=s, csat_scale_min=1, csat_scale_max=3) for s in (3, 2)]  # top box: 1
    rows += [_answer(csat=s, csat_scale_min=1, csat_scale_max=10) for s in (9, 8)]  # 9-10: 1
    rows += [_answer(nps=5)]  # no CSAT: not in n
    m = total(make_store(responses=rows))["csat"]
    assert (m.numerator, m.denominator) == (2 + 2 + 1 + 1, 11)
    assert m.value == pytest.approx(100 * 6 / 11)
    wilson = statistics.wilson_interval(6, 11)
    assert m.ci_low == pytest.approx(100 * wilson.low) and m.ci_high == pytest.approx(
        100 * wilson.high
    )
    assert m.definition.startswith("CSAT (auto): ")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("top_box", 100 * 2 / 5), ("top_2_box", 100 * 4 / 5)],
)
def test_csat_other_rules(rule, expected):
    # 1-5: 5, 4, 3 -> top box 1, top-2 2; Good/Bad 2, 1 -> top box 1, top-2 2 (every point).
    rows = [_answer(csat=s, csat_scale_min=1, csat_scale_max=5) for s in (5, 4, 3)]
    rows += [_answer(csat=s, csat_scale_min=1, csat_scale_max=2) for s in (2, 1)]
    m = total(make_store(responses=rows), Settings(hours="calendar", csat_rule=rule))["csat"]
    assert m.value == pytest.approx(expected)
    assert m.variant == rule and f"CSAT ({rule.replace('_', ' ')})" in m.definition


def test_csat_mean_on_one_scale_and_refused_across_scales():
    one = [_answer(csat=s, csat_scale_min=1, csat_scale_max=5) for s in (5, 4, 3)]
    m = total(make_store(responses=one))["csat_mean"]
    assert m.value == pytest.approx(4.0) and m.n == 3
    assert "(1-5; its interval limited to the scale)" in m.definition and m.ci_high == 5.0
    assert m.extra["sd"] == pytest.approx(1.0)
    margin = 4.303 * 1.0 / math.sqrt(3)  # t(0.975, 2 df) = 4.303
    assert m.ci_low == pytest.approx(4.0 - margin, abs=1e-3)
    mixed = one + [_answer(csat=2, csat_scale_min=1, csat_scale_max=2)]
    m = total(make_store(responses=mixed))["csat_mean"]
    assert m.value is None and "different scales" in m.reason


def test_ces_easy_share_on_7_and_5_point_scales():
    rows = [_answer(ces=s, ces_scale_min=1, ces_scale_max=7) for s in (7, 5, 4, 1)]  # 7, 5 easy
    rows += [_answer(ces=s, ces_scale_min=1, ces_scale_max=5) for s in (5, 4, 3)]  # 5, 4 easy
    m = total(make_store(responses=rows))["ces"]
    assert (m.numerator, m.denominator) == (4, 7)
    strict = total(make_store(responses=rows), Settings(hours="calendar", ces_easy_top=2))["ces"]
    assert strict.numerator == 2  # 7 of 1-7; 5 of 1-5 (top 2 of 7 = the top sixth and more)


def test_responses_count_and_undated_answers():
    rows = [_answer(nps=9) for _ in range(4)] + [{"nps": 9, "responded_at": None}]
    store = make_store(responses=rows)
    assert total(store)["responses"].value == 5  # no dates set: undated answers count
    march = Filters(date_from=datetime(2025, 3, 1), date_to=datetime(2025, 3, 31))
    assert total(store, filters=march)["responses"].value == 4
    weekly = report(store, grain="week", as_of=AS_OF, settings=CAL, metrics=["responses", "nps"])
    periods = [(r.period, r.metrics["responses"].value) for r in weekly.rows]
    assert periods == [("2025-03-03", 4), ("undated", 1)]


# --- contacts ----------------------------------------------------------------------------------


def test_fcr_flag_excludes_abandoned_calls():
    rows = [{"first_contact_resolved": f} for f in (True, True, False, None)]
    rows.append({"first_contact_resolved": True, "answered": False})  # abandoned call
    m = total(make_store(rows))["fcr"]
    assert (m.numerator, m.denominator) == (2, 3)
    assert m.variant == "flag" and m.definition.startswith("FCR (flag): ")


def _resolved(**values):
    return {"status": "resolved", "resolved_at": datetime(2025, 3, 3, 12), **values}


def test_fcr_one_touch():
    rows = [
        _resolved(agent_replies=0, reopens=0),  # one touch
        _resolved(agent_replies=1),  # one touch (reopens unknown = none)
        _resolved(agent_replies=2, reopens=0),  # two replies
        _resolved(agent_replies=1, reopens=1),  # reopened
        {"status": "open", "agent_replies": 0},  # still open: outcome unknown
        _resolved(),  # no reply count: unknown
    ]
    m = total(make_store(rows))["fcr"]  # auto: no flags, so one_touch
    assert m.variant == "one_touch" and (m.numerator, m.denominator) == (2, 4)
    assert m.definition.startswith("FCR (one touch): ")


def test_fcr_no_repeat_window():
    d = datetime
    rows = [
        # Customer A: resolved 2 Mar, back on 5 Mar (within 7 days) -> repeat.
        {"customer_key": "A", "opened_at": d(2025, 3, 1), "resolved_at": d(2025, 3, 2)},
        # A's second contact: nothing after it, window ended 12 Mar <= as-of 28 Mar -> success.
        {"customer_key": "A", "opened_at": d(2025, 3, 5), "resolved_at": d(2025, 3, 5)},
        # B: next contact 20 Mar, after the window that ended 8 Mar -> success (twice).
        {"customer_key": "B", "opened_at": d(2025, 3, 1), "resolved_at": d(2025, 3, 1)},
        {"customer_key": "B", "opened_at": d(2025, 3, 20), "resolved_at": d(2025, 3, 20)},
        # C: resolved 25 Mar, window still running at the as-of instant -> unknown.
        {"customer_key": "C", "opened_at": d(2025, 3, 25), "resolved_at": d(2025, 3, 25)},
        # No customer key -> unknown; still open -> not resolved.
        {"opened_at": d(2025, 3, 2), "resolved_at": d(2025, 3, 2)},
        {"customer_key": "D", "opened_at": d(2025, 3, 2), "status": "open"},
    ]
    m = total(make_store(rows), as_of=d(2025, 3, 28))["fcr"]
    assert m.variant == "no_repeat"
    assert (m.numerator, m.denominator) == (3, 4)
    seven = Settings(hours="calendar", fcr_variant="no_repeat", fcr_repeat_window_days=20)
    m = total(make_store(rows), seven, as_of=d(2025, 4, 30))["fcr"]
    # 20-day window: A1 repeat, B1 repeat (20 Mar <= 21 Mar); A2, B2, C success.
    assert (m.numerator, m.denominator) == (3, 5)


def test_fcr_variant_forced_but_unsupported_is_null_with_reason():
    rows = [_resolved(agent_replies=1)]
    m = total(make_store(rows), Settings(hours="calendar", fcr_variant="flag"))["fcr"]
    assert m.value is None and m.reason == "no first-contact-resolution flags in the data"


def _sla_rows():
    d = datetime
    return [
        # c1 normal: reply 1 h (<= 8 met), resolved 24 h (<= 40 met) -> met.
        {"priority": "normal", "opened_at": d(2025, 3, 3, 9), "first_response_at": d(2025, 3, 3, 10),
         "resolved_at": d(2025, 3, 4, 9), "status": "resolved"},
        # c2 normal: reply 11 h (breached), resolved 12 h (met) -> breached overall.
        {"priority": "normal", "opened_at": d(2025, 3, 3, 9), "first_response_at": d(2025, 3, 3, 20),
         "resolved_at": d(2025, 3, 3, 21), "status": "closed"},
        # c3 urgent, open 30 min at as-of: within both targets -> left out.
        {"priority": "urgent", "opened_at": d(2025, 3, 10, 11, 30), "status": "open"},
        # c4 urgent, open 2 h, no reply: reply target 1 h breached; resolution 8 h still within.
        {"priority": "urgent", "opened_at": d(2025, 3, 10, 10), "status": "pending"},
        # c5 no priority (= normal): reply 3 h met; open 9 days > 40 h -> resolution breached.
        {"opened_at": d(2025, 3, 1, 9), "first_response_at": d(2025, 3, 1, 12), "status": "open"},
        # c6 closed with no times at all: no outcome anywhere.
        {"priority": "low", "status": "closed"},
    ]  # fmt: skip


def test_sla_outcomes_per_target_and_overall():
    m = total(make_store(_sla_rows()))
    assert (m["sla_first_response"].numerator, m["sla_first_response"].denominator) == (2, 4)
    assert (m["sla_resolution"].numerator, m["sla_resolution"].denominator) == (2, 3)
    assert (m["sla"].numerator, m["sla"].denominator) == (1, 4)
    assert m["sla"].variant == "targets"
    assert "first response and resolution" in m["sla"].definition
    assert "calendar hours" in m["sla"].definition


def test_first_response_and_resolution_hours():
    m = total(make_store(_sla_rows()))
    frt = m["first_response_hours"]  # replies after 1, 11 and 3 hours
    assert frt.value == pytest.approx(3.0) and frt.n == 3
    assert frt.extra["p90"] == pytest.approx(3 + 0.8 * (11 - 3))  # linear interpolation
    assert frt.extra["unanswered"] == 2  # c3, c4 still waiting
    res = m["resolution_hours"]  # 24 h and 12 h
    assert res.value == pytest.approx(18.0) and res.n == 2
    assert res.extra["p90"] == pytest.approx(12 + 0.9 * 12)
    assert res.extra["unresolved"] == 3  # c3, c4, c5


def test_sla_as_of_changes_open_outcomes():
    # At 10:45 on 10 Mar, c4 (urgent, opened 10:00) is 45 min old: within its 1 h target.
    early = total(make_store(_sla_rows()), as_of=datetime(2025, 3, 10, 10, 45))
    assert early["sla_first_response"].denominator == 3  # c1, c2, c5 (c3 not yet opened)
    # A custom target for urgent email moves c3 and c4 nowhere (they have no channel).
    custom = Settings(hours="calendar", sla_channel_targets={"email": {"urgent": (0.1, 0.2)}})
    assert total(make_store(_sla_rows()), custom)["sla"].denominator == 4


def test_sla_falls_back_to_the_source_flag_and_says_so():
    rows = [{"sla_met": f} for f in (True, False, True, None)]
    m = total(make_store(rows))
    assert m["sla"].variant == "source_flag"
    assert (m["sla"].numerator, m["sla"].denominator) == (2, 3)
    assert "source system" in m["sla"].definition
    assert m["sla_first_response"].value is None
    assert m["sla_first_response"].reason == "no first-response times in the data"


def test_the_source_flag_can_be_chosen_over_the_targets_and_says_so():
    # The same contacts with times (1 met of 4 by the targets) and the source's flags: c1 and
    # c2 flagged met, c4 not, the rest unflagged -> 2 of 3 by the flag.
    flags = [True, True, None, False, None, None]
    rows = [{**row, "sla_met": flag} for row, flag in zip(_sla_rows(), flags, strict=True)]
    store = make_store(rows)
    assert total(store)["sla"].variant == "targets"  # auto: the targets, as times exist
    chosen = total(store, Settings(hours="calendar", sla_variant="source_flag"))["sla"]
    assert chosen.variant == "source_flag"
    assert (chosen.numerator, chosen.denominator) == (2, 3)
    assert "chosen in settings over checking the targets here" in chosen.definition
    assert "has no response or resolution times" not in chosen.definition


def test_the_source_flag_chosen_without_flags_is_null_with_its_reason():
    m = total(make_store(_sla_rows()), Settings(hours="calendar", sla_variant="source_flag"))
    assert m["sla"].value is None
    assert m["sla"].reason == "no SLA flags from the source system in the data"


def test_targets_chosen_on_flag_only_data_is_null_with_its_reason():
    rows = [{"sla_met": True}, {"sla_met": False}]
    m = total(make_store(rows), Settings(hours="calendar", sla_variant="targets"))["sla"]
    assert m.variant == "targets" and m.value is None
    assert m.reason == "no response or resolution times in the data"


def test_resolution_time_says_when_the_closing_time_stood_in_and_for_how_many():
    d = datetime
    rows = [
        # Resolved 24 h after opening, by its resolved time.
        {"opened_at": d(2025, 3, 3, 9), "resolved_at": d(2025, 3, 4, 9), "status": "resolved"},
        # No resolved time: closed 12 h and 6 h after opening stand in.
        {"opened_at": d(2025, 3, 3, 9), "closed_at": d(2025, 3, 3, 21), "status": "closed"},
        {"opened_at": d(2025, 3, 3, 9), "closed_at": d(2025, 3, 3, 15), "status": "closed"},
        # Both: the resolved time counts (10 h), not the closing time.
        {"opened_at": d(2025, 3, 3, 9), "resolved_at": d(2025, 3, 3, 19),
         "closed_at": d(2025, 3, 5, 9), "status": "closed"},
    ]  # fmt: skip
    m = total(make_store(rows))["resolution_hours"]
    assert m.n == 4 and m.value == pytest.approx(11.0)  # median of 6, 10, 12, 24
    assert m.extra["closed_at_used"] == 2
    assert "or its closing time when the source gives no resolved time" in m.definition
    assert m.definition.endswith(
        "The closing time stood in for a missing resolved time on 2 of these contacts."
    )
    only_resolved = total(make_store([rows[0], rows[3]]))["resolution_hours"]
    assert only_resolved.extra["closed_at_used"] == 0
    assert "stood in" not in only_resolved.definition


def test_sla_uses_the_only_target_the_data_supports():
    d = datetime
    rows = [
        {"priority": "high", "opened_at": d(2025, 3, 3, 9), "resolved_at": d(2025, 3, 3, 20)},
        {"priority": "high", "opened_at": d(2025, 3, 3, 9), "resolved_at": d(2025, 3, 4, 9)},
    ]
    m = total(make_store(rows))
    assert (m["sla"].numerator, m["sla"].denominator) == (1, 2)  # 11 h met, 24 h > 16 h
    assert "only target" in m["sla"].definition


def _call(**values):
    return {"channel": "phone", **values}


def test_call_metrics_worked_example():
    rows = [
        _call(answered=True, wait_seconds=10, handle_seconds=300),
        _call(answered=True, wait_seconds=30, handle_seconds=600),
        _call(answered=True),  # answered, no wait: in abandonment, not in service level/ASA
        _call(answered=None, abandoned=False, wait_seconds=20),  # answered (not abandoned)
        _call(answered=False, wait_seconds=50, handle_seconds=100),  # abandoned after 50 s
        _call(answered=False, wait_seconds=3),  # short abandon: left out
        _call(answered=False),  # abandoned, wait unknown: kept
        _call(abandoned=True),  # abandoned
        {"channel": "email", "handle_seconds": 900},  # not a call: handled, not offered
    ]
    m = total(make_store(rows))
    # Offered (short abandon out) = 8; abandoned = 3 (50 s, unknown wait, flag).
    assert (m["abandonment_rate"].numerator, m["abandonment_rate"].denominator) == (3, 7)
    # Service level: offered with a wait or abandoned = 10 s, 30 s, 20 s, 50 s, two abandons
    # without wait = 6; answered within 20 s = 10 s and 20 s.
    assert (m["service_level"].numerator, m["service_level"].denominator) == (2, 6)
    assert m["asa_seconds"].value == pytest.approx(20.0) and m["asa_seconds"].n == 3
    # AHT over handled contacts with a handle time: 300, 600, 900 (the abandoned call's is out).
    assert m["aht_seconds"].value == pytest.approx(600.0) and m["aht_seconds"].n == 3
    keep_all = Settings(hours="calendar", short_abandon_seconds=0)
    assert total(make_store(rows), keep_all)["abandonment_rate"].numerator == 4


def test_reopen_escalation_complaint_and_counts():
    rows = [
        _resolved(reopens=0, escalated=True, complaint=True),
        _resolved(reopens=1, escalated=False, complaint=True),
        _resolved(reopens=2, escalated=False, complaint=False),
        _resolved(escalated=None, complaint=False),
        {"status": "open", "reopens": 1},
    ]
    m = total(make_store(rows))
    assert (m["reopen_rate"].numerator, m["reopen_rate"].denominator) == (2, 3)
    assert (m["escalation_rate"].numerator, m["escalation_rate"].denominator) == (1, 3)
    assert (m["complaint_rate"].numerator, m["complaint_rate"].denominator) == (2, 4)
    assert m["contacts"].value == 5 and m["contacts"].ci_low is None
    assert m["backlog"].value == 1


def test_backlog_counts_contacts_open_at_each_period_end():
    d = datetime
    rows = [
        {"opened_at": d(2025, 3, 3, 9), "resolved_at": d(2025, 3, 12), "status": "resolved"},
        {"opened_at": d(2025, 3, 4, 9), "status": "open"},
        {"opened_at": d(2025, 3, 11, 9), "resolved_at": d(2025, 3, 11, 10), "status": "closed"},
        {"opened_at": d(2025, 3, 11, 9), "status": "closed"},  # resolved, time unknown: never open
        {"opened_at": d(2025, 3, 11, 9), "answered": True},  # a call: no lifecycle, never open
    ]
    weekly = report(make_store(rows), grain="week", as_of=d(2025, 3, 14), settings=CAL,
                    metrics=["backlog", "contacts"])  # fmt: skip
    got = [(r.period, r.metrics["backlog"].value, r.metrics["contacts"].value) for r in weekly.rows]
    # Week of 3 Mar ends 10 Mar: both first contacts open. Week of 10 Mar: capped at as-of
    # 14 Mar: the first was resolved on 12 Mar, the second is still open.
    assert got == [("2025-03-03", 2, 2), ("2025-03-10", 1, 3)]


def test_empty_store_gives_nulls_with_reasons_and_zero_counts():
    m = total(make_store())
    for key, result in m.items():
        if REGISTRY[key].unit == "count":
            assert result.value == 0, key
        else:
            assert result.value is None and result.reason, key
            assert result.n == 0


def test_all_null_columns_are_unsupported_not_zero():
    m = total(make_store([{}, {}], [{"comment": "hi"}]))
    assert m["aht_seconds"].reason == "no handle times in the data"
    assert m["nps"].reason == "no NPS answers in the data"
    assert m["fcr"].reason and m["fcr"].value is None
    assert m["contacts"].value == 2 and m["responses"].value == 1


def test_small_sample_flag_follows_minimum_n():
    rows = [_answer(nps=10) for _ in range(5)]
    assert total(make_store(responses=rows))["nps"].small_sample
    loose = Settings(hours="calendar", minimum_n=5)
    assert not total(make_store(responses=rows), loose)["nps"].small_sample
