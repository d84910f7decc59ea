"""A DB-API 2.0 driver for D1, with transactions made of batches.

D1 has no BEGIN or SAVEPOINT; one request (a batch) is its only atomic unit. So a
transaction here is a queue: writes inside it are held and sent as one batch at
``commit()``; ``rollback()`` drops them and nothing reaches D1. Savepoints are
positions in the queue.

A statement whose result is needed (a SELECT, ``RETURNING``, or reading the
``rowcount`` of a queued write) cannot wait for the commit. If writes are queued it
goes out *with* them as one batch: an *early flush*. Those writes are then
committed and a later rollback cannot undo them, so every early flush is counted
and logged, and ``strict=True`` refuses it instead (``EarlyFlushError``).
"""

from __future__ import annotations

import datetime
import decimal
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence

from .budget import stats
from .errors import (  # noqa: F401  (the DB-API module exposes every class)
    BudgetExhausted,
    ConflictError,
    DatabaseError,
    DataError,
    EarlyFlushError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from .transport import MAX_SAFE_INTEGER, Result, Target, parse_envelope, request_body

apilevel = "2.0"
threadsafety = 1
paramstyle = "format"
sqlite_version_info = (3, 47, 0)  # the SQLite inside D1 (workerd 2026-04)

Binary = bytes
Date, Time, Timestamp = datetime.date, datetime.time, datetime.datetime
STRING, BINARY, NUMBER, DATETIME, ROWID = str, bytes, float, datetime.datetime, int

log = logging.getLogger("coachbot.d1")

_PLACEHOLDER = re.compile(r"(?<!%)%s")
_NAMED_PLACEHOLDER = re.compile(r"(?<!%)%\((\w+)\)s")
_READ = re.compile(r"^\s*(SELECT|VALUES|EXPLAIN)\b|^\s*PRAGMA\s+[\w.]+\s*(\(|;|$)", re.IGNORECASE)
_WITH = re.compile(r"^\s*WITH\b", re.IGNORECASE)
_DML = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
# Django records an applied migration with this INSERT ... RETURNING as the last
# statement of the migration's transaction: sending it with the queue *is* the commit.
_CLOSES_MIGRATION = re.compile(r'^INSERT INTO "django_migrations"')


def is_read(sql: str) -> bool:
    """True for statements that change nothing (safe to retry, never worth queueing)."""
    if _READ.match(sql):
        return True
    return bool(_WITH.match(sql)) and not _DML.search(sql)


def needs_result(sql: str) -> bool:
    return is_read(sql) or bool(_RETURNING.search(sql))


def convert(sql: str, params: Sequence | Mapping | None) -> tuple[str, list]:
    """Django's ``%s`` style to D1's ``?``, and Python values to what D1 binds exactly.

    Integers travel as text inside ``CAST(? AS INTEGER)``: D1 binds every JSON number
    as REAL, which would store 5 as '5.0' in a TEXT column and return 1.0 for 1.
    """
    if params is None:
        return sql, []
    if isinstance(params, Mapping):
        names = _NAMED_PLACEHOLDER.findall(sql)
        sql = _NAMED_PLACEHOLDER.sub("%s", sql)
        params = [params[name] for name in names]
    values = [adapt(p) for p in params]
    converted: list = []

    def placeholder(match: re.Match) -> str:
        index = len(converted)
        if index >= len(values):
            converted.append(None)
            return "?"
        value = values[index]
        if isinstance(value, int):
            converted.append(str(value))
            return "CAST(? AS INTEGER)"
        converted.append(value)
        return "?"

    sql = _PLACEHOLDER.sub(placeholder, sql).replace("%%", "%")
    if len(converted) != len(values):
        raise ProgrammingError(
            f"the statement has {len(converted)} placeholders but {len(values)} parameters were given"
        )
    return sql, converted


def adapt(value):
    """One Python value as D1 stores it (the same text Django's sqlite3 backend writes)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise DataError(
                f"the integer {value} is beyond ±2^53: D1's JSON API cannot carry it back "
                "exactly. Store such numbers as text (Discord ids are text)."
            )
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DataError(f"{value} cannot be stored in D1 (it would silently become NULL)")
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return list(bytes(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return value.hex
    raise ProgrammingError(f"cannot bind a value of type {type(value).__name__} for D1")


# Fails the whole batch when the statement before it changed no row. D1 has no RAISE
# outside triggers, but json() of text that is not JSON is an error, and a batch that
# errs is rolled back entirely: a compare-and-set whose row moved on applies nothing.
CAS_GUARD = "SELECT CASE WHEN changes() = 0 THEN json('coachbot: no row changed') END"


class _Queued:
    __slots__ = ("sql", "params", "result", "dropped")

    def __init__(self, sql: str, params: list) -> None:
        self.sql, self.params, self.result, self.dropped = sql, params, None, False


class Connection:
    def __init__(self, target: Target, *, strict: bool = False) -> None:
        self.target = target
        self.strict = strict
        self.priority = 1  # 0 = background work that yields to members' interactions
        self.in_transaction = False
        self.committed_early = False
        self._queue: list[_Queued] = []
        self._sent = 0  # statements of this transaction already sent by early flushes
        self._savepoints: dict[str, int] = {}
        self._prefetched: dict[tuple, Result] = {}

    # -- reads sent ahead in one batch (api.fetch_many) ---------------------------------
    def prefetch(self, statements: list[tuple[str, list]]) -> None:
        """Run several reads in one request; each result waits for its statement."""
        for (sql, params), result in zip(statements, self.send(statements), strict=True):
            self._prefetched[(sql, repr(params))] = result

    def take_prefetched(self, sql: str, params: list) -> Result | None:
        if not self._prefetched:
            return None
        return self._prefetched.pop((sql, repr(params)), None)

    # -- DB-API -----------------------------------------------------------------------
    def cursor(self) -> Cursor:
        return Cursor(self)

    def begin(self) -> None:
        self.in_transaction, self.committed_early = True, False
        self._queue, self._sent, self._savepoints = [], 0, {}

    def commit(self) -> None:
        try:
            if self._queue:
                self._send_queue()
        finally:
            self._end()

    def rollback(self) -> None:
        if self.committed_early and self._queue:
            log.error("rollback after an early flush: %d statements were already committed", self._sent)
        self._end()

    def close(self) -> None:
        self._end()
        close = getattr(self.target, "close", None)
        if close:
            close()

    def _end(self) -> None:
        self.in_transaction = False
        _drop(self._queue)
        self._queue, self._sent, self._savepoints = [], 0, {}

    # -- savepoints: positions in the queue --------------------------------------------
    def savepoint(self, name: str) -> None:
        self._savepoints[name] = self._sent + len(self._queue)

    def release(self, name: str) -> None:
        self._savepoints.pop(name, None)

    def rollback_to(self, name: str) -> None:
        position = self._savepoints[name]
        if position < self._sent:
            log.error("savepoint rollback after an early flush: some statements stay committed")
        start = max(position - self._sent, 0)
        _drop(self._queue[start:])
        del self._queue[start:]

    # -- sending ----------------------------------------------------------------------
    def queued(self) -> int:
        return len(self._queue)

    def enqueue(self, sql: str, params: list) -> _Queued:
        item = _Queued(sql, params)
        self._queue.append(item)
        return item

    def expect_change(self) -> None:
        """The write queued last must change a row, or the whole transaction fails (ConflictError)."""
        if not (self.in_transaction and self._queue):
            raise ProgrammingError("expect_change() follows a write queued inside atomic()")
        self.enqueue(CAS_GUARD, [])

    def send(self, statements: list[tuple[str, list]]) -> list[Result]:
        """One request: a single statement, or an atomic batch."""
        read_only = all(is_read(sql) for sql, _ in statements)
        status, body = self.target.post(request_body(statements), read_only=read_only, priority=self.priority)
        return parse_envelope(status, body)

    def flush_early(
        self, why: str, extra: tuple[str, list] | None = None, counted: bool = True
    ) -> Result | None:
        """Send the queue now (with ``extra`` appended); the price of needing a result."""
        if counted:
            if self.strict:
                raise EarlyFlushError(
                    f"{why} inside atomic() while {len(self._queue)} writes are queued; "
                    "read first and write last, or generate primary keys in the app"
                )
            stats.early_flushes += 1
            log.warning("D1 early flush of %d queued writes: %s", len(self._queue), why)
        self.committed_early = True
        results = self._send_queue(extra)
        return results[-1] if extra else None

    def _send_queue(self, extra: tuple[str, list] | None = None) -> list[Result]:
        items, self._queue = self._queue, []
        statements = [(i.sql, i.params) for i in items] + ([extra] if extra else [])
        try:
            results = self.send(statements)
        except DataError as exc:
            _drop(items)
            if "malformed JSON" in str(exc) and any(i.sql == CAS_GUARD for i in items):
                raise ConflictError(
                    "a compare-and-set found its row changed meanwhile: nothing of the batch was applied"
                ) from exc
            raise
        except BaseException:
            _drop(items)  # the batch is atomic: none of them ran, or it is unknown whether
            raise
        self._sent += len(items)
        for item, result in zip(items, results, strict=False):
            item.result = result
        return results


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._result: Result | None = None
        self._pending: list[_Queued] = []  # this cursor's writes still in the queue
        self._rows: list[tuple] = []
        self._position = 0

    def execute(self, sql: str, params: Sequence | Mapping | None = None) -> Cursor:
        sql, values = convert(sql, params)
        conn = self.connection
        self._pending = []
        prefetched = conn.take_prefetched(sql, values)
        if prefetched is not None:
            self._set(prefetched)
        elif conn.in_transaction and not needs_result(sql):
            self._pending = [conn.enqueue(sql, values)]
            self._set(None)
        elif conn.in_transaction and conn.queued():
            why = f"a statement needs its result ({_head(sql)})"
            counted = not _CLOSES_MIGRATION.match(sql)
            self._set(conn.flush_early(why, (sql, values), counted=counted))
        else:
            self._set(conn.send([(sql, values)])[0])
        return self

    def executemany(self, sql: str, seq_of_params: Iterable) -> Cursor:
        statements = [convert(sql, params) for params in seq_of_params]
        conn = self.connection
        self._pending = []
        if not statements:
            self._set(Result([], [], 0, None))
        elif conn.in_transaction:
            self._pending = [conn.enqueue(sql, values) for sql, values in statements]
            self._set(None)
        else:  # one batch: all rows or none, like the same statements inside atomic()
            self._set(_total(conn.send(statements)))
        return self

    def _set(self, result: Result | None) -> None:
        self._result = result
        self._rows = [tuple(r) for r in result.rows] if result else []
        self._position = 0

    def _resolve(self) -> Result | None:
        if self._pending:
            if any(item.dropped for item in self._pending):
                raise ProgrammingError(
                    f"the queued write ({_head(self._pending[-1].sql)}) has no result: it was "
                    "rolled back (to a savepoint, or with its transaction) or its batch failed"
                )
            if self._pending[-1].result is None:
                why = f"the result of a queued write was read ({_head(self._pending[-1].sql)})"
                self.connection.flush_early(why)
            self._set(_total([item.result for item in self._pending]))
            self._pending = []
        return self._result

    @property
    def rowcount(self) -> int:
        result = self._resolve()
        return result.changes if result else -1

    @property
    def lastrowid(self) -> int | None:
        result = self._resolve()
        return result.last_row_id if result else None

    @property
    def description(self):
        result = self._resolve()
        if not result or not result.columns:
            return None
        return tuple((name, None, None, None, None, None, None) for name in result.columns)

    def fetchone(self):
        self._resolve()
        if self._position >= len(self._rows):
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size: int | None = None):
        self._resolve()
        size = size or self.arraysize
        rows = self._rows[self._position:self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self):
        self._resolve()
        rows = self._rows[self._position:]
        self._position = len(self._rows)
        return rows

    def __iter__(self):
        return iter(self.fetchone, None)

    def close(self) -> None:
        self._rows = []

    def setinputsizes(self, sizes) -> None:
        pass

    def setoutputsize(self, size, column=None) -> None:
        pass


def _drop(items: list[_Queued]) -> None:
    """Mark queued writes that will never be sent, so their cursors refuse to read them."""
    for item in items:
        item.dropped = True


def _total(results: list[Result]) -> Result:
    """One result for several statements (executemany): their summed row counts."""
    if len(results) == 1:
        return results[0]
    return Result([], [], sum(r.changes for r in results), results[-1].last_row_id)


def _head(sql: str) -> str:
    return " ".join(sql.split())[:80]


def connect(target: Target, *, strict: bool = False) -> Connection:
    return Connection(target, strict=strict)
