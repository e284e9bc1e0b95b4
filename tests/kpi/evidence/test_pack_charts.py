"""A pack's charts made to stand alone: part weeks left out and named, titles with KPI, segment,
period and n, axis titles with units, targets, a colleague never named by a filter, alt text."""

from __future__ import annotations

from datetime import date

from kpi.charts.spec import ChartSpec
from kpi.engine.filters import Filters
from kpi.evidence import pack_charts
from kpi.evidence.reflections import SmartAction
from kpi.insights.insight_segment import Segment
from kpi.metrics.settings import Settings

CONTEXT = pack_charts.Context(
    learner="Amelia Booth",
    reference="EV-0003",
    cutoff="31 Mar 2026 17:00 UTC",
    sources=("zendesk_tickets.csv",),
    period="1 Mar 2026 to 31 Mar 2026",
    segment="all contacts",
    first_day=date(2026, 3, 1),
    last_day=date(2026, 3, 31),
)


def _weekly() -> ChartSpec:
    weeks = ("2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30")
    rows = tuple({"week": w, "value": 80.0 + i, "n": 10 if i in (0, 5) else 100}
                 for i, w in enumerate(weeks))  # fmt: skip
    return ChartSpec("line", "CSAT by week", "week", "value", rows, unit="%")


def test_part_weeks_at_either_end_are_left_out_and_named() -> None:
    spec = pack_charts.whole_weeks_only(_weekly(), date(2026, 3, 1), date(2026, 3, 31))
    assert [r["week"] for r in spec.rows] == [
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
        "2026-03-23",
    ]
    assert spec.subtitle == (
        "Whole weeks only: part weeks w/c 23 Feb 2026 (1 of 7 days) and w/c 30 Mar 2026 "
        "(2 of 7 days) left out"
    )


def test_a_chart_stands_alone_with_title_axes_targets_and_footer() -> None:
    action = SmartAction(
        "Call back every open complaint within a day", "csat", 85.0, date(2026, 5, 1)
    )
    spec = pack_charts.stand_alone(_weekly(), "csat", CONTEXT, Settings(), action, Segment())
    assert spec.title == (
        "CSAT by week, all survey answers, w/c 2 Mar 2026 to w/c 23 Mar 2026, n = 400 answers"
    )
    assert (spec.x_title, spec.y_title) == ("Week starting (Monday)", "CSAT (%)")
    assert spec.lines == {"target": 85.0, "SMART target 85.0%": 85.0}
    assert spec.footer == (
        "Amelia Booth · evidence EV-0003 · data cut-off 31 Mar 2026 17:00 UTC · "
        "source: zendesk_tickets.csv"
    )


def test_an_indexed_chart_bands_its_n_and_names_its_axis_an_index() -> None:
    indexed = pack_charts.Context(**{**CONTEXT.__dict__, "indexed": True})
    spec = pack_charts.stand_alone(_weekly(), "csat", indexed, Settings())
    assert spec.title.endswith("n = under 1,000 answers") and spec.y_title == "CSAT (index)"


def test_a_breach_heat_map_and_a_pareto_name_their_axes() -> None:
    heat = ChartSpec("heatmap", "SLA breach rate by weekday and hour opened, email", "hour",
                     "day", ({"day": "Mon", "hour": 9, "value": 50.0, "n": 40},), unit="%",
                     z="value")  # fmt: skip
    heat = pack_charts.stand_alone(heat, "sla", CONTEXT, Settings())
    assert (heat.x_title, heat.y_title, heat.z_title) == (
        "Hour the contact was opened (local time)", "Weekday", "SLA breach rate (%)")  # fmt: skip
    assert heat.lines == {}  # a breach rate is not the SLA: no SLA target on it
    pareto = ChartSpec("pareto", "Pareto of complaints by category", "category", "count",
                       ({"category": "Billing", "count": 30, "n": 200},), unit="count")  # fmt: skip
    pareto = pack_charts.stand_alone(pareto, "complaint_rate", CONTEXT, Settings())
    assert (pareto.x_title, pareto.y_title) == ("Category", "Complaints (number)")
    assert pareto.title.endswith("n = 200 contacts")


def test_a_filter_on_a_colleague_never_names_them() -> None:
    filters = Filters(agent=("Daniel Haigh", "Amelia Booth"), channel=("email",))
    words = pack_charts.segment_words(filters, "Amelia Booth")
    # The colleague is counted, not named (``redaction.colleagues_phrase`` words it).
    assert "Daniel" not in words and "colleague" in words and "Amelia Booth" in words
    assert pack_charts.segment_words(Filters(), "Amelia Booth") == "all contacts"


def test_alt_text_says_what_the_chart_shows() -> None:
    spec = pack_charts.stand_alone(_weekly(), "csat", CONTEXT, Settings())
    text = pack_charts.alt_text(spec)
    assert text.startswith("Line chart: CSAT by week, all survey answers")
    assert "Across: Week starting (Monday); up: CSAT (%)." in text
    assert "4 points, values from 81.0% to 84.0%." in text
    assert "Target line at 85.0%." in text


def test_the_smart_target_is_drawn_only_on_a_chart_of_the_actions_segment() -> None:
    billing = Segment(category=("Billing",))
    action = SmartAction("Send the bill explainer", "csat", 85.0, date(2026, 5, 1), billing)
    everyone = pack_charts.stand_alone(_weekly(), "csat", CONTEXT, Settings(), action, Segment())
    assert everyone.lines == {"target": 85.0}  # the team's target only: no SMART line
    assert everyone.title.endswith(
        "n = 400 answers. SMART target applies to category Billing, shown on its before/after chart"
    )
    own = pack_charts.stand_alone(_weekly(), "csat", CONTEXT, Settings(), action, billing)
    assert own.lines == {"target": 85.0, "SMART target 85.0%": 85.0}
    assert "SMART target applies" not in own.title
