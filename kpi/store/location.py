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


#: How a store that is not a DuckDB file is named (``kpi.store.remote``): a PostgreSQL server,
#: or Spark over a folder of Parquet tables.
URL_SCHEMES = ("postgresql://", "postgres://", "spark://")


def is_url(location: str | Path | None) -> bool:
    """Whether ``location`` names a store by URL rather than a DuckDB file."""
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)


def default_location() -> str:
    """$KPI_DB as given (a path or a URL), else the default file: unlike ``default_path``,
    a URL is kept whole (a ``Path`` would fold its ``//``)."""
    return os.environ.get(ENV_VAR) or str(DEFAULT_PATH)


def shown(location: str | Path) -> str:
    """A store's name fit to print: a URL's password is left out."""
    text = str(location)
    if not is_url(text):
        return text
    scheme, rest = text.split("://", 1)
    where, at, host = rest.rpartition("@")
    if at and ":" in where.split("/")[0]:
        where = where.split(":", 1)[0] + ":***"
    return f"{scheme}://{where}{at}{host}"
