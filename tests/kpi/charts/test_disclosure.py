"""Exports name only the learner; small cells are emptied; no cell runs as a formula; user text
shown on a page is never read as Markdown."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi.charts.disclosure import (
    WORD_JOINER,
    anonymise,
    csv_bytes,
    escape_markdown,
    safe_cell,
    suppress_small,
)


def test_colleagues_become_numbered_and_me_stays() -> None:
    frame = pd.DataFrame({"agent": ["Zoe", "Amy", "Me", "Zoe"], "n": [10, 20, 30, 5]})
    out = anonymise(frame, "agent", me="Me")
    assert out.agent[2] == "Me"
    assert out.agent[0] == out.agent[3]  # one colleague, one alias
    assert sorted(set(out.agent) - {"Me"}) == ["Colleague 1", "Colleague 2"]
    assert list(frame.agent) == ["Zoe", "Amy", "Me", "Zoe"]  # the input is not changed


AGENTS = [f"Agent {letter}" for letter in "ABCDEFGHIJKL"]


def _aliases(frame: pd.DataFrame, key: str = "") -> dict[str, str]:
    return dict(zip(frame.agent, anonymise(frame, "agent", key=key).agent, strict=True))


def test_colleague_numbers_never_follow_rank() -> None:
    """Sorted best first or worst first, a table numbers each colleague the same: "Colleague 1"
    says nothing about who came top (issue 12: "Colleague 1: 100%, n = 6" named a new starter)."""
    values = {name: 50.0 + 4 * i for i, name in enumerate(AGENTS)}
    frame = pd.DataFrame({"agent": AGENTS, "value": [values[a] for a in AGENTS], "n": 20})
    best_first = frame.sort_values("value", ascending=False)
    worst_first = frame.sort_values("value")
    assert _aliases(best_first) == _aliases(worst_first) == _aliases(frame.sample(frac=1.0))
    numbered = anonymise(best_first, "agent")
    ranks = [int(alias.split()[1]) for alias in numbered.agent]
    assert ranks != list(range(1, len(AGENTS) + 1))  # top is not 1, 2, 3...
    assert ranks != list(range(len(AGENTS), 0, -1))  # ...nor the other way round


def test_colleague_numbers_depend_on_the_key_not_the_names_order() -> None:
    frame = pd.DataFrame({"agent": AGENTS, "n": 20})
    assert _aliases(frame, "key one") == _aliases(frame.iloc[::-1], "key one")
    assert _aliases(frame, "key one") != _aliases(frame, "key two")


def test_cells_under_five_are_suppressed_but_labels_stay() -> None:
    frame = pd.DataFrame({"team": ["A", "B"], "value": [100.0, 80.0], "n": [4, 50]})
    out = suppress_small(frame)
    assert out.loc[0, "team"] == "A"
    assert out.loc[0, "value"] is None
    assert out.loc[0, "n"] == "<5"
    assert out.loc[1, "value"] == 80.0


# --- formulas never leave in a CSV (issue 14, point 13) -------------------------------------------

BLANKS = " \t\r\n\x00\x0b\x0c\x1b\x7f\u00a0\u200b\u200e\u2028\u3000\ufeff"


def _stripped(cell: str) -> str:
    """A cell as a spreadsheet decides on it: leading blanks and control characters skipped."""
    return cell.lstrip(BLANKS + "".join(chr(c) for c in range(32)))


def _cells(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


@pytest.mark.parametrize(
    "cell",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\t", "\rtext", " =1", "\r\n=1",
     "\x00=1", "\u200b=HYPERLINK(\"http://x\")", "\u00a0@x", "\ufeff-2", "\x0b+1"],
)  # fmt: skip
def test_a_cell_that_could_run_as_a_formula_gets_an_apostrophe(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Billing", "a=b", "", " plain", "'=already", "e-mail"])
def test_ordinary_text_leaves_as_it_is(cell: str) -> None:
    assert safe_cell(cell) == cell


def test_numbers_and_missing_values_are_not_touched() -> None:
    assert safe_cell(-5) == -5
    assert safe_cell(None) is None


def test_a_carriage_return_inside_a_cell_cannot_start_a_new_row() -> None:
    frame = pd.DataFrame({"comment": ['fine\r=HYPERLINK("http://evil.example")', "x"]})
    assert _cells(csv_bytes(frame)) == ["comment", 'fine\r=HYPERLINK("http://evil.example")', "x"]


@given(
    cells=st.lists(
        st.tuples(st.text(alphabet=BLANKS, max_size=3), st.sampled_from("=+-@ab'"), st.text()),
        min_size=1,
        max_size=6,
    ),
    header=st.text(max_size=8),
)
def test_no_csv_cell_starts_a_formula_after_its_leading_blanks(
    cells: list[tuple[str, str, str]], header: str
) -> None:
    values = ["".join(parts) for parts in cells]
    frame = pd.DataFrame({"label": values, header or "h": values, "n": range(len(values))})
    for cell in _cells(csv_bytes(frame)):
        assert cell.startswith("'") or not _stripped(cell).startswith(("=", "+", "-", "@")), cell


# --- user text on a page is never Markdown (issue 14, point 14) -----------------------------------

SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:&@")


def test_a_markdown_link_and_image_are_shown_as_typed() -> None:
    assert escape_markdown("[click](http://evil.example)") == (
        "\\[click\\]\\(http" + WORD_JOINER + "\\://evil\\.example\\)"
    )
    assert escape_markdown("![x](http://evil.example/x.png)").startswith(r"\!\[x\]\(")
    assert escape_markdown("<img src=x>") == r"\<img src=x\>"


@pytest.mark.parametrize(
    "address", ["http://evil.example", "HTTPS://x.example", "www.evil.example", "me@evil.example"]
)
def test_a_bare_address_is_not_made_a_link(address: str) -> None:
    # GitHub's autolink literals are found in the text after escapes are read: an invisible
    # word joiner inside "http:", "www." or "a@b" stops them.
    seen = re.sub(r"\\(.)", r"\1", escape_markdown(f"team {address}"))
    assert not re.search(r"(?i)https?:|www\.|\w@\w", seen)
    assert seen.replace(WORD_JOINER, "") == f"team {address}"


def test_line_breaks_cannot_start_a_new_block() -> None:
    assert escape_markdown("Team\n# Heading\r\n    code") == r"Team \# Heading     code"


@given(st.text())
def test_every_markdown_character_is_escaped_and_the_text_survives(text: str) -> None:
    escaped = escape_markdown(text)
    shown, position = [], 0
    while position < len(escaped):
        character = escaped[position]
        if character == "\\":  # an escape: the next character is shown as it is
            shown.append(escaped[position + 1])
            position += 2
            continue
        assert character not in SPECIAL, (text, escaped)
        shown.append(character)
        position += 1
    one_line = re.sub(r"[\r\n\u2028\u2029\x0b\x0c\x85]+", " ", text)
    assert "".join(shown).replace(WORD_JOINER, "") == one_line.replace(WORD_JOINER, "")
