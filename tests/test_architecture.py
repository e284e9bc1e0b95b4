"""The package layout is the pipeline: a lower layer never imports a higher one.

ARCHITECTURE.md lists the layers. This test reads every module's imports (without running it)
and fails naming the module and the import that breaks the order, so the rule is kept by the
suite rather than by review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import ROOT

#: kpi's subpackages from the bottom up; a module may import its own layer or any lower one.
#: ingest and metrics share a layer but are independent of each other.
LAYERS: dict[str, int] = {
    "errors": 0,
    "store": 1,
    "ingest": 2,
    "metrics": 2,
    "engine": 3,
    "charts": 4,
    "insights": 5,
    "evidence": 6,
    "cli": 7,
}
#: Pairs on one layer that must not import each other.
INDEPENDENT = {("ingest", "metrics"), ("metrics", "ingest")}
#: The sample generator stands alone: it makes files, it reads nothing of the product.
STANDALONE = {"sample"}
#: Imports that would break the promise that kpi is a UI-free library.
UI_PACKAGES = ("streamlit",)
#: Where an exception to the order is allowed, and why.
ALLOWED: dict[tuple[str, str], str] = {
    ("cli", "sample"): "kpi sample regenerates the sample exports",
}
#: Importing is a command's business, not the engine's: above its own layer only these may import
#: kpi.ingest, and only these modules of it. Evidence packs scrub free text with the importer's
#: own scrubber, so one rule holds at import and at export.
INGEST_USERS: dict[str, tuple[str, ...]] = {
    "cli": ("kpi.ingest",),
    "evidence": ("kpi.ingest.privacy",),
}


def _part(module: str) -> str | None:
    """The subpackage (or top-level module) of ``kpi.X...``; None for kpi itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "kpi" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "." * node.level + (node.module or "")))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "kpi":  # the names may be modules: keep them
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _may_use_ingest(here: str, name: str) -> bool:
    allowed = INGEST_USERS.get(here, ())
    return any(name == prefix or name.startswith(prefix + ".") for prefix in allowed)


def _kpi_modules() -> list[Path]:
    return sorted((ROOT / "kpi").rglob("*.py"))


def _violations(path: Path) -> list[str]:
    rel = path.relative_to(ROOT)
    here = _part(".".join(rel.with_suffix("").parts))
    problems = []
    for line, name in _imports(path):
        where = f"{rel}:{line} imports {name}"
        if name.split(".")[0] in UI_PACKAGES:
            problems.append(f"{where}: kpi is UI-free")
            continue
        if name.startswith("."):
            problems.append(f"{where}: import kpi modules by their full name")
            continue
        there = _part(name)
        if here is None or there is None or there == here:
            continue
        if (here, there) in ALLOWED:
            continue
        if here in STANDALONE or there in STANDALONE:
            problems.append(f"{where}: kpi.{here if here in STANDALONE else there} stands alone")
        elif here not in LAYERS or there not in LAYERS:
            problems.append(f"{where}: kpi.{here if here not in LAYERS else there} has no layer")
        elif LAYERS[there] > LAYERS[here]:
            problems.append(f"{where}: {here} (layer {LAYERS[here]}) is below {there}")
        elif (here, there) in INDEPENDENT:
            problems.append(f"{where}: {here} and {there} are independent")
        elif there == "ingest" and not _may_use_ingest(here, name):
            problems.append(f"{where}: only {', '.join(INGEST_USERS)} may import kpi.ingest")
    return problems


def test_every_kpi_module_belongs_to_a_layer() -> None:
    parts = {_part(".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in _kpi_modules()}
    assert parts - {None, "__init__"} <= set(LAYERS) | STANDALONE


@pytest.mark.parametrize("path", _kpi_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_kpi_module_imports_a_higher_layer_or_the_ui(path: Path) -> None:
    assert _violations(path) == []


def test_the_checker_catches_a_store_module_importing_the_engine(tmp_path: Path) -> None:
    fake = ROOT / "kpi" / "store" / "_probe_for_architecture_test.py"
    fake.write_text("from kpi.engine.report import report\nimport streamlit\n", encoding="utf-8")
    try:
        problems = _violations(fake)
    finally:
        fake.unlink()
    assert len(problems) == 2
    assert "store (layer 1) is below engine" in problems[0]
    assert "UI-free" in problems[1]


def test_the_checker_keeps_the_importer_out_of_the_engine_and_allows_the_packs_scrubber() -> None:
    engine = ROOT / "kpi" / "engine" / "_probe_for_architecture_test.py"
    packs = ROOT / "kpi" / "evidence" / "_probe_for_architecture_test.py"
    engine.write_text("from kpi.ingest.importer import import_file\n", encoding="utf-8")
    packs.write_text(
        "from kpi.ingest.privacy import scrub\nfrom kpi.ingest import importer\nfrom . import x\n",
        encoding="utf-8",
    )
    try:
        in_engine, in_packs = _violations(engine), _violations(packs)
    finally:
        engine.unlink()
        packs.unlink()
    assert len(in_engine) == 1 and "may import kpi.ingest" in in_engine[0]
    assert len(in_packs) == 2
    assert "kpi.ingest.importer" in in_packs[0] and "full name" in in_packs[1]


def test_every_subpackage_says_what_it_owns_and_may_import() -> None:
    for name in (*LAYERS, *STANDALONE):
        init = ROOT / "kpi" / name / "__init__.py"
        if not init.exists():
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "ARCHITECTURE.md" in doc, f"kpi/{name}/__init__.py should cite ARCHITECTURE.md"
        assert "import" in doc, f"kpi/{name}/__init__.py should say what it may import"
