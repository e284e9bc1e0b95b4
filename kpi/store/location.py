"""Where the store lives when no path is given: light on purpose (no database driver), so the
command line can say it in its help without loading one."""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_PATH = Path.home() / ".local" / "share" / "service-kpi" / "team.duckdb"
ENV_VAR = "KPI_DB"


def default_path() -> Path:
    """The store used when no path is given: $KPI_DB, else a file in the user's data folder."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


#: How a store that is not a DuckDB file is named (``kpi.store.remote``): a PostgreSQL server,
#: or Spark over a folder of Parquet tables.
URL_SCHEMES = ("postgresql", "postgres", "spark")
#: Anything that starts like a URL is one (and refused by name when its kind is unknown), never
#: a file path: "postgresql+psycopg://..." must not become a local store named after it.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: Query parameters of a URL that are secrets.
_SECRET = re.compile(r"((?:^|&)(?:password|sslpassword)=)[^&]*", re.IGNORECASE)


def is_url(location: str | Path | None) -> bool:
    """Whether ``location`` names a store by URL rather than a DuckDB file."""
    return isinstance(location, str) and _URL.match(location) is not None


def url_scheme(location: str) -> str:
    """The scheme of a URL (``is_url``), lower case."""
    found = _URL.match(location)
    return found.group(1).lower() if found else ""


def default_location() -> str:
    """$KPI_DB as given (a path or a URL), else the default file: unlike ``default_path``,
    a URL is kept whole (a ``Path`` would fold its ``//``)."""
    return os.environ.get(ENV_VAR) or str(DEFAULT_PATH)


def shown(location: str | Path) -> str:
    """A store's name fit to print: a URL's password (in its user part or its query) is left
    out."""
    text = str(location)
    if not is_url(text):
        return text
    scheme, rest = text.split("://", 1)
    where, query_mark, query = rest.partition("?")
    netloc, slash, path = where.partition("/")
    user, at, host = netloc.rpartition("@")
    if at and ":" in user:
        user = user.split(":", 1)[0] + ":***"
    query = _SECRET.sub(r"\1***", query)
    return f"{scheme}://{user}{at}{host}{slash}{path}{query_mark}{query}"
