"""Configuration mistakes are reported by system checks with stable ids, not tracebacks."""

import pytest

from coachbot.checks import check_cloudflare, check_coach, check_discord


def ids(messages):
    return {m.id for m in messages}


def test_a_token_without_a_database_id_is_an_error(settings):
    settings.CLOUDFLARE_API_TOKEN = "t"
    settings.CLOUDFLARE_ACCOUNT_ID = "acc"
    settings.D1_DATABASE_ID = ""
    errors = check_cloudflare(None)
    assert ids(errors) == {"coachbot.E001"}
    assert "D1_DATABASE_ID" in errors[0].msg and errors[0].hint


def test_the_embedded_default_passes_every_check(settings):
    settings.CLOUDFLARE_API_TOKEN = settings.D1_DATABASE_ID = settings.CLOUDFLARE_ACCOUNT_ID = ""
    settings.KV_NAMESPACE_ID = ""
    settings.DISCORD_PUBLIC_KEY = ""
    assert check_cloudflare(None) == [] and check_coach(None) == []


def test_ids_without_a_token_warn_that_the_local_d1_is_used(settings):
    settings.CLOUDFLARE_API_TOKEN = ""
    settings.D1_DATABASE_ID = "abc"
    assert "coachbot.W002" in ids(check_cloudflare(None))


@pytest.mark.parametrize("url, expected", [
    ("ftp://x", "coachbot.E003"),
    ("http://api.example.com/client/v4", "coachbot.E004"),
])
def test_a_bad_api_url_is_an_error(settings, url, expected):
    settings.CLOUDFLARE_API_BASE_URL = url
    assert expected in ids(check_cloudflare(None))


def test_a_budget_above_cloudflares_limit_is_an_error(settings):
    settings.CLOUDFLARE_BUDGET_REQUESTS = 1500
    assert "coachbot.E005" in ids(check_cloudflare(None))


def test_a_garbled_discord_public_key_is_an_error(settings):
    settings.DISCORD_PUBLIC_KEY = "not-hex"
    assert "coachbot.E010" in ids(check_discord(None))
    settings.DISCORD_PUBLIC_KEY = "ab" * 32
    assert "coachbot.E010" not in ids(check_discord(None))


def test_an_llm_key_over_plain_http_is_an_error(settings):
    settings.COACH_LLM_URL = "http://llm.example.com/v1"
    settings.COACH_LLM_API_KEY = "k"
    settings.COACH_LLM_MODEL = "m"
    assert ids(check_coach(None)) == {"coachbot.E020"}
    settings.COACH_LLM_URL = "http://127.0.0.1:11434/v1"
    assert check_coach(None) == []
