"""One reflection as an evidence pack an e-portfolio accepts, safe to share.

``build`` gathers everything a pack holds: title, learner, date, evidence reference, KSBs, the
charts (re-rendered from the reflection's own filters and period), key figures with n and the
registry's definitions, data provenance from the store's ``imports`` table, an anonymisation
statement, the reflection, the SMART action (and its before/after check), and the supervisor's
comment and sign-off lines. ``kpi.evidence.documents`` writes it as PDF or DOCX.

Safe to share: aggregates only; every agent but the learner becomes "Colleague n", in charts and
in the learner's own text; cells under 5 answers are suppressed; no customer key, id or comment
appears unless the learner included a (scrubbed) comment; an indexed mode hides volumes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from kpi import insights
from kpi.charts import images
from kpi.charts.disclosure import SMALLEST_CELL, csv_bytes
from kpi.charts.figures import figure
from kpi.charts.images import ChartRenderer, html_bytes
from kpi.charts.spec import ChartSpec, shareable, table
from kpi.engine import breakdowns
from kpi.engine import report as engine
from kpi.engine.tables import format_value
from kpi.errors import InvalidChoice
from kpi.evidence import action_check, ksbs, reflections
from kpi.evidence.reflections import Reflection
from kpi.ingest.privacy import scrub
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import load_settings
from kpi.store.connection import Store

MAX_NAME = 100
MAX_TREND_CHARTS = 2

SECTION_TITLES = (
    "Evidence details",
    "KSBs evidenced",
    "Charts",
    "Key figures",
    "Data provenance",
    "Anonymisation statement",
    "Reflection",
    "SMART action",
    "Supervisor review and sign-off",
)

ANONYMISATION = (
    "This evidence contains aggregates only. Customer identifiers were pseudonymised with a "
    "keyed hash when the data was imported and do not appear here; no customer comment appears "
    "unless the learner chose to include one, scrubbed of emails, phone and card numbers. "
    'Colleagues other than the learner are shown as "Colleague 1..n" or as the rest of the '
    "team. Figures based on fewer than {minimum} answers are suppressed. Anonymised on {day}."
)


@dataclass
class KeyFigure:
    label: str
    value: str
    n: str
    definition: str


@dataclass
class Pack:
    reference: str
    title: str
    learner: str
    level: int
    standard: str
    created: date
    evidence_type: str
    period: str
    status: str
    ksbs: list[ksbs.Ksb]
    charts: list[ChartSpec]
    images: list[bytes]
    figures: list[KeyFigure]
    definitions: dict[str, str]
    provenance: list[dict[str, str]]
    anonymisation: str
    sections: list[tuple[str, str]]
    customer_comment: str
    action: str
    action_check: list[str]
    supervisor: str
    supervisor_comment: str
    signed_off: str
    indexed: bool = False
    notes: list[str] = field(default_factory=list)


# --- names and text -------------------------------------------------------------------------------


def safe_name(text: str, limit: int = 40) -> str:
    """ASCII letters, digits, hyphens only (e-portfolios refuse &, quotes, spaces, pound signs)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")
    return slug[:limit].strip("-") or "evidence"


def file_name(pack: Pack, extension: str, suffix: str = "") -> str:
    """YYYY-MM-DD_STANDARD_KSBs_type_title[_suffix].ext, safe ASCII, under 100 characters."""
    codes = "-".join(k.code for k in pack.ksbs if k.code)[:24] or "KSB"
    parts = [
        pack.created.isoformat(),
        pack.standard,
        safe_name(codes, 24),
        safe_name(pack.evidence_type, 20),
        safe_name(pack.title, 30),
    ]
    if suffix:
        parts.append(safe_name(suffix, 12))
    stem = "_".join(parts)[: MAX_NAME - len(extension) - 1]
    return f"{stem}.{extension}"


def _agents(store: Store) -> list[str]:
    rows = (
        store.cursor()
        .execute(
            "SELECT DISTINCT agent FROM contacts WHERE agent IS NOT NULL "
            "UNION SELECT DISTINCT agent FROM responses WHERE agent IS NOT NULL"
        )
        .fetchall()
    )
    return sorted({r[0] for r in rows if r[0]})


def redact_people(text: str, agents: list[str], me: str) -> str:
    """The learner's text with other agents' names (whole or first/last name) replaced by "a
    colleague", and emails, phone and card numbers scrubbed."""
    mine = set(me.split()) | {me}
    words: set[str] = set()
    for name in agents:
        if name == me:
            continue
        words.add(name)
        words.update(part for part in name.split() if len(part) >= 3 and part not in mine)
    for word in sorted(words, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(word)}\b", "a colleague", text)
    return scrub(text)


# --- building the pack ----------------------------------------------------------------------------


def _charts(store: Store, r: Reflection) -> tuple[list[ChartSpec], insights.Insight | None]:
    """The insight's chart (its snapshot while the data is unchanged, else detected again on
    the reflection's filters, falling back to the snapshot), then weekly trends of its KPIs."""
    found = r.insight_object()
    snapshot = r.insight or {}
    if found is not None and snapshot.get(reflections.STORE_VERSION) != store.version():
        found = insights.find(store, found.id, found.filters) or found
    charts = [found.chart] if found else []
    wanted = [k for k in r.metrics if k in REGISTRY][:MAX_TREND_CHARTS]
    if found is None or found.kind != "signal":  # a signal's chart is already the trend
        charts += [insights.trend_chart(store, r.filters, k, as_of=r.as_of_utc()) for k in wanted]
    return charts, found


def _n_text(n: int, indexed: bool) -> str:
    if n < SMALLEST_CELL:
        return f"<{SMALLEST_CELL}"
    if not indexed:
        return f"{n:,}"
    for edge in (30, 100, 1000):  # bands: exact volumes can be commercially sensitive
        if n < edge:
            return f"under {edge:,}"
    return "1,000 or more"


def _key_figures(
    store: Store, r: Reflection, found: insights.Insight | None, indexed: bool
) -> list[KeyFigure]:
    out = []
    rows = list(found.figures) if found else []
    for f in rows:
        out.append(_shown(f.label, f.value, f.unit, f.n, f.definition, indexed))
    keys = [k for k in r.metrics if k in REGISTRY]
    if keys and r.filters.date_from and r.filters.date_to:
        settings = load_settings(store)
        total = engine.report(
            store, r.filters, as_of=r.as_of_utc(), metrics=keys, settings=settings
        ).totals()
        for key in keys:
            m = total[key]
            out.append(
                _shown(
                    f"{REGISTRY[key].label}, whole period",
                    m.value,
                    m.unit,
                    m.n,
                    m.definition,
                    indexed,
                )
            )
    return out


def _shown(
    label: str, value: float | None, unit: str, n: int, definition: str, indexed: bool
) -> KeyFigure:
    if n < SMALLEST_CELL:
        shown = f"suppressed (fewer than {SMALLEST_CELL} answers)"
    elif indexed and unit == "count":
        shown = "hidden in indexed mode"
    else:
        shown = format_value(value, unit)
    return KeyFigure(label, shown, _n_text(n, indexed), definition)


def _provenance(store: Store, indexed: bool) -> list[dict[str, str]]:
    rows = (
        store.cursor()
        .execute(
            """SELECT file_name, layout, kind, rows_imported, imported_at FROM imports
           WHERE undone_at IS NULL ORDER BY batch_id"""
        )
        .fetchall()
    )
    return [
        {
            "source file": name,
            "layout": layout or "",
            "kind": kind or "",
            "rows imported": _n_text(int(count or 0), indexed),
            "imported": at.strftime("%Y-%m-%d %H:%M UTC") if at else "",
        }
        for name, layout, kind, count, at in rows
    ]


def build(
    store: Store,
    reflection_id: int,
    renderer: ChartRenderer | None = None,
    indexed: bool = False,
    today: date | None = None,
) -> Pack:
    """Everything an evidence pack holds; charts drawn as PNG when a renderer is given."""
    r = reflections.get(store, reflection_id)
    catalogue = ksbs.by_ref(store)
    agents = _agents(store)
    charts, found = _charts(store, r)
    safe = [shareable(c, me=r.learner, indexed=indexed) for c in charts]
    images = [renderer.image(figure(c)) for c in safe] if renderer else []
    today = today or datetime.now(UTC).date()
    keys = list(dict.fromkeys([*(found.metrics if found else ()), *r.metrics]))
    return Pack(
        reference=r.reference,
        title=redact_people(r.title, agents, r.learner),
        learner=r.learner,
        level=r.level,
        standard=r.standard,
        created=today,
        evidence_type="Product evidence and reflective account",
        period=r.filters.describe()
        if (r.filters.date_from or r.filters.date_to)
        else _whole(store),
        status=reflections.STATUS_LABELS[r.status],
        ksbs=[catalogue[k] for k in r.ksbs if k in catalogue],
        charts=safe,
        images=images,
        figures=_key_figures(store, r, found, indexed),
        definitions={REGISTRY[k].label: _definition(store, k) for k in keys if k in REGISTRY},
        provenance=_provenance(store, indexed),
        anonymisation=ANONYMISATION.format(minimum=SMALLEST_CELL, day=today.isoformat()),
        sections=_sections(store, r, agents),
        customer_comment=scrub(r.customer_comment),
        action=redact_people(r.action.describe(), agents, r.learner),
        action_check=_action_check(store, r),
        supervisor=r.supervisor,
        supervisor_comment=redact_people(r.supervisor_comment, agents, r.learner),
        signed_off=r.signed_off_at.strftime("%Y-%m-%d") if r.signed_off_at else "",
        indexed=indexed,
    )


def _sections(store: Store, r: Reflection, agents: list[str]) -> list[tuple[str, str]]:
    """(step label, the learner's text with colleagues redacted) for each written section."""
    return [
        (label, redact_people(text, agents, r.learner))
        for label, text in reflections.written_sections(r, store)
    ]


def _whole(store: Store) -> str:
    first, last = breakdowns.data_range(store)
    return f"all data ({first} to {last})" if first else "no data"


def _definition(store: Store, key: str) -> str:
    s = breakdowns.scope(store)
    return REGISTRY[key].definition(s.context)


def _action_check(store: Store, r: Reflection) -> list[str]:
    found = action_check.check(store, r)
    if found is None:
        return []
    note, comparisons = found
    agents = _agents(store)
    out = [
        f"Change dated {note.on_date.isoformat()}: {redact_people(note.text, agents, r.learner)}"
    ]
    for c in comparisons:
        p = f"p = {c.change.p_value:.3g}" if c.change.p_value is not None else "not testable"
        verdict = "more than chance" if c.change.significant else "within chance"
        out.append(
            f"{REGISTRY[c.key].label}: {format_value(c.before.value, c.before.unit)} "
            f"(n = {_n_text(c.before.n, False)}) before, {format_value(c.after.value, c.after.unit)} "
            f"(n = {_n_text(c.after.n, False)}) after; {c.change.test or 'no test'}, {p} ({verdict})"
        )
    return out


# --- charts as files ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartFiles:
    """One chart of a pack as the files a learner can download on their own."""

    title: str
    png: bytes
    svg: bytes
    html: bytes
    csv: bytes


def chart_files(pack: Pack, renderer: ChartRenderer) -> list[ChartFiles]:
    """Every chart of a pack as PNG, SVG, HTML (plotly.js inline: opens offline) and CSV.

    The pack's charts are already safe to share (``build`` applied ``shareable``), so they are
    drawn as they are; the PNGs are the ones the pack holds when it drew them.
    """
    pngs = pack.images or [renderer.image(figure(spec), "png") for spec in pack.charts]
    return [
        ChartFiles(
            title=spec.title,
            png=png,
            svg=renderer.image(figure(spec), "svg"),
            html=html_bytes(figure(spec)),
            csv=csv_bytes(table(spec)),
        )
        for spec, png in zip(pack.charts, pngs, strict=True)
    ]


def chart_file(
    spec: ChartSpec,
    fmt: str,
    renderer: ChartRenderer | None = None,
    me: str | None = None,
    indexed: bool = False,
) -> bytes:
    """One chart not yet made safe (an insight's), made safe to share and written as png, svg,
    html or csv."""
    safe = shareable(spec, me=me, indexed=indexed)
    if fmt == "csv":
        return csv_bytes(table(safe))
    if fmt == "html":
        return html_bytes(figure(safe))
    if fmt in ("png", "svg"):
        if renderer is not None:
            return renderer.image(figure(safe), fmt)
        with images.renderer() as own:
            return own.image(figure(safe), fmt)
    raise InvalidChoice(f"cannot export a chart as {fmt!r}; choose png, svg, html or csv")
