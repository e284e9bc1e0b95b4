"""The importer's shortcuts in reading dates give what the long way gives: the offset stretches
of a time zone (``utc_offsets``), formats that need a letter left untried on letterless samples
(``_narrow``), and the cheap pass over a column's numeric date shapes (``column_shapes``)."""

from __future__ import annotations

import random
import re

import duckdb
import pytest

from kpi.ingest import parsing
from kpi.ingest.parsing import (
    FAMILIES,
    Params,
    column_shapes,
    date_shapes,
    explicit_dates,
    utc_offsets,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()


ZONES = ("Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC")


@pytest.mark.parametrize("zone", ZONES)
def test_offset_stretches_give_the_converted_instant(con, zone):
    """Every local minute of two years (clock changes, their gaps and repeated hours included),
    with microseconds, reads as the same UTC instant with the stretches as without them."""
    con.execute(
        """CREATE TABLE t AS SELECT strftime(TIMESTAMP '2024-01-01' + to_minutes(i)
               + to_microseconds((i * 7919) % 1000000), '%d/%m/%Y %H:%M:%S.%f') AS v
           FROM range(0, 2 * 366 * 1440, 7) r(i)"""
    )
    parse = explicit_dates("%d/%m/%Y %H:%M:%S.%f")
    p = Params()
    local = f"try_strptime(v, {p(parse.local[0])})"
    sample = "(SELECT * FROM t WHERE hash(v) % 20 = 0)"  # 5%, the same rows every run
    offsets = utc_offsets(con, sample, [local], zone, p.values)
    assert offsets, "the stretches are used"
    q = Params()
    fast, slow = parse.sql("v", zone, q, offsets), parse.sql("v", zone, q)
    differ = con.execute(
        f"SELECT count(*), count(({fast})) FROM t WHERE ({fast}) IS DISTINCT FROM ({slow})",
        q.values,
    ).fetchall()
    assert differ == [(0, 0)]
    r = Params()
    read = con.execute(f"SELECT count({parse.sql('v', zone, r, offsets)}) FROM t", r.values)
    assert read.fetchall()[0][0] > 100_000


def test_times_outside_the_stretches_are_converted(con):
    """The stretches come from a sample: a time outside them (and a year no stretch covers) is
    converted value by value, as before."""
    con.execute(
        "CREATE TABLE t AS SELECT unnest(['2025-03-30 00:30', '2025-03-30 01:30', "
        "'2025-10-26 01:30', '1901-06-01 12:00', '2199-06-01 12:00', '9999-12-31 23:59']) AS v"
    )
    parse = explicit_dates("%Y-%m-%d %H:%M")
    p = Params()
    rows = "(SELECT * FROM t WHERE v LIKE '2025%')"
    local = [f"try_strptime(v, {p(parse.local[0])})"]
    offsets = utc_offsets(con, rows, local, "Europe/London", p.values)
    assert offsets
    q = Params()
    fast, slow = parse.sql("v", "Europe/London", q, offsets), parse.sql("v", "Europe/London", q)
    found = con.execute(f"SELECT {fast}, {slow} FROM t", q.values).fetchall()
    assert all(a == b for a, b in found)


def test_a_spread_too_wide_uses_no_stretches(con):
    con.execute("CREATE TABLE t AS SELECT unnest(['1950-01-01', '2030-01-01']) AS v")
    local = "try_strptime(v, '%Y-%m-%d')"
    assert utc_offsets(con, "(SELECT * FROM t, range(1000))", [local], "Europe/London") == ()


def _letterless(con) -> list[str]:
    rng = random.Random(3)
    plain = [
        f for family in FAMILIES.values() for f in (*family.local, *family.utc, *family.offset)
    ]
    plain = [f for f in plain if not parsing._NEEDS_A_LETTER.search(f)]
    values = set()
    for _ in range(1500):
        fmt = rng.choice(plain)
        at = con.execute(
            "SELECT strftime(TIMESTAMP '1995-01-01' + to_seconds(?), ?)",
            [rng.randrange(0, 1_200_000_000), fmt],
        ).fetchall()[0][0]
        values |= {at, at + rng.choice(["", " 00", " +0100", ":"]), at[: rng.randint(1, len(at))]}
    return sorted(values | {"", " ", "0", "12:30", "14/03/2025 09:12", "+0000"})


def test_a_format_that_needs_a_letter_reads_no_letterless_value(con):
    values = _letterless(con)
    assert not any(re.search("[A-Za-z]", v) for v in values)
    needy = {
        f
        for family in FAMILIES.values()
        for f in (*family.local, *family.utc, *family.offset)
        if parsing._NEEDS_A_LETTER.search(f)
    }
    assert {"%d %b %Y", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %I:%M %p", "%Y-%m-%d %H:%M:%S UTC"} <= needy
    for fmt in sorted(needy):
        read = con.execute(
            "SELECT count(try_strptime(v, ?)) FROM (SELECT unnest(?::VARCHAR[]) AS v)",
            [fmt, values],
        ).fetchall()[0][0]
        assert read == 0, fmt


@pytest.mark.parametrize("family", ["worded", "iso", "dmy", "mdy"])
@pytest.mark.parametrize("lettered", [False, True])
def test_narrowing_keeps_the_same_formats(con, monkeypatch, family, lettered):
    values = _letterless(con)[:400] + (["14 Mar 2025 10:40", "2025-03-14T10:40:00"] * lettered)
    con.execute("CREATE TABLE s AS SELECT unnest(?::VARCHAR[]) AS v", [values])
    quick = parsing._narrow(con, "s", FAMILIES[family])
    monkeypatch.setattr(parsing, "_NEEDS_A_LETTER", re.compile("(?!)"))
    assert parsing._narrow(con, "s", FAMILIES[family]) == quick


def _column(rng: random.Random) -> list[str]:
    def value() -> str:
        a = str(rng.randint(0, 40)).zfill(rng.choice([1, 2]))
        b = str(rng.randint(0, 40)).zfill(rng.choice([1, 2]))
        y = str(rng.randint(0, 2100)).zfill(rng.choice([2, 3, 4, 5]))
        tail = rng.choice(["", " 09:12", "T09:12:00", "1", "x", " ", "é", "12345", ":00"])
        sep = rng.choice(["/", "-", ".", " ", ":", "é", "T", ""])
        return rng.choice(["", "", " ", "a", "1"]) + a + sep + b + rng.choice("/-.") + y + tail

    return [value() for _ in range(rng.choice([1, 3, 10, 60]))]


def _evidence(shapes):
    # Which value is the example of a day or month over 12 is any of the tied ones (DuckDB's
    # arg_max picks one; two full passes may pick different ones): whether there is one counts.
    return [
        (s.separators, s.values, s.example, bool(s.day_over_12), bool(s.month_over_12))
        for s in shapes
    ]


def test_cheap_shapes_agree_with_the_full_pass(con):
    rng = random.Random(5)
    cheap_used = 0
    for _ in range(300):
        con.execute("CREATE OR REPLACE TABLE t AS SELECT unnest(?::VARCHAR[]) AS v", [_column(rng)])
        full = date_shapes(con, "t", "v")
        unproved = any(s.order is None and not (s.day_over_12 or s.month_over_12) for s in full)
        shapes = column_shapes(con, "t", "v")
        if unproved:
            # The full pass, whose ways of writing a refusal shows.
            assert _evidence(shapes) == _evidence(full)
            assert [s.variants for s in shapes] == [s.variants for s in full]
            continue
        cheap_used += 1
        assert _evidence(shapes) == _evidence(full)
    assert cheap_used > 50


def test_empty_values_are_of_no_shape(con):
    values = ["25/03/2025", None, "13/04/2025 10:00", None, None, "4-8-2025", None]
    con.execute("CREATE OR REPLACE TABLE t AS SELECT unnest(?::VARCHAR[]) AS v", [values])
    full = date_shapes(con, "t", "v")
    assert [(s.separators, s.values, s.example) for s in full] == [
        ("//", 2, "13/04/2025 10:00"),
        ("--", 1, "4-8-2025"),
    ]
    con.execute("DELETE FROM t WHERE v = '4-8-2025'")  # every shape left proves its order
    assert [(s.separators, s.values, s.example) for s in column_shapes(con, "t", "v")] == [
        ("//", 2, "13/04/2025 10:00")
    ]
