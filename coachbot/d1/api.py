"""Helpers for code that uses the backend: counting requests, queueing writes, batching reads."""

from __future__ import annotations

import contextlib
from collections import Counter
from functools import reduce
from operator import or_

from django.core.exceptions import EmptyResultSet
from django.db import connections, router, transaction
from django.db.models import Model, QuerySet, signals
from django.db.models.deletion import Collector
from django.db.models.sql import DeleteQuery, UpdateQuery

from .budget import stats
from .dbapi import convert, is_read


class RequestCounter:
    """Counts the Cloudflare API requests (D1 and KV, local or remote) sent inside a block.

    ``requests`` is every request (they share one budget); ``d1_requests`` and
    ``kv_requests`` split it by service.

    >>> with RequestCounter() as counter:
    ...     list(Session.objects.all())
    >>> counter.requests
    1
    """

    def __enter__(self) -> RequestCounter:
        self._start = stats.snapshot()
        self.requests = self.statements = self.early_flushes = self.kv_requests = 0
        return self

    def __exit__(self, *exc) -> None:
        self.update()

    def update(self) -> None:
        now = stats.snapshot()
        self.requests, self.statements, self.early_flushes, self.kv_requests = (
            now[i] - self._start[i] for i in range(4)
        )

    @property
    def d1_requests(self) -> int:
        return self.requests - self.kv_requests


def queue_update(queryset: QuerySet, *, expect_change: bool = False, **values) -> None:
    """``queryset.update(**values)`` without reading the row count back.

    ``QuerySet.update()`` returns how many rows changed, which inside ``atomic()``
    forces the queued writes out early. This sends the same UPDATE into the queue and
    lets the batch carry it, so a transaction stays one request.

    With ``expect_change=True`` (inside ``atomic()``) the UPDATE is a compare-and-set:
    if it changes no row when the batch runs, the whole batch is rolled back and the
    commit raises ``IntegrityError`` caused by ``ConflictError``.
    """
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(queryset.db).as_sql()
    if sql:
        connection = connections[queryset.db]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        if expect_change:
            with connection.wrap_database_errors:
                connection.connection.expect_change()


def fetch_many(*querysets: QuerySet) -> list[list]:
    """Evaluate several querysets in ONE request: their SELECTs travel as one batch.

    Each queryset is compiled, the statements are sent together, and each queryset is
    then evaluated as usual against its own prefetched result, so model instances,
    converters and ``select_related`` all behave exactly as with ``list(qs)``.
    """
    if not querysets:
        return []
    db = querysets[0].db
    connection = connections[db]
    statements = []
    for qs in querysets:
        with contextlib.suppress(EmptyResultSet):  # e.g. pk__in=[]: answered without a query
            statements.append(convert(*qs.query.get_compiler(db).as_sql()))
    if not all(is_read(sql) for sql, _ in statements):
        raise ValueError("fetch_many() takes read-only querysets")
    if statements:
        connection.ensure_connection()
        with connection.wrap_database_errors:
            connection.connection.prefetch(statements)
    return [list(qs) for qs in querysets]


def cascade_delete(target: QuerySet | Model) -> tuple[int, dict[str, int]]:
    """``target.delete()`` with its whole cascade as ONE atomic request.

    Django's ``Collector.delete()`` reads the row count of each DELETE as it goes, so on
    D1 every table of a cascade is an early flush of its own: several requests, not
    atomic. Here the collector only collects (its SELECTs, before the batch); every
    UPDATE and DELETE then queues into one batch, and the counts come from its results.
    Signals are sent as ``delete()`` sends them.
    """
    if isinstance(target, Model):
        db, objs = router.db_for_write(type(target), instance=target), [target]
    else:
        db, objs = target.db, target
    collector = Collector(using=db, origin=target)
    collector.collect(objs)
    collector.sort()
    counted: list[tuple[str, object]] = []
    with transaction.atomic(using=db):
        _send_signals(collector, signals.pre_delete, db, target)
        for qs in collector.fast_deletes:
            counted.append((qs.model._meta.label, _queue_delete(qs)))
        for (field, value), instances_list in collector.field_updates.items():
            for update in _field_update_querysets(field.model, db, instances_list):
                queue_update(update, **{field.name: value})
        for model, instances in collector.data.items():
            pks = [obj.pk for obj in instances]
            for start in range(0, len(pks), 90):  # D1 binds at most 100 parameters
                chunk = model._base_manager.using(db).filter(pk__in=pks[start:start + 90])
                counted.append((model._meta.label, _queue_delete(chunk)))
        _send_signals(collector, signals.post_delete, db, target)
    counts = Counter()
    for label, cursor in counted:
        counts[label] += cursor.rowcount  # known from the batch: no request
    for model, instances in collector.data.items():
        for obj in instances:
            setattr(obj, model._meta.pk.attname, None)
    return sum(counts.values()), {label: n for label, n in counts.items() if n}


def _queue_delete(queryset: QuerySet):
    query = queryset.query.clone()
    query.__class__ = DeleteQuery
    sql, params = query.get_compiler(queryset.db).as_sql()
    cursor = connections[queryset.db].cursor()
    cursor.execute(sql, params)
    return cursor


def _field_update_querysets(model, db: str, instances_list) -> list[QuerySet]:
    lazy = [i for i in instances_list if isinstance(i, QuerySet) and i._result_cache is None]
    pks = {obj.pk for i in instances_list if not (isinstance(i, QuerySet) and i._result_cache is None) for obj in i}
    updates = [reduce(or_, lazy)] if lazy else []
    if pks:
        updates.append(model._base_manager.using(db).filter(pk__in=sorted(pks)))
    return updates


def _send_signals(collector: Collector, signal, db: str, origin) -> None:
    for model, obj in collector.instances_with_model():
        if not model._meta.auto_created:
            signal.send(sender=model, instance=obj, using=db, origin=origin)
