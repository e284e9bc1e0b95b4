"""Event logs rolled up to one row per case, set-wise in DuckDB (a mapping's ``[rollup]``).

An event log has one row per event of a case (ServiceNow ``sys_updated_at`` rows, process-mining
``Case ID, Activity, Complete Timestamp`` exports, XES ``case:concept:name``). The events of a
case are ordered by the ``order_by`` timestamp, never by the file's order (an export may be in any
order), with the later ``order_by`` headers and then the file's row breaking ties (cases whose
last events tie on every header are said in a note); each field
named under ``[rollup]`` takes ``first``, ``last``, ``min``, ``max`` or ``count`` of the events
matching its ``where``; every other field takes the last event's value.

The rollup runs on the typed staging table before the checks, so each case's row is checked like
any other row (a resolution before its opening is still caught). The value chosen for a field
carries its source text with it, so an unreadable value is still named. Bookkeeping: the case's
row keeps the ``_row`` of its last event; the other events are counted as rolled up, or, when the
case's row is set aside, set aside with it (``rows read = imported + quarantined`` holds). A
case with an event of no readable ``order_by`` time is set aside whole, never rolled up from its
other events: their order is unknown, so its last event (its state) may be the unreadable one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb

from kpi.errors import ImportProblem, printable
from kpi.ingest.layouts import RollupPlan, RollupSpec, norm_header
from kpi.ingest.parsing import (
    DateDetection,
    DateParse,
    Params,
    detect_dates,
    explicit_dates,
    text_value,
)
from kpi.ingest.staging import Staged
from kpi.store.schema import key_field

ORDER = "_order_at"  # the event's order_by timestamp, in the events table
#: The event's place among its case's events: a struct of the timestamp, the tie-breakers and
#: the file's row, compared field by field (cheaper than numbering the events with a window).
SEQ = "_seq"
TIE = "_tie"  # ``_seq`` without the file's row


@dataclass(frozen=True)
class Rolled:
    """What a rollup left behind for the bookkeeping after the checks."""

    events_table: str  # every staged event with its order (``_order_at``, ``_seq``)
    cases_table: str  # one row per case: ``_key``, ``_kept`` (its row), ``_events``
    key: str  # the case id field
    columns: tuple[str, ...]  # the staging table's columns before the rollup
    #: What the import must say: a ``where`` that matched no event (a misspelt value leaves
    #: its field empty in every contact, which must not pass in silence).
    notes: tuple[str, ...] = ()

    def placed(self, alias: str = "") -> str:
        """SQL over the events table: the event belongs to a case (it has an id, a readable
        time and, in a thread, a first message)."""
        a = f"{alias}." if alias else ""
        return f"({a}{self.key} IS NOT NULL AND {a}{ORDER} IS NOT NULL AND {a}_unplaced IS NULL)"


def roll_up(
    cur: duckdb.DuckDBPyConnection, staged: Staged, issues_table: str
) -> tuple[Staged, Rolled | None]:
    """Replace the staging table's events by one row per case (per thread, with
    ``in_reply_to``); events that belong to no case (no readable ``order_by``, or a case with
    such an event, a loop of replies, a case that did not start as ``started_by`` says) stay as
    rows of their own with a fatal issue. Returns the new ``Staged`` (count fields now present)
    and what ``settle`` needs after the checks; ``(staged, None)`` without a rollup."""
    plan = staged.layout.rollup
    if plan is None:
        return staged, None
    key = key_field(staged.layout.kind)
    positions = _positions(staged, plan)
    columns = tuple(_columns(cur, staged.table))
    rolled = Rolled(f"events_{staged.tag}", f"cases_{staged.tag}", key, columns)
    order_sql, p, order_note = _order_sql(cur, staged, plan, positions)
    _create_events(cur, staged, plan, positions, rolled, order_sql, p)
    if plan.in_reply_to:
        _thread_messages(cur, staged, plan, positions, rolled)
    _unorderable_cases(cur, plan, rolled)
    _create_cases(cur, staged, plan, rolled)
    notes = (
        *([order_note] if order_note else []),
        *_unmatched_wheres(cur, plan, positions, rolled),
        *_tied_last_events(cur, plan, rolled),
        *_partial_threads(cur, plan, rolled),
    )
    rolled = replace(rolled, notes=notes)
    counts = [name for name, spec in plan.fields.items() if spec.aggregate == "count"]
    _replace_stage(cur, staged, plan, rolled)
    _unordered_issues(cur, staged, plan, rolled, issues_table)
    return replace(staged, present=staged.present | frozenset(counts)), rolled


def settle(
    cur: duckdb.DuckDBPyConnection, staged: Staged, rolled: Rolled, issues_table: str
) -> int:
    """After the checks: the events of a case whose row was set aside are set aside with it
    (each with the reason); returns how many events were rolled up into an imported row."""
    fatal = f"(SELECT _row FROM {issues_table} WHERE fatal)"
    others = (
        f"FROM {rolled.events_table} e JOIN {rolled.cases_table} c ON e.{rolled.key} = c._key "
        f"WHERE c._started AND e._row <> c._kept AND {rolled.placed('e')}"
    )
    cur.execute(
        f"INSERT INTO {issues_table} SELECT e._row, ?, e.{rolled.key}, "
        f"printf('event of %s, rolled up into row %d, which was set aside', "
        f"e.{rolled.key}, c._kept), true {others} AND c._kept IN {fatal}",
        [rolled.key],
    )
    cur.execute(
        f"INSERT INTO {staged.table} BY NAME SELECT {', '.join(f'e.{c}' for c in rolled.columns)} "
        f"{others} AND c._kept IN {fatal}"
    )
    (rolled_up,) = cur.execute(
        f"SELECT coalesce(sum(_events - 1), 0) FROM {rolled.cases_table} "
        f"WHERE _started AND _kept NOT IN {fatal}"
    ).fetchall()[0]
    for table in (rolled.events_table, rolled.cases_table):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    return int(rolled_up)


# --- where the rollup's headers are -----------------------------------------------------------


def _positions(staged: Staged, plan: RollupPlan) -> dict[str, int]:
    """Each header the rollup reads -> its column in the raw table; raise naming the key."""
    found: dict[str, int] = {}
    for i, header in enumerate(staged.raw.headers):
        found.setdefault(norm_header(header), i)
    positions = {}
    for header in plan.headers():
        if norm_header(header) not in found:
            shown = printable(", ".join(staged.raw.headers[:10])) + (
                ", ..." if len(staged.raw.headers) > 10 else ""
            )
            raise ImportProblem(
                f"{staged.file_name}: [rollup] {_used_by(plan, header)} names column "
                f"{printable(header)!r}, which the file does not have (it has {shown}); "
                "fix the mapping and import again."
            )
        positions[header] = found[norm_header(header)]
    return positions


def _used_by(plan: RollupPlan, header: str) -> str:
    """The [rollup] key that names ``header``, for a message."""
    if header in plan.order_by:
        return "order_by"
    if header == plan.in_reply_to:
        return "in_reply_to"
    if header in (c for c, _ in plan.started_by):
        return "started_by"
    for name, spec in plan.fields.items():
        if header in (c for c, _ in spec.where):
            return f"{name} where"
        if spec.column == header:
            return f"{name} {spec.aggregate}"
    return "order_by"


def _columns(cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    cur.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cur.description or []]


# --- the events in order ----------------------------------------------------------------------


def _order_sql(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    plan: RollupPlan,
    positions: dict[str, int],
) -> tuple[str, Params, str | None]:
    """SQL of the event's order_by timestamp (over ``s``, the staging table, and ``r``, the raw
    table), and the note saying how it was read when no field reads the same header: a mapped
    timestamp field reading it is reused as it was read; otherwise the header is read with the
    mapping's date_format, or its detected format."""
    header = plan.order_by[0]
    for name, spec in staged.layout.columns.items():
        if name in staged.date_parses and spec.columns == (header,):
            return f"s.{name}", Params("o"), None
    p = Params("o")
    null_values = staged.layout.null_values
    parse = _order_parse(cur, staged, header, positions[header])
    text = text_value([f"r.c{positions[header]}"], p, null_values, None)
    note = f"events ordered by {printable(header)!r}, read as {parse.label}"
    return parse.sql(text, staged.layout.timezone, p), p, note


def _order_parse(
    cur: duckdb.DuckDBPyConnection, staged: Staged, header: str, position: int
) -> DateParse:
    """The mapping's date_format, else the one format detected on the raw column."""
    if staged.layout.date_format:
        return explicit_dates(staged.layout.date_format)
    p = Params("d")
    text = text_value([f"c{position}"], p, staged.layout.null_values, None)
    return detect_dates(
        cur,
        staged.raw.table,
        text,
        DateDetection(header, "[rollup] order_by"),
        staged.file_name,
        dict(p.values),
    )


def _create_events(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    plan: RollupPlan,
    positions: dict[str, int],
    rolled: Rolled,
    order_sql: str,
    p: Params,
) -> None:
    """The staged events with their order timestamp, their place in their case (``_seq``) and
    the text of every header a ``where`` or a ``count`` looks at (``_h<position>``)."""
    null_values = staged.layout.null_values
    extra = [
        f"{order_sql} AS {ORDER}",
        f"r.c{positions[plan.order_by[0]]} AS _order_raw",
        "CAST(NULL AS VARCHAR) AS _unplaced",  # why the event belongs to no case, if it does not
        "CAST(NULL AS VARCHAR) AS _unplaced_by",  # the [rollup] key that says why
        # In a thread: the message its first message replies to, when that is not in the file.
        "CAST(NULL AS VARCHAR) AS _missing_parent",
    ]
    for header in plan.headers():
        i = positions[header]
        extra.append(f"{text_value([f'r.c{i}'], p, null_values, None)} AS _h{i}")
    breaks = []
    for k, header in enumerate(plan.order_by[1:]):
        # A tie-breaker is numeric when it reads as a number (sys_mod_count), else text, after
        # the numbers; an empty one comes last.
        column = f"_h{positions[header]}"
        breaks += [
            f"t{k}n := coalesce(TRY_CAST({column} AS DOUBLE), 'infinity'::DOUBLE)",
            f"t{k} := coalesce({column}, chr(1114111))",
        ]
    seq = f"struct_pack({', '.join(['o := ' + ORDER, *breaks, 'r := _row'])})"
    # The same without the file's row: two events of a case with equal ``_tie`` are tied.
    tie = f"struct_pack({', '.join(['o := ' + ORDER, *breaks])})"
    cur.execute(
        f"""CREATE TEMP TABLE {rolled.events_table} AS
        SELECT *, {seq} AS {SEQ}, {tie} AS {TIE}
        FROM (SELECT s.*, {", ".join(extra)}
              FROM {staged.table} s JOIN {staged.raw.table} r USING (_row))""",
        p.values,
    )


def _unorderable_cases(cur: duckdb.DuckDBPyConnection, plan: RollupPlan, rolled: Rolled) -> None:
    """A case with an event of no readable order_by time has events in an unknown order: its
    last event, its first, its count after a where may all be wrong, so none of its events is
    rolled up; each readable one is set aside naming the unreadable one (the first in the file,
    if several), which ``_unordered_issues`` sets aside with its own reason."""
    key, events = rolled.key, rolled.events_table
    unreadable = f"{key} IS NOT NULL AND {ORDER} IS NULL AND _unplaced IS NULL"
    cur.execute(
        f"""UPDATE {events} SET _unplaced_by = '[rollup] order_by', _unplaced = printf(
                'event of ''%s'', whose events cannot be ordered: the %s of row %d %s, so the '
                'whole case is set aside (fix that row and import again)',
                left({events}.{key}, 60), ?, u.first_row,
                CASE WHEN nullif(trim(u.raw), '') IS NULL THEN 'is empty'
                     ELSE printf('is ''%s'', not a readable date', left(u.raw, 60)) END)
        FROM (SELECT {key} AS k, min(_row) AS first_row,
                     arg_min(coalesce(_order_raw, ''), _row) AS raw
              FROM {events} WHERE {unreadable} GROUP BY {key}) u
        WHERE {events}.{key} = u.k AND {events}.{ORDER} IS NOT NULL
          AND {events}._unplaced IS NULL""",
        [printf_safe(plan.order_by[0])],
    )


def _tied_last_events(
    cur: duckdb.DuckDBPyConnection, plan: RollupPlan, rolled: Rolled
) -> tuple[str, ...]:
    """A note when cases' last events tie on every order_by header: the one later in the file
    is taken (the rule), but the file's order may not be the events' order, so it is said."""
    key, events = rolled.key, rolled.events_table
    found = cur.execute(
        f"""WITH last AS (SELECT {key} AS k, max({TIE}) AS t FROM {events}
                          WHERE {rolled.placed()} GROUP BY {key})
        SELECT count(*) OVER (), k, rows FROM (
            SELECT e.{key} AS k, list(e._row ORDER BY e._row) AS rows
            FROM {events} e JOIN last ON e.{key} = last.k AND e.{TIE} = last.t
            JOIN {rolled.cases_table} c ON c._key = e.{key}
            WHERE {rolled.placed("e")} AND c._started
            GROUP BY e.{key} HAVING count(*) > 1)
        ORDER BY rows[1] LIMIT 1"""
    ).fetchall()
    if not found:
        return ()
    n, case, tied = found[0]
    headers = " and ".join(repr(printable(h)) for h in plan.order_by)
    # A case may have many tied events (a bulk update): a few rows are enough to find them.
    first = [str(r) for r in tied[:-1]]
    shown = ", ".join(first if len(first) <= 4 else [*first[:3], "..."]) + f" and {tied[-1]}"
    cases = "case has" if n == 1 else "cases have"
    return (
        f"[rollup] {n} {cases} last events tied on {headers}, decided by file order: the row "
        f"later in the file was taken (e.g. {printable(str(case))[:60]!r}: rows {shown} tie, "
        f"row {tied[-1]} was taken); add a tie-breaker to order_by if the file's order is not "
        "the events' order",
    )


def _unmatched_wheres(
    cur: duckdb.DuckDBPyConnection, plan: RollupPlan, positions: dict[str, int], rolled: Rolled
) -> tuple[str, ...]:
    """A note for each [rollup] field whose ``where`` matches no event at all, with the
    commonest values of its first column, so a misspelt activity is seen."""
    p = Params("m")
    wheres = {name: spec for name, spec in plan.fields.items() if spec.where}
    if not wheres:
        return ()
    matched = [
        f"count(*) FILTER (WHERE {_where_sql(spec, positions, p)})" for spec in wheres.values()
    ]
    counts = cur.execute(
        f"SELECT {', '.join(matched)} FROM {rolled.events_table}", p.values
    ).fetchall()[0]
    notes = []
    for (name, spec), n in zip(wheres.items(), counts, strict=True):
        if n:
            continue
        header = spec.where[0][0]
        found = cur.execute(
            f"SELECT _h{positions[header]} FROM {rolled.events_table} "
            f"WHERE _h{positions[header]} IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5"
        ).fetchall()
        shown = ", ".join(repr(printable(str(v))[:40]) for (v,) in found) or "nothing"
        notes.append(
            f"[rollup] {name}: no event matches its where ({printable(header)!r} holds e.g. "
            f"{shown}), so {name} is {'0' if spec.aggregate == 'count' else 'empty'} in every "
            "contact: check the value's spelling"
        )
    return tuple(notes)


# --- one row per case -------------------------------------------------------------------------


def _create_cases(
    cur: duckdb.DuckDBPyConnection, staged: Staged, plan: RollupPlan, rolled: Rolled
) -> None:
    """Each case's last event (``_kept``), its number of events and each [rollup] field's
    chosen value (``_a_<field>``: a struct of the typed value and its source text)."""
    p = Params("a")
    positions = _positions(staged, plan)
    aggregates = [
        f"{_aggregate(staged, name, spec, positions, p)} AS _a_{name}"
        for name, spec in plan.fields.items()
        if spec.aggregate == "count" or name in staged.present
    ]
    started = "true"
    if plan.started_by:
        # The case's first event decides (a thread's first message, by time).
        started = f"arg_min({_matching_sql(plan.started_by, positions, p)}, {SEQ})"
    cur.execute(
        f"""CREATE TEMP TABLE {rolled.cases_table} AS
        SELECT {rolled.key} AS _key, arg_max(_row, {SEQ}) AS _kept, count(*) AS _events,
               {started} AS _started {"".join(", " + a for a in aggregates)}
        FROM {rolled.events_table}
        WHERE {rolled.placed()}
        GROUP BY {rolled.key}""",
        p.values,
    )


def _aggregate(
    staged: Staged, name: str, spec: RollupSpec, positions: dict[str, int], p: Params
) -> str:
    """SQL of one field's value over its case's events."""
    matching = _where_sql(spec, positions, p)
    if spec.aggregate == "count":
        counted = "*" if spec.column == "*" else f"_h{positions[spec.column]}"
        number = f"count({counted}) FILTER (WHERE {matching})"
        return f"greatest({number} - {int(spec.minus)}, 0)"
    pair = (
        f"struct_pack(v := {name})"
        if staged.verbatim(name)
        else f"struct_pack(v := {name}, raw := {name}__raw)"
    )
    if spec.aggregate in ("first", "last"):
        pick = "arg_min" if spec.aggregate == "first" else "arg_max"
        return f"{pick}({pair}, {SEQ}) FILTER (WHERE {matching})"
    # min and max look at readable values only; of equal values, min takes the earlier
    # event's and max the later's (their source text may differ).
    pick = "arg_min" if spec.aggregate == "min" else "arg_max"
    return (
        f"{pick}({pair}, struct_pack(v := {name}, s := {SEQ})) "
        f"FILTER (WHERE {matching} AND {name} IS NOT NULL)"
    )


def _where_sql(spec: RollupSpec, positions: dict[str, int], p: Params) -> str:
    return _matching_sql(spec.where, positions, p)


def _matching_sql(
    pairs: tuple[tuple[str, tuple[str, ...]], ...], positions: dict[str, int], p: Params
) -> str:
    """Every header holds one of its values (trimmed, whatever the case); an empty cell never
    matches."""
    tests = [
        f"coalesce(lower(_h{positions[header]}) IN "
        f"({', '.join(p(v.strip().lower()) for v in values)}), false)"
        for header, values in pairs
    ]
    return " AND ".join(tests) or "true"


def _replace_stage(
    cur: duckdb.DuckDBPyConnection, staged: Staged, plan: RollupPlan, rolled: Rolled
) -> None:
    """The staging table rebuilt: each case's last event with its [rollup] fields replaced, and
    the events that could not be placed (no case id, or no readable order) as they were."""
    replaced, added = [], []
    for name, spec in plan.fields.items():
        value = f"c._a_{name}"
        if spec.aggregate == "count":
            added += [f"CAST({value} AS VARCHAR) AS {name}__raw", f"{value} AS {name}"]
        elif name in staged.present:
            replaced.append(f"{value}.v AS {name}")
            if not staged.verbatim(name):
                replaced.append(f"{value}.raw AS {name}__raw")
    columns = ", ".join(rolled.columns)
    kept = f"e.* EXCLUDE ({', '.join(c for c in _event_extras(rolled, cur))})"
    if replaced:
        kept = f"{kept} REPLACE ({', '.join(replaced)})"
    cur.execute(f"DROP TABLE {staged.table}")
    cur.execute(
        f"""CREATE TEMP TABLE {staged.table} AS
        SELECT {kept}{"".join(", " + a for a in added)}
        FROM {rolled.events_table} e JOIN {rolled.cases_table} c ON e._row = c._kept
        WHERE c._started
        UNION ALL BY NAME
        SELECT {columns} FROM {rolled.events_table}
        WHERE NOT {rolled.placed()}
           OR {rolled.key} IN (SELECT _key FROM {rolled.cases_table} WHERE NOT _started)"""
    )


def _event_extras(rolled: Rolled, cur: duckdb.DuckDBPyConnection) -> list[str]:
    """The events table's own columns (not the staging table's)."""
    return [c for c in _columns(cur, rolled.events_table) if c not in rolled.columns]


def _unordered_issues(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    plan: RollupPlan,
    rolled: Rolled,
    issues_table: str,
) -> None:
    """An event with a case id but no readable order_by timestamp cannot be placed among its
    case's events: it is set aside, naming the value (or saying it is empty), and so are the
    other events of its case (``_unorderable_cases``); so is a message whose reply chain never
    reaches a first message, and every event of a case that did not start as ``started_by``
    says (a thread the company started is not a customer's contact)."""
    header = printable(plan.order_by[0])
    key = rolled.key
    cur.execute(
        f"""INSERT INTO {issues_table}
        SELECT _row, '[rollup] order_by', left(_order_raw, 500),
               CASE WHEN nullif(trim(_order_raw), '') IS NULL
                    THEN printf('%s is empty', ?)
                    ELSE printf('cannot read ''%s'' as a date (%s, which orders the events)',
                                left(_order_raw, 60), ?) END
               || printf(', so the events of ''%s'' cannot be ordered and the whole case is '
                         'set aside: fix this row and import again', left({key}, 60)),
               true
        FROM {rolled.events_table}
        WHERE {key} IS NOT NULL AND {ORDER} IS NULL AND _unplaced IS NULL""",
        [header, header],
    )
    cur.execute(
        f"""INSERT INTO {issues_table}
        SELECT _row, _unplaced_by, left({key}, 500), _unplaced, true
        FROM {rolled.events_table} WHERE _unplaced IS NOT NULL"""
    )
    if not plan.started_by:
        return
    wanted = " and ".join(
        f"{printf_safe(c)} = {' or '.join(printf_safe(v) for v in values)}"
        for c, values in plan.started_by
    )
    # A thread whose first message is missing from the file was perhaps started by a customer
    # before the export began: "not started by" would be untrue, so the missing message is said.
    cur.execute(
        f"""INSERT INTO {issues_table}
        SELECT e._row,
               CASE WHEN e._missing_parent IS NULL THEN '[rollup] started_by'
                    ELSE '[rollup] in_reply_to' END,
               left(e.{key}, 500),
               CASE WHEN e._missing_parent IS NULL
                    THEN printf('%s was not started by an event with %s ([rollup] started_by), '
                                'so it is not a contact', left(e.{key}, 60), ?)
                    ELSE printf('thread ''%s'' starts with a reply to message ''%s'', which is '
                                'not in the file, so who started it is unknown (its first '
                                'message is missing) and it is not a contact', left(e.{key}, 60),
                                left(e._missing_parent, 60)) END,
               true
        FROM {rolled.events_table} e JOIN {rolled.cases_table} c ON e.{key} = c._key
        WHERE NOT c._started AND {rolled.placed("e")}""",
        [wanted],
    )


def _partial_threads(
    cur: duckdb.DuckDBPyConnection, plan: RollupPlan, rolled: Rolled
) -> tuple[str, ...]:
    """A note when contacts come from threads whose first message replies to one not in the
    file (the export began mid-conversation): each is imported from its first message in the
    file, which ``started_by`` matched, and that is said rather than passed in silence."""
    if not plan.in_reply_to:
        return ()
    key, events = rolled.key, rolled.events_table
    found = cur.execute(
        f"""SELECT count(*) OVER (), c._key, e._missing_parent
        FROM {rolled.cases_table} c
        JOIN (SELECT {key} AS k, any_value(_missing_parent) AS _missing_parent FROM {events}
              WHERE _missing_parent IS NOT NULL GROUP BY {key}) e ON e.k = c._key
        WHERE c._started ORDER BY c._key LIMIT 1"""
    ).fetchall()
    if not found:
        return ()
    n, thread, parent = found[0]
    threads = "thread starts" if n == 1 else "threads start"
    return (
        f"[rollup] {n:,} {threads} with a reply to a message not in the file (e.g. "
        f"{printable(str(thread))[:60]!r} replies to {printable(str(parent))[:60]!r}): each is "
        "imported as a contact opened at its first message in the file, which matched "
        "started_by; the messages before it were not exported",
    )


def printf_safe(text: str) -> str:
    """Mapping text shown inside a message (one line, no control characters)."""
    return printable(text)[:40]


# --- message threads ----------------------------------------------------------------------------


def _thread_messages(
    cur: duckdb.DuckDBPyConnection,
    staged: Staged,
    plan: RollupPlan,
    positions: dict[str, int],
    rolled: Rolled,
) -> None:
    """Each message's case becomes its thread, named by the thread's first message: the chains
    of ``in_reply_to`` are walked down from the messages that reply to nothing in the file (a
    recursive query, one step per level of replies). A message whose chain never reaches one
    (a loop of replies) belongs to no thread and is set aside."""
    assert plan.in_reply_to is not None
    key, events = rolled.key, rolled.events_table
    links, threads = f"links_{staged.tag}", f"threads_{staged.tag}"
    # A whole-number id written as a decimal ("3.0": a dataframe wrote a column of ids with
    # gaps as floats, as the public Twitter customer-care dump does) is the id it stands for.
    parent = f"regexp_replace(_h{positions[plan.in_reply_to]}, '^([0-9]+)[.]0+$', '\\1')"
    cur.execute(
        f"""CREATE TEMP TABLE {links} AS
        SELECT {key} AS id, min({parent}) AS parent FROM {events}
        WHERE {key} IS NOT NULL GROUP BY {key}"""
    )
    try:
        cur.execute(
            f"""CREATE TEMP TABLE {threads} AS
            WITH RECURSIVE walk(id, root) AS (
                SELECT id, id FROM {links}
                WHERE parent IS NULL OR parent NOT IN (SELECT id FROM {links})
                UNION ALL
                SELECT l.id, w.root FROM {links} l JOIN walk w ON l.parent = w.id
            )
            SELECT id, root FROM walk"""
        )
        cur.execute(
            f"""UPDATE {events} SET _unplaced = printf('message %s replies in a loop (its %s '
                'chain never reaches a first message), so it belongs to no thread',
                left({key}, 60), ?)
            , _unplaced_by = '[rollup] in_reply_to'
            WHERE {key} IS NOT NULL AND {key} NOT IN (SELECT id FROM {threads})""",
            [printf_safe(plan.in_reply_to)],
        )
        cur.execute(
            f"UPDATE {events} SET {key} = t.root FROM {threads} t "
            f"WHERE {events}.{key} = t.id AND t.root <> t.id"
        )
        # A thread whose first message replies to one the file lacks began before the export:
        # said, never taken for a thread that began here (``_unordered_issues``, ``_partial``).
        cur.execute(
            f"""UPDATE {events} SET _missing_parent = l.parent FROM {links} l
            WHERE {events}.{key} = l.id AND l.parent IS NOT NULL
              AND l.parent NOT IN (SELECT id FROM {links})"""
        )
    finally:
        for table in (links, threads):
            cur.execute(f"DROP TABLE IF EXISTS {table}")
