"""KVCache's methods, each on the local KV and on Cloudflare's runtime (``target``)."""

import time
import warnings

import pytest

from coachbot.kv import KVCache, KVTimeoutClamped, ValueTooLarge, kv_name
from coachbot.kv import cache as cache_module
from coachbot.kv.rest import MAX_VALUE_BYTES, key_path


def raw_put(cache: KVCache, name: str, content: bytes) -> None:
    """Write straight to KV, as another tool would (not through the cache)."""
    reply = cache._ns.target.request("PUT", key_path("values", name), content=content)
    assert reply.status == 200, reply.content


def test_it_sets_and_gets_a_json_value(make_cache):
    cache = make_cache()
    cache.set("summary", {"text": "二十分ごと", "done": [1, 2], "ok": True})
    assert cache.get("summary") == {"text": "二十分ごと", "done": [1, 2], "ok": True}


def test_it_reads_the_value_back_from_kv_not_only_from_memory(make_cache):
    writer = make_cache(local_ttl=0)
    writer.set("k", [1, "two"])
    writer.flush()
    assert make_cache(local_ttl=0).get("k") == [1, "two"]


def test_it_stores_values_as_json_text_other_tools_can_read(make_cache):
    cache = make_cache()
    cache.set("k", {"a": 1})
    cache.flush()
    reply = cache._ns.target.request("GET", key_path("values", cache.make_key("k")))
    assert reply.content == b'{"a":1}'


def test_it_refuses_values_json_cannot_hold(make_cache):
    with pytest.raises(TypeError, match="JSON"):
        make_cache().set("k", {1, 2})


def test_a_missing_key_returns_the_default(make_cache):
    assert make_cache().get("never", "fallback") == "fallback"


def test_a_stored_none_is_a_hit_not_a_miss(make_cache):
    cache = make_cache(local_ttl=0)
    cache.set("k", None)
    cache.flush()
    assert cache.get("k", "default") is None
    assert cache.has_key("k")


def test_it_deletes_a_key(make_cache):
    cache = make_cache(local_ttl=0)
    cache.set("k", 1)
    cache.flush()
    assert cache.delete("k") is True
    cache.flush()
    assert cache.get("k") is None


def test_has_key_tells_present_from_missing(make_cache):
    cache = make_cache(local_ttl=0)
    cache.set("here", 0)
    cache.flush()
    assert cache.has_key("here") and not cache.has_key("gone")


def test_get_many_returns_only_the_keys_found(make_cache):
    cache = make_cache(local_ttl=0)
    cache.set_many({"a": 1, "b": [2]})
    cache.flush()
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": [2]}


def test_get_many_asks_for_at_most_100_keys_per_request(make_cache, count_requests):
    cache = make_cache(local_ttl=0)
    cache.set_many({f"k{n}": n for n in range(150)})
    cache.flush()
    with count_requests() as counter:
        found = cache.get_many([f"k{n}" for n in range(150)])
    assert found == {f"k{n}": n for n in range(150)}
    assert counter.requests == 2


def test_set_many_publishes_200_keys_in_one_request(make_cache, server_requests):
    cache = make_cache(local_ttl=0)
    before = server_requests(cache)
    assert cache.set_many({f"key{n}": {"n": n} for n in range(200)}) == []
    assert server_requests(cache) - before == 1
    assert cache.get_many(["key0", "key199"]) == {"key0": {"n": 0}, "key199": {"n": 199}}


def test_delete_many_removes_keys_in_one_request(make_cache, server_requests):
    cache = make_cache(local_ttl=0)
    cache.set_many({"a": 1, "b": 2, "c": 3})
    cache.flush()
    cache._ns.sleep(1.0)  # the keys' one-write-per-second has passed
    before = server_requests(cache)
    cache.delete_many(["a", "b"])
    assert server_requests(cache) - before == 1
    assert cache.get_many(["a", "b", "c"]) == {"c": 3}


def test_clear_removes_this_caches_keys_only_following_list_cursors(make_cache, monkeypatch):
    monkeypatch.setattr(cache_module, "LIST_LIMIT", 10)
    mine, other = make_cache(local_ttl=0), make_cache(key_prefix=f"other{time.time_ns()}", local_ttl=0)
    mine.set_many({f"k{n}": n for n in range(25)})
    other.set("k0", "stays")
    mine.flush()
    other.flush()
    mine.clear()
    mine.flush()
    assert list(mine.iter_keys()) == []
    assert mine.get_many([f"k{n}" for n in range(25)]) == {}
    assert other.get("k0") == "stays"


def test_touch_gives_a_new_expiry_and_keeps_value_and_metadata(make_cache, clock):
    cache = make_cache(local_ttl=0)
    cache.set_with_meta("k", "v", 120, metadata={"v": 3})
    cache.flush()
    cache._ns.sleep(1.0)
    assert cache.touch("k", 600) is True
    cache.flush()
    entry = cache.get_with_meta("k")
    assert entry.value == "v" and entry.metadata == {"v": 3}
    assert 590 <= entry.expiration - clock() <= 601


def test_touch_of_a_missing_key_is_false(make_cache):
    assert make_cache().touch("nothing", 300) is False


def test_a_timeout_of_zero_deletes_the_key(make_cache):
    cache = make_cache(local_ttl=0)
    cache.set("k", 1)
    cache.set("k", 2, timeout=0)
    cache.flush()
    assert cache.get("k", "gone") == "gone"


def test_a_timeout_of_none_never_expires(make_cache):
    cache = make_cache(timeout=None)
    cache.set("k", 1)
    cache.flush()
    assert cache.get_with_meta("k").expiration is None


def test_the_default_timeout_becomes_expiration_ttl(make_cache, clock):
    cache = make_cache(timeout=300)
    cache.set("k", 1)
    cache.flush()
    assert 295 <= cache.get_with_meta("k").expiration - clock() <= 301


def test_a_timeout_below_60_is_clamped_to_60_with_a_warning(make_cache, clock):
    cache = make_cache()
    with pytest.warns(KVTimeoutClamped, match="becomes 60 s") as caught:
        cache.set("k", "v", timeout=30)
    assert caught[0].filename == __file__  # points at the caller, not at the cache
    cache.flush()
    assert 55 <= cache.get_with_meta("k").expiration - clock() <= 61


def test_set_with_meta_stores_version_and_time_for_the_admin(make_cache, clock):
    cache = make_cache()
    cache.set_with_meta("summary", "text", 300, metadata={"v": 7, "at": 1_750_000_000})
    cache.flush()
    entry = cache.get_with_meta("summary")
    value, metadata, expiration = entry
    assert (value, metadata) == ("text", {"v": 7, "at": 1_750_000_000})
    assert expiration > clock()
    assert cache.get_with_meta("missing") is None


def test_oversized_metadata_is_refused_before_sending(make_cache, count_requests):
    with count_requests() as counter, pytest.raises(ValueTooLarge, match="1024"):
        make_cache().set_with_meta("k", 1, 300, metadata={"x": "m" * 1100})
    assert counter.requests == 0


def test_iter_keys_lists_names_expiry_and_metadata(make_cache):
    cache = make_cache()
    cache.set_with_meta("a", 1, 300, metadata={"v": 1})
    cache.set("b", 2, timeout=None)
    cache.flush()
    listed = {item.name: item for item in cache.iter_keys()}
    a, b = listed[cache.make_key("a")], listed[cache.make_key("b")]
    assert a.metadata == {"v": 1} and a.expiration is not None
    assert b.metadata is None and b.expiration is None


def test_keys_travel_percent_encoded_and_arrive_unchanged(make_cache):
    cache = make_cache(local_ttl=0)
    key = "a/b:c d?e#f%g&é 二"
    cache.set(key, "odd")
    cache.flush()
    assert cache.get(key) == "odd"
    assert [item.name for item in cache.iter_keys()] == [cache.make_key(key)]


def test_an_oversized_key_is_hashed_and_keeps_a_readable_prefix(make_cache):
    cache = make_cache(local_ttl=0)
    key = "session:" + "x" * 600
    name = cache.make_and_validate_key(key)
    assert len(name.encode()) <= 512
    assert name.startswith(cache.make_key("session:xxx")) and "#sha256:" in name
    cache.set(key, "long")
    cache.flush()
    assert cache.get(key) == "long"
    assert [item.name for item in cache.iter_keys()] == [name]


def test_hashing_never_splits_a_multibyte_character():
    name = kv_name("二" * 300)
    assert len(name.encode()) <= 512
    name.encode().decode()  # valid UTF-8


def test_an_oversized_value_is_refused_before_sending(make_cache, count_requests):
    with count_requests() as counter, pytest.raises(ValueTooLarge, match="25 MiB"):
        make_cache().set("huge", "x" * MAX_VALUE_BYTES)
    assert counter.requests == 0


def test_add_incr_and_decr_explain_that_kv_cannot_do_them(make_cache):
    cache = make_cache()
    with pytest.raises(NotImplementedError, match="compare-and-set"):
        cache.add("k", 1)
    with pytest.raises(NotImplementedError, match="D1"):
        cache.incr("k")
    with pytest.raises(NotImplementedError, match="D1"):
        cache.decr("k")


def test_get_or_set_sets_with_last_write_wins(make_cache):
    cache = make_cache()
    assert cache.get_or_set("k", lambda: "made") == "made"
    assert cache.get_or_set("k", "other") == "made"


def test_a_burst_of_10_writes_to_one_key_is_at_most_2_kv_writes_and_the_last_wins(
    make_cache, server_requests
):
    cache = make_cache(local_ttl=0)
    before = server_requests(cache)
    started = time.monotonic()
    for n in range(10):
        cache.set("status", n)
    assert time.monotonic() - started < 1.0
    cache.flush()
    assert server_requests(cache) - before <= 2
    assert make_cache(local_ttl=0).get("status") == 9


def test_a_process_reads_its_own_pending_write_at_once(make_cache):
    cache = make_cache(local_ttl=0)
    cache.set("k", 1)
    cache.set("k", 2)  # waits out the key's second in the buffer
    assert cache.get("k") == 2
    assert cache.get_many(["k"]) == {"k": 2}


def test_the_first_level_cache_serves_a_hot_read_without_a_request(make_cache, count_requests):
    cache = make_cache(local_ttl=5)
    raw_put(cache, cache.make_key("hot"), b'"value"')
    assert cache.get("hot") == "value"
    with count_requests() as counter:
        for _ in range(10):
            assert cache.get("hot") == "value"
        assert cache.get_many(["hot"]) == {"hot": "value"}
    assert counter.requests == 0


def test_a_value_another_tool_wrote_that_is_not_json_reads_as_a_miss(make_cache, caplog):
    cache = make_cache(local_ttl=0)
    raw_put(cache, cache.make_key("plain"), b"not json")
    assert cache.get("plain", "default") == "default"
    assert "not what this cache writes" in caplog.text


def test_every_kv_request_is_counted_like_d1s(make_cache, count_requests, server_requests):
    cache = make_cache(local_ttl=0)
    before = server_requests(cache)
    with count_requests() as counter:
        cache.set("a", 1)
        cache.get("a")
        cache.get_many(["a", "b"])
    assert counter.requests == server_requests(cache) - before == 3


def test_close_sends_the_writes_that_are_due_without_waiting(make_cache):
    cache = make_cache(local_ttl=0)
    with cache._ns.lock:
        cache._ns.pending[cache.make_key("k")] = cache_module._Write('"queued"', 300)
    cache.close()
    assert not cache._ns.pending
    assert make_cache(local_ttl=0).get("k") == "queued"


def test_no_warning_for_ordinary_timeouts(make_cache):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_cache().set("k", 1, timeout=60)
