"""Pinned dependencies and why: each test fails when its pin should be looked at again."""

from __future__ import annotations

from importlib.metadata import version

import ibis
import pandas as pd


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2])


def test_sqlglot_pin_keeps_ibis_able_to_create_tables_from_pandas() -> None:
    # Ibis 12.0.0 with sqlglot >= 30.18 fails here with a ParserException (ARCHITECTURE.md, Known pitfalls).
    assert _release(version("sqlglot")) < (30, 18)
    con = ibis.duckdb.connect()
    table = con.create_table("t", pd.DataFrame({"a": [1, 2]}), temp=True)
    assert table.count().execute() == 2


def test_sqlglot_pin_is_reviewed_when_ibis_moves_on() -> None:
    # The pin exists for Ibis 12.0.0 only. When Ibis is upgraded, try dropping `sqlglot<30.18`
    # from pyproject.toml: if the test above passes without it, the pin can go.
    assert ibis.__version__ == "12.0.0", "Ibis changed: check whether the sqlglot pin can go"
