"""The mapping schema: any document ends in a Layout or in one line naming the file and the key.

Hypothesis writes mapping files (the built-in layouts and the README's example, mutated at random
places with values of every TOML type, unknown keys and deleted keys, and wholly random ones) and
imports them with ``load_mapping``: never an exception other than ``ImportProblem``, never more
than one line, never pydantic's own wording.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import shutil
import tempfile
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.errors import ImportProblem
from kpi.ingest.layouts import Layout, load_mapping, parse_layout
from kpi.ingest.mapping_schema import (
    COLUMN_KEYS,
    TOP_LEVEL_KEYS,
    MappingDocument,
    describe,
    quote,
    validate_mapping,
)
from kpi.store.schema import KINDS
from tests.paths import ROOT

BUILTIN = resources.files("kpi.ingest") / "builtin"
BUILT_IN_DOCUMENTS = [
    tomllib.loads(entry.read_text(encoding="utf-8"))
    for entry in sorted(BUILTIN.iterdir(), key=lambda e: e.name)
    if entry.name.endswith(".toml")
]


def readme_example() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```toml\nname = ") + len("```toml\n")
    return tomllib.loads(text[start : text.index("```", start)])


BASE_DOCUMENTS = [*BUILT_IN_DOCUMENTS, readme_example()]


# --- the schema on its own ---------------------------------------------------------------------


def test_every_built_in_layout_and_the_readme_example_fit_the_schema():
    for document in BASE_DOCUMENTS:
        assert isinstance(validate_mapping(document, "doc.toml"), MappingDocument)


def test_the_known_keys_are_the_schemas_fields():
    assert {"null_values", "ignore_lines", "sheet", "columns", "scores"} <= TOP_LEVEL_KEYS
    assert {"column", "extract", "contains", "true_values", "unit"} <= COLUMN_KEYS


def test_a_value_is_shown_as_written_in_toml_and_never_breaks_the_line():
    assert describe("NA") == 'the string "NA"'
    assert describe(5) == "the number 5" and describe(2.5) == "the number 2.5"
    assert describe(True) == "true" and describe({"a": 1}) == "a table"
    assert describe(["a", 1, [2, [3]]]) == 'the list ["a", 1, [2, [...]]]'
    assert describe(10**5000) == "a very large number"  # str() would refuse it
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("\x1b[31mred\u2028\n") == '"\\u001b[31mred\\u2028\\u000a"'
    assert quote("x" * 100).endswith('x…"') and len(quote("x" * 100)) == 43


def test_an_unknown_key_with_control_characters_is_shown_escaped():
    with pytest.raises(ImportProblem) as caught:
        parse_layout({"colour\x1b[2J\n": 1}, "my.toml")
    message = str(caught.value)
    assert message.startswith(
        'my.toml: the mapping file has an unknown key "colour\\u001b[2J\\u000a"'
    )
    assert "\x1b" not in message and len(message.splitlines()) == 1


def test_a_document_that_is_not_a_table_is_one_line():
    with pytest.raises(ImportProblem) as caught:
        parse_layout(["not", "a", "table"], "odd.toml")  # type: ignore[arg-type]
    assert (
        str(caught.value)
        == 'odd.toml: the mapping file must be a table of keys, not the list ["not", "a", "table"].'
    )


def test_patterns_are_checked_by_duckdbs_re2_not_pythons_re():
    # Valid in RE2, refused by Python's re: accepted. Valid in Python, refused by RE2: refused.
    assert validate_mapping({"ignore_lines": r"^\pL+ total"}, "m.toml").ignore_lines
    with pytest.raises(ImportProblem, match="not a valid RE2 regular expression"):
        validate_mapping({"ignore_lines": r"(?<=total)\d"}, "m.toml")


# --- fuzz: any document, a Layout or one line ----------------------------------------------------

INTERESTING = [
    "", "NA", "YA", "contacts", "responses", "tickets", "keep_last", "ignore", "minutes",
    "low_is_easy", "low_is_eassy", "Europe/London", "Mars/Olympus", "%d/%m/%Y", "dd/mm/yyyy",
    "%", "%Q", "A", "([0-9]+)", "(x+x+)+y", "(a)\\1", "[", "Bad", "opened_at", "resolved_at",
    "contact_id", "\x1b[31m", "line\nbreak", "é\u2028",
]  # fmt: skip
KEYS = sorted(TOP_LEVEL_KEYS | COLUMN_KEYS) + [
    "scale", "labels", "direction", "headers", "responded_at", "nps", "csat", "ces", "status",
    "contact_id", "opened_at", "team", "colour",
]  # fmt: skip
scalars = (
    st.sampled_from(INTERESTING)
    | st.text(max_size=8)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
    | st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))
)
keys = st.sampled_from(KEYS) | st.text(max_size=6)
toml_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


def _places(document: Any, at: tuple = ()) -> list[tuple]:
    """Every place in a document: keys of tables and positions in lists."""
    found = [at]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _places(value, (*at, key))
    elif isinstance(document, list):
        for i, value in enumerate(document):
            found += _places(value, (*at, i))
    return found


def _parent(document: Any, place: tuple) -> Any:
    for step in place[:-1]:
        document = document[step]
    return document


@st.composite
def mapping_documents(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:  # now and then a wholly random document
        return draw(st.dictionaries(keys, toml_values, max_size=6))
    document = copy.deepcopy(draw(st.sampled_from(BASE_DOCUMENTS)))
    for _ in range(draw(st.integers(0, 3))):  # zero mutations: the valid documents themselves
        place = draw(st.sampled_from(_places(document)))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        target = _parent(document, place) if place else None
        if action == "add" or not place:
            table = _parent(document, (*place, None))
            if isinstance(table, dict):
                table[draw(keys)] = draw(toml_values)
        elif action == "delete" and isinstance(target, dict):
            del target[place[-1]]
        else:
            target[place[-1]] = draw(toml_values)
    return document


def _toml(value: Any) -> str:
    """A TOML value written inline (enough for the fuzz: tomllib reads it back unchanged)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, int | dt.date):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"


def toml_text(document: dict[str, Any]) -> str:
    return "".join(f"{_toml(str(key))} = {_toml(value)}\n" for key, value in document.items())


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=mapping_documents())
def test_any_mapping_file_gives_a_layout_or_one_line_naming_the_file_and_key(document):
    folder = Path(tempfile.mkdtemp(prefix="kpi-mapping-fuzz-"))
    path = folder / "fuzz.toml"
    path.write_text(toml_text(document), encoding="utf-8")
    try:
        assert tomllib.loads(path.read_text(encoding="utf-8")).keys() == document.keys()
        layout = load_mapping(path)
    except ImportProblem as problem:
        message = str(problem)
        assert message.startswith("fuzz.toml: ")
        assert len(message.splitlines()) == 1 and "\r" not in message
        # Pydantic's wording never reaches a person: every error is translated.
        assert "Input should" not in message and "validation error" not in message
        assert "unexpected" not in message.lower()
    else:
        assert isinstance(layout, Layout)
        assert layout.kind in KINDS and layout.name
    finally:
        shutil.rmtree(folder)
