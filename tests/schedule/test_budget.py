"""One Cloudflare budget for the whole deployment: processes on a machine, and machines via Redis."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coachbot.d1.budget import make_budget
from coachbot.d1.redis_budget import RedisBudget
from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
LIMIT, WINDOW = 40, 2.0

# A worker process: its own D1 connection to the shared local D1 file, paced by the
# shared FileBudget; every request it sends is stamped into a shared log.
HAMMER = r"""
import os, sys, time
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
django.setup()
from django.conf import settings
from django.db import connections
d1 = settings.DATABASES["d1"]
d1["NAME"] = sys.argv[1]
d1["OPTIONS"].update(budget_requests={limit}, budget_window={window}, budget_reserve=5,
                     budget_store=sys.argv[2], api_token="")
conn = connections["d1"]
conn.ensure_connection()
conn.set_priority(int(sys.argv[4]))
deadline = time.time() + float(sys.argv[5])
log = open(sys.argv[3], "a")
budget = conn.connection.target.budget
acquire = budget.acquire

def stamped(priority=0):
    # The moment the budget lets a request go: what Cloudflare would count.
    waited = acquire(priority)
    log.write(f"{{time.time():.6f}}\n")
    log.flush()
    return waited

budget.acquire = stamped
with conn.cursor() as cursor:
    while time.time() < deadline:
        cursor.execute("SELECT 1")
"""


def _over_budget(times: list[float], limit: int, window: float) -> int:
    """The most requests seen in any window of ``window`` seconds, minus ``limit``."""
    times = sorted(times)
    worst, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        worst = max(worst, end - start + 1)
    return worst - limit


def test_four_processes_stay_under_one_file_budget(tmp_path):
    store, log = tmp_path / "budget.sqlite3", tmp_path / "sent.log"
    script = HAMMER.format(limit=LIMIT, window=WINDOW)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COACHBOT_DATA_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "d1.sqlite3"), str(store),
                          str(log), str(priority), "5"], cwd=ROOT, env=env)
        for priority in (0, 0, 1, 1)
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    times = [float(line) for line in log.read_text().split()]
    # Each time is stamped just after the budget let the request go: allow 0.1 s of slack.
    assert len(times) >= LIMIT * 2, "the budget let the processes make progress"
    assert _over_budget(times, LIMIT, WINDOW - 0.1) <= 0


# --- Redis ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on a loopback port, for this module."""
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("redis-server is not installed (scripts/bootstrap --test installs it as root)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _budget(url, key, clock, limit=3, window=10.0, reserve=1):
    return RedisBudget(url, limit, window, reserve, clock, clock.sleep, key=key)


def test_redis_budget_waits_for_the_oldest_send_to_leave_the_window(redis_url):
    clock = FakeClock(1_000_000.0)
    budget = _budget(redis_url, "t1", clock)
    assert [budget.acquire(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.remaining() == 0
    clock.now += 4
    assert budget.acquire(1) == pytest.approx(6.0)
    assert clock.sleeps == [pytest.approx(6.0)]


def test_redis_budget_keeps_the_reserve_from_background_work(redis_url):
    clock = FakeClock(1_000_000.0)
    budget = _budget(redis_url, "t2", clock)
    budget.acquire(0)
    budget.acquire(0)
    assert budget.remaining() == 1
    assert budget.acquire(1) == 0.0  # an interaction may use the reserve
    budget2 = _budget(redis_url, "t2", clock)  # another machine, same window
    assert budget2.acquire(0) == pytest.approx(10.0)


def test_redis_budget_block_until_stops_every_machine(redis_url):
    clock = FakeClock(1_000_000.0)
    one, two = _budget(redis_url, "t3", clock), _budget(redis_url, "t3", clock)
    one.block_until(clock.now + 300)
    one.block_until(clock.now + 5)  # never moves the block earlier
    assert two.acquire(1) == pytest.approx(300.0)


def test_make_budget_builds_a_redis_budget_from_the_url(redis_url):
    budget = make_budget({"budget_requests": 10, "budget_window": 5, "budget_store": redis_url})
    assert isinstance(budget, RedisBudget)
    assert budget.reserve == 1


def test_redis_budget_holds_across_threads_with_real_time(redis_url):
    import threading

    budget = RedisBudget(redis_url, 20, 1.0, 0, key="t4")
    stamps, lock = [], threading.Lock()
    deadline = time.time() + 2.5

    def hammer():
        while time.time() < deadline:
            budget.acquire(1)
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) >= 40
    assert _over_budget(stamps, 20, 0.95) <= 0
