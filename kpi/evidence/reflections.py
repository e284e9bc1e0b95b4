"""Guided reflections: the learner's journal, kept in the store and reviewed by a supervisor.

A reflection follows a model (STAR plus a Reflection step by default, Gibbs, or What / So what /
Now what) whose prompts adapt to the learner's level: Level 2 explains and applies, Level 3
analyses, evaluates and shows impact. Complaint insights add HEAT and LATER as editable content.
It keeps the filters, period and as-of instant it refers to (so its charts re-render exactly), a
SMART action with a review date, its KSBs, and a status: draft -> ready for review -> reviewed,
with the supervisor's comment and sign-off serving as a witness statement.

A sign-off records who signed (``Signer``: a name, and a verified identity and role once
sign-in exists; in local mode the name is "not verified"), when, and the SHA-256 digest of what
was signed (``content_digest``: every text field, the KSBs, the learner and the figures the
reflection cites). Any later edit voids it: the status becomes "changed after sign-off", also
when the stored text was changed behind the product's back (the digest no longer matches).
The learner never signs off their own reflection. Every save carries the version it was based
on; a save based on an older version is refused (``StaleSave``) with the newer text, so two
people editing one draft never silently lose one's work.

SQL here only ever receives values as parameters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from kpi.engine import breakdowns
from kpi.engine.filters import Filters
from kpi.engine.tables import format_value
from kpi.errors import InvalidChoice, NotFound
from kpi.evidence import baseline, ksbs, learners
from kpi.evidence.day_words import day_words
from kpi.evidence.reflective_models import DEFAULT_MODEL, MODELS, prompts
from kpi.ingest.privacy import scrub
from kpi.insights import Insight
from kpi.insights.insight_segment import Segment, check_kpi, of_insight
from kpi.metrics.registry import REGISTRY
from kpi.store import audit
from kpi.store.connection import Store

STATUSES = ("draft", "ready_for_review", "reviewed", "changed_after_sign_off")
STATUS_LABELS = {
    "draft": "Draft",
    "ready_for_review": "Ready for review",
    "reviewed": "Reviewed",
    "changed_after_sign_off": "Changed after sign-off",
}
#: Statuses a learner may still send for review.
EDITABLE = ("draft", "changed_after_sign_off")
#: Printed where a signer's identity was not checked by a sign-in (local mode).
NOT_VERIFIED = "not verified"
MAX_TEXT = 20_000
#: Kept in the insight snapshot: the data it was detected on, so an unchanged store reuses it.
STORE_VERSION = "store_version"


@dataclass(frozen=True)
class SmartAction:
    """Specific, Measurable, Achievable, Relevant, Time-bound: a KPI, a target and a date, for
    the segment the reflection's insight was about (the check measures that segment only)."""

    text: str = ""
    kpi: str | None = None
    target: float | None = None
    review_date: date | None = None
    segment: Segment = field(default_factory=Segment)

    def gaps(self) -> list[str]:
        """What the action still lacks to be SMART, in words; empty when complete."""
        out = []
        if len(self.text.split()) < 6:
            out.append("Specific: say what you will do, in a sentence")
        if self.kpi not in REGISTRY or self.target is None:
            out.append("Measurable: choose a KPI and a target value")
        if self.review_date is None:
            out.append("Time-bound: set a review date")
        return out

    def scope_text(self) -> str:
        """Which contacts the action is measured on, for the form that edits it."""
        if self.segment.everyone:
            return "Measured on all contacts (the reflection is not about one segment)."
        return (
            f"Measured on {self.segment.describe()} only: the contacts the insight was about, "
            "so the before/after check compares like with like."
        )

    def describe(self) -> str:
        parts = [self.text.strip() or "(no action yet)"]
        if self.kpi in REGISTRY and self.target is not None:
            metric = REGISTRY[self.kpi]
            parts.append(
                f"Measure: {metric.label} to {format_value(float(self.target), metric.unit)} "
                f"for {self.segment.describe()}"
            )
        if self.review_date:
            parts.append(f"Review on {day_words(self.review_date)}")
        return ". ".join(parts)


@dataclass(frozen=True)
class Signer:
    """Who signs off: a name and, once sign-in exists, the verified identity (issuer and
    subject) and role it gave. Without an identity the signer is "not verified"."""

    name: str
    role: str = ""
    identity: str = ""

    @property
    def verified(self) -> bool:
        return bool(self.identity.strip())

    @property
    def role_words(self) -> str:
        return (self.role or "supervisor") if self.verified else NOT_VERIFIED


class StaleSave(InvalidChoice):
    """A save based on an older version than the stored one: refused, nothing overwritten.
    ``newer`` is the stored reflection, for the page to show beside the refused text."""

    def __init__(self, message: str, newer: Reflection) -> None:
        super().__init__(message)
        self.newer = newer


@dataclass(frozen=True)
class Reflection:
    title: str
    learner: str
    level: int = 2
    standard: str = "ST0072"
    model: str = DEFAULT_MODEL
    sections: dict[str, str] = field(default_factory=dict)
    insight_id: str | None = None
    #: The insight as detected when the reflection began (a snapshot, JSON-ready).
    insight: dict[str, Any] | None = None
    filters: Filters = field(default_factory=Filters)
    metrics: tuple[str, ...] = ()
    #: Naive UTC: when open contacts were judged (the data's latest instant at the start).
    as_of: datetime | None = None
    #: A customer comment the learner chose to include; always stored scrubbed.
    customer_comment: str = ""
    action: SmartAction = field(default_factory=SmartAction)
    #: The dated change (annotation) the action made, for the before/after check.
    annotation_id: int | None = None
    ksbs: tuple[str, ...] = ()
    status: str = "draft"
    supervisor: str = ""
    supervisor_comment: str = ""
    signed_off_at: datetime | None = None
    reflection_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: The stored version this reflection was read at (0: never saved); a save must match it.
    version: int = 0
    #: When it was (last) sent for review: its completion date in a pack.
    submitted_at: datetime | None = None
    #: The verified role and identity of the signer; empty in local mode ("not verified").
    signer_role: str = ""
    signer_identity: str = ""
    #: The SHA-256 digest of what was signed; empty when not signed off.
    signed_digest: str = ""

    @property
    def reference(self) -> str:
        """The evidence reference a portfolio cites, e.g. EV-0007."""
        return f"EV-{self.reflection_id or 0:04d}"

    @property
    def heading(self) -> str:
        """How a list names the reflection: "EV-0007 Billing complaints in March"."""
        return f"{self.reference} {self.title}"

    @property
    def byline(self) -> str:
        """The heading of a reflection shown in full: reference, title, learner and level."""
        return f"{self.reference} · {self.title} · {self.learner} (Level {self.level})"

    @property
    def signer(self) -> Signer:
        """Who signed it off (or reviewed it), as the store recorded them."""
        return Signer(self.supervisor, self.signer_role, self.signer_identity)

    @property
    def complaint(self) -> bool:
        return any(k.startswith(("heat.", "later.")) for k in self.sections)

    def as_of_utc(self) -> datetime | None:
        """``as_of`` as an aware instant, the form the engine reads as UTC."""
        return self.as_of.replace(tzinfo=UTC) if self.as_of else None

    def insight_object(self) -> Insight | None:
        if not self.insight:
            return None
        return Insight.from_dict({k: v for k, v in self.insight.items() if k != STORE_VERSION})


#: The store setting naming the organisation a sign-off is made for (printed on packs).
ORGANISATION_KEY = "organisation"


def organisation(store: Store) -> str:
    """The organisation printed beside a sign-off; empty (left off the pack) when not set."""
    return str(store.get_setting(ORGANISATION_KEY, "") or "").strip()


def set_organisation(store: Store, name: str) -> None:
    if len(name) > 120:
        raise InvalidChoice("keep the organisation's name under 120 characters")
    store.set_setting(ORGANISATION_KEY, name.strip())


# --- starting ------------------------------------------------------------------------


def standard_for(level: int) -> str:
    return ksbs.LEVEL_STANDARD.get(level, "ST0071")


def _standard(store: Store | None, learner: str, level: int) -> str:
    """The registered standard wins (a team leader on ST0384 whatever their level says)."""
    if store is not None:
        own = learners.registration(store, learner)
        if own.recorded:
            return own.standard
    return standard_for(level)


def from_insight(
    insight: Insight, learner: str, level: int = 2, store: Store | None = None
) -> Reflection:
    """A new (unsaved) reflection on an insight: its filters, KPIs and the KSBs it suggests for
    the learner's standard (as registered, else from the level); complaint insights start with
    HEAT and LATER sections."""
    standard = _standard(store, learner, level)
    model = next((m for m in insight.models if m in MODELS), DEFAULT_MODEL)
    steps = prompts(model, level, insight, store)
    return Reflection(
        title=insight.title[:120],
        learner=learner,
        level=level,
        standard=standard,
        model=model,
        sections={key: "" for key, _, _ in steps},
        insight_id=insight.id,
        insight=insight.to_dict(),
        filters=insight.filters,
        metrics=insight.metrics,
        action=SmartAction(
            segment=of_insight(insight, store) if store else Segment.of_filters(insight.filters)
        ),
        ksbs=tuple(k for k in insight.ksbs if k.startswith(standard)),
    )


def blank(
    learner: str,
    level: int,
    filters: Filters,
    metrics: tuple[str, ...] = (),
    store: Store | None = None,
) -> Reflection:
    """A new (unsaved) reflection with no insight, on the learner's chosen KPIs."""
    steps = MODELS[DEFAULT_MODEL]
    return Reflection(
        title="Reflection",
        learner=learner,
        level=level,
        standard=_standard(store, learner, level),
        sections={s.key: "" for s in steps},
        filters=filters,
        metrics=metrics,
        action=SmartAction(segment=Segment.of_filters(filters)),
    )


# --- persistence -------------------------------------------------------------------------------

_COLUMNS = (
    "reflection_id",
    "title",
    "learner",
    "level",
    "standard",
    "model",
    "sections",
    "insight_id",
    "insight",
    "filters",
    "metrics",
    "as_of",
    "customer_comment",
    "action_text",
    "action_kpi",
    "action_target",
    "action_review_date",
    "action_segment",
    "annotation_id",
    "status",
    "supervisor",
    "supervisor_comment",
    "signed_off_at",
    "created_at",
    "updated_at",
    "version",
    "submitted_at",
    "signer_role",
    "signer_identity",
    "signed_digest",
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _check(r: Reflection) -> None:
    if not r.title.strip():
        raise InvalidChoice("give the reflection a title")
    if not r.learner.strip():
        raise InvalidChoice("say whose reflection this is (learner)")
    if r.model not in MODELS:
        raise InvalidChoice(f"unknown model {r.model!r}; choose from {', '.join(MODELS)}")
    if r.level not in (2, 3):
        raise InvalidChoice("level must be 2 or 3")
    if r.status not in STATUSES:
        raise InvalidChoice(f"unknown status {r.status!r}")
    if any(len(t) > MAX_TEXT for t in [*r.sections.values(), r.customer_comment]):
        raise InvalidChoice(f"keep each section under {MAX_TEXT:,} characters")
    unknown = [m for m in r.metrics if m not in REGISTRY]
    if unknown or (r.action.kpi and r.action.kpi not in REGISTRY):
        raise InvalidChoice(f"unknown KPI {', '.join(unknown) or r.action.kpi}")
    if r.action.kpi:
        check_kpi(r.action.segment, r.action.kpi)


def _check_ksbs(store: Store, r: Reflection) -> None:
    """KSBs of another standard than the learner's never count at gateway: refused in one line.
    A registered learner is held to their registration; otherwise to the reflection's standard."""
    if learners.registration(store, r.learner).recorded:
        learners.check_mapping(store, r.learner, r.ksbs)
        return
    known = ksbs.by_ref(store)
    for ref in r.ksbs:
        owner = known[ref].standard if ref in known else None
        if owner != r.standard:
            where = f"belongs to {owner}" if owner else "is not in the KSB catalogue"
            raise InvalidChoice(
                f"{ref} {where}, but this reflection is on {r.standard}; "
                f"map it to {r.standard} KSBs only"
            )


def _check_target(store: Store, r: Reflection) -> None:
    """Refuse a SMART target on the wrong side of the segment's baseline
    (``baseline.TargetOnWrongSide``, naming the baseline, its n and period)."""
    a = r.action
    if a.kpi not in REGISTRY or a.target is None or REGISTRY[a.kpi].direction is None:
        return
    found = baseline.baseline(store, a.segment, a.kpi, r.filters, r.annotation_id, r.as_of)
    if found is not None:
        baseline.refuse_wrong_side(a.kpi, a.target, a.segment, found)


def _values(r: Reflection) -> list[Any]:
    return [
        r.reflection_id,
        r.title.strip(),
        r.learner.strip(),
        r.level,
        r.standard,
        r.model,
        json.dumps(r.sections),
        r.insight_id,
        json.dumps(r.insight) if r.insight else None,
        json.dumps(r.filters.to_dict()),
        json.dumps(list(r.metrics)),
        r.as_of,
        scrub(r.customer_comment),
        r.action.text,
        r.action.kpi,
        r.action.target,
        r.action.review_date,
        json.dumps(r.action.segment.to_dict()),
        r.annotation_id,
        r.status,
        r.supervisor,
        r.supervisor_comment,
        r.signed_off_at,
        r.created_at,
        r.updated_at,
        r.version,
        r.submitted_at,
        r.signer_role,
        r.signer_identity,
        r.signed_digest,
    ]


def save(store: Store, r: Reflection) -> Reflection:
    """Insert or update. An update must be based on the stored version (``r.version``), else
    it is refused with the newer text (``StaleSave``). Editing one that waits for review sends
    it back to draft (the supervisor must see what they sign); editing a signed-off one voids
    the sign-off (status "changed after sign-off"). Status and sign-off come from the store,
    never from the caller: a save cannot sign anything off."""
    _check(r)
    _check_ksbs(store, r)
    r = _stamped(store, r)
    _check_target(store, r)
    with store.transaction() as cur:
        if r.reflection_id is None:
            row = cur.execute(
                "SELECT coalesce(max(reflection_id), 0) + 1 FROM reflections"
            ).fetchone()
            r = replace(r, reflection_id=int(row[0]) if row else 1, version=1)
        else:
            # Checked again under the write lock: another session may have saved since.
            found = cur.execute(
                "SELECT version FROM reflections WHERE reflection_id = ?", [r.reflection_id]
            ).fetchall()
            if not found or int(found[0][0] or 1) != r.version:
                raise _stale(store, r)
            r = replace(r, version=r.version + 1)
            cur.execute("DELETE FROM reflections WHERE reflection_id = ?", [r.reflection_id])
            if r.status == "changed_after_sign_off":
                cur.execute(
                    """UPDATE reflection_signoffs SET voided_at = ?
                       WHERE reflection_id = ? AND voided_at IS NULL""",
                    [r.updated_at, r.reflection_id],
                )
        marks = ", ".join("?" for _ in _COLUMNS)
        cur.execute(f"INSERT INTO reflections ({', '.join(_COLUMNS)}) VALUES ({marks})", _values(r))
        cur.execute("DELETE FROM reflection_ksbs WHERE reflection_id = ?", [r.reflection_id])
        for ref in dict.fromkeys(r.ksbs):
            cur.execute("INSERT INTO reflection_ksbs VALUES (?, ?)", [r.reflection_id, ref])
    return r


def _stale(store: Store, r: Reflection) -> StaleSave:
    """The refusal of a save based on an older version, quoting the newer text."""
    newer = get(store, r.reflection_id or 0)
    when = f"{newer.updated_at:%d %b %Y %H:%M} UTC" if newer.updated_at else "since"
    written = " / ".join(text.strip() for _, text in written_sections(newer, store))
    return StaleSave(
        f"{newer.reference} was saved elsewhere ({when}, version {newer.version}) after you "
        f"opened version {r.version}; your save was refused so nothing is overwritten. Copy your "
        f"text, load the newer version and add it again. Newer text: {newer.title}: "
        f"{' '.join(written.split()) or '(no text)'}",
        newer,
    )


def _stamped(store: Store, r: Reflection) -> Reflection:
    """The reflection as it will be stored: times, status after an edit, the store version in
    its insight snapshot, the comment scrubbed and KSBs sorted."""
    now = _now()
    if r.reflection_id is not None:
        old = get(store, r.reflection_id)
        if old.version != r.version:
            raise _stale(store, r)
        r = _carried(old, r)
        r = replace(r, created_at=old.created_at, updated_at=now)
    else:
        # The instant open contacts are judged at (the data's latest, naive UTC), kept so the
        # reflection's charts re-render the same after later imports.
        as_of = r.as_of or breakdowns.scope(store).context.as_of
        r = replace(
            r,
            created_at=now,
            updated_at=now,
            as_of=as_of,
            status="draft",
            # A new reflection may bring a supervisor's comment (carried over from elsewhere),
            # never a signature: only ``review`` signs.
            **_UNSIGNATURE,
            submitted_at=None,
        )
    if r.insight and STORE_VERSION not in r.insight:
        r = replace(r, insight={**r.insight, STORE_VERSION: store.version()})
    # KSBs come back sorted by reference, so keep them that way from the start.
    return replace(r, customer_comment=scrub(r.customer_comment), ksbs=tuple(sorted(set(r.ksbs))))


#: A reflection with no signature recorded.
_UNSIGNATURE: dict[str, Any] = {
    "signed_off_at": None,
    "signer_role": "",
    "signer_identity": "",
    "signed_digest": "",
}
#: A reflection with no sign-off (nor review) recorded.
_UNSIGNED: dict[str, Any] = {
    "supervisor": "",
    "supervisor_comment": "",
    "signed_off_at": None,
    "signer_role": "",
    "signer_identity": "",
    "signed_digest": "",
}


def _carried(old: Reflection, r: Reflection) -> Reflection:
    """The edit ``r`` with the status, review and sign-off the store holds for it: editing what
    waits for review returns it to draft; changing what was signed voids the sign-off."""
    review = {name: getattr(old, name) for name in _UNSIGNED}
    r = replace(r, **review, submitted_at=old.submitted_at)
    status = "draft" if old.status == "ready_for_review" else old.status
    if old.status == "reviewed" and content_digest(r) != (old.signed_digest or "unknown"):
        status = "changed_after_sign_off"
    return replace(r, status=status)


def content_digest(r: Reflection) -> str:
    """SHA-256 (hex) of what a sign-off vouches for: its reference, every text field, the
    learner, the KSBs, the filters, period and as-of the figures come from, the SMART action,
    the insight it cites with its figures, and the supervisor's comment (the witness statement
    signed with it). Status, signer and bookkeeping fields are not in it."""
    insight = {k: v for k, v in (r.insight or {}).items() if k != STORE_VERSION}
    a = r.action
    content = {
        # The evidence reference too: two reflections with the same text never share a code.
        "reflection_id": r.reflection_id,
        "title": r.title.strip(),
        "learner": r.learner.strip(),
        "level": int(r.level),
        "standard": r.standard,
        "model": r.model,
        "sections": {k: v for k, v in r.sections.items() if v.strip()},
        "customer_comment": scrub(r.customer_comment),
        "supervisor_comment": r.supervisor_comment.strip(),
        "action": {
            "text": a.text,
            "kpi": a.kpi,
            "target": None if a.target is None else float(a.target),
            "review_date": a.review_date.isoformat() if a.review_date else None,
            "segment": a.segment.to_dict(),
        },
        "ksbs": sorted(set(r.ksbs)),
        "insight_id": r.insight_id,
        "insight": insight,
        "filters": r.filters.to_dict(),
        "metrics": list(r.metrics),
        "as_of": r.as_of.isoformat() if r.as_of else None,
        "annotation_id": r.annotation_id,
    }
    # A JSON round trip first, so that a reflection in memory and the same one read back from
    # the store (dates as text, tuples as lists) give the same bytes.
    canonical = json.dumps(
        json.loads(json.dumps(content, default=str)), sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verification_code(digest: str) -> str:
    """The short code a pack prints: the digest's first 10 hex digits, grouped for reading
    ("3F2A9-1BC07")."""
    head = digest[:10].upper()
    return f"{head[:5]}-{head[5:]}" if head else ""


def _from_row(row: tuple[Any, ...], refs: tuple[str, ...]) -> Reflection:
    d = dict(zip(_COLUMNS, row, strict=True))
    review = d["action_review_date"]
    filters = Filters.from_dict(json.loads(d["filters"] or "{}"))
    # Reflections saved before actions carried a segment were checked on their filters'.
    segment = (
        Segment.from_dict(json.loads(d["action_segment"]))
        if d["action_segment"]
        else Segment.of_filters(filters)
    )
    return Reflection(
        reflection_id=int(d["reflection_id"]),
        title=d["title"],
        learner=d["learner"],
        level=int(d["level"]),
        standard=d["standard"],
        model=d["model"],
        sections=json.loads(d["sections"] or "{}"),
        insight_id=d["insight_id"],
        insight=json.loads(d["insight"]) if d["insight"] else None,
        filters=filters,
        metrics=tuple(json.loads(d["metrics"] or "[]")),
        as_of=d["as_of"],
        customer_comment=d["customer_comment"] or "",
        action=SmartAction(
            d["action_text"] or "",
            d["action_kpi"],
            d["action_target"],
            review.date() if isinstance(review, datetime) else review,
            segment,
        ),
        annotation_id=d["annotation_id"],
        ksbs=refs,
        status=d["status"],
        supervisor=d["supervisor"] or "",
        supervisor_comment=d["supervisor_comment"] or "",
        signed_off_at=d["signed_off_at"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        version=int(d["version"] or 1),
        submitted_at=d["submitted_at"],
        signer_role=d["signer_role"] or "",
        signer_identity=d["signer_identity"] or "",
        signed_digest=d["signed_digest"] or "",
    )


def _effective(r: Reflection) -> Reflection:
    """A signed-off reflection whose content no longer matches the digest signed (changed in
    the store behind the product's back) reads as changed after sign-off."""
    # Signed before digests were kept (no digest): nothing to compare with.
    if r.status == "reviewed" and r.signed_digest and content_digest(r) != r.signed_digest:
        return replace(r, status="changed_after_sign_off")
    return r


def _refs(store: Store) -> dict[int, tuple[str, ...]]:
    rows = (
        store.cursor()
        .execute("SELECT reflection_id, ref FROM reflection_ksbs ORDER BY reflection_id, ref")
        .fetchall()
    )
    out: dict[int, list[str]] = {}
    for reflection_id, ref in rows:
        out.setdefault(int(reflection_id), []).append(ref)
    return {k: tuple(v) for k, v in out.items()}


def get(store: Store, reflection_id: int) -> Reflection:
    row = (
        store.cursor()
        .execute(
            f"SELECT {', '.join(_COLUMNS)} FROM reflections WHERE reflection_id = ?",
            [reflection_id],
        )
        .fetchone()
    )
    if row is None:
        raise NotFound(f"no reflection {reflection_id}")
    return _effective(_from_row(row, _refs(store).get(int(reflection_id), ())))


def journal(
    store: Store, status: str | None = None, learner: str | None = None
) -> list[Reflection]:
    """Reflections newest first, optionally of one status (as it is now: a signed-off one
    whose text changed is "changed_after_sign_off") or learner."""
    sql = f"SELECT {', '.join(_COLUMNS)} FROM reflections WHERE 1 = 1"
    params: list[Any] = []
    if learner:
        sql += " AND learner = ?"
        params.append(learner)
    rows = store.cursor().execute(sql + " ORDER BY reflection_id DESC", params).fetchall()
    refs = _refs(store)
    found = [_effective(_from_row(r, refs.get(int(r[0]), ()))) for r in rows]
    return [r for r in found if not status or r.status == status]


def journal_table(rows: Sequence[Reflection]) -> pd.DataFrame:
    """The journal as a table: one row per reflection, in the order given."""
    return pd.DataFrame(
        [
            {
                "reference": r.reference,
                "title": r.title,
                "learner": r.learner,
                "status": STATUS_LABELS[r.status],
                "KSBs": ", ".join(r.ksbs),
                "review date": r.action.review_date,
                "updated": r.updated_at,
            }
            for r in rows
        ]
    )


def written_sections(r: Reflection, store: Store | None = None) -> list[tuple[str, str]]:
    """(step label, text) of each section the learner wrote, in the order written; a section
    the model no longer has keeps its key as its label."""
    labels = {
        key: label
        for key, label, _ in prompts(r.model, r.level, complaint=r.complaint, store=store)
    }
    return [(labels.get(key, key), text) for key, text in r.sections.items() if text.strip()]


def delete(store: Store, reflection_id: int) -> None:
    with store.transaction() as cur:
        cur.execute("DELETE FROM reflection_ksbs WHERE reflection_id = ?", [reflection_id])
        cur.execute("DELETE FROM reflections WHERE reflection_id = ?", [reflection_id])


# --- review --------------------------------------------------------------------------------------


def _set_status(store: Store, r: Reflection, **changes: Any) -> Reflection:
    """Change status and review fields, refused like a save when ``r`` is not the stored
    version (someone edited it since it was read)."""
    updated = replace(r, **changes, updated_at=_now(), version=r.version + 1)
    with store.transaction() as cur:
        found = cur.execute(
            "SELECT version FROM reflections WHERE reflection_id = ?", [r.reflection_id]
        ).fetchall()
        if not found or int(found[0][0] or 1) != r.version:
            raise _stale(store, r)
        cur.execute(
            """UPDATE reflections SET status = ?, supervisor = ?, supervisor_comment = ?,
               signed_off_at = ?, updated_at = ?, version = ?, submitted_at = ?,
               signer_role = ?, signer_identity = ?, signed_digest = ?
               WHERE reflection_id = ?""",
            [
                updated.status,
                updated.supervisor,
                updated.supervisor_comment,
                updated.signed_off_at,
                updated.updated_at,
                updated.version,
                updated.submitted_at,
                updated.signer_role,
                updated.signer_identity,
                updated.signed_digest,
                updated.reflection_id,
            ],
        )
        if updated.signed_digest and updated.signed_digest != r.signed_digest:
            cur.execute(
                "INSERT INTO reflection_signoffs VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [
                    updated.signed_digest,
                    updated.reflection_id,
                    updated.supervisor,
                    updated.signer_role,
                    updated.signer_identity,
                    updated.signed_off_at,
                    updated.submitted_at,
                    store.version(),
                ],
            )
            code = verification_code(updated.signed_digest)
            detail = f"{updated.reference} by {updated.learner} (verification code {code})"
            audit.record(
                cur, updated.supervisor, "sign-off", detail, identity=updated.signer_identity
            )
    return updated


def submit(store: Store, reflection_id: int) -> Reflection:
    """Draft (or changed after sign-off) -> ready for review; needs some writing and at least
    one KSB. The time is kept as the reflection's completion date."""
    r = get(store, reflection_id)
    if r.status not in EDITABLE:
        raise InvalidChoice(f"{r.reference} is {STATUS_LABELS[r.status].lower()}, not a draft")
    if not any(t.strip() for t in r.sections.values()):
        raise InvalidChoice("write the reflection before sending it for review")
    if not r.ksbs:
        raise InvalidChoice("map the reflection to at least one KSB before sending it for review")
    return _set_status(store, r, status="ready_for_review", submitted_at=_now(), **_UNSIGNATURE)


def same_person(a: str, b: str) -> bool:
    """Two names for one person, whatever their case and spacing."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def review(
    store: Store,
    reflection_id: int,
    supervisor: str,
    comment: str,
    sign_off: bool,
    signer: Signer | None = None,
) -> Reflection:
    """The supervisor's comment; with ``sign_off`` the reflection becomes reviewed, signed by
    ``signer`` (default: ``supervisor``, not verified) with the digest of its content;
    otherwise it goes back to the learner as a draft with the comment. The learner can never
    sign off their own reflection."""
    r = get(store, reflection_id)
    if r.status != "ready_for_review":
        raise InvalidChoice(f"{r.reference} is not waiting for review")
    who = signer or Signer(supervisor.strip())
    if not who.name.strip() or not comment.strip():
        raise InvalidChoice("a review needs the supervisor's name and a comment")
    if sign_off and same_person(who.name, r.learner):
        raise InvalidChoice(
            f"{who.name.strip()} wrote {r.reference} and cannot sign it off; "
            "ask their supervisor to sign it"
        )
    reviewed = replace(r, supervisor=who.name.strip(), supervisor_comment=comment.strip())
    if not sign_off:
        return _set_status(store, reviewed, status="draft", **_UNSIGNATURE)
    return _set_status(
        store,
        reviewed,
        status="reviewed",
        signed_off_at=_now(),
        signer_role=who.role.strip() if who.verified else "",
        signer_identity=who.identity.strip(),
        signed_digest=content_digest(reviewed),  # the comment is part of what is signed
    )
