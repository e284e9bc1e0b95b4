"""Survey KPIs, read from the responses table: NPS, CSAT (% satisfied), CSAT mean and CES.

CSAT and CES answers carry their own scale (``csat_scale_min``/``max``...), so the rules here are
stated as positions on a scale rather than as fixed scores.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kpi.metrics.definitions import Context, Formula, Metric, Rows, proportion


def _csat_satisfied(rule: str) -> Rows:
    def satisfied(t: ir.Table, context: Context) -> ir.BooleanValue:
        points = t.csat_scale_max - t.csat_scale_min + 1
        top_box = t.csat >= t.csat_scale_max
        top_two = t.csat >= t.csat_scale_max - 1
        if rule == "top_box":
            return top_box
        if rule == "top_2_box":
            return top_two
        return ibis.ifelse(points >= 4, top_two, top_box)

    return satisfied


def _csat_answers(t: ir.Table, context: Context) -> ir.BooleanValue:
    return t.csat.notnull() & t.csat_scale_min.notnull() & t.csat_scale_max.notnull()


def _ces_answers(t: ir.Table, context: Context) -> ir.BooleanValue:
    return t.ces.notnull() & t.ces_scale_min.notnull() & t.ces_scale_max.notnull()


def _ces_easy(t: ir.Table, context: Context) -> ir.BooleanValue:
    # Top k points of 1-7 = a position of at least (7 - k) / 6 along the scale; the same share
    # of any other scale (stored so that higher = easier).
    top = context.settings.ces_easy_top
    return (t.ces - t.ces_scale_min) * 6 >= (7 - top) * (t.ces_scale_max - t.ces_scale_min)


_CSAT_RULE_TEXT = {
    "auto": "% of CSAT answers that are satisfied: the top two points of a scale of 4 or more "
    "points (4-5 of 5, 9-10 of 10), the top point of a 2-3 point scale (Good of Good/Bad).",
    "top_box": "% of CSAT answers at the top point of their scale.",
    "top_2_box": "% of CSAT answers in the top two points of their scale.",
}

NPS = Metric(
    key="nps",
    label="NPS",
    unit="points",
    direction="higher",
    table="responses",
    scale=(0.0, 10.0),
    variants={
        "standard": Formula(
            kind="nps",
            definition="100 x (promoters scoring 9-10 - detractors scoring 0-6) / all "
            "likelihood-to-recommend answers; passives (7-8) count only in the total.",
            population=lambda t, c: t.nps.notnull(),
            population_name="NPS answers",
            success=lambda t, c: t.nps >= 9,
            failure=lambda t, c: t.nps <= 6,
            requires=("nps",),
            missing="no NPS answers in the data",
        )
    },
)

CSAT = Metric(
    key="csat",
    label="CSAT",
    unit="%",
    direction="higher",
    table="responses",
    scale=(1.0, 5.0),
    variants={
        rule: proportion(
            definition=text,
            population=_csat_answers,
            success=_csat_satisfied(rule),
            population_name="CSAT answers",
            requires=("csat",),
            missing="no CSAT answers in the data",
        )
        for rule, text in _CSAT_RULE_TEXT.items()
    },
    candidates=lambda s: (s.csat_rule,),
)

CSAT_MEAN = Metric(
    key="csat_mean",
    label="CSAT mean",
    unit="score",
    direction="higher",
    table="responses",
    scale=(1.0, 5.0),
    variants={
        "standard": Formula(
            kind="mean",
            definition="mean CSAT score on its own scale{scale}.",
            population=_csat_answers,
            population_name="CSAT answers",
            value=lambda t, c: t.csat,
            requires=("csat",),
            missing="no CSAT answers in the data",
            same_scale=("csat_scale_min", "csat_scale_max"),
        )
    },
)

CES = Metric(
    key="ces",
    label="CES",
    unit="%",
    direction="higher",
    table="responses",
    scale=(1.0, 7.0),
    variants={
        "standard": proportion(
            definition="% of effort answers in the 'easy' top {ces_easy_top} points of a 1-7 "
            "scale (the same share of other scales; direction normalised so higher = easier).",
            population=_ces_answers,
            success=_ces_easy,
            population_name="CES answers",
            requires=("ces",),
            missing="no CES answers in the data",
        )
    },
)

#: In the order the README glossary and the pages list them.
METRICS: tuple[Metric, ...] = (NPS, CSAT, CSAT_MEAN, CES)
