"""The KSBs (knowledge, skills, behaviours) reflections are mapped to.

The built-in catalogue (``kpi/evidence/catalogue/ksbs.csv``) covers Customer service practitioner ST0072
(Level 2), Customer service specialist ST0071 (Level 3) and the areas of Team leader or
supervisor ST0384. Its codes are provisional and its wording paraphrased: every row's ``status``
says to check it against the official standard, because mapping evidence to a wrong code can put
an apprentice's gateway at risk. A provider replaces a standard's rows by importing a CSV of the
official wording (``import_catalogue``); imported rows live in the store's ``ksb_catalogue``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from kpi.errors import CatalogueError
from kpi.store.connection import Store

STANDARDS = {
    "ST0072": "Customer service practitioner (Level 2)",
    "ST0071": "Customer service specialist (Level 3)",
    "ST0384": "Team leader or supervisor (Level 3)",
}
#: Shown wherever KSB codes are offered or counted: the built-in codes are not official.
PROVISIONAL = "Codes are provisional: check them against the official standard."
#: The standard a learner at each level is usually registered on.
LEVEL_STANDARD = {2: "ST0072", 3: "ST0071"}
COLUMNS = (
    "ref",
    "standard",
    "standard_title",
    "level",
    "type",
    "code",
    "area",
    "description",
    "evidence_prompt",
    "kpi_support",
    "status",
)
#: What an imported file must provide (the rest may be blank).
REQUIRED = ("standard", "description")
MAX_ROWS = 500


@dataclass(frozen=True)
class Ksb:
    ref: str
    standard: str
    standard_title: str
    level: int
    type: str
    code: str
    area: str
    description: str
    evidence_prompt: str
    kpi_support: str
    status: str

    @property
    def label(self) -> str:
        """ "ST0072 K6 Customer experience" or "ST0384 Operational management"."""
        return " ".join(p for p in (self.standard, self.code, self.area) if p)


def builtin() -> list[Ksb]:
    """The catalogue shipped with the product (provisional codes, paraphrased wording)."""
    text = (
        resources.files("kpi.evidence").joinpath("catalogue/ksbs.csv").read_text(encoding="utf-8")
    )
    return [_row(r) for r in csv.DictReader(io.StringIO(text))]


def _row(data: dict[str, str]) -> Ksb:
    v = {c: (data.get(c) or "").strip() for c in COLUMNS}
    return Ksb(
        ref=v["ref"],
        standard=v["standard"],
        standard_title=v["standard_title"],
        level=int(v["level"] or 0),
        type=v["type"],
        code=v["code"],
        area=v["area"],
        description=v["description"],
        evidence_prompt=v["evidence_prompt"],
        kpi_support=v["kpi_support"],
        status=v["status"],
    )


def catalogue(store: Store | None = None, standard: str | None = None) -> list[Ksb]:
    """Built-in rows, with every standard a provider imported replaced by its imported rows."""
    rows = builtin()
    if store is not None:
        imported = _imported(store)
        replaced = {k.standard for k in imported}
        rows = [k for k in rows if k.standard not in replaced] + imported
    if standard:
        rows = [k for k in rows if k.standard == standard]
    return rows


def ksbs_for(store: Store | None, standard: str, level: int = 0) -> list[Ksb]:
    """The KSBs to offer for a reflection on ``standard``: that standard's only, in catalogue
    order. Evidence mapped to another standard's KSB does not count at gateway, so none is
    offered (``kpi.evidence.learners.check_mapping`` refuses one). ``level`` is kept for
    callers that pass it."""
    del level
    return [k for k in catalogue(store) if k.standard == standard]


def question_bank() -> dict[str, tuple[str, ...]]:
    """KSB ref -> the questions an assessor is likely to ask about it in a professional
    discussion (``catalogue/questions.csv``: a short bank per theme, each theme naming the
    KSBs it serves). A provider's KSB outside the bank gets none here."""
    text = (
        resources.files("kpi.evidence")
        .joinpath("catalogue/questions.csv")
        .read_text(encoding="utf-8")
    )
    out: dict[str, list[str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        for ref in row["refs"].split():
            out.setdefault(ref, []).append(row["question"].strip())
    return {ref: tuple(questions) for ref, questions in out.items()}


def by_ref(store: Store | None = None) -> dict[str, Ksb]:
    return {k.ref: k for k in catalogue(store)}


def _imported(store: Store) -> list[Ksb]:
    cur = store.cursor()
    names = ", ".join(COLUMNS)
    rows = cur.execute(f"SELECT {names} FROM ksb_catalogue ORDER BY standard, ref").fetchall()
    return [
        _row({c: "" if v is None else str(v) for c, v in zip(COLUMNS, r, strict=True)})
        for r in rows
    ]


def parse_catalogue(text: str, source: str) -> list[Ksb]:
    """KSB rows from a provider's CSV: at least ``standard`` and ``description`` columns; ``code``
    or ``area`` identifies each row. Rows are marked as the provider's wording."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = {(h or "").strip().lower() for h in reader.fieldnames or ()}
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        raise CatalogueError(f"{source}: the KSB file needs a column named {', '.join(missing)}")
    out: dict[str, Ksb] = {}
    for number, raw in enumerate(reader, start=2):
        data = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        ksb = _provider_row(data, f"{source}, line {number}", source)
        out[ksb.ref] = ksb
        if len(out) > MAX_ROWS:
            raise CatalogueError(f"{source}: more than {MAX_ROWS} KSBs; is this the right file?")
    if not out:
        raise CatalogueError(f"{source}: the KSB file has no rows")
    return list(out.values())


def _provider_row(data: dict[str, str], where: str, source: str) -> Ksb:
    """One row of a provider's file (lower-case headers); ``where`` names it in messages."""
    standard, code, area = data["standard"].upper(), data.get("code", ""), data.get("area", "")
    if not standard or not (code or area) or not data["description"]:
        raise CatalogueError(
            f"{where}: each KSB needs a standard, a code or area, and a description"
        )
    level = data.get("level", "") or ("2" if standard == "ST0072" else "3")
    if not level.isdigit():
        raise CatalogueError(f"{where}: level {level!r} is not a number")
    return Ksb(
        ref=f"{standard}:{code or _slug(area)}",
        standard=standard,
        standard_title=data.get("standard_title") or STANDARDS.get(standard, standard),
        level=int(level),
        type=data.get("type", ""),
        code=code,
        area=area,
        description=data["description"],
        evidence_prompt=data.get("evidence_prompt", ""),
        kpi_support=data.get("kpi_support", ""),
        status=data.get("status") or f"provider's wording, imported from {source}",
    )


def _slug(text: str) -> str:
    words = "".join(c.lower() if c.isalnum() else " " for c in text.split(" /")[0]).split()
    return "-".join(words)


def import_catalogue(store: Store, path: Path | str) -> list[Ksb]:
    """Replace the rows of every standard the file covers with the file's rows."""
    path = Path(path)
    return import_text(store, path.read_text(encoding="utf-8-sig"), path.name)


def import_text(store: Store, text: str, source: str) -> list[Ksb]:
    """The same for a file's text (an upload), named ``source`` in messages and statuses."""
    rows = parse_catalogue(text, source)
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.transaction() as cur:
        for standard in sorted({k.standard for k in rows}):
            cur.execute("DELETE FROM ksb_catalogue WHERE standard = ?", [standard])
        marks = ", ".join("?" for _ in range(len(COLUMNS) + 2))
        for k in rows:
            values = [asdict(k)[c] for c in COLUMNS]
            cur.execute(f"INSERT INTO ksb_catalogue VALUES ({marks})", [*values, source, now])
    return rows


def reset_catalogue(store: Store, standard: str) -> None:
    """Go back to the built-in rows for a standard."""
    with store.transaction() as cur:
        cur.execute("DELETE FROM ksb_catalogue WHERE standard = ?", [standard])
