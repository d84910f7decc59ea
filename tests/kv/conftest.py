"""Fixtures for the KV cache: one KVCache per target (local KV file, Cloudflare's runtime)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from coachbot.kv import KVCache
from tests.support.clock import FakeClock


class RealClock:
    """time.time, as its own object: caches share state per (namespace, clock, sleep)."""

    def __call__(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture(params=["local", pytest.param("cloudflare", marks=pytest.mark.cloudflare)])
def target(request) -> str:
    """Where the cache under test keeps its values: "local" or "cloudflare"."""
    return request.param


@pytest.fixture
def clock(target):
    """A fake clock on the local KV; the real one on Cloudflare's runtime."""
    return FakeClock() if target == "local" else RealClock()


@pytest.fixture
def make_cache(request, target, tmp_path, clock):
    """Build a KVCache on the target: ``make_cache(local_ttl=0, KEY_PREFIX="x")``."""
    made: list[KVCache] = []
    prefix = f"t{uuid.uuid4().hex[:8]}"

    def make(key_prefix: str = prefix, timeout: float | None = 300, **options) -> KVCache:
        options = {"clock": clock, "sleep": clock.sleep, "flush_timer": False, **options}
        if target == "local":
            location = options.pop("location", str(tmp_path / "kv.sqlite3"))
        else:
            runtime = request.getfixturevalue("cfruntime")
            location = runtime.namespace_id
            options.update(api_token=runtime.token, account_id=runtime.account_id, api_base_url=runtime.url)
        cache = KVCache(location, {"KEY_PREFIX": key_prefix, "TIMEOUT": timeout, "OPTIONS": options})
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.flush()


@pytest.fixture
def server_requests(request, target):
    """How many requests the KV server has answered: ``server_requests(cache)``."""

    def count(cache: KVCache) -> int:
        if target == "local":
            return cache._ns.target.requests
        return httpx.get(request.getfixturevalue("cfruntime").stats_url).json()["requests"]

    return count
