"""The README's generated sections, written from the declarations they describe.

`python -m kpi.cli.readme` rewrites them in README.md; a test fails when they fall out of step, so the
glossary, the field list and the list of built-in layouts can never disagree with the code.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

from kpi.ingest.layouts import builtin_layouts
from kpi.metrics.registry import PROFILE_ALL, REGISTRY, Context
from kpi.metrics.settings import Settings
from kpi.store.schema import CONTACT_FIELDS, INTERVAL_FIELDS, RESPONSE_FIELDS, Field

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = re.compile(
    r"(<!-- BEGIN generated:(?P<name>[a-z]+) -->\n)(?P<body>.*?)(<!-- END generated:(?P=name) -->)",
    re.DOTALL,
)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def glossary() -> str:
    """Every KPI of the registry with the definition each variant produces by default."""
    # Every column counted as present: the glossary describes the KPI, not one data set.
    context = Context(Settings(), datetime(2026, 1, 1), frozenset(PROFILE_ALL))
    lines = [
        "| key | KPI | unit | better | definition (default settings) |",
        "|---|---|---|---|---|",
    ]
    for metric in REGISTRY.values():
        definitions = []
        for name, formula in metric.variants.items():
            text = formula.describe(context)
            definitions.append(text if len(metric.variants) == 1 else f"*{name}*: {text}")
        better = metric.direction or "-"
        lines.append(
            f"| `{metric.key}` | {_cell(metric.label)} | {metric.unit} | {better} | "
            f"{_cell(' '.join(definitions))} |"
        )
    return "\n".join(lines) + "\n"


def _field_rows(fields: tuple[Field, ...]) -> list[str]:
    rows = []
    for f in fields:
        kind = f.type + (f" ({', '.join(f.choices)})" if f.choices else "")
        need = "required" if f.required else ""
        rows.append(f"| `{f.name}` | {kind} | {need} | {_cell(f.meaning)} |")
    return rows


def fields() -> str:
    """The canonical fields a mapping's [columns] can name."""
    head = ["| field | type | | meaning |", "|---|---|---|---|"]
    return "\n".join(
        ["**contacts** (`kind = \"contacts\"`)", "", *head, *_field_rows(CONTACT_FIELDS), "",
         "**responses** (`kind = \"responses\"`)", "", *head, *_field_rows(RESPONSE_FIELDS), "",
         "**intervals** (`kind = \"intervals\"`)", "", *head, *_field_rows(INTERVAL_FIELDS)]
    ) + "\n"  # fmt: skip


def layouts() -> str:
    """The built-in layouts and the headers that identify each."""
    lines = ["| layout | kind | export | recognised by the headers |", "|---|---|---|---|"]
    for layout in builtin_layouts().values():
        headers = ", ".join(f"`{h}`" for h in layout.detect)
        lines.append(f"| `{layout.name}` | {layout.kind} | {_cell(layout.title)} | {headers} |")
    return "\n".join(lines) + "\n"


SECTIONS = {"glossary": glossary, "fields": fields, "layouts": layouts}


def render(text: str) -> str:
    """``text`` with every generated section replaced by its current content."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in SECTIONS:
            raise KeyError(f"README has an unknown generated section {name!r}")
        return f"{match.group(1)}{SECTIONS[name]()}{match.group(4)}"

    return MARKER.sub(replace, text)


def main() -> int:
    current = README.read_text(encoding="utf-8")
    updated = render(current)
    if updated != current:
        README.write_text(updated, encoding="utf-8")
        print("README.md updated")
    else:
        print("README.md already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
