"""Cascading deletes: the ORM's stay correct, cascade_delete() makes them one atomic request."""

import pytest
from django.db.models import signals

from coachbot.d1 import RequestCounter, cascade_delete
from tests.d1test.models import Author, Book, Review

pytestmark = pytest.mark.django_db(databases=["d1"])


@pytest.fixture
def family():
    """Two authors; ann has two books with three reviews between them."""
    ann, bob = Author.objects.create(name="ann"), Author.objects.create(name="bob")
    Book.objects.bulk_create([Book(id="a1", author=ann, title="t"), Book(id="a2", author=ann, title="t"),
                              Book(id="b1", author=bob, title="t")])
    Review.objects.bulk_create([Review(book_id="a1", stars=5), Review(book_id="a1", stars=4),
                                Review(book_id="a2", stars=3), Review(book_id="b1", stars=2)])
    return ann, bob


EXPECTED = (6, {"d1test.Review": 3, "d1test.Book": 2, "d1test.Author": 1})


def test_the_orms_cascade_delete_is_correct_though_each_table_is_an_early_flush(family):
    ann, _ = family
    with RequestCounter() as counter:
        assert ann.delete() == EXPECTED
    assert counter.early_flushes == 3  # Django reads each DELETE's row count as it goes
    assert list(Author.objects.values_list("name", flat=True)) == ["bob"]
    assert (Book.objects.count(), Review.objects.count()) == (1, 1)


def test_cascade_delete_sends_every_delete_in_one_request_after_the_collecting_reads(family, sent):
    ann, _ = family
    with RequestCounter() as counter:
        assert cascade_delete(ann) == EXPECTED
    writes = [batch for batch in sent if not batch[0].startswith("SELECT")]
    assert len(writes) == 1 and len(writes[0]) == 3
    assert counter.early_flushes == 0
    assert counter.requests == 1 + len(sent) - 1  # one batch plus the collector's SELECTs
    assert ann.pk is None
    assert (Author.objects.count(), Book.objects.count(), Review.objects.count()) == (1, 1, 1)


def test_cascade_delete_of_a_queryset_sends_the_signals_delete_sends(family):
    seen = []

    def record(sender, instance, **kwargs):
        seen.append((kwargs["signal"] is signals.pre_delete, sender.__name__))

    signals.pre_delete.connect(record, dispatch_uid="t-pre")
    signals.post_delete.connect(record, dispatch_uid="t-post")
    try:
        total, _ = cascade_delete(Author.objects.all())
    finally:
        signals.pre_delete.disconnect(dispatch_uid="t-pre")
        signals.post_delete.disconnect(dispatch_uid="t-post")
    assert total == 2 + 3 + 4
    assert sorted(seen).count((True, "Book")) == 3 and sorted(seen).count((False, "Author")) == 2
    assert not Author.objects.exists() and not Review.objects.exists()


def test_cascade_delete_of_hundreds_of_rows_stays_one_write_request(sent):
    ann = Author.objects.create(name="ann")
    Book.objects.bulk_create([Book(id=f"x{i}", author=ann, title="t") for i in range(250)])
    sent.clear()
    assert cascade_delete(ann) == (251, {"d1test.Book": 250, "d1test.Author": 1})
    assert len([batch for batch in sent if not batch[0].startswith("SELECT")]) == 1
