"""atomic() on D1: a queue of writes that travels as one batch at commit (issue 3)."""

import logging

import pytest
from django.db import IntegrityError, ProgrammingError, transaction

from coachbot.d1 import RequestCounter, errors, queue_update
from coachbot.d1.errors import EarlyFlushError
from tests.d1test.models import Author, Book

pytestmark = pytest.mark.django_db(databases=["d1"])


class Boom(Exception):
    pass


@pytest.fixture
def author():
    return Author.objects.create(name="ann")


def write_books(author, *ids):
    for book_id in ids:
        Book.objects.create(id=book_id, author=author, title=f"title {book_id}")


def test_an_exception_after_five_writes_leaves_no_rows_and_sends_no_request(author):
    with RequestCounter() as counter, pytest.raises(Boom), transaction.atomic(using="d1"):
        write_books(author, "b1", "b2", "b3", "b4", "b5")
        raise Boom
    assert counter.requests == 0
    assert Book.objects.count() == 0


def test_five_writes_inside_atomic_are_one_request(author, sent):
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        write_books(author, "b1", "b2", "b3", "b4", "b5")
        queue_update(Author.objects.filter(pk=author.pk), age=40)
    assert counter.requests == 1 and counter.early_flushes == 0
    assert len(sent[0]) == 6
    assert Book.objects.count() == 5
    assert Author.objects.get().age == 40


def test_a_rolled_back_nested_atomic_keeps_the_outer_writes_in_one_request(author):
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        write_books(author, "outer1")
        with pytest.raises(Boom), transaction.atomic(using="d1"):
            write_books(author, "inner1", "inner2")
            raise Boom
        write_books(author, "outer2")
    assert counter.requests == 1
    assert sorted(Book.objects.values_list("id", flat=True)) == ["outer1", "outer2"]


def test_a_committed_nested_atomic_keeps_its_writes(author):
    with transaction.atomic(using="d1"):
        with transaction.atomic(using="d1"):
            write_books(author, "inner")
        write_books(author, "outer")
    assert Book.objects.count() == 2


def test_savepoint_rollback_drops_only_the_writes_after_the_savepoint(author):
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        write_books(author, "kept")
        sid = transaction.savepoint(using="d1")
        write_books(author, "dropped")
        transaction.savepoint_rollback(sid, using="d1")
        sid = transaction.savepoint(using="d1")
        write_books(author, "released")
        transaction.savepoint_commit(sid, using="d1")
    assert counter.requests == 1
    assert sorted(Book.objects.values_list("id", flat=True)) == ["kept", "released"]


def test_reading_a_write_dropped_by_a_savepoint_rollback_raises_and_sends_nothing(author, d1):
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        write_books(author, "kept")
        sid = transaction.savepoint(using="d1")
        cursor = d1.cursor()
        cursor.execute("UPDATE d1test_author SET age = 1")
        transaction.savepoint_rollback(sid, using="d1")
        with pytest.raises(errors.ProgrammingError, match="rolled back"):
            cursor.rowcount  # noqa: B018 - reading it is the test
        assert counter.requests == 0
    assert counter.requests == 1 and counter.early_flushes == 0
    assert Author.objects.get().age == 0


def test_reading_a_write_after_its_transaction_rolled_back_raises(author, d1):
    with pytest.raises(Boom), transaction.atomic(using="d1"):
        cursor = d1.cursor()
        cursor.execute("UPDATE d1test_author SET age = 1")
        raise Boom
    with RequestCounter() as counter, pytest.raises(errors.ProgrammingError, match="no result"):
        cursor.rowcount  # noqa: B018
    assert counter.requests == 0


def test_on_commit_callbacks_run_in_order_after_the_batch_succeeds(author):
    calls = []
    with transaction.atomic(using="d1"):
        write_books(author, "b1")
        transaction.on_commit(lambda: calls.append(("first", Book.objects.count())), using="d1")
        transaction.on_commit(lambda: calls.append(("second", Book.objects.count())), using="d1")
        assert calls == []
    assert calls == [("first", 1), ("second", 1)]


def test_on_commit_callbacks_never_run_after_a_rollback(author):
    calls = []
    with pytest.raises(Boom), transaction.atomic(using="d1"):
        transaction.on_commit(lambda: calls.append("outer"), using="d1")
        raise Boom
    with transaction.atomic(using="d1"), pytest.raises(Boom), transaction.atomic(using="d1"):
        transaction.on_commit(lambda: calls.append("inner"), using="d1")
        raise Boom
    assert calls == []


def test_a_unique_clash_at_commit_raises_from_the_atomic_exit_and_leaves_nothing(author):
    calls = []
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed: d1test_book.id"):
        with transaction.atomic(using="d1"):
            queue_update(Author.objects.filter(pk=author.pk), age=99)
            write_books(author, "same", "other", "same")
            transaction.on_commit(lambda: calls.append("ran"), using="d1")
    assert calls == []
    assert Book.objects.count() == 0
    assert Author.objects.get().age == 0
    with transaction.atomic(using="d1"):  # the connection is usable again
        write_books(author, "after")
    assert Book.objects.count() == 1


def test_an_early_flush_is_counted_and_logged(author, caplog):
    caplog.set_level(logging.WARNING, logger="coachbot.d1")
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        write_books(author, "b1")
        assert Book.objects.count() == 1  # a read after a queued write
        write_books(author, "b2")
    assert counter.early_flushes == 1
    assert counter.requests == 2
    assert "early flush" in caplog.text and "SELECT COUNT(*)" in caplog.text


def test_reading_a_queued_writes_row_count_is_an_early_flush(author):
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        write_books(author, "b1", "b2")
        assert Book.objects.filter(id__in=["b1", "b2"]).update(pages=3) == 2
    assert counter.early_flushes == 1
    assert counter.requests == 1  # the UPDATE went with the queue; nothing was left to commit


def test_strict_atomic_refuses_an_early_flush_and_sends_nothing(author, strict):
    with RequestCounter() as counter:
        with pytest.raises(ProgrammingError) as raised, transaction.atomic(using="d1"):
            write_books(author, "b1")
            Book.objects.count()
    assert isinstance(raised.value.__cause__, EarlyFlushError)
    assert counter.requests == 0 and counter.early_flushes == 0
    assert Book.objects.count() == 0


def test_strict_atomic_allows_reads_before_the_first_write(author, strict):
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        assert Book.objects.count() == 0
        write_books(author, "b1")
    assert counter.requests == 2 and counter.early_flushes == 0


def test_queue_update_inside_atomic_is_one_request_with_the_other_writes(author):
    with RequestCounter() as counter, transaction.atomic(using="d1"):
        queue_update(Author.objects.filter(pk=author.pk), age=5)
        queue_update(Author.objects.filter(name="nobody"), age=6)
        write_books(author, "b1")
    assert counter.requests == 1 and counter.early_flushes == 0
    assert Author.objects.get().age == 5


def test_queue_update_outside_atomic_is_one_request(author):
    with RequestCounter() as counter:
        queue_update(Author.objects.filter(pk=author.pk), age=7)
    assert counter.requests == 1
    assert Author.objects.get().age == 7


def test_executemany_inside_atomic_reports_the_total_row_count_after_commit(author, d1):
    write_books(author, "b1", "b2", "b3")
    params = [(1, "b1"), (2, "b2"), (3, "nope")]
    with RequestCounter() as counter:
        with transaction.atomic(using="d1"), d1.cursor() as cursor:
            cursor.executemany("UPDATE d1test_book SET pages = %s WHERE id = %s", params)
        assert cursor.rowcount == 2
    assert counter.requests == 1 and counter.early_flushes == 0


def test_executemany_outside_atomic_is_one_atomic_request(author, d1):
    rows = [(f"b{i}", author.pk, "t") for i in range(3)] + [("b0", author.pk, "clash")]
    with RequestCounter() as counter, d1.cursor() as cursor, pytest.raises(IntegrityError):
        cursor.executemany("INSERT INTO d1test_book (id, author_id, title, pages) VALUES (%s, %s, %s, 0)", rows)
    assert counter.requests == 1
    assert Book.objects.count() == 0


def test_a_compare_and_set_that_finds_its_row_changed_rolls_the_whole_batch_back(count_requests):
    from coachbot.d1 import queue_update
    from coachbot.d1.errors import ConflictError

    author = Author.objects.create(name="cas", age=1)
    with count_requests() as counter, pytest.raises(IntegrityError) as raised:
        with transaction.atomic(using="d1"):
            Author.objects.bulk_create([Author(name="written in the same batch")])
            queue_update(Author.objects.filter(pk=author.pk, age=99), expect_change=True, age=2)
    assert isinstance(raised.value.__cause__, ConflictError)
    assert counter.requests == 1
    assert not Author.objects.filter(name="written in the same batch").exists()
    assert Author.objects.get(pk=author.pk).age == 1


def test_a_compare_and_set_that_finds_its_row_applies_with_the_batch(count_requests):
    from coachbot.d1 import queue_update

    author = Author.objects.create(name="cas", age=1)
    with count_requests() as counter, transaction.atomic(using="d1"):
        queue_update(Author.objects.filter(pk=author.pk, age=1), expect_change=True, age=2)
        Author.objects.bulk_create([Author(name="also written")])
    assert counter.requests == 1
    assert Author.objects.get(pk=author.pk).age == 2 and Author.objects.filter(name="also written").exists()
