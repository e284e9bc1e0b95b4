"""Copy a whole store between a DuckDB file, PostgreSQL and a Spark folder (`kpi store copy`).

Every table goes (canonical rows and their history, batches, quarantine, settings, reflections,
users, audit log), at this program's schema version, pseudonymisation key included (so that
names pseudonymised before stay the same); the copy is checked by counting each table's rows
where it landed. Into PostgreSQL it is one transaction; into a Spark folder, one new version
named current at the end; into a file, a new file renamed into place at the end. So an
interrupted copy leaves the destination as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kpi.errors import StoreError
from kpi.store.connection import Store, open_store
from kpi.store.location import is_url
from kpi.store.remote import (
    Progress,
    fingerprints,
    remote,
    scratch_folder,
    synced_tables,
)


def copy_store(
    source: Store, target: str, *, replace: bool = False, progress: Progress | None = None
) -> dict[str, int]:
    """Copy every table of ``source`` into the store at ``target``; returns rows per table,
    as counted in the target (StoreError when a count differs). The engine's derived tables
    stay behind: wherever the store goes, they are built again when first needed."""
    con = source.cursor()
    expected = {
        t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in synced_tables(con)
    }
    if is_url(target):
        landed = _to_remote(source, target, replace, progress)
    else:
        landed = _to_file(source, Path(target).expanduser(), replace, progress)
    for table, rows in expected.items():
        if landed.get(table) != rows:
            raise StoreError(
                f"the copy of {table} holds {landed.get(table)} rows, not {rows}; the "
                "destination is not to be trusted: copy again with --replace"
            )
    return {table: landed[table] for table in expected}


def _to_remote(
    source: Store, target: str, replace: bool, progress: Progress | None
) -> dict[str, int]:
    destination = remote(target)
    scratch = scratch_folder()
    try:
        revision = destination.revision()
        if revision and not replace:
            raise StoreError(
                f"{destination.shown} already holds a store (revision {revision}); give "
                "--replace to overwrite it"
            )
        con = source.cursor()
        destination.push(con, synced_tables(con), revision, scratch, progress, replace=replace)
        return destination.row_counts()
    finally:
        destination.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _to_file(
    source: Store, target: Path, replace: bool, progress: Progress | None
) -> dict[str, int]:
    if target.exists() and not replace:
        raise StoreError(f"{target} already exists; give --replace to overwrite it")
    building = target.with_name(f".{target.name}.copying-{os.getpid()}")
    building.unlink(missing_ok=True)
    open_store(building).close()  # a new, empty store at this program's schema version
    con = source.cursor()
    try:
        con.execute(f"ATTACH '{str(building).replace(chr(39), chr(39) * 2)}' AS copy_target")
        try:
            # The engine's derived tables stay behind, as they do on every other target: the
            # copy builds its own when a report first needs them.
            for table in synced_tables(con):
                if progress:
                    progress(table)
                names = ", ".join(f'"{c}"' for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "'main' AND table_catalog = current_database() AND table_name = ? "
                    "ORDER BY ordinal_position", [table]).fetchall())  # fmt: skip
                con.execute(f'DELETE FROM copy_target."{table}"')
                con.execute(f'INSERT INTO copy_target."{table}" ({names}) '
                            f'SELECT {names} FROM "{table}"')  # fmt: skip
        finally:
            con.execute("DETACH copy_target")
        copy = open_store(building)
        try:
            prints = fingerprints(copy.cursor())
        finally:
            copy.close()
        if prints != fingerprints(con):
            raise StoreError(f"the copy in {building} differs from its source; it was removed")
        building.replace(target)
    finally:
        for leftover in (building, Path(f"{building}.wal")):
            leftover.unlink(missing_ok=True)
    return {table: count for table, (_, count, _) in prints.items()}
