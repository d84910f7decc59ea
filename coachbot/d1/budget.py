"""Pacing below Cloudflare's API rate limit, and the request counter.

Cloudflare allows 1,200 requests per 5 minutes per token, D1 and KV together, and
refuses *every* call for 5 minutes past it. So the client must never discover the
limit: it waits for a free slot before sending. A budget is a sliding window of
send times; ``acquire()`` blocks until one more request fits.

``MemoryBudget`` paces one process. ``FileBudget`` shares one window between all
processes on a machine (web workers, task workers) through a small SQLite file.
``RedisBudget`` shares it between machines. Which one a connection uses is the
``budget`` option of the database settings.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class Budget(Protocol):
    def acquire(self, priority: int = 0) -> float: ...
    def remaining(self) -> int: ...
    def block_until(self, when_epoch: float) -> None: ...


class Stats:
    """Requests sent by this process: the figure tests and benchmarks assert on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.statements = 0
        self.early_flushes = 0
        self.kv_requests = 0  # the part of ``requests`` that went to Workers KV

    def count(self, statements: int = 1, service: str = "d1") -> None:
        with self._lock:
            self.requests += 1
            self.statements += statements
            if service == "kv":
                self.kv_requests += 1

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.requests, self.statements, self.early_flushes, self.kv_requests


stats = Stats()


def spend(budget: Budget, priority: int, statements: int = 1, service: str = "d1") -> None:
    """Wait for a slot and count the request: every request, local or remote, passes here."""
    budget.acquire(priority)
    stats.count(statements, service)


class Unlimited:
    """No pacing: the embedded local D1 and KV spend no Cloudflare budget."""

    def acquire(self, priority: int = 0) -> float:
        return 0.0

    def remaining(self) -> int:
        return 1 << 30

    def block_until(self, when_epoch: float) -> None:
        pass


class SlidingWindow:
    """What every shared window has: the limit, the reserve, and the wait-and-retry loop.

    ``priority`` > 0 may use the whole window; priority 0 (background work such as
    the check-in dispatcher) leaves ``reserve`` slots for members' interactions.
    A subclass says in ``_try(cap)`` whether one more send fits under ``cap``.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        reserve: int = 0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("a budget needs at least one request per window")
        self.limit, self.window, self.reserve = limit, float(window), min(reserve, limit - 1)
        self.clock, self.sleep = clock, sleep

    def acquire(self, priority: int = 0) -> float:
        """Wait until one more request fits; return the seconds waited."""
        cap = self.limit if priority > 0 else self.limit - self.reserve
        waited = 0.0
        while (delay := self._try(cap)) > 0:
            self.sleep(delay)
            waited += delay
        return waited

    def _try(self, cap: int) -> float:
        """Record one send and return 0 if it fits under ``cap``, else the seconds to wait."""
        raise NotImplementedError


class MemoryBudget(SlidingWindow):
    """A sliding window of ``limit`` requests per ``window`` seconds, for one process."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def _try(self, cap: int) -> float:
        with self._lock:
            delay = self._delay(cap)
            if delay <= 0:
                self._sent.append(self.clock())
            return delay

    def _delay(self, cap: int) -> float:
        now = self.clock()
        if now < self._blocked_until:
            return self._blocked_until - now
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) < cap:
            return 0.0
        return self._sent[len(self._sent) - cap] + self.window - now

    def remaining(self) -> int:
        with self._lock:
            self._delay(self.limit)
            return self.limit - len(self._sent)

    def block_until(self, when_epoch: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, when_epoch)


class FileBudget(SlidingWindow):
    """The same window shared by every process on this machine through a SQLite file.

    Each acquire is one short IMMEDIATE transaction: count the sends inside the
    window, record ours if it fits, otherwise learn how long to wait.
    """

    def __init__(self, path: str | Path, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.path = str(path)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS sent (at REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS sent_at ON sent (at)")
            db.execute("CREATE TABLE IF NOT EXISTS blocked (until REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return _Closing(db)

    def _try(self, cap: int) -> float:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            now = self.clock()  # read under the lock: a time read before it may be stale
            try:
                blocked = db.execute("SELECT max(until) FROM blocked").fetchone()[0] or 0
                if now < blocked:
                    return blocked - now
                db.execute("DELETE FROM sent WHERE at <= ?", (now - self.window,))
                times = [r[0] for r in db.execute("SELECT at FROM sent ORDER BY at")]
                if len(times) < cap:
                    db.execute("INSERT INTO sent (at) VALUES (?)", (now,))
                    return 0.0
                return times[len(times) - cap] + self.window - now
            finally:
                db.execute("COMMIT")

    def remaining(self) -> int:
        now = self.clock()
        with self._db() as db:
            used = db.execute("SELECT count(*) FROM sent WHERE at > ?", (now - self.window,)).fetchone()[0]
        return max(0, self.limit - used)

    def block_until(self, when_epoch: float) -> None:
        with self._db() as db:
            db.execute("INSERT INTO blocked (until) VALUES (?)", (when_epoch,))


class _Closing:
    """sqlite3.Connection as a context manager that closes (the stdlib one only commits)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.close()


def make_budget(options: dict) -> Budget:
    """The budget a database's OPTIONS ask for (``budget_requests`` 0 means no pacing)."""
    if options.get("budget") is not None:
        return options["budget"]
    limit = int(options.get("budget_requests") or 0)
    if limit <= 0:
        return Unlimited()
    window = float(options.get("budget_window") or 300.0)
    reserve = int(options.get("budget_reserve", limit // 10))
    store = str(options.get("budget_store") or "memory")
    if store == "memory":
        return MemoryBudget(limit, window, reserve)
    if store.startswith(("redis://", "rediss://", "unix://")):
        from .redis_budget import RedisBudget

        return RedisBudget(store, limit, window, reserve)
    return FileBudget(store, limit, window, reserve)
