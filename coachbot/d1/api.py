"""Helpers for code that uses the backend: counting requests, queueing updates."""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery

from .budget import stats
from .dbapi import convert, is_read


class RequestCounter:
    """Counts the Cloudflare API requests (D1 and KV, local or remote) sent inside a block.

    >>> with RequestCounter() as counter:
    ...     list(Session.objects.all())
    >>> counter.requests
    1
    """

    def __enter__(self) -> RequestCounter:
        self._start = stats.snapshot()
        self.requests = self.statements = self.early_flushes = 0
        return self

    def __exit__(self, *exc) -> None:
        self.update()

    def update(self) -> None:
        now = stats.snapshot()
        self.requests, self.statements, self.early_flushes = (
            now[i] - self._start[i] for i in range(3)
        )


def queue_update(queryset: QuerySet, **values) -> None:
    """``queryset.update(**values)`` without reading the row count back.

    ``QuerySet.update()`` returns how many rows changed, which inside ``atomic()``
    forces the queued writes out early. This sends the same UPDATE into the queue and
    lets the batch carry it, so a transaction stays one request.
    """
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(queryset.db).as_sql()
    if sql:
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(sql, params)


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
        try:
            statements.append(convert(*qs.query.get_compiler(db).as_sql()))
        except EmptyResultSet:  # e.g. pk__in=[]: Django answers it without a query
            pass
    if not all(is_read(sql) for sql, _ in statements):
        raise ValueError("fetch_many() takes read-only querysets")
    if statements:
        connection.ensure_connection()
        with connection.wrap_database_errors:
            connection.connection.prefetch(statements)
    return [list(qs) for qs in querysets]
