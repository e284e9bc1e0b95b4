"""Stores named by URL (kpi.store.remote, kpi.store.working_copy): a PostgreSQL server and a
Spark folder of Parquet tables hold the same tables as a DuckDB file, commands write to them
through a working copy, and a writer whose store moved on is refused with nothing written.

The Parquet store needs no Spark to be written or read back (DuckDB does both), so those tests
run everywhere; the PostgreSQL ones carry the ``backends`` marker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kpi.engine.filters import Filters
from kpi.errors import StoreError
from kpi.evidence import reflections
from kpi.ingest.importer import import_file
from kpi.metrics.settings import load_settings, save_settings
from kpi.store import users
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
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    dashboard = open_store(url, shared=True)
    command = open_store(url)
    save_settings(command, load_settings(command).with_changes(sla_variant="source_flag"))
    command.close()
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
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    dashboard = open_store(url, shared=True)
    command = open_store(url)
    save_settings(command, load_settings(command).with_changes(sla_variant="source_flag"))
    command.close()
    reflections.save(dashboard, reflections.blank("Jo", 2, Filters(), ("csat",)))
    dashboard.close()
    landed = open_store(url)
    assert load_settings(landed).sla_variant == "source_flag"  # neither write lost
    assert sorted(r.learner for r in reflections.journal(landed)) == ["Amelia Booth", "Jo"]
    landed.close()


def test_a_shared_copys_write_after_someone_elses_is_refused_and_the_copy_catches_up(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = spark_url(tmp_path / "spark")
    copy_store(store, url)
    dashboard = open_store(url, shared=True)
    command = open_store(url)
    save_settings(command, load_settings(command).with_changes(sla_variant="source_flag"))
    command.close()
    # The race: the command's write lands after the write began (its check found nothing new).
    monkeypatch.setattr(WorkingCopy, "lease", Store.lease)
    with pytest.raises(StoreError, match="this change was not saved.*make the change again"):
        reflections.save(dashboard, reflections.blank("Jo", 2, Filters(), ("csat",)))
    assert load_settings(dashboard).sla_variant == "source_flag"  # the store as it is
    assert [r.learner for r in reflections.journal(dashboard)] == ["Amelia Booth"]
    monkeypatch.undo()
    reflections.save(dashboard, reflections.blank("Jo", 2, Filters(), ("csat",)))  # again: kept
    dashboard.close()
    landed = open_store(url)
    assert sorted(r.learner for r in reflections.journal(landed)) == ["Amelia Booth", "Jo"]
    landed.close()


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
    import_file(second, SAMPLE / "survey_responses.csv")  # unchanged rows: still a write
    reflections.save(second, reflections.blank("Jo", 2, Filters(), ("csat",)))
    first.close()
    with pytest.raises(StoreError, match="changed while this command ran"):
        second.close()
    landed = open_store(postgres_store)
    assert load_settings(landed).sla_variant == "source_flag"
    assert landed.count("imports") == 5 and len(reflections.journal(landed)) == 1
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
