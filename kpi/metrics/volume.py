"""Volume KPIs: how many contacts were opened, how many survey answers were given, and how
many contacts are open (the backlog). Counts have no interval; the backlog is a stock, counted
at the end of each period rather than over it."""

from __future__ import annotations

import ibis

from kpi.metrics.definitions import Formula, Metric

CONTACTS = Metric(
    key="contacts",
    label="Contacts",
    unit="count",
    direction=None,
    table="contacts",
    variants={
        "standard": Formula(
            kind="count",
            definition="contacts opened in the period.",
            population=lambda t, c: ibis.literal(True),
            population_name="contacts",
        )
    },
)

RESPONSES = Metric(
    key="responses",
    label="Survey responses",
    unit="count",
    direction=None,
    table="responses",
    variants={
        "standard": Formula(
            kind="count",
            definition="survey answers given in the period (undated answers count only in a "
            "view over all the data).",
            population=lambda t, c: ibis.literal(True),
            population_name="survey answers",
        )
    },
)

BACKLOG = Metric(
    key="backlog",
    label="Backlog",
    unit="count",
    direction="lower",
    table="contacts",
    variants={
        "standard": Formula(
            kind="stock",
            definition="contacts open at the end of the period (or at the as-of instant if that "
            "is earlier), whenever they were opened; pending and on-hold count as open.",
            population=lambda t, c: ibis.literal(True),
            population_name="open contacts",
        )
    },
)

#: In the order the README glossary and the pages list them.
METRICS: tuple[Metric, ...] = (CONTACTS, RESPONSES, BACKLOG)
