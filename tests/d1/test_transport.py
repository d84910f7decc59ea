"""The HTTP side of D1 (issue 2): counting, pacing, and retrying only what is safe.

A fake HTTP server on loopback plays Cloudflare's envelope; the budgets run on an
injected clock, except the two-process test, which uses real short windows.
"""

import multiprocessing
import time

import httpx
import pytest

from coachbot.d1 import dbapi
from coachbot.d1.budget import FileBudget, MemoryBudget, make_budget
from coachbot.d1.cloudflare import CloudflareAPI
from coachbot.d1.errors import BudgetExhausted, IntegrityError, OperationalError
from coachbot.d1.transport import RemoteD1
from tests.support.clock import FakeClock
from tests.support.fake_http import FakeHTTPServer, Reply

TOKEN = "secret-token-1234"
PATH = "/accounts/acc/d1/database/db/raw"
OK = Reply(200, {"success": True, "errors": [], "messages": [], "result": [
    {"results": {"columns": ["x"], "rows": [[1]]}, "success": True, "meta": {"changes": 1, "last_row_id": 1}},
]})


@pytest.fixture
def server():
    with FakeHTTPServer(default=OK) as fake:
        yield fake


def connect(url, sleeps=None, **api_options):
    sleep = sleeps.append if sleeps is not None else (lambda s: None)
    api = CloudflareAPI(url, TOKEN, sleep=sleep, **api_options)
    return dbapi.connect(RemoteD1(api, "acc", "db"))


def d1_error(status, message):
    return Reply(status, {"success": False, "errors": [{"code": 7500, "message": message}], "result": []})


def test_a_429_is_waited_out_as_told_then_the_request_succeeds(server):
    server.script(PATH, Reply(429, {"success": False, "errors": [{"code": 971, "message": "rate limited"}]}, {"retry-after": "2"}))
    sleeps = []
    cursor = connect(server.url, sleeps).cursor().execute("INSERT INTO t VALUES (1)")
    assert cursor.rowcount == 1
    assert sleeps == [2.0] and len(server.requests) == 2


def test_a_429_beyond_max_wait_raises_budget_exhausted_at_once(server):
    server.script(PATH, Reply(429, {"success": False, "errors": []}, {"retry-after": "300"}))
    started = time.monotonic()
    with pytest.raises(BudgetExhausted, match="retry after 300 s"):
        connect(server.url, max_wait=30).cursor().execute("SELECT 1")
    assert time.monotonic() - started < 2 and len(server.requests) == 1


def test_a_500_on_a_write_is_not_retried_and_keeps_d1s_message(server):
    server.script(PATH, d1_error(500, "internal error; reference = abc123"))
    with pytest.raises(OperationalError, match="internal error; reference = abc123"):
        connect(server.url).cursor().execute("INSERT INTO t VALUES (1)")
    assert len(server.requests) == 1


def test_a_500_on_a_read_is_retried(server):
    server.script(PATH, d1_error(500, "internal error; reference = abc123"))
    sleeps = []
    assert connect(server.url, sleeps).cursor().execute("SELECT 1").fetchall() == [(1,)]
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_a_connect_error_on_a_write_is_retried_because_nothing_was_sent(server):
    attempts = []

    class RefusingOnce(httpx.HTTPTransport):
        def handle_request(self, request):
            attempts.append(request.url.path)
            if len(attempts) == 1:
                raise httpx.ConnectError("connection refused")
            return super().handle_request(request)

    conn = connect(server.url, transport=RefusingOnce())
    assert conn.cursor().execute("INSERT INTO t VALUES (1)").rowcount == 1
    assert len(attempts) == 2 and len(server.requests) == 1


def test_a_closed_port_fails_after_bounded_retries():
    with socket_closed_port() as url:
        sleeps = []
        with pytest.raises(OperationalError, match="cannot reach Cloudflare"):
            connect(url, sleeps, retries=2).cursor().execute("INSERT INTO t VALUES (1)")
    assert len(sleeps) == 2


def test_a_401_says_the_token_is_wrong_without_showing_it(server):
    server.script(PATH, Reply(401, {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}))
    with pytest.raises(OperationalError) as raised:
        connect(server.url).cursor().execute("SELECT 1")
    assert "API token" in str(raised.value) and "Authentication error" in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value)


def test_sql_errors_keep_d1s_text_and_class(server):
    text = "UNIQUE constraint failed: parent.name: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"
    server.script(PATH, d1_error(400, text))
    with pytest.raises(IntegrityError) as raised:
        connect(server.url).cursor().execute("INSERT INTO parent VALUES ('a')")
    assert str(raised.value) == text


def test_every_attempt_is_counted_as_a_request(server):
    server.script(PATH, Reply(429, {"success": False}, {"retry-after": "0"}))
    before = dbapi.stats.requests
    connect(server.url).cursor().execute("SELECT 1")
    assert dbapi.stats.requests - before == 2


# -- pacing -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_budget_spaces_requests_to_the_window(kind, tmp_path):
    clock = FakeClock(1000.0)
    budget = make_test_budget(kind, tmp_path, clock, limit=3, window=10.0)
    waits = [budget.acquire(priority=1) for _ in range(7)]
    assert waits == [0, 0, 0, 10.0, 0, 0, 10.0]
    assert clock.now == 1020.0


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_background_work_leaves_the_reserve_to_interactions(kind, tmp_path):
    clock = FakeClock(1000.0)
    budget = make_test_budget(kind, tmp_path, clock, limit=4, window=10.0, reserve=2)
    assert [budget.acquire(priority=0) for _ in range(2)] == [0, 0]
    assert [budget.acquire(priority=1) for _ in range(2)] == [0, 0]
    assert budget.acquire(priority=0) == 10.0
    assert budget.remaining() == 3


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_429_blocks_the_budget_until_retry_after(kind, tmp_path):
    clock = FakeClock(1000.0)
    budget = make_test_budget(kind, tmp_path, clock, limit=100, window=10.0)
    budget.block_until(clock.now + 42)
    assert budget.acquire(priority=1) == 42


def test_make_budget_reads_the_database_options(tmp_path):
    assert isinstance(make_budget({"budget_requests": 5}), MemoryBudget)
    file_budget = make_budget({"budget_requests": 5, "budget_store": str(tmp_path / "b.sqlite3")})
    assert isinstance(file_budget, FileBudget) and file_budget.limit == 5
    assert make_budget({"budget_requests": 0}).remaining() > 10**6


def make_test_budget(kind, tmp_path, clock, **sizes):
    if kind == "memory":
        return MemoryBudget(clock=clock, sleep=clock.sleep, **sizes)
    return FileBudget(tmp_path / "budget.sqlite3", clock=clock, sleep=clock.sleep, **sizes)


class RecordingClock:
    """time.time that remembers its last reading: the send time the budget recorded."""

    last = 0.0

    def __call__(self):
        self.last = time.time()
        return self.last


def spend(path, limit, window, count, sent):
    clock = RecordingClock()
    budget = FileBudget(path, limit, window, clock=clock)
    for _ in range(count):
        budget.acquire(priority=1)
        sent.append(clock.last)


def test_two_processes_sharing_a_file_budget_never_exceed_the_limit(tmp_path):
    path, limit, window = str(tmp_path / "shared.sqlite3"), 5, 0.5
    FileBudget(path, limit, window)
    with multiprocessing.Manager() as manager:
        sent = manager.list()
        workers = [multiprocessing.Process(target=spend, args=(path, limit, window, 8, sent)) for _ in range(2)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=20)
        times = sorted(sent)
    assert len(times) == 16
    assert time.monotonic() - started < 15
    # 16 sends at 5 per 0.5 s take at least three full windows
    assert times[-1] - times[0] >= 3 * window - 0.05
    for i, at in enumerate(times):
        assert sum(1 for other in times[i:] if other < at + window) <= limit


class socket_closed_port:
    """A loopback URL whose port nobody listens on."""

    def __enter__(self):
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        pass
