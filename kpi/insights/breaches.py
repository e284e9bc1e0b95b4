"""Where SLA breaches cluster: channels and priorities breaching well above the rest, and
weekday-hour blocks within a channel (Bonferroni-corrected two-proportion z-tests)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from kpi.charts.spec import ChartSpec
from kpi.engine import breakdowns, statistics
from kpi.engine import report as engine
from kpi.insights.model import (
    ALPHA,
    MIN_CELL,
    WEEKDAYS,
    Figure,
    Insight,
    Scope,
    definition_of,
    guidance,
    insight_id,
    p_text,
    significantly_higher,
)


def _breach_counts(s: Scope) -> pd.DataFrame:
    """SLA outcomes and breaches per channel and priority, from the engine's SLA result (a
    breach is a contact in its population it does not count as met). One query; counts
    recombine by summing, so each field's totals come from this frame."""
    by = ("channel", "priority")
    report = engine.report(s.store, s.filters, by=by, settings=s.settings, metrics=["sla"])
    rows = [
        {
            **{f: "(none)" if r.segment[f] is None else r.segment[f] for f in by},
            "breached": r.metrics["sla"].n - (r.metrics["sla"].numerator or 0),
            "outcomes": r.metrics["sla"].n,
        }
        for r in report.rows
        if r.segment and r.metrics["sla"].n
    ]
    return pd.DataFrame(rows, columns=[*by, "breached", "outcomes"])


def _totals(cells: pd.DataFrame, field_: str) -> pd.DataFrame:
    return cells.groupby(field_)[["breached", "outcomes"]].sum().reset_index()


def _breach_grids(s: Scope) -> dict[str, pd.DataFrame]:
    """Each channel's breaches by local weekday and hour opened, its cells with outcomes only
    (``breakdowns.breach_heatmaps_by_channel``: the same rows as SLA compliance, one query for
    every channel). Contacts with no channel have no grid: "(none)" is not a place to act on."""
    grids = breakdowns.breach_heatmaps_by_channel(s.store, s.filters)
    return {
        str(channel): grid[grid.outcomes > 0].reset_index(drop=True)
        for channel, grid in grids.items()
        if channel is not None and str(channel) != "(none)"
    }


def _excess(group: pd.DataFrame, mask: pd.Series, tests: int) -> statistics.ChangeTest:
    """Breach rate inside ``mask`` against the rest of ``group``, Bonferroni over ``tests``."""
    inside, rest = group[mask], group[~mask]
    return statistics.two_proportion_test(
        int(rest.breached.sum()),
        int(rest.outcomes.sum()),
        int(inside.breached.sum()),
        int(inside.outcomes.sum()),
        alpha=ALPHA / max(tests, 1),
    )


def concentrations(s: Scope) -> list[Insight]:
    """Where SLA breaches cluster: weekday-hour blocks within a channel, and priorities or
    channels whose breach rate is well above the rest."""
    cells = _breach_counts(s)
    if cells.empty or cells.breached.sum() == 0:
        return []
    by_channel = _totals(cells, "channel")
    out = _segment_concentration(s, by_channel, "channel")
    out += _segment_concentration(s, _totals(cells, "priority"), "priority")
    return out + _time_concentration(s, by_channel)


def _segment_concentration(s: Scope, counts: pd.DataFrame, field_: str) -> list[Insight]:
    if len(counts) < 2:
        return []
    out = []
    for _, row in counts.iterrows():
        value = row[field_]
        if row.outcomes < MIN_CELL:
            continue
        test = _excess(counts, counts[field_] == value, len(counts))
        if not significantly_higher(test):
            continue
        rest = counts[counts[field_] != value]
        rate = 100.0 * row.breached / row.outcomes
        rest_rate = 100.0 * rest.breached.sum() / rest.outcomes.sum()
        rows = tuple(
            {field_: str(r[field_]), "value": 100.0 * r.breached / r.outcomes, "n": int(r.outcomes)}
            for _, r in counts.iterrows()
        )
        out.append(
            _breach_insight(
                s,
                ("segment", field_, value),
                f"SLA breaches concentrate in {field_} {value}: {rate:.1f}% breached against "
                f"{rest_rate:.1f}% elsewhere",
                test,
                (int(row.breached), int(row.outcomes)),
                (int(rest.breached.sum()), int(rest.outcomes.sum())),
                ChartSpec("bars", f"SLA breach rate by {field_}", field_, "value", rows, unit="%"),
                (len(counts), "elsewhere"),
            )
        )
    return out


def _time_concentration(s: Scope, by_channel: pd.DataFrame) -> list[Insight]:
    """Per channel, the weekday-hour cells breaching well above the channel's other hours,
    merged into blocks of consecutive hours."""
    channels = [str(c) for c in by_channel[by_channel.outcomes >= MIN_CELL].channel]
    tests = 7 * 24 * max(len(channels), 1)
    out: list[Insight] = []
    grids = _breach_grids(s) if channels else {}
    for channel in channels:
        grid = grids.get(channel)
        if grid is None or grid.empty:
            continue
        for weekday, first, last in _blocks(_hot_cells(grid, tests)):
            out.append(_time_insight(s, channel, grid, weekday, first, last, tests))
    return out


def _hot_cells(grid: pd.DataFrame, tests: int) -> list[tuple[int, int]]:
    """(weekday, hour) cells of one channel's grid breaching well above its other hours."""
    breached, outcomes = int(grid.breached.sum()), int(grid.outcomes.sum())
    big = grid[grid.outcomes >= MIN_CELL]
    cells = zip(
        big.weekday.astype(int).tolist(),
        big.hour.astype(int).tolist(),
        big.breached.astype(int).tolist(),
        big.outcomes.astype(int).tolist(),
        strict=True,
    )
    hot = []
    for weekday, hour, cell_breached, cell_outcomes in cells:
        # This hour of this weekday against the channel's other hours.
        test = statistics.two_proportion_test(
            breached - cell_breached,
            outcomes - cell_outcomes,
            cell_breached,
            cell_outcomes,
            alpha=ALPHA / tests,
        )
        if significantly_higher(test):
            hot.append((int(weekday), int(hour)))
    return hot


def _time_insight(
    s: Scope, channel: str, grid: pd.DataFrame, weekday: int, first: int, last: int, tests: int
) -> Insight:
    mask = (grid.weekday == weekday) & grid.hour.between(first, last)
    test = _excess(grid, mask, tests)
    inside, rest = grid[mask], grid[~mask]
    hours = f"{first:02d}:00-{last:02d}:59"
    rate = 100.0 * inside.breached.sum() / inside.outcomes.sum()
    rest_rate = 100.0 * rest.breached.sum() / max(rest.outcomes.sum(), 1)
    # Columns as lists, not iterrows: a grid is 168 cells, and an insight per hot block.
    columns = (grid[c].tolist() for c in ("weekday", "hour", "breached", "outcomes"))
    cells = zip(*columns, strict=True)
    rows = tuple(
        {
            "day": WEEKDAYS[int(weekday)],
            "hour": int(hour),
            # A handful of contacts makes a dark cell out of noise: left blank below MIN_CELL.
            "value": 100.0 * breached / outcomes if outcomes >= MIN_CELL else None,
            "n": int(outcomes),
        }
        for weekday, hour, breached, outcomes in cells
    )
    return _breach_insight(
        s,
        ("time", channel, weekday, first, last),
        f"{channel.capitalize()} SLA breaches concentrate on {_DAY_NAMES[weekday]} {hours}: "
        f"{rate:.1f}% breached against {rest_rate:.1f}% at other times",
        test,
        (int(inside.breached.sum()), int(inside.outcomes.sum())),
        (int(rest.breached.sum()), int(rest.outcomes.sum())),
        ChartSpec(
            "heatmap",
            f"SLA breach rate by weekday and hour opened, {channel}",
            "hour",
            "day",
            rows,
            unit="%",
            z="value",
        ),
        (tests, "at other times"),
    )


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _blocks(cells: Iterable[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(weekday, first hour, last hour) runs of consecutive hours on the same day."""
    out: list[tuple[int, int, int]] = []
    for weekday, hour in sorted(cells):
        if out and out[-1][0] == weekday and out[-1][2] == hour - 1:
            out[-1] = (weekday, out[-1][1], hour)
        else:
            out.append((weekday, hour, hour))
    return out


def _breach_insight(
    s: Scope,
    parts: tuple[object, ...],
    title: str,
    test: statistics.ChangeTest,
    inside: tuple[int, int],
    rest: tuple[int, int],
    chart: ChartSpec,
    tests: tuple[int, str],
) -> Insight:
    """One cluster; ``tests`` is how many comparisons its family made and how the summary
    names the rest ("elsewhere", "at other times")."""
    count, elsewhere = tests
    definition = definition_of(s, "sla")
    figures = (
        Figure("Breach rate here", 100.0 * inside[0] / inside[1], inside[1], "%", definition),
        Figure(
            "Breach rate elsewhere", 100.0 * rest[0] / max(rest[1], 1), rest[1], "%", definition
        ),
    )
    return Insight(
        id=insight_id("concentration", s.filters, *parts),
        kind="concentration",
        title=title,
        summary=f"{inside[0]:,} of {inside[1]:,} contacts here missed the SLA, against "
        f"{rest[0]:,} of {rest[1]:,} {elsewhere}. A gap this big is more than chance.",
        details=f"Two-proportion z-test against the rest, Bonferroni-corrected for "
        f"{count:,} comparisons: {p_text(test.p_value)}.",
        figures=figures,
        chart=chart,
        metrics=("sla",),
        filters=s.filters,
        p_value=test.p_value,
        weight=100.0 * (test.difference or 0.0),
        **guidance("concentration", "SLA compliance"),
    )
