"""The dispatcher against the embedded local D1 and a fake Discord on loopback."""

import datetime
import random
import threading

import pytest
from django.db import connections

from coachbot.d1 import RequestCounter
from sessions_app import dispatch, schedule
from sessions_app.models import CheckIn, Session
from tests.schedule.conftest import MONDAY, add_members, checkins_of, member, reload
from tests.support.fake_discord import Reply, rate_limited

pytestmark = pytest.mark.django_db(databases=["default", "d1"])
MINUTE = datetime.timedelta(minutes=1)
T = datetime.time


def dms_to(fake, session) -> list:
    channel = fake.dm_channels.get(session.user_id)
    return [c for c in fake.calls("POST")
            if channel and c.path == f"/channels/{channel}/messages" and c.status == 200]


# --- Request counts ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 250])
def test_a_tick_costs_at_most_3_plus_n_over_100_d1_requests(n, client, fake_discord):
    members = add_members(n)
    with RequestCounter() as counter:
        tick = dispatch.run_tick(MONDAY, client=client)
    assert tick.count("sent") == n
    assert counter.requests <= 3 + n / 100, counter.requests
    assert counter.early_flushes == 0
    assert CheckIn.objects.filter(state="sent").count() == n
    assert {c.user_id for c in Session.objects.all() if c.channel_id} == {m.user_id for m in members}


def test_a_tick_with_nothing_due_costs_one_request(client):
    add_members(5, status="paused")
    with RequestCounter() as counter:
        tick = dispatch.run_tick(MONDAY, client=client)
    assert tick.claimed == [] and counter.requests == 1


# --- What gets sent ---------------------------------------------------------------------


def test_the_checkin_asks_the_coachs_question_with_the_last_summary(client, fake_discord):
    from sessions_app.models import Summary

    (session,) = add_members(1, next_prompt="Did the parser tests pass?")
    Summary.objects.create(session=session, summary="Working on the parser; blocked on CI.")
    dispatch.run_tick(MONDAY, client=client)
    (call,) = dms_to(fake_discord, session)
    assert "Did the parser tests pass?" in call.json["content"]
    assert "blocked on CI" in call.json["content"]
    assert "flags" not in call.json  # a prompt notifies
    (checkin,) = checkins_of(session)
    assert call.json["components"][0]["components"][0]["custom_id"] == f"ci:report:{checkin.pk}"
    assert checkin.prompt == "Did the parser tests pass?" and checkin.state == "sent"
    assert checkin.message_id and checkin.channel_id == reload(session).channel_id


def test_an_unanswered_prompt_gets_a_quiet_reminder_and_loses_its_buttons(client, fake_discord):
    (session,) = add_members(1)
    dispatch.run_tick(MONDAY, client=client)
    assert not dispatch.run_tick(MONDAY + 10 * MINUTE, client=client).claimed
    dispatch.run_tick(MONDAY + 20 * MINUTE, client=client)
    first, second = checkins_of(session)
    assert (first.state, second.kind, second.state) == ("missed", "reminder", "sent")
    reminder = dms_to(fake_discord, session)[-1]
    assert reminder.json["flags"] == 4096
    (edit,) = fake_discord.calls("PATCH")
    assert edit.path == f"/channels/{first.channel_id}/messages/{first.message_id}"
    assert all(b["disabled"] for b in edit.json["components"][0]["components"])
    assert reload(session).unanswered == 2


def test_silence_backs_off_then_pauses_with_one_polite_notice(client, fake_discord):
    (session,) = add_members(1, interval_minutes=5, work_end=T(23, 0))
    kinds, now = [], MONDAY
    for _ in range(72):  # six hours of ticks every five minutes
        tick = dispatch.run_tick(now, client=client)
        kinds += [(int((now - MONDAY) / MINUTE), c.kind) for c in tick.claimed]
        now += 5 * MINUTE
    assert kinds == [(0, "prompt"), (5, "reminder"), (15, "prompt"), (35, "prompt"),
                     (75, "prompt"), (155, "prompt"), (315, "notice")]
    session = reload(session)
    assert (session.status, session.status_reason) == ("paused", "silence")
    notice = dms_to(fake_discord, session)[-1]
    assert notice.json["flags"] == 4096 and "stop checking in" in notice.json["content"]
    assert len(dms_to(fake_discord, session)) == 7


def test_a_reply_resets_the_back_off(client):
    (session,) = add_members(1)
    dispatch.run_tick(MONDAY, client=client)
    dispatch.run_tick(MONDAY + 20 * MINUTE, client=client)  # reminder: unanswered 2
    # What coaching.record_report does to the session when the member answers:
    Session.objects.filter(pk=session.pk).update(unanswered=0, last_reply_at=MONDAY + 25 * MINUTE)
    tick = dispatch.run_tick(MONDAY + 45 * MINUTE, client=client)
    assert [c.kind for c in tick.claimed] == ["prompt"]


def test_a_timed_pause_resumes_on_the_next_working_day(client):
    (session,) = add_members(1)
    until = schedule.done_for_today_until(session, MONDAY)
    Session.objects.filter(pk=session.pk).update(status="paused", paused_until=until, unanswered=3)
    assert not dispatch.run_tick(MONDAY + 20 * MINUTE, client=client).claimed
    tick = dispatch.run_tick(until, client=client)
    assert [c.kind for c in tick.claimed] == ["prompt"]
    session = reload(session)
    assert (session.status, session.paused_until, session.unanswered) == ("active", None, 1)


def test_snoozed_and_out_of_hours_members_are_skipped(client):
    snoozed, = add_members(1, snoozed_until=MONDAY + 60 * MINUTE)
    asleep, = add_members(1, timezone="Asia/Tokyo")  # Tuesday 00:00 there
    awake, = add_members(1)
    tick = dispatch.run_tick(MONDAY, client=client)
    assert [c.session.pk for c in tick.claimed] == [awake.pk]


# --- The SQL claim keeps the Python rules ------------------------------------------------

ZONES = ["UTC", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata",
         "Pacific/Chatham", "Europe/London", "Not/AZone"]


def _random_member(rng, now):
    def maybe_time(hours):
        return now - datetime.timedelta(minutes=rng.randint(-60, hours * 60)) if rng.random() < 0.7 else None

    status = rng.choice(["active"] * 5 + ["paused", "stopped", "unreachable"])
    start = T(rng.randint(0, 23), rng.choice([0, 30]))
    end = T(rng.randint(0, 23), rng.choice([0, 30]))
    return member(
        timezone=rng.choice(ZONES), status=status, work_start=start, work_end=end,
        work_days="".join(sorted(rng.sample("1234567", rng.randint(0, 7)))),
        interval_minutes=rng.choice([5, 20, 45]), unanswered=rng.randint(0, 7),
        snoozed_until=maybe_time(2) if rng.random() < 0.3 else None,
        paused_until=maybe_time(3) if status == "paused" and rng.random() < 0.7 else None,
        last_prompt_at=maybe_time(30), last_reply_at=maybe_time(30),
    )


@pytest.mark.parametrize("now", [MONDAY, datetime.datetime(2026, 11, 1, 6, 30, tzinfo=datetime.UTC),
                                 datetime.datetime(2026, 3, 14, 21, 15, tzinfo=datetime.UTC)])
def test_the_sql_claim_picks_exactly_whom_the_python_rules_pick(now):
    rng = random.Random(now.toordinal())
    members = Session.objects.bulk_create([_random_member(rng, now) for _ in range(400)])
    expected = {}
    for session in members:
        decision = schedule.decide(session, now)
        if decision.due:
            expected[session.pk] = decision.kind
    tick = dispatch.claim(now)
    claimed = {c.session.pk: c.kind for c in tick.claimed}
    assert claimed == expected
    assert len(expected) > 20  # the sample exercises the rules


# --- Two dispatchers, crashes, failures -------------------------------------------------


def test_two_dispatchers_at_the_same_moment_prompt_each_member_once(fake_discord):
    from discord_app.rest import DiscordClient

    members = add_members(120)
    barrier, ticks, errors = threading.Barrier(2), [], []

    def dispatcher():
        client = DiscordClient("test-bot-token", base_url=fake_discord.base_url)
        try:
            barrier.wait()
            ticks.append(dispatch.run_tick(MONDAY, client=client))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()
            client.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(len(t.claimed) for t in ticks) == 120
    for session in members:
        assert len(dms_to(fake_discord, session)) == 1
        assert len(checkins_of(session)) == 1


def test_a_dispatcher_killed_after_the_claim_loses_nothing_and_duplicates_nothing(client, fake_discord, monkeypatch):
    members = add_members(30)

    def crash(*args, **kwargs):
        raise SystemExit("killed after the claim")

    monkeypatch.setattr(dispatch, "send", crash)
    with pytest.raises(SystemExit):
        dispatch.run_tick(MONDAY, client=client)
    monkeypatch.undo()
    assert CheckIn.objects.filter(state="due").count() == 30 and not fake_discord.calls("POST")
    # Another dispatcher in the grace period leaves them alone (the first may still be sending).
    assert dispatch.run_tick(MONDAY + 5 * MINUTE, client=client).claimed == []
    tick = dispatch.run_tick(MONDAY + 20 * MINUTE, client=client)
    assert tick.count("sent") == 30
    assert dispatch.run_tick(MONDAY + 30 * MINUTE, client=client).claimed == []
    for session in members:
        assert len(dms_to(fake_discord, session)) == 1
        assert [c.state for c in checkins_of(session)] == ["sent"]


def test_a_dispatcher_killed_after_sending_but_before_saving_does_not_dm_anyone_twice(client, fake_discord,
                                                                                    monkeypatch):
    members = add_members(20)
    monkeypatch.setattr(dispatch, "record", lambda *a, **k: None)  # dies before any result is saved
    with pytest.raises(SystemExit):
        dispatch.run_tick(MONDAY, client=client, on_outcome=lambda outcome: None)
        raise SystemExit("killed before the results were written")
    monkeypatch.undo()
    assert CheckIn.objects.filter(state="due").count() == 20  # D1 never heard they went out
    assert all(len(dms_to(fake_discord, m)) == 1 for m in members)

    tick = dispatch.run_tick(MONDAY + 20 * MINUTE, client=client)  # the outbox takes them back

    assert tick.count("sent") == 20
    for session in members:
        assert len(dms_to(fake_discord, session)) == 1  # found in the DM, not sent again
        (checkin,) = checkins_of(session)
        assert checkin.state == "sent" and checkin.message_id


def test_unsent_checkins_expire_instead_of_arriving_hours_late(client, fake_discord, monkeypatch):
    add_members(3)
    monkeypatch.setattr(dispatch, "send", lambda *a, **k: None)
    dispatch.run_tick(MONDAY, client=client)
    monkeypatch.undo()
    dispatch.run_tick(MONDAY + 61 * MINUTE, client=client)
    assert CheckIn.objects.filter(state="failed", error__startswith="expired").count() == 3
    assert CheckIn.objects.filter(state="sent").count() == 3  # fresh prompts instead


def test_discord_failures_in_the_middle_of_a_tick_leave_every_member_right(client, fake_discord):
    members = add_members(12)
    closed, server_error, storm = members[2], members[5], members[8]
    fake_discord.unreachable_users.add(closed.user_id)
    fake_discord.dm_channel_for(closed.user_id)
    fake_discord.script("POST", f"/channels/{fake_discord.dm_channel_for(server_error.user_id)}/messages",
                        Reply(500, {"message": "Internal Server Error", "code": 0}))
    fake_discord.script("POST", f"/channels/{fake_discord.dm_channel_for(storm.user_id)}/messages",
                        *[rate_limited(0.01) for _ in range(3)])  # every attempt of the client
    tick = dispatch.run_tick(MONDAY, client=client)
    assert (tick.count("sent"), tick.count("unreachable"), tick.count("failed"), tick.count("retry")) == (9, 1, 1, 1)

    closed = reload(closed)
    assert closed.status == "unreachable" and "50007" in closed.status_reason
    (checkin,) = checkins_of(closed)
    assert checkin.state == "failed"
    (checkin,) = checkins_of(server_error)
    assert checkin.state == "failed" and checkin.error.startswith("uncertain")
    (checkin,) = checkins_of(storm)
    assert (checkin.state, checkin.attempts) == ("due", 1)

    before = {m.pk: len(dms_to(fake_discord, m)) for m in members}
    tick = dispatch.run_tick(MONDAY + 20 * MINUTE, client=client)
    kinds = {c.session.pk: c.kind for c in tick.claimed}
    assert closed.pk not in kinds  # unreachable: never asked again
    assert kinds[storm.pk] == "prompt"  # the outbox sends the one the storm held back
    assert kinds[server_error.pk] == "reminder"  # the uncertain one is not sent again
    assert len(dms_to(fake_discord, storm)) == before[storm.pk] + 1
    assert [c.state for c in checkins_of(storm)] == ["sent"]


def test_a_bad_token_stops_the_tick_and_leaves_the_rest_in_the_outbox(fake_discord):
    from discord_app.rest import DiscordClient

    add_members(5)
    bad = DiscordClient("wrong-token", base_url=fake_discord.base_url)
    tick = dispatch.run_tick(MONDAY, client=bad, workers=1)
    bad.close()
    assert tick.stopped and tick.count("sent") == 0
    assert CheckIn.objects.filter(state="due").count() == 5


def test_each_members_next_checkin_is_published_to_kv_in_one_call(client, settings):
    from django.core.cache import caches

    session, = add_members(1)
    with RequestCounter() as counter:
        tick = dispatch.run_tick(MONDAY, client=client)
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)  # claim, record, one KV bulk write
    entry = caches["kv"].get(f"user:{session.user_id}:last_status")
    assert entry["next_checkin_at"] == (MONDAY + 20 * MINUTE).isoformat()
    assert (entry["status"], entry["last_checkin"]) == ("active", "sent")
    assert caches["kv"].get(f"session:{session.pk}:next_prompt")["prompt"] == session.next_prompt
    settings.CACHES = {k: v for k, v in settings.CACHES.items() if k != "kv"}
    assert dispatch.publish_after_tick(tick) == 0  # no KV configured: nothing to do
