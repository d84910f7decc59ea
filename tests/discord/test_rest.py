"""The REST client talks to a fake Discord over real HTTP and behaves like a careful bot."""

import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest

from discord_app import rest
from discord_app.rest import (
    AlreadyAcknowledged,
    DiscordAuthError,
    DiscordBanned,
    DiscordClient,
    DiscordError,
    DiscordRateLimited,
    DiscordUnreachable,
    TooManyInvalidRequests,
    UnknownChannel,
    UnknownInteraction,
)
from tests.support.fake_discord import CANNOT_DM, Reply, html_ban, rate_limited

from .conftest import APP_ID, TOKEN

USER = "200000000000000001"
CHANNEL = "300000000000000001"
MESSAGES = f"/channels/{CHANNEL}/messages"
HELLO = {"content": "How is it going?"}


def no_429s(fake_discord) -> bool:
    return all(r.status != 429 for r in fake_discord.requests)


# --- Requests as Discord expects them ---------------------------------------------------


def test_it_sends_the_bot_token_and_a_discordbot_user_agent(client, fake_discord):
    client.send_message(CHANNEL, HELLO)
    headers = fake_discord.calls("POST", MESSAGES)[0].headers
    assert headers["authorization"] == f"Bot {TOKEN}"
    assert headers["user-agent"].startswith("DiscordBot (https://github.com/coachbot/coachbot, ")


def test_it_reuses_one_connection_for_many_requests(client, fake_discord):
    for _ in range(3):
        client.send_message(CHANNEL, HELLO)
    assert client._http._transport._pool.connections.__len__() == 1


def test_it_opens_a_dm_and_returns_the_channel_id(client, fake_discord):
    channel_id = client.open_dm(USER)
    assert channel_id == fake_discord.dm_channel_for(USER)
    assert fake_discord.calls("POST", "/users/@me/channels")[0].json == {"recipient_id": USER}


def test_it_returns_the_created_message(client):
    message = client.send_message(CHANNEL, HELLO)
    assert message["channel_id"] == CHANNEL
    assert message["content"] == HELLO["content"]


def test_it_edits_a_message(client, fake_discord):
    client.edit_message(CHANNEL, "400", {"components": []})
    assert fake_discord.calls("PATCH", f"{MESSAGES}/400")[0].json["components"] == []


def test_it_edits_the_original_interaction_response(client, fake_discord):
    client.edit_original(APP_ID, "interaction-token", {"content": "done"})
    call = fake_discord.calls("PATCH", f"/webhooks/{APP_ID}/interaction-token/messages/@original")
    assert call[0].json["content"] == "done"


def test_it_sends_a_followup_and_waits_for_the_message(client, fake_discord):
    message = client.followup(APP_ID, "interaction-token", {"content": "more"})
    call = fake_discord.calls("POST", f"/webhooks/{APP_ID}/interaction-token")[0]
    assert call.query == "wait=true"
    assert message["content"] == "more"


def test_it_overwrites_global_commands(client, fake_discord):
    registered = client.bulk_overwrite_commands([{"name": "status", "description": "d"}])
    assert fake_discord.calls("PUT", f"/applications/{APP_ID}/commands")
    assert registered[0]["name"] == "status" and registered[0]["id"]


def test_it_overwrites_guild_commands(client, fake_discord):
    client.bulk_overwrite_commands([], guild_id="500")
    assert fake_discord.calls("PUT", f"/applications/{APP_ID}/guilds/500/commands")


def test_it_refuses_to_register_commands_without_an_application_id(fake_discord, clock):
    client = DiscordClient(TOKEN, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep)
    with pytest.raises(DiscordError, match="DISCORD_APPLICATION_ID"):
        client.bulk_overwrite_commands([])
    assert fake_discord.requests == []


def test_it_sends_nothing_without_a_token(fake_discord, clock):
    client = DiscordClient("", base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep)
    with pytest.raises(DiscordAuthError, match="DISCORD_BOT_TOKEN"):
        client.send_message(CHANNEL, HELLO)
    assert fake_discord.requests == []


# --- allowed_mentions -------------------------------------------------------------------


def test_it_adds_allowed_mentions_to_every_message_payload(client, fake_discord):
    client.send_message(CHANNEL, {"content": "@everyone look"})
    client.edit_message(CHANNEL, "400", {"content": "@here"})
    client.send_dm(USER, {"content": "<@&123>"})
    client.edit_original(APP_ID, "tok", {"content": "x"})
    client.followup(APP_ID, "tok", {"content": "y"})
    message_calls = [r for r in fake_discord.requests if r.path != "/users/@me/channels"]
    assert len(message_calls) == 5
    assert all(r.json["allowed_mentions"] == {"parse": []} for r in message_calls)


def test_it_keeps_allowed_mentions_the_caller_chose(client, fake_discord):
    client.send_message(CHANNEL, {"content": "<@1>", "allowed_mentions": {"users": ["1"]}})
    assert fake_discord.requests[0].json["allowed_mentions"] == {"users": ["1"]}


def test_it_does_not_modify_the_callers_payload(client):
    payload = {"content": "hi"}
    client.send_message(CHANNEL, payload)
    assert payload == {"content": "hi"}


# --- Rate limits ------------------------------------------------------------------------


def test_it_waits_out_a_429_and_the_retried_request_succeeds(client, fake_discord, clock):
    fake_discord.script("POST", MESSAGES, rate_limited(1.5))
    message = client.send_message(CHANNEL, HELLO)
    assert message["content"] == HELLO["content"]
    assert [r.status for r in fake_discord.calls("POST", MESSAGES)] == [429, 200]
    assert clock.sleeps == [1.5]


def test_it_gives_up_after_too_many_429s(client, fake_discord):
    fake_discord.script("POST", MESSAGES, *[rate_limited(0.1) for _ in range(5)])
    with pytest.raises(DiscordRateLimited) as info:
        client.send_message(CHANNEL, HELLO)
    assert info.value.retryable
    assert len(fake_discord.calls("POST", MESSAGES)) == 5


def test_it_does_not_sleep_inside_a_request_for_longer_than_max_wait(client, fake_discord, clock):
    fake_discord.script("POST", MESSAGES, rate_limited(3600))
    with pytest.raises(DiscordRateLimited) as info:
        client.send_message(CHANNEL, HELLO)
    assert info.value.retry_after == pytest.approx(3600)
    assert clock.sleeps == []


def test_it_waits_for_reset_after_when_remaining_is_zero(client, fake_discord, clock):
    exhausted = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5"}
    fake_discord.script("POST", MESSAGES, Reply(200, {"id": "1"}, headers=exhausted))
    client.send_message(CHANNEL, HELLO)
    assert clock.sleeps == []
    client.send_message(CHANNEL, HELLO)
    assert clock.sleeps == [2.5]
    assert no_429s(fake_discord)


def test_an_exhausted_bucket_does_not_hold_up_another_channel(client, fake_discord, clock):
    exhausted = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5"}
    fake_discord.script("POST", MESSAGES, Reply(200, {"id": "1"}, headers=exhausted))
    client.send_message(CHANNEL, HELLO)
    client.send_message("300000000000000002", HELLO)
    assert clock.sleeps == []


def test_it_learns_that_two_routes_share_a_bucket_from_the_bucket_header(
    client, fake_discord, clock
):
    shared = {
        "X-RateLimit-Bucket": "shared-hash",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset-After": "5",
    }
    fake_discord.script("POST", MESSAGES, Reply(200, {"id": "1"}, headers=shared))
    edit = f"{MESSAGES}/9"
    exhausted = {**shared, "X-RateLimit-Remaining": "0"}
    fake_discord.script("PATCH", edit, Reply(200, {"id": "9"}, headers=exhausted))
    client.send_message(CHANNEL, HELLO)
    client.edit_message(CHANNEL, "9", HELLO)
    client.send_message(CHANNEL, HELLO)  # same bucket hash as the exhausted edit
    assert clock.sleeps == [5.0]


def test_a_global_429_pauses_requests_on_other_routes(fake_discord):
    fake_discord.script("POST", MESSAGES, rate_limited(0.3, is_global=True))
    other = threading.Thread(target=lambda: client.edit_message("300000000000000009", "1", HELLO))

    def sleep(seconds: float) -> None:
        # The first sleep is the global pause: start a call on another route meanwhile.
        if not other.is_alive() and other.ident is None:
            other.start()
        time.sleep(seconds)

    client = DiscordClient(TOKEN, base_url=fake_discord.base_url, sleep=sleep)
    client.send_message(CHANNEL, HELLO)
    other.join(5)
    limited = fake_discord.calls("POST", MESSAGES)[0]
    other = fake_discord.calls("PATCH")[0]
    assert limited.status == 429
    assert other.at - limited.at >= 0.29
    client.close()


def test_a_global_429_does_not_pause_interaction_webhooks(client, fake_discord, clock):
    fake_discord.script("POST", MESSAGES, rate_limited(0.3, is_global=True))
    client._global_until = clock() + 30  # as after a global 429
    client.followup(APP_ID, "tok", HELLO)
    assert clock.sleeps == []


def test_it_paces_itself_under_max_rps_across_routes(fake_discord, clock):
    client = DiscordClient(
        TOKEN, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep, max_rps=10
    )
    for i in range(25):
        client.send_message(str(300000000000000100 + i), HELLO)
    assert sum(clock.sleeps) == pytest.approx(2.0)
    client.close()


def test_it_does_not_pace_interaction_webhooks(fake_discord, clock):
    client = DiscordClient(
        TOKEN, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep, max_rps=2
    )
    for _ in range(5):
        client.followup(APP_ID, "tok", HELLO)
    assert clock.sleeps == []
    client.close()


def test_it_never_exceeds_50_requests_in_any_second_while_sending_300_dms(fake_discord):
    client = DiscordClient(TOKEN, base_url=fake_discord.base_url)  # real clock, default 45/s
    users = [str(200000000000001000 + i) for i in range(300)]
    channels = {user: fake_discord.dm_channel_for(user) for user in users}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda user: client.send_dm(user, HELLO, channels[user]), users))
    assert time.monotonic() - started < 10
    times = sorted(r.at for r in fake_discord.requests)
    assert len(times) == 300
    busiest = max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times))
    assert busiest <= 50
    assert no_429s(fake_discord)
    client.close()


# --- Errors -----------------------------------------------------------------------------


def test_cannot_dm_raises_a_permanent_unreachable_error(client, fake_discord):
    fake_discord.script("POST", MESSAGES, Reply(403, CANNOT_DM))
    with pytest.raises(DiscordUnreachable) as info:
        client.send_message(CHANNEL, HELLO)
    error = info.value
    assert (error.status, error.code, error.permanent, error.unreachable) == (
        403,
        50007,
        True,
        True,
    )
    assert not error.retryable
    assert len(fake_discord.requests) == 1


def test_a_member_with_closed_dms_is_unreachable_through_send_dm(client, fake_discord):
    fake_discord.unreachable_users.add(USER)
    with pytest.raises(DiscordError) as info:
        client.send_dm(USER, HELLO)
    assert info.value.unreachable


def test_no_mutual_guild_is_unreachable_too(client, fake_discord):
    fake_discord.script(
        "POST", MESSAGES, Reply(400, {"message": "No mutual guilds", "code": 50278})
    )
    with pytest.raises(DiscordUnreachable):
        client.send_message(CHANNEL, HELLO)


def test_send_dm_uses_the_cached_channel(client, fake_discord):
    channel_id = fake_discord.dm_channel_for(USER)
    assert client.send_dm(USER, HELLO, channel_id)[0] == channel_id
    assert [r.method for r in fake_discord.requests] == ["POST"]
    assert fake_discord.requests[0].path == f"/channels/{channel_id}/messages"


def test_send_dm_opens_the_dm_when_no_channel_is_cached(client, fake_discord):
    channel_id, message = client.send_dm(USER, HELLO)
    assert channel_id == fake_discord.dm_channel_for(USER)
    assert message["channel_id"] == channel_id


def test_unknown_channel_reopens_the_dm_once_and_sends(client, fake_discord):
    fake_discord.unknown_channels.add(CHANNEL)
    channel_id, message = client.send_dm(USER, HELLO, CHANNEL)
    assert channel_id == fake_discord.dm_channel_for(USER) != CHANNEL
    assert [r.path for r in fake_discord.requests] == [
        MESSAGES,
        "/users/@me/channels",
        f"/channels/{channel_id}/messages",
    ]


def test_unknown_channel_twice_gives_up_after_one_reopen(client, fake_discord):
    fake_discord.unknown_channels.update({CHANNEL, fake_discord.dm_channel_for(USER)})
    with pytest.raises(UnknownChannel):
        client.send_dm(USER, HELLO, CHANNEL)
    assert len(fake_discord.requests) == 3


def test_a_500_on_post_is_not_retried_and_may_have_been_sent(client, fake_discord):
    fake_discord.script(
        "POST", MESSAGES, Reply(500, {"message": "Internal Server Error", "code": 0})
    )
    with pytest.raises(DiscordError) as info:
        client.send_message(CHANNEL, HELLO)
    assert (info.value.retryable, info.value.maybe_sent, info.value.permanent) == (
        True,
        True,
        False,
    )
    assert len(fake_discord.requests) == 1


def test_a_500_on_patch_is_retried(client, fake_discord, clock):
    edit = f"{MESSAGES}/400"
    fake_discord.script(
        "PATCH", edit, Reply(500, {"message": "oops"}), Reply(502, body=b"Bad Gateway")
    )
    client.edit_message(CHANNEL, "400", HELLO)
    assert [r.status for r in fake_discord.calls("PATCH", edit)] == [500, 502, 200]
    assert clock.sleeps == [0.5, 1.0]


def test_a_500_when_opening_a_dm_is_retried_because_opening_is_idempotent(client, fake_discord):
    fake_discord.script("POST", "/users/@me/channels", Reply(503, {"message": "busy"}))
    assert client.open_dm(USER) == fake_discord.dm_channel_for(USER)
    assert len(fake_discord.requests) == 2


def test_idempotent_requests_give_up_after_max_attempts(client, fake_discord):
    edit = f"{MESSAGES}/400"
    fake_discord.script("PATCH", edit, *[Reply(500, {"message": "down"}) for _ in range(5)])
    with pytest.raises(DiscordError) as info:
        client.edit_message(CHANNEL, "400", HELLO)
    assert info.value.retryable and not info.value.maybe_sent
    assert len(fake_discord.requests) == 5


def test_opening_dms_too_fast_backs_off_and_retries(client, fake_discord, clock):
    too_fast = {"message": "You are opening direct messages too fast.", "code": 40003}
    fake_discord.script("POST", "/users/@me/channels", Reply(403, too_fast))
    assert client.open_dm(USER)
    assert clock.sleeps == [2.0]


def test_a_connection_error_on_post_is_retried_because_nothing_was_sent(fake_discord, clock):
    url = fake_discord.base_url
    fake_discord.stop()
    client = DiscordClient(TOKEN, base_url=url, clock=clock, sleep=clock.sleep, max_attempts=2)
    with pytest.raises(DiscordError) as info:
        client.send_message(CHANNEL, HELLO)
    assert info.value.status == 0 and info.value.retryable and not info.value.maybe_sent
    assert clock.sleeps == [0.5]


@pytest.mark.parametrize(
    "code, error_class",
    [(10062, UnknownInteraction), (40060, AlreadyAcknowledged)],
)
def test_interaction_errors_have_their_own_types(client, fake_discord, code, error_class):
    path = f"/webhooks/{APP_ID}/tok/messages/@original"
    fake_discord.script(
        "PATCH", path, Reply(404 if code == 10062 else 400, {"message": "x", "code": code})
    )
    with pytest.raises(error_class) as info:
        client.edit_original(APP_ID, "tok", HELLO)
    assert info.value.permanent


def test_a_bad_token_stops_the_client(fake_discord, clock):
    client = DiscordClient(
        "wrong-token", base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep
    )
    with pytest.raises(DiscordAuthError):
        client.send_message(CHANNEL, HELLO)
    with pytest.raises(DiscordAuthError):
        client.send_message(CHANNEL, HELLO)
    assert len(fake_discord.requests) == 1


def test_code_40001_is_an_auth_error(client, fake_discord):
    fake_discord.script("POST", MESSAGES, Reply(403, {"message": "Unauthorized", "code": 40001}))
    with pytest.raises(DiscordAuthError):
        client.send_message(CHANNEL, HELLO)


# --- Bans -------------------------------------------------------------------------------


def test_an_html_429_raises_banned_and_stops_further_calls(client, fake_discord, clock):
    fake_discord.script("POST", MESSAGES, html_ban())
    with pytest.raises(DiscordBanned):
        client.send_message(CHANNEL, HELLO)
    with pytest.raises(DiscordBanned):
        client.open_dm(USER)
    assert len(fake_discord.requests) == 1
    clock.sleep(client.ban_cooldown)
    assert client.open_dm(USER)


def test_it_counts_invalid_responses_in_a_rolling_10_minutes(client, fake_discord, clock):
    fake_discord.script("POST", MESSAGES, Reply(403, CANNOT_DM), Reply(403, CANNOT_DM))
    fake_discord.script("POST", "/users/@me/channels", rate_limited(0.1))
    for _ in range(2):
        with pytest.raises(DiscordUnreachable):
            client.send_message(CHANNEL, HELLO)
    client.open_dm(USER)
    assert client.invalid_requests_last_10min() == 3
    clock.sleep(601)
    assert client.invalid_requests_last_10min() == 0


def test_shared_scope_429s_do_not_count_as_invalid(client, fake_discord):
    shared = rate_limited(0.1)
    shared.headers["X-RateLimit-Scope"] = "shared"
    fake_discord.script("POST", MESSAGES, shared)
    client.send_message(CHANNEL, HELLO)
    assert client.invalid_requests_last_10min() == 0


def test_it_refuses_to_send_at_its_invalid_request_threshold(fake_discord, clock):
    client = DiscordClient(
        TOKEN, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep, max_invalid=3
    )
    fake_discord.script("POST", MESSAGES, *[Reply(403, CANNOT_DM) for _ in range(3)])
    for _ in range(3):
        with pytest.raises(DiscordUnreachable):
            client.send_message(CHANNEL, HELLO)
    with pytest.raises(TooManyInvalidRequests):
        client.send_message(CHANNEL, HELLO)
    assert len(fake_discord.requests) == 3
    clock.sleep(600)
    client.send_message(CHANNEL, HELLO)
    client.close()


# --- Secrets ----------------------------------------------------------------------------


def test_the_token_never_appears_in_exceptions_or_logs(fake_discord, clock, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"message": f"bad token {TOKEN}", "code": 0}
    errors = []
    for reply in (Reply(403, CANNOT_DM), Reply(500, echo), Reply(401, echo), html_ban()):
        client = DiscordClient(
            TOKEN, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep
        )
        fake_discord.script("POST", MESSAGES, reply)
        with pytest.raises(DiscordError) as info:
            client.send_message(CHANNEL, HELLO)
        errors.append(info.value)
        client.close()
    fake_discord.stop()
    offline = DiscordClient(TOKEN, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep)
    with pytest.raises(DiscordError) as info:
        offline.send_message(CHANNEL, HELLO)
    errors.append(info.value)
    assert caplog.records
    for error in errors:
        assert TOKEN not in str(error) and TOKEN not in repr(error)
        assert TOKEN not in "".join(traceback.format_exception(error))
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(offline)


def test_webhook_tokens_stay_out_of_error_messages(client, fake_discord):
    fake_discord.script(
        "POST", f"/webhooks/{APP_ID}/secret-interaction-token", Reply(500, {"message": "x"})
    )
    with pytest.raises(DiscordError) as info:
        client.followup(APP_ID, "secret-interaction-token", HELLO)
    assert "secret-interaction-token" not in str(info.value)


# --- The process-wide client ------------------------------------------------------------


def test_get_client_is_built_from_settings_and_shared(settings, fake_discord):
    settings.DISCORD_BOT_TOKEN = TOKEN
    settings.DISCORD_APPLICATION_ID = APP_ID
    settings.DISCORD_API_BASE_URL = fake_discord.base_url
    settings.DISCORD_MAX_RPS = 7
    client = rest.get_client()
    assert client is rest.get_client()
    assert (client.application_id, client.max_rps) == (APP_ID, 7)
    client.send_message(CHANNEL, HELLO)
    assert fake_discord.requests


def test_changing_a_discord_setting_builds_a_new_client(settings):
    settings.DISCORD_API_BASE_URL = "http://127.0.0.1:9/api/v10"
    first = rest.get_client()
    settings.DISCORD_MAX_RPS = 3
    assert rest.get_client() is not first


def test_garbled_rate_limit_headers_are_ignored(client, fake_discord, clock):
    garbled = {"X-RateLimit-Remaining": "lots", "X-RateLimit-Reset-After": "soon"}
    fake_discord.script("POST", MESSAGES, Reply(200, {"id": "1"}, headers=garbled))
    client.send_message(CHANNEL, HELLO)
    client.send_message(CHANNEL, HELLO)
    assert clock.sleeps == []


def test_a_success_with_a_garbled_body_is_an_error(client, fake_discord):
    fake_discord.script("POST", MESSAGES, Reply(200, body=b"<html>", content_type="text/html"))
    with pytest.raises(DiscordError, match="invalid JSON"):
        client.send_message(CHANNEL, HELLO)
