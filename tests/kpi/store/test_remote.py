"""Stores named by URL (kpi.store.remote, kpi.store.working_copy): a PostgreSQL server and a
Spark folder of Parquet tables hold the same tables as a DuckDB file, commands write to them
through a working copy, and a writer whose store moved on is refused with nothing written.

The Parquet store needs no Spark to be written or read back (DuckDB does both), so those tests
run everywhere; the PostgreSQL ones carry the ``backends`` marker."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from kpi.engine.filters import Filters
from kpi.engine.report import report
from kpi.errors import StoreError
from kpi.evidence import reflections
from kpi.ingest.importer import import_file
from kpi.metrics.settings import load_settings, save_settings
from kpi.store import users
from kpi.store.batches import undo
from kpi.store.connection import Store, open_store
from kpi.store.copying import copy_store
from kpi.store.remote import ParquetRemote, fingerprints, remote
from kpi.store.working_copy import WorkingCopy

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"
#: Text a CSV round trip could mangle: quotes, commas, new lines, an empty string, non-ASCII.
AWKWARD = 'Said "sorry", then:\nrang back — twice\r\nand ""'


@pytest.fixture
def store(seeded_template: Path, tmp_path: Path) -> Store:
    """The sample store, plus a reflection of awkward text and a person with agent names
    (a list column), so that every kind of column makes the trip."""
    path = tmp_path / "local.duckdb"
    shutil.copy(seeded_template, path)
    s = open_store(path)
    draft = reflections.blank("Amelia Booth", 3, Filters(), ("csat",))
    reflections.save(s, reflections.replace(draft, sections={"situation": AWKWARD}))
    person = users.sign_in(s, "https://id.example", "sub-1", "amelia@example.org", "Amelia B")
    users.set_agent_names(s, str(person.user_id), ["Amelia Booth", "A. Booth"])
    yield s
    s.close()


def spark_url(folder: Path) -> str:
    return f"spark://local[2]?warehouse={folder}"


def test_a_copy_to_a_spark_folder_and_back_is_identical_table_by_table(
    store: Store, tmp_path: Path
) -> None:
    url = spark_url(tmp_path / "spark")
    counts = copy_store(store, url)
    assert counts["contacts"] == 39_706
    back = tmp_path / "back.duckdb"
    copy_store(open_store(url), str(back))
    with_copy = open_store(back)
    assert fingerprints(with_copy.cursor()) == fingerprints(store.cursor())
    assert reflections.journal(with_copy)[0].sections["situation"] == AWKWARD
    with_copy.close()


def test_contacts_in_a_spark_folder_are_partitioned_by_the_month_they_opened(
    store: Store, tmp_path: Path
) -> None:
    copy_store(store, spark_url(tmp_path / "spark"))
    months = sorted(p.name for p in (tmp_path / "spark" / "v000001" / "contacts").iterdir())
    first, last = (
        store.cursor()
        .execute(
            "SELECT strftime(min(opened_at), '%Y-%m'), strftime(max(opened_at), '%Y-%m') "
            "FROM contacts"
        )
        .fetchall()[0]
    )
    assert months[0] == f"opened_month={first}" and months[-1] == f"opened_month={last}"


def test_a_write_makes_a_new_version_linking_the_tables_it_did_not_change(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "spark"
    url = spark_url(folder)
    copy_store(store, url)
    copy = open_store(url)
    save_settings(copy, load_settings(copy).with_changes(sla_variant="source_flag"))
    changed = copy.sync()
    copy.close()
    assert set(changed) == {"settings", "audit_log"}
    assert (folder / "CURRENT").read_text().strip() == "v000002"
    old = next((folder / "v000001" / "responses").glob("*.parquet"))
    new = next((folder / "v000002" / "responses").glob("*.parquet"))
    assert old.stat().st_ino == new.stat().st_ino  # linked, not copied
    assert load_settings(open_store(url)).sla_variant == "source_flag"


def test_a_writer_whose_store_moved_on_is_refused_and_writes_nothing(
    store: Store, tmp_path: Path
) -> None:
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    first, second = open_store(url), open_store(url)
    save_settings(first, load_settings(first).with_changes(sla_variant="source_flag"))
    save_settings(second, load_settings(second).with_changes(sla_variant="targets"))
    first.close()
    with pytest.raises(StoreError, match=r"changed while this command ran.*run the command again"):
        second.close()
    assert remote(url).revision() == 2
    assert load_settings(open_store(url)).sla_variant == "source_flag"


def test_writers_of_different_tables_both_land_as_if_one_came_after_the_other(
    store: Store, tmp_path: Path
) -> None:
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    changing, reflecting = open_store(url), open_store(url)
    save_settings(changing, load_settings(changing).with_changes(sla_variant="source_flag"))
    reflections.save(reflecting, reflections.blank("Jo", 2, Filters(), ("csat",)))
    reflecting.close()
    changing.sync()  # settings, audit log and meta: not the reflections' tables, so it lands
    # Its copy took the reflection too, so a later write cannot send its old rows over it.
    assert sorted(r.learner for r in reflections.journal(changing)) == ["Amelia Booth", "Jo"]
    changing.close()
    landed = open_store(url)
    assert sorted(r.learner for r in reflections.journal(landed)) == ["Amelia Booth", "Jo"]
    assert load_settings(landed).sla_variant == "source_flag"
    landed.close()


def test_an_import_into_a_url_store_counts_every_row_and_a_refused_one_changes_nothing(
    tmp_path: Path,
) -> None:
    url = spark_url(tmp_path / "spark")
    copy = open_store(url)
    result = import_file(copy, SAMPLE / "survey_responses.csv")
    copy.close()
    assert result.rows_read == result.rows_imported + result.rows_quarantined == 8_423
    assert remote(url).row_counts()["responses"] == 8_423
    bad = tmp_path / "bad.csv"
    bad.write_text("this,is,not\nan,export,at\n")
    copy = open_store(url)
    with pytest.raises(Exception, match="bad.csv"):
        import_file(copy, bad)
    copy.close()
    assert remote(url).revision() == 1


def test_a_url_store_that_holds_nothing_is_not_created_by_reading_it(tmp_path: Path) -> None:
    url = spark_url(tmp_path / "spark")
    open_store(url).close()
    assert remote(url).revision() == 0
    assert not (tmp_path / "spark" / "CURRENT").exists()


def test_a_spark_url_without_an_absolute_folder_says_how_to_write_one() -> None:
    with pytest.raises(StoreError, match=r"spark://MASTER\?warehouse=/absolute/folder"):
        ParquetRemote("spark://local[*]?warehouse=relative/folder")


def served_then_changed(store: Store, tmp_path: Path) -> tuple[str, Store]:
    """The store in a Spark folder, a dashboard's copy of it, and then a `kpi` command's
    settings change there that the dashboard's copy has not seen yet."""
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    dashboard = open_store(url, shared=True)
    command = open_store(url)
    save_settings(command, load_settings(command).with_changes(sla_variant="source_flag"))
    command.close()
    return url, dashboard


def test_a_shared_copy_sends_each_write_at_once_and_sees_others_at_its_next_page_run(
    store: Store, tmp_path: Path
) -> None:
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    dashboard = open_store(url, shared=True)
    with dashboard.lease():
        save_settings(dashboard, load_settings(dashboard).with_changes(sla_variant="targets"))
    # Sent as each transaction committed (the setting, then its audit entry), not at close.
    assert remote(url).revision() == 3
    before = dashboard.version()
    command = open_store(url)  # a `kpi` command beside the dashboard
    reflections.save(command, reflections.blank("Jo", 2, Filters(), ("csat",)))
    command.close()
    # This page run still reads its copy; the next reads the store as it is now.
    assert [r.learner for r in reflections.journal(dashboard)] == ["Amelia Booth"]
    with dashboard.lease():
        assert sorted(r.learner for r in reflections.journal(dashboard)) == ["Amelia Booth", "Jo"]
        assert dashboard.version() != before  # so no cached result of before is served
    dashboard.close()


def test_a_shared_copy_catches_up_by_taking_only_the_tables_others_changed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, dashboard = served_then_changed(store, tmp_path)
    taken: list[str] = []
    read = ParquetRemote._read
    monkeypatch.setattr(
        ParquetRemote,
        "_read",
        lambda self, table, v=None: taken.append(table) or read(self, table, v),
    )
    with dashboard.lease():
        assert load_settings(dashboard).sla_variant == "source_flag"
    assert sorted(taken) == ["audit_log", "meta", "settings"]  # not the 39,706 contacts again
    assert dashboard.count("contacts") == 39_706
    dashboard.close()


def test_a_shared_copy_catches_up_before_it_writes(store: Store, tmp_path: Path) -> None:
    url, dashboard = served_then_changed(store, tmp_path)
    reflections.save(dashboard, reflections.blank("Jo", 2, Filters(), ("csat",)))
    dashboard.close()
    landed = open_store(url)
    assert load_settings(landed).sla_variant == "source_flag"  # neither write lost
    assert sorted(r.learner for r in reflections.journal(landed)) == ["Amelia Booth", "Jo"]
    landed.close()


def test_a_shared_copys_write_after_someone_elses_is_refused_and_the_copy_catches_up(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, dashboard = served_then_changed(store, tmp_path)
    # The race: the command's write lands after the write began (its check found nothing new).
    monkeypatch.setattr(WorkingCopy, "lease", Store.lease)
    with pytest.raises(StoreError, match="this change was not saved.*make the change again"):
        # The same tables (settings, its audit entry): refused, not merged.
        save_settings(dashboard, load_settings(dashboard).with_changes(minimum_n=40))
    assert load_settings(dashboard).sla_variant == "source_flag"  # the store as it is
    assert load_settings(dashboard).minimum_n != 40
    monkeypatch.undo()
    save_settings(dashboard, load_settings(dashboard).with_changes(minimum_n=40))  # again: kept
    dashboard.close()
    landed = open_store(url)
    assert load_settings(landed).sla_variant == "source_flag"
    assert load_settings(landed).minimum_n == 40
    landed.close()


def test_a_shared_copy_that_takes_others_undo_prunes_its_kept_copy_of_the_contacts(
    store: Store, tmp_path: Path
) -> None:
    # The copy's business_times holds whole contact rows: an undo on the store must not leave
    # the undone rows there until the copy's next business-hours report.
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    dashboard = open_store(url, shared=True)
    with dashboard.lease():
        report(dashboard, metrics=["sla"])
    kept = dashboard.cursor().execute("SELECT count(*) FROM business_times").fetchall()
    assert kept == [(39_706,)]
    command = open_store(url)
    last = command.cursor().execute("SELECT max(batch_id) FROM imports").fetchall()[0][0]
    undo(command, last)
    command.close()
    with dashboard.lease():
        cur = dashboard.cursor()
        undone = "SELECT count(*) FROM business_times WHERE batch_id = ?"
        assert cur.execute(undone, [last]).fetchall() == [(0,)]
        stale = "SELECT count(*) FROM derived_tables WHERE name = 'business_times'"
        assert cur.execute(stale).fetchall() == [(0,)]  # the next report builds it anew
    dashboard.close()


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.backends
def test_a_copy_to_postgresql_and_back_is_identical_table_by_table(
    store: Store, postgres_store: str, tmp_path: Path
) -> None:
    counts = copy_store(store, postgres_store)
    assert counts["contacts"] == 39_706 and counts["users"] == 1
    back = tmp_path / "back.duckdb"
    copy_store(open_store(postgres_store), str(back))
    with_copy = open_store(back)
    assert fingerprints(with_copy.cursor()) == fingerprints(store.cursor())
    assert users.all_users(with_copy)[0].agent_names == ("Amelia Booth", "A. Booth")
    with_copy.close()


@pytest.mark.backends
def test_two_writers_of_a_postgresql_store_one_is_refused_and_writes_nothing(
    store: Store, postgres_store: str
) -> None:
    copy_store(store, postgres_store)
    first, second = open_store(postgres_store), open_store(postgres_store)
    save_settings(first, load_settings(first).with_changes(sla_variant="source_flag"))
    reflections.save(second, reflections.blank("Jo", 2, Filters(), ("csat",)))
    save_settings(second, load_settings(second).with_changes(minimum_n=40))  # the same tables
    first.close()
    with pytest.raises(StoreError, match="changed while this command ran"):
        second.close()
    landed = open_store(postgres_store)
    assert load_settings(landed).sla_variant == "source_flag"
    assert load_settings(landed).minimum_n != 40
    assert len(reflections.journal(landed)) == 1  # none of the refused write, not even Jo's
    landed.close()


@pytest.mark.backends
def test_an_import_into_postgresql_lands_whole_and_a_failed_one_leaves_it_as_it_was(
    postgres_store: str, tmp_path: Path
) -> None:
    copy = open_store(postgres_store)
    result = import_file(copy, SAMPLE / "zendesk_tickets.csv")
    copy.close()
    assert result.rows_read == result.rows_imported + result.rows_quarantined
    counts = remote(postgres_store).row_counts()
    assert counts["contacts"] == result.rows_imported and counts["imports"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("this,is,not\nan,export,at\n")
    copy = open_store(postgres_store)
    with pytest.raises(Exception, match="bad.csv"):
        import_file(copy, bad)
    copy.close()
    assert remote(postgres_store).revision() == 1
    assert remote(postgres_store).row_counts() == counts


@pytest.mark.backends
def test_an_unreachable_postgresql_store_is_one_line_saying_what_to_check() -> None:
    with pytest.raises(StoreError, match=r"cannot reach the PostgreSQL store .*check the URL"):
        open_store("postgresql://nobody:secret@127.0.0.1:1/none")


# --- what a new user's server and mistakes do ----------------------------------------------------


def admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


@pytest.mark.backends
def test_a_team_login_keeps_the_store_in_its_own_schema_and_sees_it(
    store: Store, postgres_store: str
) -> None:
    # PostgreSQL 15 lets only the owner create tables in public: a team's login has a schema.
    with admin(postgres_store) as con:
        con.execute("DROP ROLE IF EXISTS kpi_team")
        con.execute("CREATE ROLE kpi_team LOGIN")
        con.execute("CREATE SCHEMA kpi_team AUTHORIZATION kpi_team")
    url = postgres_store.replace("postgres@", "kpi_team@")
    copy_store(store, url)
    seen = open_store(url)
    assert seen.count("contacts") == 39_706 and seen.count("imports") == 5
    seen.close()
    with admin(postgres_store) as con:
        (held,) = con.execute("SELECT count(*) FROM kpi_team.contacts").fetchone()
        assert held == 39_706
        con.execute("DROP SCHEMA kpi_team CASCADE")
        con.execute("DROP OWNED BY kpi_team")
        con.execute("DROP ROLE kpi_team")


@pytest.mark.backends
def test_a_database_holding_another_apps_tables_is_refused_not_written_over(
    store: Store, postgres_store: str
) -> None:
    with admin(postgres_store) as con:
        con.execute("CREATE TABLE users (id int, login text)")
        con.execute("INSERT INTO users VALUES (1, 'sam')")
    with pytest.raises(StoreError, match=r"already holds tables that are not a store's \(users\)"):
        copy_store(store, postgres_store)
    copy = open_store(postgres_store)
    save_settings(copy, load_settings(copy).with_changes(sla_variant="source_flag"))
    with pytest.raises(StoreError, match="not a store's"):
        copy.close()
    with admin(postgres_store) as con:
        assert con.execute("SELECT * FROM users").fetchall() == [(1, "sam")]
        assert con.execute("SELECT to_regclass('contacts')").fetchone() == (None,)


@pytest.mark.backends
def test_an_older_store_on_the_server_is_moved_on_when_first_opened(
    store: Store, postgres_store: str
) -> None:
    copy_store(store, postgres_store)
    with admin(postgres_store) as con:  # as schema 10 left it: no sign-in identity column
        con.execute("ALTER TABLE audit_log DROP COLUMN identity")
        con.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    open_store(postgres_store).close()
    assert remote(postgres_store).schema_version() == 11
    with admin(postgres_store) as con:
        names = [r[0] for r in con.execute("SELECT * FROM audit_log LIMIT 0").description or []]
        con.execute("UPDATE audit_log SET identity = 'https://id|alice' WHERE entry_id = 1")
    copy = open_store(postgres_store)
    save_settings(copy, load_settings(copy).with_changes(sla_variant="source_flag"))
    copy.close()
    assert "identity" in names
    with admin(postgres_store) as con:
        kept = con.execute("SELECT identity FROM audit_log WHERE entry_id = 1").fetchone()
        assert kept == ("https://id|alice",)  # a later write keeps what the server holds


@pytest.mark.backends
def test_server_settings_that_round_numbers_or_dates_change_nothing(
    store: Store, postgres_store: str, tmp_path: Path
) -> None:
    name = postgres_store.rsplit("/", 1)[1]
    with admin(postgres_store) as con:
        con.execute(f'ALTER DATABASE "{name}" SET extra_float_digits = 0')
        con.execute(f"ALTER DATABASE \"{name}\" SET DateStyle = 'SQL, DMY'")
    copy_store(store, postgres_store)
    back = tmp_path / "back.duckdb"
    copy_store(open_store(postgres_store), str(back))
    with_copy = open_store(back)
    assert fingerprints(with_copy.cursor()) == fingerprints(store.cursor())
    with_copy.close()


@pytest.mark.backends
def test_a_database_that_is_not_utf8_is_refused_saying_how_to_make_one(
    postgres_store: str,
) -> None:
    ascii_url = postgres_store + "_ascii"
    name = ascii_url.rsplit("/", 1)[1]
    with admin(postgres_store) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' TEMPLATE template0 "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    try:
        with pytest.raises(StoreError, match=r"stores text as SQL_ASCII.*ENCODING 'UTF8'"):
            open_store(ascii_url)
    finally:
        with admin(postgres_store) as con:
            con.execute(f'DROP DATABASE "{name}"')


@pytest.mark.backends
def test_a_dashboard_whose_server_dropped_it_says_so_once_then_reconnects(
    store: Store, postgres_store: str
) -> None:
    copy_store(store, postgres_store)
    dashboard = open_store(postgres_store, shared=True)
    name = postgres_store.rsplit("/", 1)[1]
    with admin(postgres_store) as con:
        con.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
    with pytest.raises(StoreError, match="lost the connection to .*try again"), dashboard.lease():
        pass
    with dashboard.lease():  # the next page run: connected again
        assert dashboard.count("contacts") == 39_706
    dashboard.close()


def test_passwords_never_reach_a_message_and_unknown_kinds_of_url_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in (
        "postgresql://alice@127.0.0.1:1/db?password=Secret99",
        "postgresql://alice:s3cr%t:Secret99@127.0.0.1:1/db",
    ):
        with pytest.raises(StoreError) as refused:
            open_store(url)
        assert "Secret99" not in str(refused.value)
    with pytest.raises(StoreError, match=r"postgresql\+psycopg:// is not a kind of store"):
        open_store("postgresql+psycopg://alice:Secret99@127.0.0.1:1/db")
    assert list(tmp_path.iterdir()) == []  # no local store named after the URL


def test_a_spark_folder_left_half_written_by_a_killed_write_takes_the_next(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "spark"
    url = spark_url(folder)
    copy_store(store, url)
    shutil.copytree(folder / "v000001", folder / "v000002")  # built, never published
    (folder / ".v000002-99999999").mkdir()  # being built when its process died
    copy = open_store(url)
    save_settings(copy, load_settings(copy).with_changes(sla_variant="source_flag"))
    copy.close()
    assert (folder / "CURRENT").read_text().strip() == "v000002"
    assert not (folder / ".v000002-99999999").exists()
    assert load_settings(open_store(url)).sla_variant == "source_flag"


def test_a_spark_folder_whose_current_is_damaged_says_so(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "spark"
    copy_store(store, spark_url(folder))
    (folder / "CURRENT").write_text("garbage\n")
    with pytest.raises(StoreError, match=r"names 'garbage', which is not a version"):
        open_store(spark_url(folder))


@pytest.mark.backends
def test_a_report_on_postgresql_runs_without_the_jit_compiler(store: Store, postgres_store: str):
    # A report's few wide queries spent seconds being compiled to machine code (13 s for one
    # at 200k contacts) where running them takes a fraction of one.
    copy_store(store, postgres_store)
    source = remote(postgres_store)
    try:
        backend = source.backend()
        with backend.con.cursor() as cursor:
            cursor.execute("SHOW jit")
            assert cursor.fetchone()[0] == "off"
    finally:
        source.close()
