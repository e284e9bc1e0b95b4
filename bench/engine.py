"""Benchmark: the dashboard overview set on the KPI engine against plain pandas and Polars.

Builds a store with N contacts (default 1M) and N * 0.3 responses, generated with numpy and
inserted by DuckDB, then times, warm, what the overview page needs: every KPI for the period and
the previous period, plus a 12-week weekly trend of four KPIs. The same numbers are computed with
plain pandas and with Polars (calendar hours on every side: neither peer has a set-wise
business-hours calendar; the engine's business-hours run is timed on its own), checked to agree,
and the times and the ratios are printed. A script, not a test: run ``python bench/engine.py [--contacts 10000000]``.
"""

from __future__ import annotations

import argparse
import math
import statistics as stats
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpi.engine.change import trend_window  # noqa: E402
from kpi.engine.filters import Filters  # noqa: E402
from kpi.engine.report import overview  # noqa: E402
from kpi.metrics.settings import Settings  # noqa: E402
from kpi.store.connection import open_store  # noqa: E402

START = datetime(2024, 12, 2)  # a Monday; two years of data
DAYS = 728
PERIOD = Filters(date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
TREND_KEYS = ("csat", "fcr", "sla", "first_response_hours")
PRIORITIES = np.array(["low", "normal", "high", "urgent"])
CHANNELS = np.array(["email", "phone", "chat", "web"])
TEAMS = np.array(["Alpha", "Bravo", "Charlie"])


def _times(rng: np.random.Generator, n: int) -> np.ndarray:
    seconds = rng.integers(0, DAYS * 86400, n)
    return np.datetime64(START, "s") + seconds.astype("timedelta64[s]")


def contacts_frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opened = _times(rng, n)
    first = opened + rng.exponential(4 * 3600, n).astype("timedelta64[s]")
    resolved = first + rng.exponential(20 * 3600, n).astype("timedelta64[s]")
    unresolved = rng.random(n) < 0.05
    channel = CHANNELS[rng.integers(0, len(CHANNELS), n)]
    is_call = channel == "phone"
    answered = np.where(is_call, rng.random(n) < 0.9, np.array(None, dtype=object))
    wait = np.where(is_call, rng.exponential(25, n), np.nan)
    frame = pd.DataFrame(
        {
            "source": "bench",
            "contact_id": np.arange(n).astype(str),
            "opened_at": opened,
            "first_response_at": np.where(rng.random(n) < 0.03, np.datetime64("NaT"), first),
            "resolved_at": np.where(unresolved, np.datetime64("NaT"), resolved),
            "status": np.where(unresolved, "open", "resolved"),
            "priority": PRIORITIES[rng.integers(0, 4, n)],
            "channel": channel,
            "team": TEAMS[rng.integers(0, 3, n)],
            "agent_replies": rng.integers(0, 4, n),
            "reopens": (rng.random(n) < 0.08).astype("int64"),
            "escalated": rng.random(n) < 0.05,
            "complaint": rng.random(n) < 0.02,
            "answered": answered,
            "wait_seconds": wait,
            "handle_seconds": np.where(is_call, rng.normal(420, 90, n), np.nan),
            "customer_key": rng.integers(0, n // 3, n).astype(str),
        }
    )
    frame["answered"] = frame["answered"].astype("boolean")
    return frame


def responses_frame(n: int, contacts: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "source": "bench",
            "response_id": np.arange(n).astype(str),
            "contact_id": rng.integers(0, contacts, n).astype(str),
            "responded_at": _times(rng, n),
            "nps": np.where(rng.random(n) < 0.5, rng.integers(0, 11, n), np.nan),
            "csat": rng.integers(1, 6, n).astype("float64"),
            "csat_scale_min": 1.0,
            "csat_scale_max": 5.0,
            "ces": np.where(rng.random(n) < 0.3, rng.integers(1, 8, n), np.nan),
            "ces_scale_min": 1.0,
            "ces_scale_max": 7.0,
            "channel": CHANNELS[rng.integers(0, len(CHANNELS), n)],
        }
    )


def build_store(path: str, contacts: int, shuffled: bool = False):
    """Rows are stored in time order, as helpdesk exports list them (ids rise with time), unless
    ``shuffled``: then DuckDB cannot skip row groups outside the period."""
    store = open_store(path)
    c = contacts_frame(contacts)
    r = responses_frame(int(contacts * 0.3), contacts)
    if not shuffled:
        c = c.sort_values("opened_at", kind="stable")
        r = r.sort_values("responded_at", kind="stable")
    with store.transaction() as cur:
        for table, frame in (("contacts", c), ("responses", r)):
            cur.register("_frame", frame)
            columns = ", ".join(frame.columns)
            cur.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _frame")
            cur.unregister("_frame")
    return store


T = TypeVar("T")


def timed(function: Callable[[], T], repeat: int) -> tuple[float, float, float, T]:
    """(median wall, best wall, median CPU) seconds of ``repeat`` warm runs, and the last result.

    CPU time (this process, all threads) is printed too: on a shared, busy machine it moves far
    less than wall time.
    """
    result = function()  # warm: caches, compiled SQL, the working-interval table
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return stats.median(walls), min(walls), stats.median(cpus), result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


# --- the same numbers, with plain pandas ---------------------------------------------------------


def _flags(c: pd.DataFrame, as_of: pd.Timestamp, s: Settings) -> pd.DataFrame:
    """Per-contact facts, vectorised: the same rules as kpi.metrics.registry, written again in pandas."""
    rt = c["resolved_at"].fillna(c["closed_at"])
    done = c["status"].isin(["resolved", "closed"])
    resolved_by = rt.notna() & (rt <= as_of)
    is_resolved = resolved_by | (rt.isna() & done)
    return pd.DataFrame(
        {
            **_sla_facts(c, as_of, s, rt, resolved_by, is_resolved),
            **_contact_facts(c, s, is_resolved),
        }
    )


def _sla_facts(
    c: pd.DataFrame,
    as_of: pd.Timestamp,
    s: Settings,
    rt: pd.Series,
    resolved_by: pd.Series,
    is_resolved: pd.Series,
) -> dict[str, pd.Series]:
    """First response and resolution against the priority's targets; open contacts are timed
    up to ``as_of``. ``rt`` is when each contact was resolved (or closed)."""
    fr = c["first_response_at"]
    replied = fr.notna() & (fr <= as_of)
    tracked = c["status"].notna() | rt.notna() | fr.notna()
    is_open = tracked & ~is_resolved
    fr_done = replied | resolved_by
    nat = pd.Series(pd.NaT, index=c.index, dtype=fr.dtype)
    fr_end = fr.where(replied, rt.where(resolved_by, nat.fillna(as_of).where(is_open, nat)))
    res_end = rt.where(resolved_by, nat.fillna(as_of).where(is_open, nat))
    fr_s = (fr_end - c["opened_at"]).dt.total_seconds().clip(lower=0)
    res_s = (res_end - c["opened_at"]).dt.total_seconds().clip(lower=0)
    priority = c["priority"].fillna(s.sla_default_priority)
    fr_t = priority.map({p: t.first_response_hours * 3600 for p, t in s.sla_targets.items()})
    res_t = priority.map({p: t.resolution_hours * 3600 for p, t in s.sla_targets.items()})
    fr_met = fr_done & (fr_s <= fr_t)
    fr_breached = (fr_done | (~fr_done & is_open)) & (fr_s > fr_t)
    res_met = resolved_by & (res_s <= res_t)
    res_breached = (resolved_by | is_open) & (res_s > res_t)
    return {
        "fr_met": fr_met,
        "fr_outcome": fr_met | fr_breached,
        "res_met": res_met,
        "res_outcome": res_met | res_breached,
        "sla_met": fr_met & res_met,
        "sla_outcome": (fr_met & res_met) | fr_breached | res_breached,
        "fr_hours": (fr_s / 3600).where(replied),
        "res_hours": (res_s / 3600).where(resolved_by),
    }


def _contact_facts(c: pd.DataFrame, s: Settings, is_resolved: pd.Series) -> dict[str, pd.Series]:
    """Calls (answered, abandoned, waits), first-contact resolution, reopens, escalations and
    complaints."""
    answered, abandoned = c["answered"].astype("boolean"), c["abandoned"].astype("boolean")
    answered_eff = answered.fillna(~abandoned).fillna(False).astype(bool)
    abandoned_eff = abandoned.fillna(~answered).fillna(False).astype(bool)
    offered = answered.notna() | abandoned.notna()
    short = abandoned_eff & (c["wait_seconds"] < s.short_abandon_seconds)
    wait, handled = c["wait_seconds"], ~abandoned_eff
    return {
        "fcr_pop": handled & is_resolved & c["agent_replies"].notna(),
        "fcr_ok": (c["agent_replies"] <= 1) & (c["reopens"].fillna(0) == 0),
        "aht": c["handle_seconds"].where(handled),
        "asa": wait.where(answered_eff),
        "offered": offered & ~short,
        "abandoned": abandoned_eff,
        "sl_pop": offered & ~short & (abandoned_eff | wait.notna()),
        "sl_ok": answered_eff & (wait <= s.service_level_seconds),
        "reopen_pop": is_resolved & c["reopens"].notna(),
        "reopened": c["reopens"] > 0,
        "escalation_pop": c["escalated"].notna(),
        "escalated": c["escalated"].fillna(False).astype(bool),
        "complaint_pop": c["complaint"].notna(),
        "complaint": c["complaint"].fillna(False).astype(bool),
    }


def _rate(pop: pd.Series, ok: pd.Series) -> float | None:
    n = int(pop.sum())
    return 100.0 * int((pop & ok).sum()) / n if n else None


def _contact_kpis(f: pd.DataFrame) -> dict[str, float | None]:
    mean = lambda x: float(x.mean()) if x.notna().any() else None  # noqa: E731
    median = lambda x: float(x.median()) if x.notna().any() else None  # noqa: E731
    return {
        "fcr": _rate(f["fcr_pop"], f["fcr_ok"]),
        "sla": _rate(f["sla_outcome"], f["sla_met"]),
        "sla_first_response": _rate(f["fr_outcome"], f["fr_met"]),
        "sla_resolution": _rate(f["res_outcome"], f["res_met"]),
        "first_response_hours": median(f["fr_hours"]),
        "resolution_hours": median(f["res_hours"]),
        "aht_seconds": mean(f["aht"]),
        "asa_seconds": mean(f["asa"]),
        "abandonment_rate": _rate(f["offered"], f["abandoned"]),
        "service_level": _rate(f["sl_pop"], f["sl_ok"]),
        "reopen_rate": _rate(f["reopen_pop"], f["reopened"]),
        "escalation_rate": _rate(f["escalation_pop"], f["escalated"]),
        "complaint_rate": _rate(f["complaint_pop"], f["complaint"]),
        "contacts": float(len(f)),
    }


def _response_kpis(r: pd.DataFrame, s: Settings) -> dict[str, float | None]:
    nps = r["nps"].dropna()
    scored = r[r["csat"].notna()]
    points = scored["csat_scale_max"] - scored["csat_scale_min"] + 1
    top = scored["csat_scale_max"].where(points < 4, scored["csat_scale_max"] - 1)
    ces = r[r["ces"].notna()]
    easy = (ces["ces"] - ces["ces_scale_min"]) * 6 >= (7 - s.ces_easy_top) * (
        ces["ces_scale_max"] - ces["ces_scale_min"]
    )
    one_scale = scored["csat_scale_max"].nunique() == 1 and scored["csat_scale_min"].nunique() == 1
    return {
        "nps": 100.0 * ((nps >= 9).sum() - (nps <= 6).sum()) / len(nps) if len(nps) else None,
        "csat": 100.0 * (scored["csat"] >= top).mean() if len(scored) else None,
        "csat_mean": float(scored["csat"].mean()) if len(scored) and one_scale else None,
        "ces": 100.0 * easy.mean() if len(ces) else None,
        "responses": float(len(r)),
    }


def _backlog(c: pd.DataFrame, end: pd.Timestamp) -> float:
    rt = c["resolved_at"].fillna(c["closed_at"])
    tracked = c["status"].notna() | rt.notna() | c["first_response_at"].notna()
    undated_done = rt.isna() & c["status"].isin(["resolved", "closed"])
    return float((tracked & (c["opened_at"] < end) & ~((rt < end) | undated_done)).sum())


def _between(frame: pd.DataFrame, column: str, filters: Filters, tz: str) -> pd.DataFrame:
    start, end = filters.utc_bounds(tz)
    return frame[(frame[column] >= start) & (frame[column] < end)]


def _local_week(times: pd.Series, tz: str) -> pd.Series:
    local = times.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    return (local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.date


def pandas_overview(c: pd.DataFrame, r: pd.DataFrame, filters: Filters, s: Settings) -> dict:
    """Every KPI for the period and the one before, and a 12-week trend of four."""
    times = [c[k].max() for k in ("opened_at", "first_response_at", "resolved_at", "closed_at")]
    as_of = max([t for t in times + [r["responded_at"].max()] if pd.notna(t)])
    cap = as_of + pd.Timedelta(microseconds=1)
    out: dict = {}
    for label, f in (("current", filters), ("previous", filters.previous_period())):
        period = _between(c, "opened_at", f, s.timezone)
        kpis = _contact_kpis(_flags(period, as_of, s))
        kpis |= _response_kpis(_between(r, "responded_at", f, s.timezone), s)
        end = f.utc_bounds(s.timezone)[1]
        kpis["backlog"] = _backlog(c, cap if end is None else min(pd.Timestamp(end), cap))
        out[label] = kpis
    window = trend_window(filters, 12, as_of.to_pydatetime(), s.timezone)
    period = _between(c, "opened_at", window, s.timezone)
    flags = _flags(period, as_of, s).assign(week=_local_week(period["opened_at"], s.timezone))
    weekly = {week: _contact_kpis(group) for week, group in flags.groupby("week")}
    answers = _between(r, "responded_at", window, s.timezone)
    answers = answers.assign(week=_local_week(answers["responded_at"], s.timezone))
    for week, group in answers.groupby("week"):
        weekly.setdefault(week, {}).update(_response_kpis(group, s))
    weeks = sorted(weekly, key=str)  # week-start dates: their ISO text sorts in time order
    out["trend"] = {key: [weekly[w].get(key) for w in weeks] for key in TREND_KEYS}
    return out


# --- the same numbers, with Polars ---------------------------------------------------------------
#
# Written as one would in Polars: per-contact facts as expressions, the KPIs as aggregations that
# serve both the period totals (``select``) and the weekly trend (``group_by().agg``), and every
# query lazy, collected together so Polars can run them side by side. A comparison with a missing
# value is false here, as in pandas and in the registry (Polars would carry the null on).


def _known(condition: pl.Expr) -> pl.Expr:
    return condition.fill_null(False)


def _pl_state(as_of: datetime) -> list[pl.Expr]:
    """Where each contact stands at ``as_of``: the columns the facts below are written over."""
    rt = pl.col("resolved_at").fill_null(pl.col("closed_at"))
    fr = pl.col("first_response_at")
    resolved_by = _known(rt <= as_of)
    is_resolved = resolved_by | (
        rt.is_null() & _known(pl.col("status").is_in(["resolved", "closed"]))
    )
    tracked = pl.col("status").is_not_null() | rt.is_not_null() | fr.is_not_null()
    return [
        rt.alias("_rt"),
        resolved_by.alias("_resolved_by"),
        is_resolved.alias("_is_resolved"),
        (tracked & ~is_resolved).alias("_is_open"),
        _known(fr <= as_of).alias("_replied"),
    ]


def _pl_seconds(end: pl.Expr) -> pl.Expr:
    return ((end - pl.col("opened_at")).dt.total_microseconds() / 1e6).clip(lower_bound=0)


def _pl_sla_facts(as_of: datetime, s: Settings) -> list[pl.Expr]:
    """First response and resolution against the priority's targets (see ``_sla_facts``)."""
    resolved_by, is_open, replied = pl.col("_resolved_by"), pl.col("_is_open"), pl.col("_replied")
    fr_done = replied | resolved_by
    fr_end = (
        pl.when(replied)
        .then(pl.col("first_response_at"))
        .when(resolved_by)
        .then(pl.col("_rt"))
        .when(is_open)
        .then(pl.lit(as_of))
    )
    res_end = pl.when(resolved_by).then(pl.col("_rt")).when(is_open).then(pl.lit(as_of))
    fr_s, res_s = _pl_seconds(fr_end), _pl_seconds(res_end)
    priority = pl.col("priority").fill_null(s.sla_default_priority)
    fr_t = priority.replace_strict(
        {p: t.first_response_hours * 3600 for p, t in s.sla_targets.items()},
        default=None,
        return_dtype=pl.Float64,
    )
    res_t = priority.replace_strict(
        {p: t.resolution_hours * 3600 for p, t in s.sla_targets.items()},
        default=None,
        return_dtype=pl.Float64,
    )
    fr_met = fr_done & _known(fr_s <= fr_t)
    fr_breached = (fr_done | is_open) & _known(fr_s > fr_t)
    res_met = resolved_by & _known(res_s <= res_t)
    res_breached = (resolved_by | is_open) & _known(res_s > res_t)
    return [
        fr_met.alias("fr_met"),
        (fr_met | fr_breached).alias("fr_outcome"),
        res_met.alias("res_met"),
        (res_met | res_breached).alias("res_outcome"),
        (fr_met & res_met).alias("sla_met"),
        ((fr_met & res_met) | fr_breached | res_breached).alias("sla_outcome"),
        pl.when(replied).then(fr_s / 3600).alias("fr_hours"),
        pl.when(resolved_by).then(res_s / 3600).alias("res_hours"),
    ]


def _pl_contact_facts(s: Settings) -> list[pl.Expr]:
    """Calls, first-contact resolution, reopens, escalations and complaints (see
    ``_contact_facts``)."""
    answered, abandoned = pl.col("answered"), pl.col("abandoned")
    answered_eff = answered.fill_null(~abandoned).fill_null(False)
    abandoned_eff = abandoned.fill_null(~answered).fill_null(False)
    offered = answered.is_not_null() | abandoned.is_not_null()
    wait, replies, reopens = pl.col("wait_seconds"), pl.col("agent_replies"), pl.col("reopens")
    counted = offered & ~(abandoned_eff & _known(wait < s.short_abandon_seconds))
    handled = ~abandoned_eff
    return [
        (handled & pl.col("_is_resolved") & replies.is_not_null()).alias("fcr_pop"),
        (_known(replies <= 1) & (reopens.fill_null(0) == 0)).alias("fcr_ok"),
        pl.when(handled).then(pl.col("handle_seconds")).alias("aht"),
        pl.when(answered_eff).then(wait).alias("asa"),
        counted.alias("offered"),
        abandoned_eff.alias("abandoned"),
        (counted & (abandoned_eff | wait.is_not_null())).alias("sl_pop"),
        (answered_eff & _known(wait <= s.service_level_seconds)).alias("sl_ok"),
        (pl.col("_is_resolved") & reopens.is_not_null()).alias("reopen_pop"),
        _known(reopens > 0).alias("reopened"),
        pl.col("escalated").is_not_null().alias("escalation_pop"),
        pl.col("escalated").fill_null(False).alias("escalated"),
        pl.col("complaint").is_not_null().alias("complaint_pop"),
        pl.col("complaint").fill_null(False).alias("complaint"),
    ]


def _pl_facts(frame: pl.LazyFrame, as_of: datetime, s: Settings) -> pl.LazyFrame:
    state = frame.with_columns(_pl_state(as_of))
    return state.select(pl.col("opened_at"), *_pl_sla_facts(as_of, s), *_pl_contact_facts(s))


def _pl_rate(pop: str, ok: str) -> pl.Expr:
    n = pl.col(pop).sum()
    return pl.when(n > 0).then(100.0 * (pl.col(pop) & pl.col(ok)).sum() / n)


def _pl_contact_kpis() -> list[pl.Expr]:
    return [
        _pl_rate("fcr_pop", "fcr_ok").alias("fcr"),
        _pl_rate("sla_outcome", "sla_met").alias("sla"),
        _pl_rate("fr_outcome", "fr_met").alias("sla_first_response"),
        _pl_rate("res_outcome", "res_met").alias("sla_resolution"),
        pl.col("fr_hours").median().alias("first_response_hours"),
        pl.col("res_hours").median().alias("resolution_hours"),
        pl.col("aht").mean().alias("aht_seconds"),
        pl.col("asa").mean().alias("asa_seconds"),
        _pl_rate("offered", "abandoned").alias("abandonment_rate"),
        _pl_rate("sl_pop", "sl_ok").alias("service_level"),
        _pl_rate("reopen_pop", "reopened").alias("reopen_rate"),
        _pl_rate("escalation_pop", "escalated").alias("escalation_rate"),
        _pl_rate("complaint_pop", "complaint").alias("complaint_rate"),
        pl.len().cast(pl.Float64).alias("contacts"),
    ]


def _pl_response_kpis(s: Settings) -> list[pl.Expr]:
    """NPS, CSAT (top box on each answer's own scale), CES and the count (see
    ``_response_kpis``)."""
    nps, csat, ces = pl.col("nps"), pl.col("csat"), pl.col("ces")
    c_min, c_max = pl.col("csat_scale_min"), pl.col("csat_scale_max")
    e_min, e_max = pl.col("ces_scale_min"), pl.col("ces_scale_max")
    scored, rated = csat.is_not_null(), ces.is_not_null()
    top = pl.when(c_max - c_min + 1 < 4).then(c_max).otherwise(c_max - 1)
    easy = _known((ces - e_min) * 6 >= (7 - s.ces_easy_top) * (e_max - e_min))
    one_scale = (c_max.filter(scored).drop_nulls().n_unique() == 1) & (
        c_min.filter(scored).drop_nulls().n_unique() == 1
    )
    votes = (nps >= 9).sum().cast(pl.Int64) - (nps <= 6).sum().cast(pl.Int64)
    return [
        pl.when(nps.count() > 0).then(100.0 * votes / nps.count()).alias("nps"),
        pl.when(scored.any()).then(100.0 * _known(csat >= top).filter(scored).mean()).alias("csat"),
        pl.when(scored.any() & one_scale).then(csat.mean()).alias("csat_mean"),
        pl.when(rated.any()).then(100.0 * easy.filter(rated).mean()).alias("ces"),
        pl.len().cast(pl.Float64).alias("responses"),
    ]


def _pl_backlog(end: datetime) -> pl.Expr:
    rt = pl.col("resolved_at").fill_null(pl.col("closed_at"))
    tracked = (
        pl.col("status").is_not_null()
        | rt.is_not_null()
        | pl.col("first_response_at").is_not_null()
    )
    undated_done = rt.is_null() & _known(pl.col("status").is_in(["resolved", "closed"]))
    still_open = ~(_known(rt < end) | undated_done)
    return (tracked & _known(pl.col("opened_at") < end) & still_open).sum().cast(pl.Float64)


def _pl_between(frame: pl.LazyFrame, column: str, filters: Filters, tz: str) -> pl.LazyFrame:
    start, end = filters.utc_bounds(tz)
    return frame.filter(pl.col(column) >= start, pl.col(column) < end)


def _pl_week(column: str, tz: str) -> pl.Expr:
    """The Monday of the local week, as in ``_local_week``."""
    local = pl.col(column).dt.replace_time_zone("UTC").dt.convert_time_zone(tz)
    return local.dt.replace_time_zone(None).dt.truncate("1w").dt.date().alias("week")


def polars_overview(c: pl.DataFrame, r: pl.DataFrame, filters: Filters, s: Settings) -> dict:
    """Every KPI for the period and the one before, and a 12-week trend of four."""
    columns = ("opened_at", "first_response_at", "resolved_at", "closed_at")
    latest = [c.select(pl.max_horizontal(*(pl.col(k).max() for k in columns))).item()]
    as_of: datetime = max(t for t in latest + [r["responded_at"].max()] if t is not None)
    cap = as_of + timedelta(microseconds=1)
    contacts, answers, tz = c.lazy(), r.lazy(), s.timezone
    queries = []
    for f in (filters, filters.previous_period()):
        end = f.utc_bounds(tz)[1]
        queries += [
            _pl_facts(_pl_between(contacts, "opened_at", f, tz), as_of, s).select(
                _pl_contact_kpis()
            ),
            _pl_between(answers, "responded_at", f, tz).select(_pl_response_kpis(s)),
            contacts.select(_pl_backlog(cap if end is None else min(end, cap)).alias("backlog")),
        ]
    window = trend_window(filters, 12, as_of, tz)
    weekly_contacts = (
        _pl_facts(_pl_between(contacts, "opened_at", window, tz), as_of, s)
        .group_by(_pl_week("opened_at", tz))
        .agg(_pl_contact_kpis())
    )
    weekly_answers = (
        _pl_between(answers, "responded_at", window, tz)
        .group_by(_pl_week("responded_at", tz))
        .agg(_pl_response_kpis(s))
    )
    queries.append(
        weekly_contacts.join(weekly_answers, on="week", how="full", coalesce=True).sort("week")
    )
    frames = pl.collect_all(queries)
    out: dict = {}
    for label, parts in (("current", frames[0:3]), ("previous", frames[3:6])):
        out[label] = {k: v for frame in parts for k, v in frame.row(0, named=True).items()}
    out["trend"] = {key: frames[6][key].to_list() for key in TREND_KEYS}
    return out


def engine_numbers(result) -> dict:
    out = {
        "current": {k: m.value for k, m in result.current.total().metrics.items()},
        "previous": {k: m.value for k, m in result.previous.total().metrics.items()},
        "trend": {k: t.values for k, t in result.trends.items()},
    }
    return out


def assert_agree(engine: dict, pandas: dict) -> None:
    for part in ("current", "previous"):
        for key, value in pandas[part].items():
            got = engine[part][key]
            assert (got is None) == (value is None), (part, key, got, value)
            if value is not None:
                assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), (part, key, got, value)
    for key, values in pandas["trend"].items():
        got = engine["trend"][key]
        assert len(got) == len(values), (key, len(got), len(values))
        for a, b in zip(got, values, strict=True):
            assert (a is None and b is None) or math.isclose(a, b, rel_tol=1e-9), (key, a, b)


def assert_same_keys(pandas: dict, polars: dict) -> None:
    """``assert_agree`` checks the peer's keys only: make sure Polars leaves none out."""
    for part in ("current", "previous", "trend"):
        assert set(pandas[part]) == set(polars[part]), (part, set(pandas[part]) ^ set(polars[part]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", default=":memory:", help="store path (default in memory)")
    parser.add_argument(
        "--shuffled", action="store_true", help="store rows in random order, not time order"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    store = build_store(args.db, args.contacts, args.shuffled)
    n_contacts, n_responses = store.count("contacts"), store.count("responses")
    print(
        f"store: {n_contacts:,} contacts, {n_responses:,} responses "
        f"in {'random' if args.shuffled else 'time'} order (built in "
        f"{time.perf_counter() - started:.1f} s)"
    )
    calendar = Settings(hours="calendar")
    e_wall, e_best, e_cpu, result = timed(
        lambda: overview(store, PERIOD, TREND_KEYS, settings=calendar), args.repeat
    )
    cur = store.cursor()
    c = cur.execute("SELECT * FROM contacts").df()
    r = cur.execute("SELECT * FROM responses").df()
    p_wall, p_best, p_cpu, numbers = timed(lambda: pandas_overview(c, r, PERIOD, calendar), 3)
    assert_agree(engine_numbers(result), numbers)
    # Polars gets its input as pandas does, outside the timed part: DuckDB -> Arrow -> Polars.
    c_pl = cur.sql("SELECT * FROM contacts").pl()
    r_pl = cur.sql("SELECT * FROM responses").pl()
    l_wall, l_best, l_cpu, polars_numbers = timed(
        lambda: polars_overview(c_pl, r_pl, PERIOD, calendar), 3
    )
    assert_same_keys(numbers, polars_numbers)
    assert_agree(engine_numbers(result), polars_numbers)
    print("engine, pandas and Polars agree on every KPI (period, previous period, 12-week trends)")
    b_wall, b_best, b_cpu, _ = timed(lambda: overview(store, PERIOD, TREND_KEYS), args.repeat)
    print("overview set (median wall, best wall, median CPU):")
    print(f"  engine, calendar hours: {_ms(e_wall)}, best {_ms(e_best)}, CPU {_ms(e_cpu)}")
    print(f"  pandas, calendar hours: {_ms(p_wall)}, best {_ms(p_best)}, CPU {_ms(p_cpu)}")
    print(f"  polars, calendar hours: {_ms(l_wall)}, best {_ms(l_best)}, CPU {_ms(l_cpu)}")
    print(f"  engine, business hours: {_ms(b_wall)}, best {_ms(b_best)}, CPU {_ms(b_cpu)}")
    print(
        f"pandas / engine: {p_wall / e_wall:.1f}x wall (best {p_best / e_best:.1f}x), "
        f"{p_cpu / e_cpu:.1f}x CPU"
    )
    print(
        f"polars / engine: {l_wall / e_wall:.1f}x wall (best {l_best / e_best:.1f}x), "
        f"{l_cpu / e_cpu:.1f}x CPU"
    )


if __name__ == "__main__":
    main()
