"""The D1 backend through Django's ORM, on the local D1 (or --d1-target=cloudflare)."""

import datetime
import decimal

import pytest
from django.db import DataError, IntegrityError, NotSupportedError, OperationalError, connections
from django.db.backends.base.features import BaseDatabaseFeatures
from django.db.utils import ProgrammingError
from django.utils import timezone

from coachbot.d1.features import DatabaseFeatures
from tests.d1test.models import Author, Book, Review

pytestmark = pytest.mark.django_db(databases=["d1"])


def make_author(name="ann", **fields):
    return Author.objects.create(name=name, **fields)


def test_it_creates_reads_updates_and_deletes_through_the_orm():
    author = make_author(age=30, score=1.5, balance=decimal.Decimal("12.30"))
    author.age = 31
    author.save()
    fetched = Author.objects.get(pk=author.pk)
    assert (fetched.name, fetched.age, fetched.score) == ("ann", 31, 1.5)
    assert fetched.balance == decimal.Decimal("12.30")
    fetched.delete()
    assert not Author.objects.filter(pk=author.pk).exists()


def test_it_round_trips_every_common_field_type():
    joined = timezone.now().replace(microsecond=123456)
    author = make_author(
        joined=joined,
        birthday=datetime.date(1990, 2, 3),
        wakes=datetime.time(6, 30, 15),
        avatar=b"\x00\xffbytes",
        big=2**53,
        data={"tags": ["a", "b"], "n": 1},
        snowflake="1234567890123456789",
        nap=datetime.timedelta(minutes=20, microseconds=5),
        score=2.0,
        active=False,
    )
    fetched = Author.objects.get(pk=author.pk)
    assert fetched.joined == joined
    assert fetched.birthday == datetime.date(1990, 2, 3)
    assert fetched.wakes == datetime.time(6, 30, 15)
    assert bytes(fetched.avatar) == b"\x00\xffbytes"
    assert fetched.big == 2**53
    assert fetched.data == {"tags": ["a", "b"], "n": 1}
    assert fetched.snowflake == "1234567890123456789"
    assert fetched.nap == datetime.timedelta(minutes=20, microseconds=5)
    assert fetched.ref == author.ref
    assert fetched.score == 2.0 and isinstance(fetched.score, float)
    assert fetched.active is False


def test_it_keeps_both_ids_when_a_join_selects_id_twice():
    author = make_author()
    Book.objects.create(id="b1", author=author, title="one")
    book = Book.objects.select_related("author").get(id="b1")
    assert book.id == "b1" and book.author.id == author.id and book.author.name == "ann"
    with connections["d1"].cursor() as cursor:
        cursor.execute("SELECT 1 AS id, 2 AS id")
        assert cursor.fetchall() == [(1, 2)]
        assert [c[0] for c in cursor.description] == ["id", "id"]


def test_it_keeps_rows_in_the_order_d1_returns_them():
    for name in ["c", "a", "b"]:
        make_author(name)
    assert list(Author.objects.order_by("name").values_list("name", flat=True)) == ["a", "b", "c"]
    assert list(Author.objects.order_by("-name").values_list("name", flat=True)) == ["c", "b", "a"]


def test_update_returns_the_exact_row_count():
    for name in ["a", "b", "c"]:
        make_author(name, age=1)
    assert Author.objects.filter(name__in=["a", "b"]).update(age=2) == 2
    assert Author.objects.filter(name="nobody").update(age=3) == 0


def test_percent_signs_survive_parameter_conversion():
    make_author("100% sure")
    assert Author.objects.filter(name__contains="%").count() == 1
    assert Author.objects.filter(name__startswith="100%").get().name == "100% sure"


def test_bulk_create_of_1000_rows_takes_at_most_two_requests(count_requests):
    with count_requests() as counter:
        Author.objects.bulk_create([Author(name=f"member {i}") for i in range(1000)])
    assert counter.requests <= 2
    assert Author.objects.count() == 1000


def test_a_unique_clash_is_an_integrity_error_with_d1s_text():
    make_author()
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed: d1test_author.name"):
        make_author()


def test_a_missing_parent_is_an_integrity_error():
    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
        Book.objects.create(id="orphan", author_id=999, title="x")


def test_not_null_and_check_constraints_are_integrity_errors():
    author = make_author()
    Book.objects.create(id="b1", author=author, title="t")
    with pytest.raises(IntegrityError, match="CHECK constraint failed"):
        Review.objects.create(book_id="b1", stars=0)
    with connections["d1"].cursor() as cursor, pytest.raises(IntegrityError, match="NOT NULL"):
        cursor.execute("INSERT INTO d1test_book (id, author_id, title, pages) VALUES ('b2', %s, NULL, 1)", [author.pk])


def test_syntax_errors_and_missing_tables_are_operational_errors():
    with connections["d1"].cursor() as cursor:
        with pytest.raises(OperationalError, match="syntax error"):
            cursor.execute("SELEC 1")
        with pytest.raises(OperationalError, match="no such table: nope"):
            cursor.execute("SELECT * FROM nope")


def test_too_many_parameters_is_a_data_error():
    with connections["d1"].cursor() as cursor, pytest.raises(DataError, match="too many SQL variables"):
        cursor.execute("SELECT " + ", ".join(["%s"] * 101), ["x"] * 101)


def test_a_statement_over_100_kb_is_a_data_error():
    with connections["d1"].cursor() as cursor, pytest.raises(DataError, match="statement too long"):
        cursor.execute("SELECT '" + "x" * 100_001 + "'")


def test_forbidden_sql_is_not_supported():
    with connections["d1"].cursor() as cursor:
        for sql in ["PRAGMA user_version", "BEGIN", "SAVEPOINT s1", "SELECT sqlite_version()"]:
            with pytest.raises((NotSupportedError, OperationalError)):
                cursor.execute(sql)


def test_wrong_parameter_counts_are_programming_errors():
    with connections["d1"].cursor() as cursor, pytest.raises(ProgrammingError):
        cursor.execute("SELECT %s", [1, 2])


def test_an_integer_beyond_2_to_the_53_is_refused_not_rounded():
    with pytest.raises(DataError, match="beyond ±2\\^53"):
        make_author(big=2**60)
    assert not Author.objects.exists()


def test_an_integer_beyond_2_to_the_53_in_the_database_is_refused_on_read():
    author = make_author()
    with connections["d1"].cursor() as cursor:
        cursor.execute(f"UPDATE d1test_author SET big = {2**60 + 1} WHERE id = %s", [author.pk])
    with pytest.raises(DataError, match="beyond ±2\\^53"):
        Author.objects.get(pk=author.pk)
    with connections["d1"].cursor() as cursor:
        cursor.execute("SELECT CAST(big AS TEXT) FROM d1test_author")
        assert cursor.fetchone() == (str(2**60 + 1),)


def test_integers_are_stored_as_integers_in_text_columns():
    with connections["d1"].cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS t_text (v TEXT)")
        cursor.execute("INSERT INTO t_text (v) VALUES (%s)", [5])
        cursor.execute("SELECT v, typeof(v) FROM t_text")
        assert cursor.fetchone() == ("5", "text")
        cursor.execute("DROP TABLE t_text")


def test_every_request_is_counted(count_requests):
    with count_requests() as counter:
        make_author()
        list(Author.objects.all())
        Author.objects.count()
    assert counter.requests == 3


def test_every_feature_flag_we_set_exists_on_django():
    ours = {name for name in vars(DatabaseFeatures) if not name.startswith("_")}
    unknown = {name for name in ours if not hasattr(BaseDatabaseFeatures, name)}
    assert unknown == set()


def test_the_features_are_honest_about_d1():
    features = connections["d1"].features
    assert features.has_select_for_update is False
    assert features.max_query_params == 100
    assert features.supports_transactions is False
    assert features.can_rollback_ddl is True
