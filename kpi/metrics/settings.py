"""The KPI definitions a team can choose, with the documented defaults, kept in the store.

Every choice here changes what a number means, so each result's definition text is built from
these values (see ``kpi.metrics.registry``): a report always says which rule produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kpi.errors import InvalidChoice
from kpi.store import audit
from kpi.store.batches import importer_name
from kpi.store.schema import CHANNELS, PRIORITIES

#: The key of the settings table row that holds the definitions (one JSON object).
SETTINGS_KEY = "kpi.definitions"

FCR_VARIANTS = ("flag", "one_touch", "no_repeat")
#: SLA met: checked against the targets here, or the source system's own SLA flag.
SLA_VARIANTS = ("targets", "source_flag")
CSAT_RULES = ("auto", "top_box", "top_2_box")
HOURS = ("business", "calendar")
DIRECTIONS = ("higher", "lower")

Direction = Literal["higher", "lower"]

#: The largest minimum_n a team can set: above it every figure would be a small sample.
MAX_MINIMUM_N = 100_000
#: SLA targets are hours above 0 and at most a year: anything longer is a typing mistake.
MAX_SLA_HOURS = 8760.0
#: The values a KPI's target can take, by the KPI's unit (a share, NPS points, a duration).
TARGET_RANGES: dict[str, tuple[float, float, str]] = {
    "%": (0.0, 100.0, "between 0 and 100 (%)"),
    "points": (-100.0, 100.0, "between -100 and +100 (NPS points)"),
    "hours": (0.0, MAX_SLA_HOURS, "between 0 and 8760 hours"),
    "seconds": (0.0, 86_400.0, "between 0 and 86400 seconds"),
    "count": (0.0, 1e9, "between 0 and 1000000000"),
}


@dataclass(frozen=True)
class SlaTarget:
    """Service-level targets for one priority, in hours (business or calendar, per settings)."""

    first_response_hours: float
    resolution_hours: float


@dataclass(frozen=True)
class KpiTarget:
    """A team's target for one KPI; direction says whether above the target is good."""

    value: float
    direction: Direction = "higher"


def _default_sla_targets() -> dict[str, SlaTarget]:
    # Examples only, to be replaced with the organisation's own service standards.
    return {
        "urgent": SlaTarget(1, 8),
        "high": SlaTarget(4, 16),
        "normal": SlaTarget(8, 40),
        "low": SlaTarget(16, 80),
    }


def _default_kpi_targets() -> dict[str, KpiTarget]:
    # Examples only (common UK contact-centre aims), shown as such in the settings page.
    return {
        "csat": KpiTarget(85, "higher"),
        "fcr": KpiTarget(70, "higher"),
        "sla": KpiTarget(90, "higher"),
        "service_level": KpiTarget(80, "higher"),
        "abandonment_rate": KpiTarget(5, "lower"),
        "nps": KpiTarget(30, "higher"),
    }


@dataclass(frozen=True)
class Settings:
    """User-choosable KPI definitions. ``Settings()`` is the default set."""

    #: "auto" = the first of flag, one_touch, no_repeat that the data supports.
    fcr_variant: str = "auto"
    #: no_repeat: a further contact from the same customer within this many days is a repeat.
    fcr_repeat_window_days: int = 7
    #: "auto" = top-2-box on scales of 4+ points, top box on 2-3 point scales.
    csat_rule: str = "auto"
    #: CES "easy" = this many top points of a 1-7 scale (the same share of other scales).
    ces_easy_top: int = 3
    #: Calls abandoned after waiting less than this are left out of abandonment and service
    #: level (when wait times exist); 0 keeps every abandon.
    short_abandon_seconds: float = 5.0
    #: Service level = answered within this many seconds of being offered.
    service_level_seconds: float = 20.0
    #: "auto" = the targets when the data has response or resolution times, else the source's
    #: own SLA flag; "targets" or "source_flag" use that one whatever else the data has.
    sla_variant: str = "auto"
    sla_targets: dict[str, SlaTarget] = field(default_factory=_default_sla_targets)
    #: Optional per-channel overrides: channel -> priority -> targets.
    sla_channel_targets: dict[str, dict[str, SlaTarget]] = field(default_factory=dict)
    #: The targets a contact with no priority is held to.
    sla_default_priority: str = "normal"
    #: Response, resolution and SLA times in "business" or "calendar" hours.
    hours: str = "business"
    #: kpi.metrics.business_hours.BusinessHours.to_dict(); empty means the calendar's defaults.
    business_hours: dict[str, Any] = field(default_factory=dict)
    #: Periods (days, weeks, months, date filters) are read in this time zone.
    timezone: str = "Europe/London"
    #: Results with n below this are flagged as small samples.
    minimum_n: int = 30
    targets: dict[str, KpiTarget] = field(default_factory=_default_kpi_targets)

    def __post_init__(self) -> None:
        # Accept plain pairs and dicts for targets (as JSON and callers give them).
        normalised = {
            "sla_targets": {p: _sla(t) for p, t in self.sla_targets.items()},
            "sla_channel_targets": {
                c: {p: _sla(t) for p, t in by_priority.items()}
                for c, by_priority in self.sla_channel_targets.items()
            },
            "targets": {k: _kpi_target(t) for k, t in self.targets.items()},
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        self.validate()

    def target_value(self, key: str) -> float | None:
        """The value of a KPI's target (what a chart draws as its target line), None without one."""
        target = self.targets.get(key)
        return target.value if target else None

    def validate(self) -> None:
        """Raise InvalidChoice (a ValueError) with a one-line message when a setting cannot be
        used."""
        self._validate_choices()
        self._validate_numbers()
        self._validate_time_zone()
        self._validate_targets()

    def _validate_choices(self) -> None:
        _choice("fcr_variant", self.fcr_variant, ("auto", *FCR_VARIANTS))
        _choice("sla_variant", self.sla_variant, ("auto", *SLA_VARIANTS))
        _choice("csat_rule", self.csat_rule, CSAT_RULES)
        _choice("hours", self.hours, HOURS)
        _choice("sla_default_priority", self.sla_default_priority, PRIORITIES)

    def _validate_numbers(self) -> None:
        if self.fcr_repeat_window_days < 1:
            raise InvalidChoice("fcr_repeat_window_days must be at least 1 day")
        if not 1 <= self.ces_easy_top <= 6:
            raise InvalidChoice("ces_easy_top must be between 1 and 6 points of a 1-7 scale")
        if self.short_abandon_seconds < 0 or self.service_level_seconds <= 0:
            raise InvalidChoice("short_abandon_seconds must be >= 0 and service_level_seconds > 0")
        if not 1 <= self.minimum_n <= MAX_MINIMUM_N:
            raise InvalidChoice(f"minimum_n must be a whole number from 1 to {MAX_MINIMUM_N}")

    def _validate_time_zone(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidChoice(f"unknown time zone {self.timezone!r}") from None

    def _validate_targets(self) -> None:
        for priority, sla in self.sla_targets.items():
            _choice("SLA target priority", priority, PRIORITIES)
            _sla_hours(priority, sla)
        for channel, targets in self.sla_channel_targets.items():
            _choice("SLA target channel", channel, CHANNELS)
            for priority, sla in targets.items():
                _choice("SLA target priority", priority, PRIORITIES)
                _sla_hours(f"{channel} {priority}", sla)
        for key, target in self.targets.items():
            _choice(f"direction of the {key} target", target.direction, DIRECTIONS)
            _target_in_range(key, target.value)

    # --- the targets a contact is held to ------------------------------------------------------

    def sla_target(self, priority: str | None, channel: str | None = None) -> SlaTarget | None:
        """The targets for a priority (None = the default priority), channel overrides first."""
        priority = priority or self.sla_default_priority
        by_channel = self.sla_channel_targets.get(channel or "", {})
        return by_channel.get(priority) or self.sla_targets.get(priority)

    def calendar(self) -> Any:
        """The working-hours calendar (kpi.metrics.business_hours.BusinessHours) these settings describe."""
        from kpi.metrics.business_hours import BusinessHours  # only business-hours figures need it

        return (
            BusinessHours.from_dict(self.business_hours)
            if self.business_hours
            else (BusinessHours())
        )

    def hours_label(self) -> str:
        if self.hours == "calendar":
            return "calendar hours"
        return "business hours (" + _describe_business_hours(self.business_hours) + ")"

    # --- JSON round trip -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        """Settings from ``to_dict`` output; missing keys take the defaults, unknown are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidChoice(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _sla_hours(which: str, target: SlaTarget) -> None:
    for what, hours in (
        ("first response", target.first_response_hours),
        ("resolution", target.resolution_hours),
    ):
        if not 0 < hours <= MAX_SLA_HOURS:  # NaN fails this too
            raise InvalidChoice(
                f"the {which} {what} target must be more than 0 and at most "
                f"{MAX_SLA_HOURS:g} hours (a year), not {hours:g}"
            )


def _target_in_range(key: str, value: float) -> None:
    """A KPI's target within what the KPI can be (an NPS of 150 is never met)."""
    from kpi.metrics.registry import REGISTRY  # the registry imports these settings

    metric = REGISTRY.get(key)
    low, high, words = TARGET_RANGES.get(getattr(metric, "unit", ""), (-1e12, 1e12, "a number"))
    if not low <= value <= high:  # NaN fails this too
        raise InvalidChoice(f"the {key} target must be {words}, not {value:g}")


def _sla(value: Any) -> SlaTarget:
    if isinstance(value, SlaTarget):
        return value
    if isinstance(value, Mapping):
        return SlaTarget(float(value["first_response_hours"]), float(value["resolution_hours"]))
    first, resolution = value  # [first response, resolution] pairs are accepted too
    return SlaTarget(float(first), float(resolution))


def _kpi_target(value: Any) -> KpiTarget:
    if isinstance(value, KpiTarget):
        return value
    return KpiTarget(float(value["value"]), value.get("direction", "higher"))


def _describe_business_hours(data: Mapping[str, Any]) -> str:
    """E.g. "Mon-Fri 09:00-17:00 Europe/London, england-and-wales bank holidays"."""
    timezone = data.get("timezone", "Europe/London")
    region = data.get("region", "england-and-wales")
    weekly = data.get("weekly")
    if weekly is None:
        days = "Mon-Fri 09:00-17:00"
    else:
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        parts = [
            f"{names[int(day)]} {hours[0]}-{hours[1]}"
            for day, hours in sorted(weekly.items(), key=lambda item: int(item[0]))
            if hours
        ]
        days = ", ".join(parts) or "no working hours"
    holidays = "no bank holidays" if region == "none" else f"{region} bank holidays"
    return f"{days} {timezone}, {holidays}"


def load_settings(store: Any) -> Settings:
    """The store's definitions, defaults for anything not set."""
    data = store.get_setting(SETTINGS_KEY, None)
    return Settings.from_dict(data) if data else Settings()


def save_settings(
    store: Any, settings: Settings, by: str | None = None, *, identity: str | None = None
) -> None:
    """Keep ``settings`` as the store's definitions, with what changed in the audit log under
    ``importer_name(by)`` (the signed-in person in team mode, the computer's account locally)
    and ``identity`` (their ``issuer|subject``; None in local mode)."""
    settings.validate()
    before = load_settings(store).to_dict()
    after = settings.to_dict()
    store.set_setting(SETTINGS_KEY, after)
    changed = [k for k in sorted(after) if before.get(k) != after[k]]
    if changed:
        detail = "; ".join(f"{k}: {before.get(k)!r} -> {after[k]!r}" for k in changed)
        audit.add(store, importer_name(by), "settings", detail, identity=identity)
