"""Benchmark: the dashboard overview set on the KPI engine against a plain pandas pipeline.

Builds a store with N contacts (default 1M) and N * 0.3 responses, generated with numpy and
inserted by DuckDB, then times, warm, what the overview page needs: every KPI for the period and
the previous period, plus a 12-week weekly trend of four KPIs. The same numbers are computed with
plain pandas (calendar hours on both sides: pandas has no set-wise business-hours calendar; the
engine's business-hours run is timed on its own), checked to agree, and both times and the ratio
are printed. A script, not a test: run ``python bench/engine.py [--contacts 10000000]``.
"""

from __future__ import annotations

import argparse
import math
import statistics as stats
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

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
    print("engine and pandas agree on every KPI (period, previous period, 12-week trends)")
    b_wall, b_best, b_cpu, _ = timed(lambda: overview(store, PERIOD, TREND_KEYS), args.repeat)
    print("overview set (median wall, best wall, median CPU):")
    print(f"  engine, calendar hours: {_ms(e_wall)}, best {_ms(e_best)}, CPU {_ms(e_cpu)}")
    print(f"  pandas, calendar hours: {_ms(p_wall)}, best {_ms(p_best)}, CPU {_ms(p_cpu)}")
    print(f"  engine, business hours: {_ms(b_wall)}, best {_ms(b_best)}, CPU {_ms(b_cpu)}")
    print(
        f"pandas / engine: {p_wall / e_wall:.1f}x wall (best {p_best / e_best:.1f}x), "
        f"{p_cpu / e_cpu:.1f}x CPU"
    )


if __name__ == "__main__":
    main()
