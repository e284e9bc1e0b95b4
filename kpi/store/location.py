"""Where the store lives when no path is given: light on purpose (no database driver), so the
command line can say it in its help without loading one."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PATH = Path.home() / ".local" / "share" / "service-kpi" / "team.duckdb"
ENV_VAR = "KPI_DB"


def default_path() -> Path:
    """The store used when no path is given: $KPI_DB, else a file in the user's data folder."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)
