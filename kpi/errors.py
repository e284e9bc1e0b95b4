"""The one exception a user sees from the importer: a single line that says what to do next."""

from __future__ import annotations


class ImportProblem(Exception):
    """A file cannot be used as it is. ``str(exc)`` is one line naming file, column and value."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}".strip())
