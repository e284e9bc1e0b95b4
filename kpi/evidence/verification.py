"""Is this evidence pack authentic? A PDF or DOCX checked against the store it came from.

A signed-off pack prints a verification code: the first 10 hex digits of the SHA-256 digest of
what the supervisor signed (``reflections.content_digest``: the reflection's text, learner,
KSBs and the figures it cites). Every sign-off is kept in ``reflection_signoffs``, so the code
is found even after an edit voided it. ``verify`` reads the code and the text from the file,
finds the sign-off, and says one of:

- authentic: the store's reflection is still signed with that digest, its content still hashes
  to it, and everything the pack prints of it (title, learner, the learner's writing, the SMART
  action, every key figure with its n, KSBs, the supervisor's name and comment) is in the file
  as printed;
- store changed: the reflection was edited, signed again or deleted after the pack was made;
- altered: the file's text is not what the signed reflection prints (e.g. one figure changed);
- unknown: the file carries no code, or this store has no sign-off with it.

Only the first is good news. The check reads the file's text layer (pypdf for PDF,
python-docx for DOCX), so it compares words, not layout.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.table import Table
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from kpi.errors import InvalidChoice, NotFound, printable
from kpi.evidence import documents, packs, reflections
from kpi.evidence.documents import CODE_LABEL
from kpi.store.connection import Store

AUTHENTIC, STORE_CHANGED, ALTERED, UNKNOWN = "authentic", "store_changed", "altered", "unknown"
#: "Verification code: 3F2A9-1BC07" as printed in a pack's sign-off section.
CODE = re.compile(rf"{CODE_LABEL}:\s*([0-9A-F]{{5}})-([0-9A-F]{{5}})")
#: A key figure worked out from the data when the pack is made (not one the insight cited).
WORKED_OUT = "worked-out"
#: The PDF's page footer ("EV-0007 - page 3"), which falls inside text running over a page.
PDF_FOOTER = re.compile(r"EV-\d{4,} - page \d+")


@dataclass(frozen=True)
class Verdict:
    """What the check found (one of the four outcomes) and a one-line message saying so."""

    outcome: str
    message: str
    reference: str = ""

    @property
    def authentic(self) -> bool:
        return self.outcome == AUTHENTIC


@dataclass(frozen=True)
class SignOff:
    digest: str
    reflection_id: int
    signer: str
    store_version: str
    voided: bool


# --- reading a file ---------------------------------------------------------------------------


def normalised(text: str) -> str:
    """Text as compared: compatibility forms folded, every run of white space one space."""
    folded = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    return " ".join(folded.split())


def file_text(path: Path) -> str:
    """The text of a pack's PDF or DOCX file, in reading order, normalised."""
    if not path.is_file():
        raise InvalidChoice(f"{path} is not a file; give the PDF or DOCX evidence pack")
    return text_of(path.read_bytes(), path.name)


def text_of(data: bytes, name: str) -> str:
    """The text of a pack (the bytes of a file called ``name``), in reading order, normalised."""
    name = printable(name)  # it is quoted in one-line messages
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        return normalised(PDF_FOOTER.sub(" ", _pdf_text(data, name)))
    if suffix == ".docx":
        return normalised(_docx_text(data, name))
    raise InvalidChoice(f"{name} is not a .pdf or .docx file; give the evidence pack itself")


def _unreadable(name: str, kind: str, problem: Exception) -> InvalidChoice:
    why = str(problem).splitlines()[0] if str(problem).strip() else type(problem).__name__
    return InvalidChoice(
        f"{name} cannot be read as a {kind} ({why}); give the evidence pack as it was exported"
    )


def _pdf_text(data: bytes, name: str) -> str:
    try:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    except (PyPdfError, OSError, ValueError) as problem:
        raise _unreadable(name, "PDF", problem) from None


def _docx_text(data: bytes, name: str) -> str:
    """Paragraphs and tables in the order they appear; a table row is its cells in order."""
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as problem:
        raise _unreadable(name, "DOCX", problem) from None
    parts = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            parts += [" ".join(cell.text for cell in row.cells) for row in block.rows]
        else:
            parts.append(block.text)
    return "\n".join(parts)


def code_in(text: str) -> str | None:
    """The verification code a pack's text carries, e.g. "3F2A9-1BC07"."""
    found = CODE.search(text)
    return f"{found[1]}-{found[2]}" if found else None


# --- the store's side -------------------------------------------------------------------------


def _sign_off(store: Store, code: str) -> SignOff | None:
    """The sign-off whose digest starts with the code (the latest, when signed twice)."""
    prefix = code.replace("-", "").lower()
    rows = (
        store.cursor()
        .execute(
            """SELECT digest, reflection_id, signer, store_version, voided_at IS NOT NULL
               FROM reflection_signoffs WHERE starts_with(digest, ?)
               ORDER BY signed_at DESC""",
            [prefix],
        )
        .fetchall()
    )
    if not rows:
        return None
    digest, reflection_id, signer, version, voided = rows[0]
    return SignOff(digest, int(reflection_id), signer or "", version or "", bool(voided))


def expected(store: Store, r: reflections.Reflection) -> list[tuple[str, str]]:
    """(what, text) of everything a pack of ``r`` prints from what was signed, as printed."""
    pack = packs.build(store, r.reflection_id or 0)  # no charts drawn: only the text matters
    found = r.insight_object()
    cited = len(found.figures) if found else 0  # the insight's figures come first, as signed
    rows = documents.figure_rows(pack)[1:]
    out = [
        ("title", f"Evidence pack {pack.reference}: {pack.title}"),
        ("learner", pack.learner),
        *[(f"KSB {k.ref}", k.label) for k in pack.ksbs],
        *[(f"section {label!r}", text) for label, text in pack.sections],
        ("SMART action", pack.action),
        # A key figure's row as the table prints it: label, value, n and interval.
        *[
            (f"{'key' if i < cited else WORKED_OUT} figure {row[0]!r}", " ".join(row))
            for i, row in enumerate(rows)
        ],
        ("sign-off", f"Signed off by {pack.supervisor} on {pack.signed_at}."),
    ]
    if pack.customer_comment:
        out.append(("customer comment", pack.customer_comment))
    if pack.supervisor_comment:
        out.append(("supervisor's comment", pack.supervisor_comment))
    return out


# --- the check --------------------------------------------------------------------------------


def verify(store: Store, path: Path) -> Verdict:
    """Check the pack at ``path`` against ``store``: one of the four outcomes, in one line."""
    if not path.is_file():
        raise InvalidChoice(f"{path} is not a file; give the PDF or DOCX evidence pack")
    return verify_bytes(store, path.read_bytes(), path.name)


def verify_bytes(store: Store, data: bytes, name: str) -> Verdict:
    """``verify`` of a pack held in memory (an upload), named ``name``."""
    text = text_of(data, name)
    name = printable(name)
    code = code_in(text)
    if code is None:
        return Verdict(UNKNOWN, f"{name} carries no verification code: it is not a "
                       "signed-off evidence pack")  # fmt: skip
    found = _sign_off(store, code)
    if found is None:
        return Verdict(UNKNOWN, f"no sign-off with verification code {code} in this store; "
                       "check the pack against the store it was exported from")  # fmt: skip
    reference = f"EV-{found.reflection_id:04d}"
    try:
        r = reflections.get(store, found.reflection_id)
    except NotFound:
        return Verdict(STORE_CHANGED, f"{reference} was deleted from the store after this pack "
                       "was made; the pack cannot be vouched for", reference)  # fmt: skip
    if r.status != "reviewed" or r.signed_digest != found.digest or r.supervisor != found.signer:
        now = reflections.STATUS_LABELS[r.status].lower()
        return Verdict(
            STORE_CHANGED,
            f"{reference} changed in the store after this pack was made (it is now {now}); "
            "this pack no longer shows the signed reflection: export it again",
            reference,
        )
    missing = [what for what, shown in expected(store, r) if normalised(shown) not in text]
    data_moved = store.version() != found.store_version
    if missing and data_moved and all(what.startswith(WORKED_OUT) for what in missing):
        # The whole-period figures are worked out again from the data, which has changed
        # since sign-off (an import or undo): the file may be genuine, the store cannot say.
        return Verdict(
            STORE_CHANGED,
            f"the store's data changed after {reference} was signed off, so its {missing[0]} "
            "is worked out differently now; this pack cannot be vouched for: export it again",
            reference,
        )
    if missing:
        return Verdict(
            ALTERED,
            f"{name} was altered after it was made: its {missing[0]} is not as signed "
            f"({len(missing)} difference{'s' if len(missing) > 1 else ''} from {reference} in "
            "the store); ask for the pack as exported",
            reference,
        )
    return Verdict(
        AUTHENTIC,
        f"{name} is authentic and unchanged: {reference} by {r.learner}, signed off by "
        f"{r.supervisor} ({r.signer.role_words}) on {r.signed_off_at:%d %b %Y %H:%M} UTC, code {code}",
        reference,
    )
