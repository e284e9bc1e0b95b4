"""One reflection as an evidence pack an e-portfolio accepts, safe to share.

``build`` gathers everything a pack holds: title, learner, date, evidence reference, KSBs, the
charts (re-rendered from the reflection's own filters and period), key figures with n and the
registry's definitions, data provenance from the store's ``imports`` table, an anonymisation
statement, the reflection, the SMART action (and its before/after check), and the supervisor's
comment and sign-off lines. ``kpi.evidence.documents`` writes it as PDF or DOCX.

A signed-off pack prints who signed, their role ("not verified" without sign-in), the
organisation (when set), the time, the completion date (when it was sent for review) and a
verification code from the digest of what was signed, which ``kpi.evidence.verification``
checks a file against; its figures are the ones signed (the insight's snapshot). A reflection
changed after sign-off prints no "Signed off by", only that the sign-off no longer applies.

Every chart stands alone (``kpi.evidence.pack_charts``): title with KPI, segment, period and n,
axis titles with units, whole weeks only, target lines, and a footer naming the learner, the
reference, the data cut-off and the source files. The pack states the insight and its test in
plain words, the definitions, targets and settings used (each once), the data cut-off and the
date range of each source file; where the store knows who the learner is ("this is me"), the
learner's own figures against the rest of the team combined, never a ranking.

Safe to share: aggregates only; every agent but the learner becomes "Colleague n" in charts
(numbered by a keyed hash, never by rank) and "a colleague" in text; cells under 5 answers are
suppressed; no customer key, id or comment
appears unless the learner included a (scrubbed) comment; an indexed mode hides volumes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from kpi import insights
from kpi.charts import images
from kpi.charts.disclosure import SMALLEST_CELL, csv_bytes
from kpi.charts.figures import figure
from kpi.charts.images import ChartRenderer, html_bytes
from kpi.charts.spec import ChartSpec, shareable, table
from kpi.engine import breakdowns, comparison
from kpi.engine import report as engine
from kpi.engine.statistics import wilson_interval
from kpi.engine.tables import format_value
from kpi.errors import InvalidChoice
from kpi.evidence import action_check, ksbs, pack_charts, reflections
from kpi.evidence.day_words import day_words, instant_words
from kpi.evidence.pack_charts import Context
from kpi.evidence.redaction import agents as _agents
from kpi.evidence.redaction import redact_filters, redact_people
from kpi.evidence.reflections import Reflection
from kpi.ingest.privacy import scrub
from kpi.insights.insight_segment import Segment
from kpi.metrics import settings_form
from kpi.metrics.registry import REGISTRY
from kpi.metrics.settings import Settings, load_settings
from kpi.store import users, viewer
from kpi.store.connection import Store
from kpi.store.schema import KINDS

MAX_NAME = 100
MAX_TREND_CHARTS = 2

SECTION_TITLES = (
    "Evidence details",
    "KSBs evidenced",
    "The insight and how it was tested",
    "Charts",
    "Key figures",
    "My own figures against the rest of the team",
    "Definitions, targets and settings used",
    "Data provenance",
    "Anonymisation statement",
    "Reflection",
    "SMART action",
    "Supervisor review and sign-off",
)
#: KPIs compared with the rest of the team: at most this many get a chart of their own.
MAX_ME_CHARTS = 2
#: Shown when the store does not know which agent in the data is the learner.
NO_ME = (
    "Your own figures are not shown because the dashboard does not know which agent in the "
    'data is you. On the Team page, choose your name under "this is me", then build the pack '
    "again."
)
NOT_THE_LEARNER = (
    'Your own figures are not shown because the agent chosen under "this is me" on the Team '
    "page is someone other than the learner named in this reflection. Choose your own name "
    "there (as it appears in the data, and as the learner's name here), then build the pack "
    "again."
)
NO_REST = "No one else in your team has data for this period, so there is nothing to compare with."
ME_NOTE = (
    "The rest of the team is everyone else in your team combined into one figure (worked out "
    "from their counts), so no colleague is singled out or ranked."
)
NO_INSIGHT = (
    "This reflection did not start from an insight: the charts show the KPIs the learner chose."
)
#: How each kind of insight was tested, in plain words (the technical details follow).
TEST_WORDS = {
    "change": "This period was compared with the period before it of the same length. The test "
    "asks whether a gap this big could happen by chance when nothing really changed.",
    "signal": "Every whole week was plotted on a control chart. A week outside the limits, or 8 "
    "weeks in a row on one side of the average, is marked as unusual.",
    "concentration": "The breach rate here was compared with the breach rate everywhere else. "
    "Because many places were checked, the test was made stricter (Bonferroni) so that a cluster "
    "found by luck is unlikely.",
    "driver": "This category's rate was compared with all the other categories together. Because "
    "every category was checked, the test was made stricter (Bonferroni) so that a category "
    "picked out by luck is unlikely.",
    "target": "The whole 95% interval of the figure is on the wrong side of the team's target, so "
    "the miss is not down to a small sample.",
    "before_after": "The weeks before the dated change were compared with the weeks after it. The "
    "test asks whether a gap this big could happen by chance.",
    "small_sample": "No test: a result from so few answers has a wide interval, so it cannot be "
    "ranked against others.",
}
SLA_KEYS = ("sla", "sla_first_response", "sla_resolution")

ANONYMISATION = (
    "This evidence contains aggregates only. Customer identifiers were pseudonymised with a "
    "keyed hash when the data was imported and do not appear here; no customer comment appears "
    "unless the learner chose to include one, scrubbed of names, contact details and account, "
    "order and ticket numbers. "
    "Colleagues other than the learner are never named. In charts they are shown as "
    '"Colleague 1", "Colleague 2" and so on, numbered by a keyed hash of their name, never by '
    "their rank or results, or combined as the rest of the team. In the learner's text and the "
    'insight a colleague\'s name becomes "a colleague" (two of them "two colleagues"), and a '
    "filter that names a colleague says so without the name. Figures based on fewer than "
    "{minimum} answers are suppressed. Anonymised on {day}."
)


@dataclass
class KeyFigure:
    label: str
    value: str
    n: str
    definition: str
    interval: str = ""


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
    #: (what, text): the insight's statement, its summary and its test in plain words.
    statement: list[tuple[str, str]] = field(default_factory=list)
    #: The learner against the rest of the team (table rows, header first) and what it means.
    me: list[list[str]] = field(default_factory=list)
    me_note: str = ""
    #: The settings the figures were worked out with, in words, and the SLA targets table.
    settings_used: list[str] = field(default_factory=list)
    sla_targets: list[list[str]] = field(default_factory=list)
    #: The latest record the figures could include, e.g. "31 Oct 2026 22:11 UTC".
    cutoff: str = ""
    #: What each chart shows, for screen readers (the DOCX's and PDF's alt text).
    alt_texts: list[str] = field(default_factory=list)
    #: How many of the last charts are the learner's own against the rest of the team.
    me_charts: int = 0
    #: The sign-off, when valid: the signer's role ("not verified" in local mode), the
    #: organisation (when set), the instant signed and the verification code.
    signer_role: str = ""
    organisation: str = ""
    signed_at: str = ""
    verification_code: str = ""
    #: When the reflection was sent for review (its completion date, not the export's).
    completed: str = ""
    #: Said instead of a sign-off that an edit voided.
    void_note: str = ""


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


# --- building the pack ----------------------------------------------------------------------------


def _insight(store: Store, r: Reflection) -> insights.Insight | None:
    """The reflection's insight: its snapshot while the data is unchanged, else detected again
    on the reflection's filters (falling back to the snapshot)."""
    found = r.insight_object()
    snapshot = r.insight or {}
    if signed(r):
        return found  # the figures signed, whatever the data holds now
    if found is not None and snapshot.get(reflections.STORE_VERSION) != store.version():
        found = insights.find(store, found.id, found.filters) or found
    return found


def signed(r: Reflection) -> bool:
    """Signed off, with the digest of what was signed, and unchanged since."""
    return r.status == "reviewed" and bool(r.signed_digest)


def _sign_off_fields(store: Store, r: Reflection, agents: list[str]) -> dict[str, str]:
    """The pack's review and sign-off fields: a valid sign-off in full, a voided one as a
    note, the completion date either way."""
    fields = {
        "supervisor": r.supervisor,
        "supervisor_comment": redact_people(r.supervisor_comment, agents, r.learner),
        "completed": day_words(r.submitted_at) if r.submitted_at else "",
    }
    if r.status == "changed_after_sign_off":
        when = f" on {day_words(r.signed_off_at)}" if r.signed_off_at else ""
        void = (
            f"Changed after sign-off: {r.supervisor or 'the supervisor'} signed it off{when}, "
            "but it was edited afterwards, so that sign-off no longer applies. Send it for "
            "review again."
        )
        return {**fields, "supervisor": "", "supervisor_comment": "", "void_note": void}
    if r.status != "reviewed" or r.signed_off_at is None:
        return fields
    return {
        **fields,
        "signed_off": day_words(r.signed_off_at),
        "signed_at": f"{day_words(r.signed_off_at)} {r.signed_off_at:%H:%M} UTC",
        "signer_role": r.signer.role_words,
        "organisation": reflections.organisation(store),
        "verification_code": reflections.verification_code(r.signed_digest),
    }


def _charts(
    store: Store,
    r: Reflection,
    found: insights.Insight | None,
    context: Context,
    settings: Settings,
) -> list[ChartSpec]:
    """The insight's chart, then whole-week trends of the reflection's KPIs, then the
    before/after chart of the SMART action when there is one; each made to stand alone."""
    charts = []
    if found is not None:
        key = found.metrics[0] if found.metrics else None
        segment = Segment.of_filters(found.filters)
        charts.append(
            pack_charts.stand_alone(found.chart, key, context, settings, r.action, segment)
        )
    wanted = [k for k in r.metrics if k in REGISTRY][:MAX_TREND_CHARTS]
    if found is None or found.kind != "signal":  # a signal's chart is already the trend
        for key in wanted:
            weekly = pack_charts.weekly_trend(store, r.filters, key, settings, r.as_of_utc())
            charts.append(
                pack_charts.stand_alone(
                    weekly, key, context, settings, r.action, Segment.of_filters(r.filters)
                )
            )
    return charts + _before_after_charts(store, r, context, settings)


def _before_after_charts(
    store: Store, r: Reflection, context: Context, settings: Settings
) -> list[ChartSpec]:
    """``action_check.chart`` (one spec, several or None), when that module offers it."""
    draw = getattr(action_check, "chart", None)
    if draw is None:
        return []
    drawn = draw(store, r)
    specs = [drawn] if isinstance(drawn, ChartSpec) else list(drawn or [])
    key = r.action.kpi if r.action.kpi in REGISTRY else None
    # Their titles already name the segment, the windows and n: axes and footer added.
    return [pack_charts.footed(spec, key, context) for spec in specs]


def _n_text(n: int, indexed: bool) -> str:
    return pack_charts.n_words(n, indexed)


#: A key figure whose interval cannot be worked out from what the pack holds.
NO_INTERVAL = "— (not computed for this figure)"


def _interval(low: float | None, high: float | None, unit: str, indexed: bool) -> str:
    if indexed and unit == "count":
        return "hidden in indexed mode"
    if low is None or high is None:
        return ""
    return f"{format_value(low, unit)} to {format_value(high, unit)}"


def _figure_interval(f: insights.Figure, indexed: bool) -> str:
    """An insight figure's interval: its own, else for a rate (a share of n, in %) the Wilson
    interval from its value and n; else said to be not computed (a count, a score)."""
    if f.ci_low is not None and f.ci_high is not None:
        return _interval(f.ci_low, f.ci_high, f.unit, indexed) or NO_INTERVAL
    if f.unit == "%" and f.value is not None and f.n > 0 and 0 <= f.value <= 100:
        found = wilson_interval(round(f.value / 100 * f.n), f.n)
        if found.low is not None and found.high is not None:
            return _interval(found.low * 100, found.high * 100, f.unit, indexed)
    return NO_INTERVAL


def _key_figures(
    store: Store, r: Reflection, found: insights.Insight | None, indexed: bool
) -> list[KeyFigure]:
    out = []
    rows = list(found.figures) if found else []
    for f in rows:
        shown = _shown(f.label, f.value, f.unit, f.n, f.definition, indexed)
        shown.interval = _suppressed_or(f.n, _figure_interval(f, indexed))
        out.append(shown)
    keys = [k for k in r.metrics if k in REGISTRY]
    if keys and r.filters.date_from and r.filters.date_to:
        settings = load_settings(store)
        total = engine.report(
            store, r.filters, as_of=r.as_of_utc(), metrics=keys, settings=settings
        ).totals()
        for key in keys:
            m = total[key]
            shown = _shown(
                f"{REGISTRY[key].label}, whole period", m.value, m.unit, m.n, m.definition, indexed
            )
            shown.interval = _suppressed_or(
                m.n, _interval(m.ci_low, m.ci_high, m.unit, indexed) or NO_INTERVAL
            )
            out.append(shown)
    return out


def _suppressed_or(n: int, text: str) -> str:
    return "" if n < SMALLEST_CELL else text


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


#: The column each kind of stored row is dated by.
_DATED_BY = {"contacts": "opened_at", "responses": "responded_at", "intervals": "interval_start"}


def _date_ranges(store: Store) -> dict[int, tuple[datetime, datetime]]:
    """Batch -> (first, last) instant of the rows it holds in the store now."""
    out: dict[int, tuple[datetime, datetime]] = {}
    cur = store.cursor()
    for kind in KINDS:
        column = _DATED_BY.get(kind)
        if column is None:
            continue
        rows = cur.execute(
            f"SELECT batch_id, min({column}), max({column}) FROM {kind} "  # noqa: S608 - names are ours
            f"WHERE {column} IS NOT NULL AND batch_id IS NOT NULL GROUP BY batch_id"
        ).fetchall()
        for batch, first, last in rows:
            if batch in out:
                first, last = min(first, out[batch][0]), max(last, out[batch][1])
            out[int(batch)] = (first, last)
    return out


def _provenance(
    store: Store,
    indexed: bool,
    first: date | None = None,
    last: date | None = None,
    timezone: str = "UTC",
) -> list[dict[str, str]]:
    """Each imported file whose rows overlap [first, last], with the days its rows cover, read
    in ``timezone`` as the pack's period is (the store keeps naive UTC: a contact at 23:30 UTC
    on 31 May is on 1 June in London in summer)."""
    rows = (
        store.cursor()
        .execute(
            """SELECT batch_id, file_name, layout, kind, rows_imported, imported_at FROM imports
           WHERE undone_at IS NULL ORDER BY batch_id"""
        )
        .fetchall()
    )
    zone = ZoneInfo(timezone)
    ranges = {
        batch: (_local_day(start, zone), _local_day(end, zone))
        for batch, (start, end) in _date_ranges(store).items()
    }
    out = []
    for batch, name, layout, kind, count, at in rows:
        start, end = ranges.get(int(batch), (None, None))
        if first and last and start and end and (end < first or start > last):
            continue  # none of its rows fall in the pack's period: it did not feed the pack
        out.append(
            {
                "source file": name,
                "layout": layout or "",
                "kind": kind or "",
                "rows imported": _n_text(int(count or 0), indexed),
                "dates in the file": f"{day_words(start)} to {day_words(end)}"
                if start and end
                else "",
                "imported": instant_words(at) if at else "",
            }
        )
    return out


def _local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The day a naive UTC instant falls on in ``zone``."""
    return instant.replace(tzinfo=UTC).astimezone(zone).date()


def _bounds(store: Store, r: Reflection) -> tuple[date | None, date | None]:
    """The first and last day the pack's figures can cover: the filters' dates within the
    data's range."""
    first, last = breakdowns.data_range(store)
    start = max(d for d in (r.filters.date_from, first) if d) if first else r.filters.date_from
    end = min(d for d in (r.filters.date_to, last) if d) if last else r.filters.date_to
    return start, end


def _cutoff(r: Reflection, last: date | None) -> str:
    """When the data stopped: the latest record when the reflection began (its as-of)."""
    if r.as_of is not None:
        return f"{r.as_of.day} {r.as_of:%b %Y %H:%M} UTC"
    return f"{last.day} {last:%b %Y}" if last else "no data"


def _context(store: Store, r: Reflection, indexed: bool, sources: list[str]) -> Context:
    first, last = _bounds(store, r)
    return Context(
        learner=r.learner,
        reference=r.reference,
        cutoff=_cutoff(r, breakdowns.data_range(store)[1]),
        sources=tuple(dict.fromkeys(sources)),
        period=pack_charts.period_words(r.filters, first, last),
        segment=pack_charts.segment_words(r.filters, r.learner),
        indexed=indexed,
        first_day=first,
        last_day=last,
    )


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
    settings = load_settings(store)
    first, last = _bounds(store, r)
    provenance = _provenance(store, indexed, first, last, settings.timezone)
    context = _context(store, r, indexed, [row["source file"] for row in provenance])
    found = _insight(store, r)
    keys = list(dict.fromkeys([*(found.metrics if found else ()), *r.metrics]))
    keys = [k for k in keys if k in REGISTRY]
    me_rows, me_note, me_charts = _me_against_rest(store, r, keys, settings, context)
    charts = _charts(store, r, found, context, settings) + me_charts
    key = store.pseudonym_key
    safe = [shareable(c, me=r.learner, indexed=indexed, key=key) for c in charts]
    images = [renderer.image(figure(c)) for c in safe] if renderer else []
    today = today or datetime.now(UTC).date()
    sign = _sign_off_fields(store, r, agents)
    return Pack(
        reference=r.reference,
        title=redact_people(r.title, agents, r.learner),
        learner=r.learner,
        level=r.level,
        standard=r.standard,
        created=today,
        evidence_type="Product evidence and reflective account",
        period=redact_filters(r.filters, r.learner)
        if (r.filters.date_from or r.filters.date_to)
        else _whole(store),
        status=reflections.STATUS_LABELS[r.status],
        ksbs=[catalogue[k] for k in r.ksbs if k in catalogue],
        charts=safe,
        images=images,
        figures=_key_figures(store, r, found, indexed),
        definitions={REGISTRY[k].label: _definition(store, k) for k in keys},
        provenance=provenance,
        anonymisation=ANONYMISATION.format(minimum=SMALLEST_CELL, day=day_words(today)),
        sections=_sections(store, r, agents),
        customer_comment=scrub(r.customer_comment),
        action=redact_people(r.action.describe(), agents, r.learner),
        action_check=_action_check(store, r),
        supervisor=sign["supervisor"],
        supervisor_comment=sign["supervisor_comment"],
        signed_off=sign.get("signed_off", ""),
        signer_role=sign.get("signer_role", ""),
        organisation=sign.get("organisation", ""),
        signed_at=sign.get("signed_at", ""),
        verification_code=sign.get("verification_code", ""),
        completed=sign["completed"],
        void_note=sign.get("void_note", ""),
        indexed=indexed,
        statement=_statement(found, agents, r.learner),
        me=me_rows,
        me_note=me_note,
        settings_used=_settings_used(settings, keys, found),
        sla_targets=_sla_rows(settings) if _uses_sla(keys, found) else [],
        cutoff=context.cutoff,
        alt_texts=[pack_charts.alt_text(c) for c in safe],
        me_charts=len(me_charts),
    )


def _statement(found: insights.Insight | None, agents: list[str], me: str) -> list[tuple[str, str]]:
    """The insight in the learner's pack: what it says, in plain words, and how it was tested."""
    if found is None:
        return [("Insight", NO_INSIGHT)]
    out = [("What the data showed", found.title), ("In plain words", found.summary)]
    out.append(("How it was tested", TEST_WORDS.get(found.kind, "")))
    details = getattr(found, "details", "")  # the statistical test and its p-value
    if not details and found.p_value is not None:
        details = f"p = {found.p_value:.3g}"
    if details:
        out.append(("The test in detail", details))
    return [(label, redact_people(text, agents, me)) for label, text in out if text]


def _learner_agent(store: Store, r: Reflection) -> tuple[str | None, bool]:
    """The agent name in the data that is the reflection's learner, and whether an admin
    linked it to them (team mode's people, ``kpi users agents``); else the store's "this is
    me", which must then be the learner's own name."""
    for person in users.all_users(store):
        if person.agent_names and users.is_person(person, r.learner):
            return person.agent_names[0], True
    return viewer.me(store), False


def _me_against_rest(
    store: Store, r: Reflection, keys: list[str], settings: Settings, context: Context
) -> tuple[list[list[str]], str, list[ChartSpec]]:
    """(table rows, note, charts) of the learner against the rest of the team combined, when
    the store knows which agent the learner is."""
    me, linked = _learner_agent(store, r)
    if me is None:
        return [], NO_ME, []
    if not linked and _person(me) != _person(r.learner):
        # "This is me" is one setting per store (per person in team mode later): a pack by
        # someone else must not print that agent's own figures under their name.
        return [], NOT_THE_LEARNER, []
    compared = [k for k in keys if REGISTRY[k].unit != "count"]
    if not compared:
        return [], "", []
    found = comparison.me_against_rest(store, r.filters, me, compared, settings)
    if not found.rest:
        return [], NO_REST, []
    charts = []
    for key in compared[:MAX_ME_CHARTS]:
        spec = pack_charts.me_against_rest(found, key)
        if spec is not None:
            # Titled with the comparison's own scope, not the pack's (it drops the agent
            # filter and is limited to the learner's team).
            charts.append(pack_charts.me_title(spec, key, context, r.filters))
    return pack_charts.me_rows(found, context.indexed), ME_NOTE, charts


def _person(name: str) -> str:
    return " ".join(name.split()).casefold()


def _uses_sla(keys: list[str], found: insights.Insight | None) -> bool:
    return any(k in SLA_KEYS for k in keys) or (found is not None and found.kind == "concentration")


def _sla_rows(settings: Settings) -> list[list[str]]:
    """The SLA targets by priority (hours), then any channel's own targets."""
    table = settings_form.sla_table(settings)
    rows = [list(table.columns)]
    for record in table.to_dict("records"):
        rows.append([str(record[c]) if record[c] == record[c] else "none" for c in table.columns])
    for channel, targets in sorted(settings.sla_channel_targets.items()):
        for priority, t in targets.items():
            rows.append([f"{priority} ({channel} only)", f"{t.first_response_hours:g}",
                         f"{t.resolution_hours:g}"])  # fmt: skip
    return [[_hours(v) for v in row] for row in rows]


def _hours(text: str) -> str:
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def _settings_used(
    settings: Settings, keys: list[str], found: insights.Insight | None
) -> list[str]:
    """The settings behind the figures, in words, each said once."""
    out = []
    if _uses_sla(keys, found) or any(REGISTRY[k].unit == "hours" for k in keys):
        out.append(f"Times are measured in {settings.hours_label()}.")
    if _uses_sla(keys, found):
        out.append(
            "SLA targets by priority are in the table below; a contact with no priority is held "
            f"to the {settings.sla_default_priority} targets."
        )
    out.append(
        f"Days and weeks are read in the {settings.timezone} time zone; weeks start on Monday, "
        "and a week the period covers only in part is left out of the charts."
    )
    out.append(
        f"Results from fewer than {settings.minimum_n} answers are marked as small samples; "
        f"results from fewer than {SMALLEST_CELL} are not shown."
    )
    for key in keys:
        target = settings.targets.get(key)
        if target is not None:
            better = "higher" if target.direction == "higher" else "lower"
            shown = format_value(target.value, REGISTRY[key].unit)
            out.append(f"Team target for {REGISTRY[key].label}: {shown} ({better} is better).")
    if "fcr" in keys:
        out.append(f"FCR rule: {settings_form.choice_words(settings.fcr_variant)}.")
    if "csat" in keys:
        out.append(f"CSAT rule: {settings_form.choice_words(settings.csat_rule, 'csat_rule')}.")
    return out


def _sections(store: Store, r: Reflection, agents: list[str]) -> list[tuple[str, str]]:
    """(step label, the learner's text with colleagues redacted) for each written section."""
    return [
        (label, redact_people(text, agents, r.learner))
        for label, text in reflections.written_sections(r, store)
    ]


def _whole(store: Store) -> str:
    first, last = breakdowns.data_range(store)
    return f"all data ({day_words(first)} to {day_words(last)})" if first and last else "no data"


def _definition(store: Store, key: str) -> str:
    s = breakdowns.scope(store)
    return REGISTRY[key].definition(s.context)


def _action_check(store: Store, r: Reflection) -> list[str]:
    """The check in plain words (``action_check.Check.lines``: segment, whole weeks, effect
    with its interval, any baseline warning, the target), colleagues' names redacted. Its
    charts are ``action_check.chart(store, r)``."""
    found = action_check.check(store, r)
    if found is None:
        return []
    agents = _agents(store)
    note = f"Change dated {day_words(found.note.on_date)}: {found.note.text}"
    return [redact_people(line, agents, r.learner) for line in [note, *found.lines()]]


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
    footer: str = "",
    key: str = "",
) -> bytes:
    """One chart not yet made safe (an insight's), made safe to share and written as png, svg,
    html or csv; ``footer`` (who, which evidence, data cut-off, source) is drawn on the image."""
    safe = shareable(replace(spec, footer=footer or spec.footer), me=me, indexed=indexed, key=key)
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
