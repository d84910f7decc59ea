"""Date SQL made of built-ins only: every lookup gives what stock Django SQLite gives (issue 3).

The same rows go into the d1 database and into a stock ``django.db.backends.sqlite3``
database ("sqlite_ref", which computes dates in Python functions); every query must
return the same values from both, in a zone without and a zone with daylight saving.
"""

import datetime

import pytest
from django.db import NotSupportedError, connections
from django.db.models import (
    DateField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    StdDev,
    TimeField,
    Value,
)
from django.db.models import functions as fn

from tests.d1test.models import Author, Book

pytestmark = pytest.mark.django_db(databases=["d1", "sqlite_ref"])

UTC = datetime.UTC
MOMENTS = [
    datetime.datetime(2020, 12, 31, 23, 30, tzinfo=UTC),  # Tokyo: already 2021
    datetime.datetime(2021, 1, 3, 15, 0, 0, 1, tzinfo=UTC),  # Tokyo: Monday of ISO week 1
    datetime.datetime(2021, 1, 4, 14, 59, 59, 999999, tzinfo=UTC),
    datetime.datetime(2022, 1, 1, 0, 0, tzinfo=UTC),  # a Saturday in ISO year 2021
    datetime.datetime(2023, 3, 31, 15, 0, tzinfo=UTC),  # Tokyo: quarter 2
    datetime.datetime(2023, 6, 30, 14, 59, 59, tzinfo=UTC),
    datetime.datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
    datetime.datetime(2024, 3, 10, 6, 59, 59, tzinfo=UTC),  # New York: last second of EST
    datetime.datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # New York: first second of EDT
    datetime.datetime(2024, 3, 10, 7, 30, 0, 500000, tzinfo=UTC),
    datetime.datetime(2024, 11, 3, 4, 59, 59, tzinfo=UTC),
    datetime.datetime(2024, 11, 3, 5, 30, tzinfo=UTC),  # New York: 01:30 EDT
    datetime.datetime(2024, 11, 3, 6, 30, tzinfo=UTC),  # New York: 01:30 EST again
    datetime.datetime(2024, 12, 29, 20, 0, tzinfo=UTC),  # Tokyo: ISO week 1 of 2025
    datetime.datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
    datetime.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    None,
]
ZONES = ["Asia/Tokyo", "America/New_York"]
DATE_KINDS = ["year", "quarter", "month", "week", "day"]
TIME_KINDS = ["hour", "minute", "second"]
EXTRACTS = {
    "year": fn.ExtractYear, "iso_year": fn.ExtractIsoYear, "quarter": fn.ExtractQuarter,
    "month": fn.ExtractMonth, "week": fn.ExtractWeek, "day": fn.ExtractDay,
    "week_day": fn.ExtractWeekDay, "iso_week_day": fn.ExtractIsoWeekDay,
    "hour": fn.ExtractHour, "minute": fn.ExtractMinute, "second": fn.ExtractSecond,
}
DATE_EXTRACTS = [k for k in EXTRACTS if k not in TIME_KINDS]


@pytest.fixture
def same_rows(settings, request):
    """Identical authors and books in d1 and in stock SQLite, in the zone under test."""
    settings.USE_TZ, settings.TIME_ZONE = True, request.param
    ref = connections["sqlite_ref"]
    with ref.cursor() as cursor:
        existing = ref.introspection.table_names(cursor)
    with ref.schema_editor() as editor:
        for model in (Author, Book):
            if model._meta.db_table not in existing:
                editor.create_model(model)
    with ref.cursor() as cursor:  # the router keeps d1test out of sqlite_ref's flush
        cursor.execute("DELETE FROM d1test_book")
        cursor.execute("DELETE FROM d1test_author")
    for db in ("d1", "sqlite_ref"):
        authors = Author.objects.using(db).bulk_create(
            [author(i, moment) for i, moment in enumerate(MOMENTS)]
        )
        ids = dict(Author.objects.using(db).values_list("name", "id"))
        Book.objects.using(db).bulk_create(
            [book(i, ids[a.name], moment) for i, (a, moment) in enumerate(zip(authors, MOMENTS, strict=True))]
        )
    return request.param


def author(i, moment):
    return Author(
        name=f"r{i:02}",
        joined=moment,
        birthday=moment and moment.date(),
        wakes=moment and moment.time(),
        nap=datetime.timedelta(hours=i, seconds=i, microseconds=i),
    )


def book(i, author_id, moment):
    published = moment and moment + datetime.timedelta(days=i, hours=7, microseconds=3 * i)
    return Book(id=f"b{i:02}", author_id=author_id, title="t", published=published)


def both(query):
    """The query's rows from d1 and from stock SQLite."""
    return [list(query(db)) for db in ("d1", "sqlite_ref")]


def annotated(expression, model=Author):
    return lambda db: model.objects.using(db).annotate(v=expression).order_by("pk" if model is Book else "name").values_list("v", flat=True)


def assert_same(query):
    ours, stock = both(query)
    assert ours == stock


zones = pytest.mark.parametrize("same_rows", ZONES, indirect=True)


@zones
@pytest.mark.parametrize("kind", list(EXTRACTS))
def test_extract_from_a_datetime_matches_stock_sqlite(same_rows, kind):
    assert_same(annotated(EXTRACTS[kind]("joined")))
    assert_same(lambda db: Author.objects.using(db).filter(**{f"joined__{kind}__gte": 2}).order_by("name").values_list("name", flat=True))


@zones
@pytest.mark.parametrize("kind", DATE_EXTRACTS)
def test_extract_from_a_date_matches_stock_sqlite(same_rows, kind):
    assert_same(annotated(EXTRACTS[kind]("birthday")))


@zones
@pytest.mark.parametrize("kind", TIME_KINDS)
def test_extract_from_a_time_matches_stock_sqlite(same_rows, kind):
    assert_same(annotated(EXTRACTS[kind]("wakes")))


@zones
@pytest.mark.parametrize("kind", DATE_KINDS + TIME_KINDS)
def test_trunc_of_a_datetime_matches_stock_sqlite(same_rows, kind):
    assert_same(annotated(fn.Trunc("joined", kind)))
    if kind != "quarter":  # Django itself refuses datetimes(..., "quarter")
        assert_same(lambda db: Author.objects.using(db).datetimes("joined", kind))


@zones
@pytest.mark.parametrize("kind", DATE_KINDS)
def test_trunc_of_a_datetime_to_a_date_matches_stock_sqlite(same_rows, kind):
    assert_same(annotated(fn.Trunc("joined", kind, output_field=DateField())))
    assert_same(annotated(fn.Trunc("birthday", kind)))
    if kind != "quarter":  # Django itself refuses dates(..., "quarter")
        assert_same(lambda db: Author.objects.using(db).dates("joined", kind))


@zones
@pytest.mark.parametrize("kind", TIME_KINDS)
def test_trunc_of_a_time_matches_stock_sqlite(same_rows, kind):
    assert_same(annotated(fn.Trunc("wakes", kind)))
    assert_same(annotated(fn.Trunc("joined", kind, output_field=TimeField())))


@zones
def test_date_and_time_of_a_datetime_match_stock_sqlite(same_rows):
    assert_same(annotated(fn.TruncDate("joined")))
    assert_same(annotated(fn.TruncTime("joined")))
    some_day = datetime.date(2024, 3, 10)
    assert_same(lambda db: Author.objects.using(db).filter(joined__date=some_day).values_list("name", flat=True))
    assert_same(lambda db: Author.objects.using(db).filter(joined__time__gte=datetime.time(1, 30)).order_by("name").values_list("name", flat=True))


@zones
def test_duration_arithmetic_matches_stock_sqlite(same_rows):
    assert_same(annotated(F("joined") + datetime.timedelta(days=1, microseconds=7)))
    assert_same(annotated(F("joined") - datetime.timedelta(hours=30)))
    assert_same(annotated(F("joined") + F("nap")))
    assert_same(annotated(F("nap") + F("joined")))
    assert_same(annotated(F("published") - F("author__joined"), Book))
    assert_same(annotated(ExpressionWrapper(F("nap") * 2, output_field=DurationField())))
    later = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    assert_same(annotated(Value(later, DateTimeField()) - F("joined")))
    assert_same(lambda db: Author.objects.using(db).filter(joined__lt=F("joined") + F("nap")).values_list("name", flat=True).order_by("name"))


def on_clock(time, delta):
    """A time of day moved by ``delta``, wrapping at midnight (as PostgreSQL's time + interval)."""
    return time and (datetime.datetime.combine(datetime.date(2000, 1, 1), time) + delta).time()


@pytest.mark.parametrize("same_rows", ZONES[:1], indirect=True)
def test_time_and_duration_arithmetic_moves_on_a_clock_face(same_rows):
    # Stock SQLite gives NULL here (its Python function cannot read a bare time), so
    # the reference is the clock arithmetic itself.
    rows = list(Author.objects.using("d1").order_by("name").values_list("name", "wakes", "nap"))
    step = datetime.timedelta(hours=10, microseconds=7)
    ours = annotated(F("wakes") + step)("d1")
    assert list(ours) == [on_clock(wakes, step) for _, wakes, _ in rows]
    ours = annotated(F("wakes") - step)("d1")
    assert list(ours) == [on_clock(wakes, -step) for _, wakes, _ in rows]
    expected = [on_clock(wakes, nap) for _, wakes, nap in rows]
    assert list(annotated(F("wakes") + F("nap"))("d1")) == expected
    assert list(annotated(F("nap") + F("wakes"))("d1")) == expected
    not_wrapped = Author.objects.using("d1").filter(wakes__lt=F("wakes") + step).order_by("name")
    assert list(not_wrapped.values_list("name", flat=True)) == [
        name for name, wakes, _ in rows if wakes and wakes < on_clock(wakes, step)
    ]


@zones
def test_updating_with_duration_arithmetic_matches_stock_sqlite(same_rows):
    for db in ("d1", "sqlite_ref"):
        Author.objects.using(db).update(joined=F("joined") + datetime.timedelta(minutes=90))
    assert_same(lambda db: Author.objects.using(db).order_by("name").values_list("joined", flat=True))


@zones
def test_now_is_the_current_utc_time(same_rows):
    before = datetime.datetime.now(UTC)
    now = Author.objects.using("d1").annotate(v=fn.Now()).values_list("v", flat=True).first()
    assert abs(now - before) < datetime.timedelta(seconds=5)
    assert_same(lambda db: Author.objects.using(db).filter(joined__lt=fn.Now()).order_by("name").values_list("name", flat=True))


@pytest.mark.parametrize("lookup", ["regex", "iregex"])
def test_regex_lookups_are_not_supported_and_say_which(lookup):
    with pytest.raises(NotSupportedError, match=lookup):
        list(Author.objects.using("d1").filter(**{f"name__{lookup}": "^a"}))


def test_md5_and_stddev_are_not_supported():
    with pytest.raises(NotSupportedError, match="MD5"):
        list(Author.objects.using("d1").annotate(h=fn.MD5("name")))
    with pytest.raises(NotSupportedError, match="StdDev"):
        Author.objects.using("d1").aggregate(s=StdDev("age"))


def test_duration_field_is_integer_microseconds():
    assert DurationField().get_db_prep_value(datetime.timedelta(microseconds=5), connections["d1"]) == 5
