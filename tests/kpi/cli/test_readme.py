"""The README says what the code does: its generated sections and its references stay true."""

from __future__ import annotations

from pathlib import Path

from kpi.cli.readme import README, render
from kpi.ingest.layouts import COLUMN_KEYS, TOP_LEVEL_KEYS, builtin_layouts
from kpi.metrics.registry import REGISTRY

TEXT = README.read_text(encoding="utf-8")


def test_generated_sections_match_the_declarations() -> None:
    assert render(TEXT) == TEXT, "run `python -m kpi.cli.readme` to update README.md"


def test_readme_shows_the_two_commands() -> None:
    assert "make run" in TEXT and "make test" in TEXT


def test_glossary_lists_every_kpi() -> None:
    for key in REGISTRY:
        assert f"| `{key}` |" in TEXT


def test_every_built_in_layout_is_listed() -> None:
    for name in builtin_layouts():
        assert f"| `{name}` |" in TEXT


def test_mapping_reference_documents_every_key() -> None:
    documented = {k for k in TOP_LEVEL_KEYS | COLUMN_KEYS if k not in ("detect", "title", "notes")}
    for key in documented:
        assert key in TEXT, f"mapping key {key!r} is not in the README's reference"


def test_the_screenshot_exists() -> None:
    assert "docs/screenshot.png" in TEXT
    assert (README.parent / "docs" / "screenshot.png").exists()


def test_mapping_example_in_the_readme_is_a_valid_mapping(tmp_path: Path) -> None:
    from kpi.ingest.layouts import load_mapping

    start = TEXT.index("```toml\nname = ") + len("```toml\n")
    example = TEXT[start : TEXT.index("```", start)]
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    layout = load_mapping(path)
    assert layout.columns["opened_at"].columns == ("Date", "Time")
    assert layout.scores["csat"].scale == (1.0, 5.0)
