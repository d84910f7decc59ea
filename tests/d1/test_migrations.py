"""Migrations on D1: one atomic request each, table rebuilds that keep every row and FK (issue 3)."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections, migrations, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db(databases=["d1"])

APP = "d1test"  # the router sends d1test to d1; the scratch tables below live only in a test


def scratch_migration(name, *operations):
    return type("Migration", (migrations.Migration,), {"operations": list(operations)})(name, APP)


CREATE = scratch_migration(
    "9001_scratch",
    migrations.CreateModel("Coach", [("id", models.AutoField(primary_key=True)), ("name", models.CharField(max_length=20))]),
    migrations.CreateModel("Pupil", [
        ("id", models.AutoField(primary_key=True)),
        ("coach", models.ForeignKey("d1test.Coach", models.CASCADE)),
    ]),
)
ALTER = scratch_migration(
    "9002_scratch",
    migrations.AlterField("Coach", "name", models.CharField(max_length=50, null=True)),
    migrations.AddField("Coach", "level", models.IntegerField(default=3)),
)
BROKEN = scratch_migration(
    "9003_scratch",
    migrations.AddField("Coach", "extra", models.IntegerField(default=0)),
    migrations.RunSQL("SELEC broken"),
    migrations.AlterField("Coach", "name", models.CharField(max_length=90)),
)


@pytest.fixture
def scratch(d1):
    """A migration executor for scratch models; their tables and records are removed after."""
    executor = MigrationExecutor(d1)
    executor.recorder.ensure_schema()  # as executor.migrate() does before applying
    state = executor.loader.project_state(("d1test", "0001_initial"))
    yield executor, state
    with d1.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS d1test_pupil")
        cursor.execute("DROP TABLE IF EXISTS d1test_coach")
    MigrationRecorder(d1).migration_qs.filter(app=APP, name__startswith="900").delete()


def table_sql(d1, table):
    with d1.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [table])
        return cursor.fetchone()[0]


def test_the_d1test_migrations_are_one_request_each_with_deferred_fks_and_the_record(d1, sent):
    call_command("migrate", APP, "zero", database="d1", verbosity=0)
    sent.clear()
    call_command("migrate", APP, database="d1", verbosity=0)
    migration_batches = [b for b in sent if any("django_migrations" in sql and "INSERT" in sql for sql in b)]
    applied = MigrationRecorder(d1).migration_qs.filter(app=APP).count()
    assert len(migration_batches) == applied == 1
    batch = migration_batches[0]
    assert batch[0] == "PRAGMA defer_foreign_keys = ON"
    assert batch[-1].startswith('INSERT INTO "django_migrations"')
    assert sum(sql.startswith("CREATE TABLE") for sql in batch) == 3
    writes = [b for b in sent if any(not sql.lstrip().upper().startswith(("SELECT", "PRAGMA")) for sql in b)]
    assert writes == migration_batches  # nothing else wrote


def test_a_scratch_migration_is_one_request(scratch, count_requests):
    executor, state = scratch
    with count_requests() as counter:
        executor.apply_migration(state, CREATE)
    assert counter.requests == 1


def test_altering_a_column_of_a_referenced_table_keeps_every_row_and_fk(scratch, d1, sent):
    executor, state = scratch
    state = executor.apply_migration(state, CREATE)
    with d1.cursor() as cursor:
        cursor.execute("INSERT INTO d1test_coach (id, name) VALUES (1, 'kai'), (2, 'mio')")
        cursor.execute("INSERT INTO d1test_pupil (id, coach_id) VALUES (10, 1), (11, 1), (12, 2)")
    sent.clear()
    executor.apply_migration(state, ALTER)
    assert len(sent) == 1 and sent[0][0] == "PRAGMA defer_foreign_keys = ON"
    with d1.cursor() as cursor:
        cursor.execute("SELECT id, name, level FROM d1test_coach ORDER BY id")
        assert cursor.fetchall() == [(1, "kai", 3), (2, "mio", 3)]
        cursor.execute("SELECT id, coach_id FROM d1test_pupil ORDER BY id")
        assert cursor.fetchall() == [(10, 1), (11, 1), (12, 2)]
        cursor.execute("PRAGMA foreign_key_check")
        assert cursor.fetchall() == []
        with pytest.raises(DatabaseError, match="FOREIGN KEY constraint failed"):
            cursor.execute("INSERT INTO d1test_pupil (id, coach_id) VALUES (13, 99)")
        with pytest.raises(DatabaseError, match="FOREIGN KEY constraint failed"):
            cursor.execute("DELETE FROM d1test_coach WHERE id = 2")  # the FK has no ON DELETE
    assert '"name" varchar(50) NULL' in table_sql(d1, "d1test_coach")
    assert "d1test_coach__d1_hold" not in connections["d1"].introspection.table_names()


def test_a_failing_migration_leaves_the_schema_and_the_records_untouched(scratch, d1, count_requests):
    executor, state = scratch
    state = executor.apply_migration(state, CREATE)
    with d1.cursor() as cursor:
        cursor.execute("INSERT INTO d1test_coach (id, name) VALUES (1, 'kai')")
    before = table_sql(d1, "d1test_coach")
    with count_requests() as counter, pytest.raises(DatabaseError, match="syntax error"):
        executor.apply_migration(state, BROKEN)
    assert counter.requests == 1
    assert table_sql(d1, "d1test_coach") == before
    assert not MigrationRecorder(d1).migration_qs.filter(app=APP, name="9003_scratch").exists()
    with d1.cursor() as cursor:
        cursor.execute("SELECT id, name FROM d1test_coach")
        assert cursor.fetchall() == [(1, "kai")]


def test_introspection_hides_cloudflare_and_sqlite_tables(d1):
    with d1.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        everything = {name for (name,) in cursor.fetchall()}
    assert "_cf_METADATA" in everything
    listed = set(d1.introspection.table_names())
    assert {"d1test_author", "d1test_book", "django_migrations"} <= listed
    assert not [t for t in listed if t.startswith(("_cf_", "sqlite_"))]


def test_inspectdb_describes_the_d1_tables(capsys):
    call_command("inspectdb", "d1test_author", "d1test_book", database="d1")
    out = capsys.readouterr().out
    assert "class D1TestAuthor(models.Model):" in out
    assert "author = models.ForeignKey(D1TestAuthor, models.DO_NOTHING)" in out
    assert "_cf_" not in out


def test_migrate_writes_nothing_when_up_to_date(sent):
    call_command("migrate", database="d1", verbosity=0)
    assert all(sql.startswith("SELECT") for batch in sent for sql in batch)

