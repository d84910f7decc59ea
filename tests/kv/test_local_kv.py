"""The embedded local KV: KV's REST shapes and limits, expiry, and the consistency simulation."""

import json
import threading
import time

import pytest

from coachbot.kv import KVCache, LocalKV
from coachbot.kv.rest import key_path
from tests.kv.conftest import FakeClock


@pytest.fixture
def clock():
    """A fake unix clock shared by the local KV and the caches on it."""
    return FakeClock()


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "kv.sqlite3")


@pytest.fixture
def kv(path, clock):
    """One site of the local KV."""
    return LocalKV(path, site="a", clock=clock)


def error(reply) -> tuple[int, int, str]:
    body = json.loads(reply.content)
    assert body["success"] is False
    return reply.status, body["errors"][0]["code"], body["errors"][0]["message"]


def put(kv, key, content=b"v", **params):
    return kv.request("PUT", key_path("values", key), content=content, params=params)


def get(kv, key):
    return kv.request("GET", key_path("values", key))


def make_cache(path, clock, site, **options):
    return KVCache(path, {"OPTIONS": {"site": site, "clock": clock, "sleep": clock.sleep,
                                      "flush_timer": False, "local_ttl": 0, **options}})


# ---------------------------------------------------------------- shapes and limits


def test_it_answers_puts_gets_and_deletes_in_kvs_shapes(kv):
    assert json.loads(put(kv, "a/b:c d", b"\x00\xffbytes").content)["success"] is True
    reply = get(kv, "a/b:c d")
    assert (reply.status, reply.content) == (200, b"\x00\xffbytes")
    assert "expiration" not in reply.headers
    assert kv.request("DELETE", key_path("values", "a/b:c d")).status == 200
    assert get(kv, "a/b:c d").status == 404
    assert kv.request("DELETE", key_path("values", "never-there")).status == 200


def test_a_missing_key_is_404_with_cloudflares_text(kv):
    assert error(get(kv, "missing")) == (404, 10009, "get: 'key not found'")


def test_a_ttl_below_60_is_400_with_cloudflares_text(kv):
    assert error(put(kv, "short", expiration_ttl=30)) == (
        400, 10001, "Invalid expiration_ttl of 30. Expiration TTL must be at least 60."
    )


def test_a_513_byte_key_is_414_with_cloudflares_text(kv):
    assert error(put(kv, "k" * 513)) == (
        414, 10001, "UTF-8 encoded length of 513 exceeds key length limit of 512."
    )


def test_a_value_over_25_mib_is_413_with_cloudflares_text(kv):
    assert error(put(kv, "huge", b"x" * (25 * 1024 * 1024 + 1))) == (
        413, 10001, "Value length of 26214401 exceeds limit of 26214400."
    )


def test_an_unknown_path_is_404_no_route(kv):
    assert error(kv.request("GET", "nothing/here")) == (404, 7000, "No route for that URI")


def test_expiration_ttl_is_honoured_and_shown(kv, clock):
    put(kv, "ttl", expiration_ttl=120)
    assert int(get(kv, "ttl").headers["expiration"]) == int(clock()) + 120
    clock.advance(119)
    assert get(kv, "ttl").status == 200
    clock.advance(1)
    assert get(kv, "ttl").status == 404
    assert json.loads(kv.request("GET", "keys").content)["result"] == []


def test_expiration_ttl_wins_over_expiration(kv, clock):
    put(kv, "both", expiration=int(clock()) + 86_400, expiration_ttl=120)
    assert int(get(kv, "both").headers["expiration"]) == int(clock()) + 120


def test_a_multipart_put_stores_metadata(kv):
    kv.request("PUT", key_path("values", "meta"), files={"value": (None, "v1"), "metadata": (None, '{"x": 1}')})
    assert get(kv, "meta").content == b"v1"
    assert json.loads(kv.request("GET", key_path("metadata", "meta")).content)["result"] == {"x": 1}


def test_list_pages_with_a_cursor(kv):
    for n in range(25):
        put(kv, f"page:{n:02}")
    put(kv, "other")
    names, cursor = [], ""
    while True:
        body = json.loads(kv.request("GET", "keys", params={"prefix": "page:", "limit": 10, "cursor": cursor}).content)
        assert body["result_info"]["count"] == len(body["result"])
        names += [key["name"] for key in body["result"]]
        cursor = body["result_info"]["cursor"]
        if not cursor:
            break
    assert names == [f"page:{n:02}" for n in range(25)]


def test_bulk_put_get_and_delete_answer_like_the_runtime(kv):
    pairs = [
        {"key": "bulk:text", "value": '{"j": 1}'},
        {"key": "bulk:b64", "value": "aGk=", "base64": True, "metadata": {"m": 2}},
    ]
    result = json.loads(kv.request("PUT", "bulk", json=pairs).content)["result"]
    assert result == {"successful_key_count": 2, "unsuccessful_keys": []}
    assert get(kv, "bulk:b64").content == b"hi"
    keys = ["bulk:text", "bulk:b64", "bulk:missing"]
    text = json.loads(kv.request("POST", "bulk/get", json={"keys": keys, "type": "text"}).content)
    assert text["result"] == {"values": {"bulk:text": '{"j": 1}', "bulk:b64": "hi", "bulk:missing": None}}
    as_json = json.loads(kv.request("POST", "bulk/get", json={"keys": ["bulk:text"], "type": "json"}).content)
    assert as_json["result"] == {"values": {"bulk:text": {"j": 1}}}
    with_meta = json.loads(kv.request("POST", "bulk/get", json={"keys": keys[1:], "withMetadata": True}).content)
    assert with_meta["result"]["values"] == {"bulk:b64": {"value": "hi", "metadata": {"m": 2}}, "bulk:missing": None}
    deleted = json.loads(kv.request("POST", "bulk/delete", json=keys).content)["result"]
    assert deleted["successful_key_count"] == 3
    assert get(kv, "bulk:text").status == 404


def test_a_bulk_get_of_more_than_100_keys_is_refused(kv):
    reply = kv.request("POST", "bulk/get", json={"keys": [f"k{n}" for n in range(101)]})
    assert reply.status == 400


def test_a_bulk_write_with_one_bad_pair_writes_nothing(kv):
    pairs = [{"key": "good", "value": "1"}, {"key": "bad", "value": "2", "expiration_ttl": 30}]
    assert kv.request("PUT", "bulk", json=pairs).status == 400
    assert get(kv, "good").status == 404


def test_it_counts_every_request_it_answers(kv):
    put(kv, "k")
    get(kv, "k")
    kv.request("GET", "keys")
    assert kv.requests == 3 and kv.writes == 1


# ---------------------------------------------------------------- the 1-write-per-second rule


def test_without_the_simulation_double_writes_are_accepted(kv):
    assert put(kv, "k", b"1").status == put(kv, "k", b"2").status == 200


def test_the_simulated_write_limit_answers_429_to_a_raw_double_write(path, clock):
    kv = LocalKV(path, site="a", clock=clock, write_limit=True)
    assert put(kv, "k", b"1").status == 200
    clock.advance(0.5)
    reply = put(kv, "k", b"2")
    assert reply.status == 429 and reply.headers["retry-after"] == "1"
    assert "one write per second" in error(reply)[2]
    assert kv.request("DELETE", key_path("values", "k")).status == 429
    clock.advance(0.5)
    assert put(kv, "k", b"3").status == 200
    assert get(kv, "k").content == b"3"


def test_the_simulated_write_limit_reports_bulk_keys_as_unsuccessful(path, clock):
    kv = LocalKV(path, site="a", clock=clock, write_limit=True)
    put(kv, "busy")
    pairs = [{"key": "busy", "value": "x"}, {"key": "free", "value": "y"}]
    result = json.loads(kv.request("PUT", "bulk", json=pairs).content)["result"]
    assert result == {"successful_key_count": 1, "unsuccessful_keys": ["busy"]}


def test_the_caches_coalescing_never_triggers_the_write_limit(path, clock):
    cache = make_cache(path, clock, "a", simulate_write_limit=True)
    for second in range(3):
        for n in range(10):
            cache.set("status", (second, n))
            clock.advance(0.05)
        clock.advance(0.5)
    cache.flush()
    kv = cache._ns.target
    assert kv.writes <= 4
    assert json.loads(get(kv, cache.make_key("status")).content) == [2, 9]


def test_the_cache_retries_keys_kv_reports_unsuccessful(path, clock):
    cache = make_cache(path, clock, "a", simulate_write_limit=True)
    kv = cache._ns.target
    put(kv, cache.make_key("k"), b'"other tool"')  # unknown to the cache's bookkeeping
    cache.set("k", "mine")
    assert cache._ns.pending  # refused, kept for after the second
    cache.flush()
    assert json.loads(get(kv, cache.make_key("k")).content) == "mine"


def test_a_write_that_fails_to_send_stays_pending(path, clock):
    cache = make_cache(path, clock, "a")
    cache._ns.target.close()  # the next request fails
    with pytest.raises(Exception):  # noqa: B017 - sqlite's error type does not matter here
        cache.set("k", 1)
    assert cache.make_key("k") in cache._ns.pending
    assert cache.get("k") == 1  # and this process still reads it
    cache._ns.pending.clear()  # the file is closed for good: nothing to send at exit


# ---------------------------------------------------------------- propagation


def test_the_writers_site_sees_its_write_at_once_other_sites_after_the_delay(path, clock):
    here = LocalKV(path, site="here", clock=clock, propagation=30)
    there = LocalKV(path, site="there", clock=clock, propagation=30)
    put(here, "k", b"old")
    clock.advance(31)
    put(here, "k", b"new")
    assert get(here, "k").content == b"new"
    assert get(there, "k").content == b"old"
    clock.advance(29)
    assert get(there, "k").content == b"old"
    clock.advance(1)
    assert get(there, "k").content == b"new"


def test_a_negative_lookup_is_cached_for_the_delay(path, clock):
    here = LocalKV(path, site="here", clock=clock, propagation=30)
    there = LocalKV(path, site="there", clock=clock, propagation=30)
    put(here, "k", b"v")
    clock.advance(29)
    assert get(there, "k").status == 404  # not propagated yet; the miss is now cached
    clock.advance(2)
    assert get(here, "k").status == 200
    assert get(there, "k").status == 404  # propagated, but the cached miss still answers
    clock.advance(28)
    assert get(there, "k").status == 200


def test_a_site_that_writes_a_key_forgets_its_cached_miss(path, clock):
    kv = LocalKV(path, site="here", clock=clock, propagation=30)
    assert get(kv, "k").status == 404
    put(kv, "k", b"v")
    assert get(kv, "k").content == b"v"


def test_deletes_propagate_like_writes(path, clock):
    here = LocalKV(path, site="here", clock=clock, propagation=30)
    there = LocalKV(path, site="there", clock=clock, propagation=30)
    put(here, "k", b"v")
    clock.advance(30)
    here.request("DELETE", key_path("values", "k"))
    assert get(here, "k").status == 404
    assert get(there, "k").content == b"v"
    clock.advance(30)
    assert get(there, "k").status == 404


def test_a_second_reader_sees_the_old_value_until_the_delay_passes(path, clock):
    writer = make_cache(path, clock, "web", simulate_propagation=30)
    reader = make_cache(path, clock, "worker", simulate_propagation=30)
    writer.set("summary", "v1")
    clock.advance(30)
    writer.set("summary", "v2")
    writer.flush()
    assert writer.get("summary") == "v2"
    assert reader.get("summary") == "v1"
    clock.advance(29)
    assert reader.get("summary") == "v1"
    clock.advance(1)
    assert reader.get("summary") == "v2"


def test_a_second_reader_keeps_a_cached_miss_until_the_delay_passes(path, clock):
    writer = make_cache(path, clock, "web", simulate_propagation=30)
    reader = make_cache(path, clock, "worker", simulate_propagation=30)
    writer.set("next_prompt", "how is it going?")
    clock.advance(29)
    assert reader.get("next_prompt") is None  # not there yet; the miss is cached for 30 s
    clock.advance(2)
    assert writer.get("next_prompt") == "how is it going?"
    assert reader.get("next_prompt") is None  # propagated, but the cached miss answers
    clock.advance(28)
    assert reader.get("next_prompt") == "how is it going?"


# ---------------------------------------------------------------- the first-level cache and the timer


def test_a_hot_read_expires_from_the_first_level_cache_after_local_ttl(path, clock, count_requests):
    cache = make_cache(path, clock, "a")
    cache._ns.local_ttl = 5
    put(cache._ns.target, cache.make_key("hot"), b'"v"')
    cache.get("hot")
    with count_requests() as counter:
        cache.get("hot")
        clock.advance(4.9)
        cache.get("hot")
    assert counter.requests == 0
    clock.advance(0.2)
    with count_requests() as counter:
        cache.get("hot")
    assert counter.requests == 1


def test_a_local_write_updates_the_first_level_cache(path, clock, count_requests):
    cache = make_cache(path, clock, "a")
    cache._ns.local_ttl = 5
    cache.set("k", 1)
    with count_requests() as counter:
        assert cache.get("k") == 1
        cache.delete("k")
        assert cache.get("k") is None
    assert counter.requests == 0  # the delete waits out the key's second in the buffer
    cache.flush()
    assert get(cache._ns.target, cache.make_key("k")).status == 404


def test_the_next_operation_sends_writes_whose_second_has_passed(path, clock):
    cache = make_cache(path, clock, "a")
    cache.set("k", 1)
    cache.set("k", 2)
    assert cache._ns.pending
    clock.advance(1)
    cache.get("other")
    assert not cache._ns.pending
    assert get(cache._ns.target, cache.make_key("k")).content == b"2"


def test_the_timer_sends_a_deferred_write_without_another_operation(path):
    cache = KVCache(path, {"OPTIONS": {"site": "timer", "flush_timer": True}})
    cache.set("k", 1)
    cache.set("k", 2)
    deadline = time.monotonic() + 5
    while cache._ns.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(cache._ns.target, cache.make_key("k")).content == b"2"


def test_threads_share_one_buffer_so_they_coalesce_too(path, clock):
    caches = [make_cache(path, clock, "a", simulate_write_limit=True) for _ in range(4)]
    assert len({id(cache._ns) for cache in caches}) == 1
    threads = [threading.Thread(target=c.set, args=("k", n)) for n, c in enumerate(caches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    caches[0].flush()
    assert caches[0]._ns.target.writes <= 2
