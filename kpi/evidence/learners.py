"""Which standard (and version) each learner is registered on, and the KSBs that belong to it.

Kept in the store's settings under ``LEARNERS_KEY`` (learner name -> standard and version), so
a team leader on ST0384 is counted against ST0384 however their reflections were started. A
learner nobody registered is taken to be on the standard of their latest reflection (reflections
record one from the learner's level), or the Level 2 standard when they have none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kpi.errors import InvalidChoice
from kpi.evidence import ksbs
from kpi.store.connection import Store

LEARNERS_KEY = "evidence.learners"
MAX_NAME = 80
MAX_VERSION = 20


@dataclass(frozen=True)
class Registration:
    learner: str
    standard: str
    #: The standard's version as the provider gives it ("1.2"); "" when not recorded.
    version: str = ""
    #: False when the standard was inferred from the learner's reflections.
    recorded: bool = False

    @property
    def title(self) -> str:
        return ksbs.STANDARDS.get(self.standard, self.standard)

    @property
    def describe(self) -> str:
        """ "ST0384 Team leader or supervisor (Level 3), version 1.1"."""
        version = f", version {self.version}" if self.version else ", version not recorded"
        return f"{self.standard} {self.title}{version}"


def _saved(store: Store) -> dict[str, dict[str, str]]:
    value = store.get_setting(LEARNERS_KEY, None)
    return value if isinstance(value, dict) else {}


def registration(store: Store, learner: str) -> Registration:
    """The learner's standard and version: as registered, else from their latest reflection."""
    name = learner.strip()
    saved = _saved(store).get(name)
    if saved:
        return Registration(name, saved["standard"], saved.get("version", ""), True)
    row = (
        store.cursor()
        .execute(
            "SELECT standard FROM reflections WHERE learner = ? "
            "ORDER BY reflection_id DESC LIMIT 1",
            [name],
        )
        .fetchone()
    )
    return Registration(name, row[0] if row else ksbs.LEVEL_STANDARD[2])


def register(store: Store, learner: str, standard: str, version: str = "") -> Registration:
    """Record the learner's standard (one of the catalogue's) and its version."""
    name, version = learner.strip(), version.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidChoice(f"give the learner's name (up to {MAX_NAME} characters)")
    known = {k.standard for k in ksbs.catalogue(store)}
    if standard not in known:
        raise InvalidChoice(
            f"unknown standard {standard!r}; choose from {', '.join(sorted(known))}"
        )
    if len(version) > MAX_VERSION:
        raise InvalidChoice(f"keep the version under {MAX_VERSION} characters, e.g. 1.2")
    saved = _saved(store)
    saved[name] = {"standard": standard, "version": version}
    store.set_setting(LEARNERS_KEY, saved)
    return Registration(name, standard, version, True)


def learners(store: Store) -> list[str]:
    """Everyone with a reflection or a registration, by name."""
    rows = store.cursor().execute("SELECT DISTINCT learner FROM reflections").fetchall()
    return sorted({str(r[0]) for r in rows} | set(_saved(store)))


def check_mapping(store: Store, learner: str, refs: Iterable[str]) -> None:
    """Refuse KSBs from another standard than the learner's: evidence mapped to the wrong
    standard does not count at gateway."""
    own = registration(store, learner)
    known = ksbs.by_ref(store)
    for ref in refs:
        ksb = known.get(ref)
        if ksb is None:
            raise InvalidChoice(f"unknown KSB {ref!r}; choose one of {own.standard}'s KSBs")
        if ksb.standard != own.standard:
            raise InvalidChoice(
                f"{ref} belongs to {ksb.standard}, but {own.learner} is on {own.standard}; "
                f"map the reflection to {own.standard} KSBs only"
            )
