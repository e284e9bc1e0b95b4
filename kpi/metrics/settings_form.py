"""Settings as the editable tables the Settings page shows, and back.

Kept apart from ``kpi.metrics.settings`` (the definitions themselves): this is only their layout
as rows a person edits, validated on the way back.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import time
from typing import Any, cast

import pandas as pd

from kpi.errors import InvalidChoice
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Direction, KpiTarget, Settings, SlaTarget
from kpi.store.schema import CHANNELS, PRIORITIES

#: The columns of the tables a person edits. The KPI's key is the targets table's index (kept
#: for saving, never shown).
KPI, TARGET, UNIT, BETTER = "KPI", "Target", "Unit", "Better when"
PRIORITY, FIRST_RESPONSE, RESOLUTION = "Priority", "First response (hours)", "Resolution (hours)"
#: What an empty target shows (the KPI then has no red/amber/green status).
NO_TARGET = "no target"

#: A KPI's unit as the Targets table says it beside the target.
UNIT_WORDS = {
    "%": "% (0-100)",
    "points": "NPS points (-100 to +100)",
    "hours": "hours",
    "seconds": "seconds",
    "count": "count",
    "score": "mean score",
}

#: The settings' choices in words, for the Settings page (the stored values are keys).
CHOICE_WORDS: dict[str, str] = {
    # FCR variants.
    "auto": "Automatic: the first rule the data supports",
    "flag": "Resolved-at-first-contact flag from the source system",
    "one_touch": "One touch: closed after at most one reply, never reopened",
    "no_repeat": "No repeat: the customer did not contact again within the window",
    # SLA variants.
    "targets": "The targets above (from the times)",
    "source_flag": "The source system's own SLA flag",
    # CSAT rules.
    "top_box": "Top box: only the highest score",
    "top_2_box": "Top two: the two highest scores",
    # Hours.
    "business": "Business hours",
    "calendar": "Calendar hours (24/7)",
    # Bank-holiday regions.
    "england-and-wales": "England and Wales",
    "scotland": "Scotland",
    "northern-ireland": "Northern Ireland",
    "none": "No bank holidays",
}
#: The CSAT rule "auto" reads differently from the FCR one.
CSAT_AUTO = "Automatic: top two of 4+ point scales, top score of 2-3 point scales"
#: So does the SLA one.
SLA_AUTO = "Automatic: the targets, else the flag"
#: The Settings page's words for the SLA choice.
SLA_VARIANT_LABEL = "SLA met means"
SLA_VARIANT_HELP = (
    "Which rule decides whether a contact met its SLA. Automatic checks the targets above "
    "when the data has response or resolution times, else uses the source system's own SLA "
    "flag. Choose the flag when your organisation reports SLA from that system, even if the "
    "export also has the times."
)


def choice_words(choice: str, setting: str = "") -> str:
    """A setting's stored choice in words ("one_touch" -> "One touch: ..."); the CSAT and SLA
    rules' "auto" have their own wording."""
    if setting == "csat_rule" and choice == "auto":
        return CSAT_AUTO
    if setting == "sla_variant" and choice == "auto":
        return SLA_AUTO
    return CHOICE_WORDS.get(choice, choice.replace("_", " "))


def targets_table(settings: Settings) -> pd.DataFrame:
    """One row per KPI that has a direction, indexed by its key: KPI, target (empty = none),
    its unit, and whether higher or lower is better."""
    rows, keys = [], []
    for key, metric in REGISTRY.items():
        if metric.direction is None:
            continue
        target = settings.targets.get(key)
        keys.append(key)
        rows.append(
            {
                KPI: metric.label,
                TARGET: target.value if target else None,
                UNIT: UNIT_WORDS.get(metric.unit, metric.unit),
                BETTER: target.direction if target else metric.direction,
            }
        )
    index = pd.Index(keys, name="key")
    return pd.DataFrame(rows, columns=[KPI, TARGET, UNIT, BETTER], index=index).astype(
        {TARGET: float}
    )


def sla_table(settings: Settings) -> pd.DataFrame:
    rows = []
    for priority in reversed(PRIORITIES):  # urgent first, as service standards list them
        target = settings.sla_targets.get(priority)
        rows.append(
            {
                PRIORITY: priority,
                FIRST_RESPONSE: float(target.first_response_hours) if target else None,
                RESOLUTION: float(target.resolution_hours) if target else None,
            }
        )
    return pd.DataFrame(rows).astype({FIRST_RESPONSE: float, RESOLUTION: float})


def _number(value: Any) -> float | None:
    """A table cell as a number; None for an empty cell (None, NaN or "")."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return float(value)


def settings_from_tables(settings: Settings, targets: pd.DataFrame, sla: pd.DataFrame) -> Settings:
    """``settings`` with the targets and SLA policy the edited tables describe. Raises
    InvalidChoice (a ValueError) for a negative or missing SLA target."""
    return settings.with_changes(targets=_kpi_targets(targets), sla_targets=_sla_targets(sla))


def _kpi_targets(targets: pd.DataFrame) -> dict[str, KpiTarget]:
    """The KPI targets of the rows with a target; an empty target means none."""
    chosen = {}
    for key, value, direction in zip(targets.index, targets[TARGET], targets[BETTER], strict=True):
        number = _number(value)
        if number is not None:
            # Settings validates the direction, with a message naming the KPI.
            chosen[str(key)] = KpiTarget(number, cast(Direction, direction))
    return chosen


def _sla_targets(sla: pd.DataFrame) -> dict[str, SlaTarget]:
    """The SLA targets per priority; every priority needs both, and both positive."""
    chosen = {}
    for priority, first_text, resolution_text in zip(
        sla[PRIORITY], sla[FIRST_RESPONSE], sla[RESOLUTION], strict=True
    ):
        first, resolution = _number(first_text), _number(resolution_text)
        if first is None or resolution is None or first <= 0 or resolution <= 0:
            raise InvalidChoice(
                f"the {priority} priority needs positive first-response and resolution targets"
            )
        chosen[str(priority)] = SlaTarget(first, resolution)
    return chosen


def business_hours(
    weekdays: tuple[time, time],
    saturday: tuple[time, time] | None,
    region: str,
    timezone: str,
) -> dict[str, Any]:
    """The settings' business-hours dict: the same hours Monday to Friday, Saturday optional."""
    weekly = {str(day): [f"{weekdays[0]:%H:%M}", f"{weekdays[1]:%H:%M}"] for day in range(5)}
    if saturday is not None:
        weekly["5"] = [f"{saturday[0]:%H:%M}", f"{saturday[1]:%H:%M}"]
    return {"timezone": timezone, "weekly": weekly, "region": region}


# --- every setting as KEY = VALUE (the `kpi settings` command and `kpi report --set`) ----------


@dataclass(frozen=True)
class SettingKey:
    """One setting a person can read and change by name: what it means, what it accepts, how
    its value reads as text, and how a text value changes the settings."""

    key: str
    description: str
    allowed: str
    read: Callable[[Settings], str]
    write: Callable[[Settings, str], Settings]

    def value(self, settings: Settings) -> str:
        return self.read(settings)

    def default(self) -> str:
        return self.read(Settings())

    def set(self, settings: Settings, text: str) -> Settings:
        """``settings`` with this one changed; InvalidChoice naming the allowed values when the
        text is not one of them."""
        try:
            changed = self.write(settings, text.strip())
            changed.calendar()  # impossible business hours fail here, not mid-report
        except InvalidChoice as problem:
            detail = str(problem).strip().rstrip(".")
            why = f" ({detail})" if detail else ""
            raise InvalidChoice(
                f"{self.key} cannot be {text!r}{why}; allowed: {self.allowed}"
            ) from None
        return changed


def _bad(what: str) -> InvalidChoice:
    return InvalidChoice(f"not {what}")


def _text_number(value: float) -> str:
    return f"{value:g}"


def _as_number(text: str, *, minimum: float | None = None, above: float | None = None) -> float:
    try:
        number = float(text)
    except ValueError:
        raise _bad("a number") from None
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise _bad("a number in range")
    if above is not None and number <= above:
        raise _bad("a number in range")
    return number


def _as_whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _bad("a whole number") from None


def _as_choice(text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise InvalidChoice("")  # the allowed values say it all
    return text


def _plain_key(
    name: str, description: str, allowed: str, parse: Callable[[str], Any]
) -> SettingKey:
    """A setting that is one field of Settings."""
    return SettingKey(
        key=name,
        description=description,
        allowed=allowed,
        read=lambda s: _text_number(v) if isinstance(v := getattr(s, name), float) else str(v),
        write=lambda s, text: s.with_changes(**{name: parse(text)}),
    )


def _choice_key(name: str, description: str, allowed: tuple[str, ...]) -> SettingKey:
    return _plain_key(name, description, ", ".join(allowed), lambda t: _as_choice(t, allowed))


def _with_timezone(settings: Settings, text: str) -> Settings:
    # Business hours are kept in the reporting time zone, as the Settings page keeps them.
    hours = settings.calendar().to_dict() if settings.business_hours else {}
    if hours:
        hours["timezone"] = text
    return settings.with_changes(timezone=text, business_hours=hours)


def _definition_keys() -> list[SettingKey]:
    """The rules behind the numbers: FCR, CSAT, CES, calls, SLA, hours, time zone, minimum n."""
    from kpi.metrics.settings import CSAT_RULES, FCR_VARIANTS, HOURS, SLA_VARIANTS

    return [
        _choice_key("fcr_variant", SETTING_WORDS["fcr_variant"], ("auto", *FCR_VARIANTS)),
        _plain_key(
            "fcr_repeat_window_days",
            SETTING_WORDS["fcr_repeat_window_days"],
            "a whole number of days, 1 or more",
            _as_whole,
        ),
        _choice_key("csat_rule", SETTING_WORDS["csat_rule"], CSAT_RULES),
        _plain_key(
            "ces_easy_top", SETTING_WORDS["ces_easy_top"], "a whole number, 1 to 6", _as_whole
        ),
        _plain_key(
            "short_abandon_seconds",
            SETTING_WORDS["short_abandon_seconds"],
            "seconds, 0 or more",
            lambda t: _as_number(t, minimum=0),
        ),
        _plain_key(
            "service_level_seconds",
            SETTING_WORDS["service_level_seconds"],
            "seconds, more than 0",
            lambda t: _as_number(t, above=0),
        ),
        _choice_key("sla_variant", SETTING_WORDS["sla_variant"], ("auto", *SLA_VARIANTS)),
        _choice_key("sla_default_priority", SETTING_WORDS["sla_default_priority"], PRIORITIES),
        _choice_key("hours", SETTING_WORDS["hours"], HOURS),
        SettingKey(
            key="timezone",
            description=SETTING_WORDS["timezone"],
            allowed="a time zone name such as Europe/London or America/New_York",
            read=lambda s: s.timezone,
            write=_with_timezone,
        ),
        _plain_key(
            "minimum_n", SETTING_WORDS["minimum_n"], "a whole number from 1 to 100000", _as_whole
        ),
    ]


def _sla_target_key(priority: str, attr: str) -> SettingKey:
    what = "first reply" if attr == "first_response_hours" else "resolution"

    def read(settings: Settings) -> str:
        target = settings.sla_targets.get(priority)
        return _text_number(getattr(target, attr)) if target else NO_TARGET

    def write(settings: Settings, text: str) -> Settings:
        hours = _as_number(text, above=0)
        current = settings.sla_targets.get(priority) or Settings().sla_targets[priority]
        targets = {**settings.sla_targets, priority: replace(current, **{attr: hours})}
        return settings.with_changes(sla_targets=targets)

    return SettingKey(
        key=f"sla_targets.{priority}.{attr}",
        description=f"SLA: hours to the {what} for {priority} priority contacts.",
        allowed="hours, more than 0 and at most 8760 (a year)",
        read=read,
        write=write,
    )


def _channel_target_key(channel: str, priority: str) -> SettingKey:
    """An override of one priority's targets on one channel, as "FIRST/RESOLUTION" hours."""

    def read(settings: Settings) -> str:
        target = settings.sla_channel_targets.get(channel, {}).get(priority)
        if target is None:
            return NO_TARGET
        return f"{target.first_response_hours:g}/{target.resolution_hours:g}"

    def write(settings: Settings, text: str) -> Settings:
        by_channel = {c: dict(t) for c, t in settings.sla_channel_targets.items()}
        chosen = by_channel.setdefault(channel, {})
        if text.lower() in (NO_TARGET, "none", ""):
            chosen.pop(priority, None)
        else:
            first, _, resolution = text.partition("/")
            chosen[priority] = SlaTarget(
                _as_number(first, above=0), _as_number(resolution, above=0)
            )
        return settings.with_changes(sla_channel_targets={c: t for c, t in by_channel.items() if t})

    return SettingKey(
        key=f"sla_channel_targets.{channel}.{priority}",
        description=f"SLA on {channel} only: first-reply/resolution hours for {priority} "
        "priority, instead of the priority's own.",
        allowed=f"FIRST/RESOLUTION hours such as 2/8, or {NO_TARGET}",
        read=read,
        write=write,
    )


def _kpi_target_keys(key: str, label: str, unit: str, direction: str) -> list[SettingKey]:
    def read_value(settings: Settings) -> str:
        target = settings.targets.get(key)
        return _text_number(target.value) if target else NO_TARGET

    def write_value(settings: Settings, text: str) -> Settings:
        targets = dict(settings.targets)
        if text.lower() in (NO_TARGET, "none", ""):
            targets.pop(key, None)
        else:
            old = targets.get(key)
            kept = old.direction if old else cast(Direction, direction)
            targets[key] = KpiTarget(_as_number(text), kept)
        return settings.with_changes(targets=targets)

    def read_direction(settings: Settings) -> str:
        target = settings.targets.get(key)
        return target.direction if target else direction

    def write_direction(settings: Settings, text: str) -> Settings:
        old = settings.targets.get(key)
        if old is None:
            raise InvalidChoice("the KPI has no target yet: set its value first")
        chosen = cast(Direction, _as_choice(text, ("higher", "lower")))
        return settings.with_changes(
            targets={**settings.targets, key: replace(old, direction=chosen)}
        )

    return [
        SettingKey(
            key=f"targets.{key}",
            description=f"Target for {label} (red/amber/green status); {NO_TARGET} for none.",
            allowed=f"a number in {UNIT_WORDS.get(unit, unit)}, or {NO_TARGET}",
            read=read_value,
            write=write_value,
        ),
        SettingKey(
            key=f"targets.{key}.direction",
            description=f"Whether {label} above (higher) or below (lower) its target is good.",
            allowed="higher, lower",
            read=read_direction,
            write=write_direction,
        ),
    ]


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CLOSED = "closed"


def _day_key(day: int) -> SettingKey:
    def read(settings: Settings) -> str:
        hours = settings.calendar().weekly.get(day)
        return f"{hours[0]}-{hours[1]}" if hours else CLOSED

    def write(settings: Settings, text: str) -> Settings:
        data = settings.calendar().to_dict()
        data["timezone"] = settings.timezone
        weekly = dict(data["weekly"])
        if text.lower() == CLOSED:
            weekly.pop(str(day), None)
        else:
            opens, dash, closes = text.partition("-")
            if not dash:
                raise _bad("opening-closing times")
            weekly[str(day)] = [opens.strip(), closes.strip()]
        return settings.with_changes(business_hours={**data, "weekly": weekly})

    return SettingKey(
        key=f"business_hours.{_WEEKDAYS[day]}",
        description=f"Business hours on {_WEEKDAYS[day].title()} (local time), or {CLOSED}.",
        allowed=f"HH:MM-HH:MM such as 09:00-17:00, or {CLOSED}",
        read=read,
        write=write,
    )


def _region_key() -> SettingKey:
    from kpi.metrics.business_hours import REGIONS

    def write(settings: Settings, text: str) -> Settings:
        data = settings.calendar().to_dict()
        data.update(timezone=settings.timezone, region=_as_choice(text, REGIONS))
        return settings.with_changes(business_hours=data)

    return SettingKey(
        key="business_hours.region",
        description="Whose bank holidays are not business days.",
        allowed=", ".join(REGIONS),
        read=lambda s: s.calendar().region,
        write=write,
    )


#: What each plain setting means, in the words `kpi settings` shows.
SETTING_WORDS: dict[str, str] = {
    "fcr_variant": "Which first-contact resolution rule counts (auto: the first the data supports).",
    "fcr_repeat_window_days": "No repeat FCR: a contact again within this many days is a repeat.",
    "csat_rule": "Which CSAT answers count as satisfied (auto: top two of 4+ point scales).",
    "ces_easy_top": "CES: how many top points of a 1-7 scale count as easy.",
    "short_abandon_seconds": "Calls abandoned sooner than this are left out of abandonment.",
    "service_level_seconds": "Service level: calls answered within this many seconds.",
    "sla_variant": "SLA met by the targets here or by the source's own SLA flag (auto: the "
    "targets when the data has response or resolution times, else the flag).",
    "sla_default_priority": "The SLA targets a contact with no priority is held to.",
    "hours": "Count response, resolution and SLA times in business or calendar hours.",
    "timezone": "Days, weeks and months are read in this time zone.",
    "minimum_n": "Results from fewer answers or contacts than this are flagged as small samples.",
}


def setting_keys(settings: Settings | None = None) -> dict[str, SettingKey]:
    """Every setting by its key, in the order `kpi settings` lists them. Per-channel SLA
    overrides are listed when ``settings`` has them; any channel and priority can be set."""
    keys = _definition_keys()
    keys += [_sla_target_key(p, a) for p in reversed(PRIORITIES) for a in _SLA_ATTRS]
    for channel, by_priority in (settings.sla_channel_targets if settings else {}).items():
        keys += [_channel_target_key(channel, p) for p in by_priority]
    for key, metric in REGISTRY.items():
        if metric.direction is not None:
            keys += _kpi_target_keys(key, metric.label, metric.unit, metric.direction)
    keys += [_day_key(day) for day in range(7)] + [_region_key()]
    return {k.key: k for k in keys}


_SLA_ATTRS = ("first_response_hours", "resolution_hours")


def setting_key(key: str, settings: Settings | None = None) -> SettingKey:
    """The setting called ``key``; InvalidChoice naming the nearest keys when there is none."""
    keys = setting_keys(settings)
    if key in keys:
        return keys[key]
    channel = _channel_override(key)
    if channel is not None:
        return _channel_target_key(*channel)
    near = difflib.get_close_matches(key, list(keys), n=3)
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise InvalidChoice(f"there is no setting {key!r}; {hint}`kpi settings` lists them all")


def _channel_override(key: str) -> tuple[str, str] | None:
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "sla_channel_targets" and parts[1] in CHANNELS:
        return (parts[1], parts[2]) if parts[2] in PRIORITIES else None
    return None


def with_settings(settings: Settings, assignments: Iterable[str]) -> Settings:
    """``settings`` with each "KEY=VALUE" applied (`kpi report --set`); a key given twice is
    refused, since which of the two won would be a guess."""
    for key, value in _assignments(assignments):
        settings = setting_key(key, settings).set(settings, value)
    return settings


def _assignments(assignments: Iterable[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        if not equals:
            raise InvalidChoice(
                f"--set {assignment!r} is not KEY=VALUE, e.g. sla_variant=source_flag"
            )
        if key.strip() in {k for k, _ in pairs}:
            raise InvalidChoice(f"{key.strip()} is set twice; give it once")
        pairs.append((key.strip(), value))
    return pairs


def overrides_line(settings: Settings, assignments: Iterable[str]) -> str | None:
    """What `kpi report --set` changed, as the report prints it before its table: "for this
    report only: fcr_variant = flag"; None when nothing was set."""
    keys = [key for key, _ in _assignments(assignments)]
    if not keys:
        return None
    said = ", ".join(f"{k} = {setting_key(k, settings).value(settings)}" for k in keys)
    return f"for this report only: {said} (nothing saved)"
