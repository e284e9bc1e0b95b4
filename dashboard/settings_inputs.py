"""The Settings page's input groups. Each draws its widgets (inside the page's form) and returns
what was chosen, as changes to apply to the store's Settings when the form is saved."""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from kpi.engine.tables import EMPTY
from kpi.metrics.business_hours import REGIONS
from kpi.metrics.settings import CSAT_RULES, FCR_VARIANTS, HOURS, SLA_VARIANTS, Settings
from kpi.metrics.settings_form import (
    BETTER,
    FIRST_RESPONSE,
    KPI,
    NO_TARGET,
    PRIORITY,
    RESOLUTION,
    SLA_VARIANT_HELP,
    SLA_VARIANT_LABEL,
    TARGET,
    UNIT,
    business_hours,
    choice_words,
    settings_from_tables,
    sla_table,
    targets_table,
)

FCR_CHOICES = ("auto", *FCR_VARIANTS)
SLA_CHOICES = ("auto", *SLA_VARIANTS)


def targets(current: Settings) -> pd.DataFrame:
    st.caption(
        "A KPI with no target shows no red/amber/green status. Better when: whether above "
        "(higher) or below (lower) the target is good."
    )
    return pd.DataFrame(
        st.data_editor(
            targets_table(current),
            hide_index=True,
            disabled=[KPI, UNIT],
            key="targets_editor",
            height="content",  # every KPI in view: a target below the fold is easily missed
            placeholder=NO_TARGET,
            column_config={
                TARGET: st.column_config.NumberColumn(format="%g"),
                BETTER: st.column_config.SelectboxColumn(options=["higher", "lower"]),
            },
        )
    )


def sla_policy(current: Settings) -> tuple[pd.DataFrame, dict[str, Any]]:
    hours = st.column_config.NumberColumn(format="%g h", min_value=0)
    sla = pd.DataFrame(
        st.data_editor(
            sla_table(current),
            hide_index=True,
            disabled=[PRIORITY],
            key="sla_editor",
            placeholder=EMPTY,
            column_config={FIRST_RESPONSE: hours, RESOLUTION: hours},
        )
    )
    left, middle, right = st.columns(3)
    counted = left.radio(
        "Count response and resolution times in",
        HOURS,
        index=HOURS.index(current.hours),
        format_func=choice_words,
        horizontal=True,
    )
    priorities = list(sla[PRIORITY])
    default = right.selectbox(
        "Contacts with no priority are held to",
        priorities,
        index=priorities.index(current.sla_default_priority),
    )
    variant = middle.selectbox(
        SLA_VARIANT_LABEL,
        SLA_CHOICES,
        index=SLA_CHOICES.index(current.sla_variant),
        format_func=lambda choice: choice_words(choice, "sla_variant"),
        help=SLA_VARIANT_HELP,
        key="sla_variant",
    )
    return sla, {"hours": counted, "sla_default_priority": default, "sla_variant": variant}


def _clock(text: str) -> time:
    return time.fromisoformat(text)


def working_hours(current: Settings) -> dict[str, Any]:
    """Monday-Friday hours, optional Saturday hours and the bank-holiday region."""
    hours = current.calendar()
    weekday, saturday, region = st.columns(3)
    monday = hours.weekly.get(0, ("09:00", "17:00"))
    opens = weekday.time_input("Monday-Friday open", _clock(monday[0]))
    closes = weekday.time_input("Monday-Friday close", _clock(monday[1]))
    sat = hours.weekly.get(5)
    sat_open = saturday.checkbox("Open on Saturday", value=sat is not None)
    sat_hours = (
        saturday.time_input("Saturday open", _clock((sat or ("09:00",))[0])),
        saturday.time_input("Saturday close", _clock((sat or ("09:00", "13:00"))[1])),
    )
    holidays = region.selectbox(
        "Bank holidays", REGIONS, index=REGIONS.index(hours.region), format_func=choice_words
    )
    return {
        "weekdays": (opens, closes),
        "saturday": sat_hours if sat_open else None,
        "region": holidays,
    }


def definitions(current: Settings) -> dict[str, Any]:
    """FCR variant and repeat window, CSAT rule, reporting time zone and minimum n."""
    a, b, c = st.columns(3)
    fcr = a.selectbox(
        "First-contact resolution",
        FCR_CHOICES,
        index=FCR_CHOICES.index(current.fcr_variant),
        format_func=choice_words,
        help="Automatic uses the first of the flag, one touch and no repeat rules that the "
        "data supports.",
    )
    window = a.number_input(
        "Repeat window in days (for the no repeat rule)", 1, 90, current.fcr_repeat_window_days
    )
    csat = b.selectbox(
        "CSAT satisfied =",
        CSAT_RULES,
        index=CSAT_RULES.index(current.csat_rule),
        format_func=lambda rule: choice_words(rule, "csat_rule"),
        help="Which answers count as satisfied.",
    )
    zones = sorted(available_timezones())
    timezone = c.selectbox("Reporting time zone", zones, index=zones.index(current.timezone))
    minimum_n = c.number_input(
        "Minimum n (smaller samples are flagged)", 1, 1000, current.minimum_n, key="minimum_n"
    )
    return {
        "fcr_variant": fcr,
        "fcr_repeat_window_days": int(window),
        "csat_rule": csat,
        "timezone": timezone,
        "minimum_n": int(minimum_n),
    }


def this_is_me(agents: list[str], me: str | None) -> str | None:
    choices = [None, *agents]
    return st.selectbox(
        "Which agent are you? (the Team page then shows you against the rest of your team)",
        choices,
        index=choices.index(me) if me in choices else 0,
        key="this_is_me",
        format_func=lambda a: a or "nobody: I am a supervisor",
    )


def apply(
    current: Settings,
    target_table: pd.DataFrame,
    sla: pd.DataFrame,
    changes: dict[str, Any],
    hours: dict[str, Any],
) -> Settings:
    """The Settings the form describes; ValueError with a one-line message when unusable."""
    chosen = settings_from_tables(current, target_table, sla)
    chosen = chosen.with_changes(
        **changes, business_hours=business_hours(timezone=changes["timezone"], **hours)
    )
    chosen.calendar()  # raises on impossible hours (closing before opening)
    return chosen
