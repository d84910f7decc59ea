"""Configuration, the shared Cloudflare client, and the retry policy of KV requests."""

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from coachbot.d1.budget import Unlimited
from coachbot.d1.cloudflare import CloudflareAPI, shared_api
from coachbot.kv import KVCache, RemoteKV
from coachbot.kv.checks import check_kv_caches
from tests.support.fake_http import FakeHTTPServer, Reply

OK = {"success": True, "errors": [], "messages": [], "result": {"successful_key_count": 1, "unsuccessful_keys": []}}


def kv_settings(location, **options):
    return {"kv": {"BACKEND": "coachbot.kv.KVCache", "LOCATION": location, "OPTIONS": options}}


def test_a_token_without_a_namespace_id_is_a_system_check_error(settings, tmp_path):
    settings.CACHES = {**settings.CACHES, **kv_settings("", api_token="t", account_id="acc")}
    [problem] = check_kv_caches(None)
    assert problem.id == "coachbot.E030" and "KV_NAMESPACE_ID" in problem.msg


def test_a_token_with_a_file_path_as_location_is_an_error_too(settings, tmp_path):
    settings.CACHES = kv_settings(str(tmp_path / "kv.sqlite3"), api_token="t", account_id="acc")
    assert [m.id for m in check_kv_caches(None)] == ["coachbot.E030"]


def test_a_token_without_an_account_id_is_an_error(settings):
    settings.CACHES = kv_settings("0123abcd", api_token="t")
    [problem] = check_kv_caches(None)
    assert "CLOUDFLARE_ACCOUNT_ID" in problem.msg


def test_simulation_options_with_a_token_are_a_warning(settings):
    settings.CACHES = kv_settings("ns", api_token="t", account_id="acc", simulate_propagation=30)
    assert [m.id for m in check_kv_caches(None)] == ["coachbot.W031"]


def test_the_local_kv_configuration_passes(settings, tmp_path):
    settings.CACHES = kv_settings(str(tmp_path / "kv.sqlite3"), local_ttl=5)
    assert check_kv_caches(None) == []


def test_the_check_is_registered_once_the_module_is_imported(settings):
    settings.CACHES = kv_settings("", api_token="t", account_id="acc")
    assert "coachbot.E030" in [m.id for m in run_checks()]


def test_constructing_a_misconfigured_cache_raises_a_clear_error():
    cache = KVCache("", {"OPTIONS": {"api_token": "t", "account_id": "acc"}})
    with pytest.raises(ImproperlyConfigured, match="KV_NAMESPACE_ID"):
        cache.get("k")


def test_two_caches_on_one_namespace_must_agree_on_shared_options(tmp_path):
    location = str(tmp_path / "kv.sqlite3")
    KVCache(location, {"OPTIONS": {"local_ttl": 5}}).get("k")
    with pytest.raises(ImproperlyConfigured, match="local_ttl"):
        KVCache(location, {"OPTIONS": {"local_ttl": 1}}).get("k")


def test_kv_and_d1_share_one_cloudflare_client_and_budget():
    base, token = "http://127.0.0.1:9/client/v4", "shared-token"
    d1_api = shared_api(base, token, Unlimited)
    cache = KVCache("ns", {"OPTIONS": {"api_token": token, "account_id": "acc", "api_base_url": base,
                                       "flush_timer": False}})
    assert cache._ns.target.api is d1_api


def test_kv_and_d1_without_a_base_url_share_the_client_of_cloudflares_default_url():
    from coachbot.d1.cloudflare import DEFAULT_BASE_URL, api_for

    options = {"api_token": "default-url-token", "account_id": "acc"}
    d1_api = api_for(options)
    cache = KVCache("ns", {"OPTIONS": {**options, "flush_timer": False}})
    assert cache._ns.target.api is d1_api
    assert d1_api.base_url == DEFAULT_BASE_URL


def test_the_settings_block_in_caches_works_with_the_django_cache_handler(settings, tmp_path):
    from django.core.cache import caches

    settings.CACHES = {**settings.CACHES, **kv_settings(str(tmp_path / "kv.sqlite3"), flush_timer=False)}
    cache = caches["kv"]
    cache.set("k", {"via": "handler"})
    assert cache.get("k") == {"via": "handler"}
    cache.flush()


@pytest.fixture
def fake_cloudflare():
    with FakeHTTPServer(default=Reply(200, OK)) as server:
        yield server


def remote(server):
    api = CloudflareAPI(server.url, "t", sleep=lambda seconds: None)
    return RemoteKV(api, "acc", "ns")


def test_kv_writes_are_retried_on_5xx_because_they_are_idempotent(fake_cloudflare):
    fake_cloudflare.script("/bulk", Reply(502, "bad gateway"))
    reply = remote(fake_cloudflare).request("PUT", "bulk", json=[{"key": "k", "value": "1"}])
    assert reply.status == 200
    assert [r.method for r in fake_cloudflare.requests] == ["PUT", "PUT"]


def test_deletes_are_retried_on_5xx_too(fake_cloudflare):
    fake_cloudflare.script("/bulk/delete", Reply(503, "unavailable"))
    assert remote(fake_cloudflare).request("POST", "bulk/delete", json=["k"]).status == 200
    assert len(fake_cloudflare.requests) == 2


def test_requests_go_to_the_namespace_with_the_key_percent_encoded(fake_cloudflare):
    remote(fake_cloudflare).request("GET", "values/a%2Fb:c%20d")
    assert fake_cloudflare.requests[0].path == "/accounts/acc/storage/kv/namespaces/ns/values/a%2Fb:c%20d"
    assert fake_cloudflare.requests[0].headers["Authorization"] == "Bearer t"


def test_a_refused_token_says_which_permission_to_check(fake_cloudflare):
    fake_cloudflare.script("/keys", Reply(403, {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}))
    cache = KVCache("ns", {"OPTIONS": {"api_token": "t2", "account_id": "acc", "api_base_url": fake_cloudflare.url,
                                       "flush_timer": False}})
    with pytest.raises(Exception, match="Workers KV Storage"):
        list(cache.iter_keys())
