"""The exceptions a person can cause, all under ``KpiError``.

A ``KpiError``'s message is one line that says what went wrong and what to do next. The CLI
prints it and exits with status 2; a page shows it as an error box. Any other exception is a
bug: the CLI says so and asks for a report (``KPI_DEBUG=1`` shows the traceback).

This module is layer 0 (see ARCHITECTURE.md): every part of ``kpi`` may import it, and it
imports nothing of ``kpi``. ``printable`` is here because every message that quotes outside
text needs it, at every layer.
"""

from __future__ import annotations

import errno
import os
import re

#: Characters a terminal or a page acts on rather than shows: C0/C1 controls (ANSI escape
#: sequences start with ESC), zero-width and bidirectional marks and overrides, line separators,
#: and the lone surrogates that stand for undecodable bytes in a file name (printing one raises).
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]"
)


def printable(text: str) -> str:
    """``text`` from outside (a file name, a cell, a library's reason) for a one-line message:
    every character a terminal would act on is written as its escape (``\\x1b``, ``\\u202e``),
    so it can never move the cursor, recolour, reorder or hide what is said."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


#: What the operating system says when a disk (or the user's quota on it) is full; DuckDB's own
#: errors carry the same words.
_FULL = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT))


def disk_full(exc: BaseException) -> str | None:
    """What could not be written ("writing FILE", or "no space left on the device") when ``exc``
    or any error in its chain says the disk is full, else None. The chain matters: a cleanup
    step (a rollback) can fail after the write that filled the disk and hide it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"writing {current.filename}" if current.filename else "no space left on the device"
            )
        if any(words in str(current) for words in _FULL):
            written = re.search(r'file "([^"]+)"', str(current))
            return f"writing {written[1]}" if written else "no space left on the device"
        current = current.__cause__ or current.__context__
    return None


class KpiError(Exception):
    """A problem the user can fix; ``str(exc)`` is one line saying what to do next."""


class ImportProblem(KpiError):
    """A file cannot be used as it is. ``str(exc)`` is one line naming file, column and value."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}".strip())


class StoreError(KpiError):
    """The store cannot be opened or used; the message says what to do."""

    #: The PID of the process holding the store's lock, when that is the problem.
    holder: int | None = None


class UndoRefused(KpiError):
    """The batch cannot be undone as things stand; the message says what to do first."""


class InvalidChoice(KpiError, ValueError):
    """A value a person chose cannot be used: a setting, a filter, a period, a reflection's
    field. Also a ``ValueError``, so code that validates with plain ``ValueError`` checks keeps
    working."""


class NotFound(KpiError, LookupError):
    """Something asked for by its id or name is not in the store."""


class CatalogueError(InvalidChoice):
    """An imported KSB file cannot be used; the message names the problem."""


class ReportProblem(KpiError):
    """An argument or input the report cannot use; the message is the one line shown."""


#: The first and last years a stored instant may fall in: the dates an import reads (its date
#: limits cannot reach past them) and a report computes with (business-hours calendar, periods,
#: time zones). Outside them a date is a placeholder or a typo (0001-01-01, 9999-12-31).
FIRST_YEAR, LAST_YEAR = 1900, 2200


class ImplausibleDates(ReportProblem):
    """The store holds instants outside ``FIRST_YEAR``-``LAST_YEAR`` (stored by an older version
    or written outside an import): a report refuses them rather than crash on them or judge
    every open contact at the year 9999. The message says which rows and what to do."""


class ChromiumMissing(KpiError):
    """No browser to draw chart images with; the message says how to install one."""
