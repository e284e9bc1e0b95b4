"""Call KPIs, read from the contacts table: average handle time, average speed of answer,
abandonment rate and service level.

Short abandons (calls abandoned within ``short_abandon_seconds``) are left out of the offered
calls (``offered_eff`` in ``kpi.metrics.contact_facts``), as contact centres usually count them.
"""

from __future__ import annotations

from kpi.metrics.contact_facts import is_true
from kpi.metrics.definitions import Formula, Metric, proportion

AHT_SECONDS = Metric(
    key="aht_seconds",
    label="Average handle time",
    unit="seconds",
    direction="lower",
    table="contacts",
    variants={
        "standard": Formula(
            kind="mean",
            definition="mean handle time (talk + hold + wrap) in seconds of handled contacts "
            "that have one.",
            population=lambda t, c: t.handled & t.handle_seconds.notnull(),
            population_name="handled contacts with a handle time",
            value=lambda t, c: t.handle_seconds,
            requires=("handle_seconds",),
            missing="no handle times in the data",
        )
    },
)

ASA_SECONDS = Metric(
    key="asa_seconds",
    label="Average speed of answer",
    unit="seconds",
    direction="lower",
    table="contacts",
    variants={
        "standard": Formula(
            kind="mean",
            definition="mean wait in the queue, in seconds, of answered calls.",
            population=lambda t, c: t.answered_eff & t.wait_seconds.notnull(),
            population_name="answered calls with a wait time",
            value=lambda t, c: t.wait_seconds,
            requires=("wait_seconds",),
            missing="no wait times in the data",
        )
    },
)

ABANDONMENT_RATE = Metric(
    key="abandonment_rate",
    label="Abandonment rate",
    unit="%",
    direction="lower",
    table="contacts",
    variants={
        "standard": proportion(
            definition="% of offered calls the caller abandoned; calls abandoned within "
            "{short_abandon_seconds:g} s (short abandons) are left out of both counts "
            "when wait times exist.",
            population=lambda t, c: t.offered_eff,
            success=lambda t, c: t.abandoned_eff,
            population_name="offered calls",
            requires=("offered",),
            missing="no answered or abandoned calls in the data",
        )
    },
)

SERVICE_LEVEL = Metric(
    key="service_level",
    label="Service level",
    unit="%",
    direction="higher",
    table="contacts",
    variants={
        "standard": proportion(
            definition="% of offered calls answered within {service_level_seconds:g} s; short "
            "abandons (under {short_abandon_seconds:g} s) are left out, and so are "
            "answered calls with no wait time.",
            population=lambda t, c: t.offered_eff & (t.abandoned_eff | t.wait_seconds.notnull()),
            success=lambda t, c: (
                t.answered_eff & is_true(t.wait_seconds <= c.settings.service_level_seconds)
            ),
            population_name="offered calls",
            requires=("wait_seconds",),
            missing="no call wait times in the data",
        )
    },
)

#: In the order the README glossary and the pages list them.
METRICS: tuple[Metric, ...] = (AHT_SECONDS, ASA_SECONDS, ABANDONMENT_RATE, SERVICE_LEVEL)
