"""Every command's happy path through the endpoint, what each costs in D1 and KV requests,
and the member's KV status (`user:{id}:last_status`) following every change they make."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from coachbot.d1 import RequestCounter
from sessions_app.models import Session, Task

from .conftest import AKI, APP_ID, DM_CHANNEL, load

pytestmark = pytest.mark.django_db(databases=["default", "d1"])
# Friday 4 December 2026, 15:00 in Tokyo.
FRIDAY_AFTERNOON = datetime.datetime(2026, 12, 4, 6, 0, tzinfo=datetime.UTC)


def content(response) -> str:
    return response.json()["data"]["content"]


def private(response) -> str:
    data = response.json()["data"]
    assert data["flags"] == 64
    return data["content"]


def aki_now() -> Session:
    return Session.objects.get(user_id=AKI)


def original(discord, payload):
    return discord.calls("PATCH", f"/webhooks/{APP_ID}/{payload['token']}/messages/@original")


def kv_status(kv) -> dict:
    """Aki's status as KV holds it; it must carry the version D1 has."""
    entry = kv.get(f"user:{AKI}:last_status")
    assert entry["version"] == aki_now().version
    return entry


# --- /coach start and stop ---------------------------------------------------------------


def test_coach_start_in_the_server_creates_the_session_and_proves_a_dm_arrives(post, discord, kv):
    payload = load("command_coach_start_guild")
    with RequestCounter() as counter:
        response = post(payload)
    assert response.json() == {"type": 5, "data": {"flags": 64}}
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)  # in the task: one read, one write
    assert kv_status(kv)["status"] == "active"
    session = aki_now()
    assert (session.status, session.display_name, session.guild_id) == ("active", "Aki", payload["guild_id"])
    assert session.channel_id == DM_CHANNEL
    assert len(discord.calls("POST", f"/channels/{DM_CHANNEL}/messages")) == 1
    (edit,) = original(discord, payload)
    assert "You're in" in edit.json["content"]


def test_coach_start_with_closed_dms_marks_the_member_unreachable(post, discord, kv):
    discord.unreachable_users.add(AKI)
    payload = load("command_coach_start_guild")
    response = post(payload)
    assert response.json()["data"]["flags"] == 64  # the answer is only for them
    assert aki_now().status == Session.Status.UNREACHABLE
    assert kv_status(kv)["status"] == "unreachable"
    (edit,) = original(discord, payload)
    assert "Privacy Settings" in edit.json["content"]


def test_coach_start_in_the_dm_needs_no_extra_dm_and_reactivates(post, discord, aki):
    Session.objects.filter(pk=aki.pk).update(status="stopped", channel_id="")
    payload = load("command_coach_start_dm")
    response = post(payload)
    assert response.json() == {"type": 5, "data": {}}
    assert discord.calls("POST", f"/channels/{DM_CHANNEL}/messages") == []
    session = aki_now()
    assert (session.status, session.channel_id, session.version) == ("active", DM_CHANNEL, 2)
    assert Session.objects.count() == 1


def test_coach_stop(post, aki, kv):
    with RequestCounter() as counter:
        text = private(post("command_coach_stop_dm"))
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)
    assert "stopped" in text
    assert aki_now().status == "stopped"
    assert (kv_status(kv)["status"], kv_status(kv)["next_checkin_at"]) == ("stopped", None)


def test_a_kv_failure_does_not_fail_the_command(post, aki, kv, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("KV is down")

    monkeypatch.setattr(type(kv), "set_many", down)
    text = private(post("command_coach_stop_dm"))
    assert "Check-ins stopped" in text
    assert aki_now().status == "stopped"
    assert kv.get(f"user:{AKI}:last_status") is None


def test_a_replayed_command_changes_nothing_twice(post, aki):
    post("command_coach_stop_dm")
    with RequestCounter() as counter:
        text = private(post("command_coach_stop_dm"))
    assert counter.requests == 0
    assert "already handled" in text
    assert aki_now().version == 2


# --- /status -----------------------------------------------------------------------------


@time_machine.travel(FRIDAY_AFTERNOON, tick=False)
def test_status_shows_the_next_checkin_in_the_members_time_zone(post, aki):
    Session.objects.filter(pk=aki.pk).update(last_prompt_at=FRIDAY_AFTERNOON)
    Task.objects.create(session=aki, title="Write the release notes")
    with RequestCounter() as counter:
        text = private(post("command_status_dm"))
    assert counter.requests == 1
    assert "2026-12-04 15:20 (Asia/Tokyo)" in text
    assert "Write the release notes" in text


def test_status_for_a_stranger_says_how_to_start(post, discord):
    assert "/coach start" in private(post("command_status_dm"))


# --- /task -------------------------------------------------------------------------------


def test_task_add(post, aki):
    with RequestCounter() as counter:
        text = private(post("command_task_add_dm"))
    assert counter.requests == 2
    assert "Write the release notes" in text
    assert Task.objects.get().title == "Write the release notes"
    assert aki_now().version == 2


def test_task_done_by_the_id_autocomplete_sent(post, aki):
    Task.objects.create(id="01JF00000000000000000000T1", session=aki, title="Write the release notes")
    with RequestCounter() as counter:
        text = private(post("command_task_done_dm"))
    assert counter.requests == 2
    assert "Write the release notes" in text
    assert Task.objects.get().status == "done"


def test_task_done_by_a_typed_title(post, aki):
    Task.objects.create(session=aki, title="Write the release notes")
    payload = load("command_task_done_dm")
    payload["data"]["options"][0]["options"][0]["value"] = "release"
    private(post(payload))
    assert Task.objects.get().status == "done"


def test_task_list(post, aki):
    Task.objects.create(session=aki, title="Write the release notes")
    Task.objects.create(session=aki, title="Old thing", status="done", done_at=timezone.now())
    with RequestCounter() as counter:
        text = private(post("command_task_list_guild"))
    assert counter.requests == 1
    assert "Write the release notes" in text
    assert "Old thing" not in text


def test_task_autocomplete_offers_at_most_25_open_tasks(post, aki):
    Task.objects.bulk_create([Task(session=aki, title=f"Release step {i}") for i in range(30)]
                             + [Task(session=aki, title="Release party", status="done")])
    with RequestCounter() as counter:
        answer = post("autocomplete_task_done").json()
    assert counter.requests == 1
    assert answer["type"] == 8
    found = answer["data"]["choices"]
    assert len(found) == 25
    assert all(c["name"].startswith("Release step") for c in found)
    assert Task.objects.get(pk=found[0]["value"]).title == found[0]["name"]


# --- /pause, /resume, /snooze ------------------------------------------------------------


def test_pause_for_two_hours(post, aki, kv):
    with RequestCounter() as counter:
        text = private(post("command_pause_dm"))
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)
    session = aki_now()
    assert session.paused_until - timezone.now() == pytest.approx(datetime.timedelta(hours=2),
                                                                 abs=datetime.timedelta(seconds=30))
    assert "(Asia/Tokyo)" in text
    status = kv_status(kv)
    assert status["status"] == "paused"
    assert datetime.datetime.fromisoformat(status["next_checkin_at"]) >= session.paused_until


@time_machine.travel(FRIDAY_AFTERNOON, tick=False)
def test_pause_until_tomorrow_ends_at_tomorrows_start_of_work(post, aki):
    payload = load("command_pause_dm")
    payload["data"]["options"][0]["value"] = "until tomorrow"
    private(post(payload))
    session = aki_now()
    assert session.paused_until == datetime.datetime(2026, 12, 5, 0, 0, tzinfo=datetime.UTC)
    assert session.status == "paused"  # a timed pause, as sessions_app.schedule reads it


def test_pause_without_a_duration_lasts_until_resume(post, aki, kv):
    payload = load("command_pause_dm")
    del payload["data"]["options"]
    private(post(payload))
    assert aki_now().status == "paused"
    assert (kv_status(kv)["status"], kv_status(kv)["next_checkin_at"]) == ("paused", None)
    with RequestCounter() as counter:
        text = private(post("command_resume_dm"))
    assert counter.d1_requests == 2
    assert counter.kv_requests <= 1  # within a second of the pause's write: KV's rule holds it back
    assert "resumed" in text
    session = aki_now()
    assert (session.status, session.paused_until, session.version) == ("active", None, 3)
    assert kv_status(kv)["status"] == "active"


def test_pause_with_a_duration_it_cannot_read(post, aki):
    payload = load("command_pause_dm")
    payload["data"]["options"][0]["value"] = "a while"
    assert "2h" in private(post(payload))
    assert aki_now().version == 1


def test_snooze(post, aki, kv):
    with RequestCounter() as counter:
        private(post("command_snooze_dm"))
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)
    snoozed_until = aki_now().snoozed_until
    left = snoozed_until - timezone.now()
    assert datetime.timedelta(minutes=29) < left <= datetime.timedelta(minutes=30)
    status = kv_status(kv)
    assert status["status"] == "active"
    assert datetime.datetime.fromisoformat(status["next_checkin_at"]) >= snoozed_until


# --- /settings ---------------------------------------------------------------------------


def test_settings_saves_every_option_in_one_write(post, aki, kv):
    with RequestCounter() as counter:
        text = private(post("command_settings_guild"))
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)
    assert kv_status(kv)["status"] == "active"
    session = aki_now()
    assert (session.timezone, session.work_days, session.interval_minutes) == ("Asia/Tokyo", "1234", 45)
    assert (session.work_start, session.work_end) == (datetime.time(10), datetime.time(19, 30))
    assert "10:00–19:30" in text


@pytest.mark.parametrize("name, value", [("timezone", "Mars/Olympus"), ("work_start", "25:00"),
                                         ("work_days", "someday"), ("interval", 5),
                                         ("work_end", "10:00")])
def test_settings_refuses_what_it_cannot_use_and_saves_nothing(post, aki, name, value):
    payload = load("command_settings_guild")
    for option in payload["data"]["options"]:
        if option["name"] == name:
            option["value"] = value
    private(post(payload))
    assert aki_now().version == 1


def test_timezone_autocomplete_needs_no_database(post):
    with RequestCounter() as counter:
        answer = post("autocomplete_timezone").json()
    assert counter.requests == 0
    names = [c["name"] for c in answer["data"]["choices"]]
    assert "Asia/Tokyo" in names
    assert len(names) <= 25


# --- The Snooze and Done-for-today buttons -----------------------------------------------


def test_the_snooze_button_snoozes_an_hour_and_greys_the_checkin(post, checkin, kv):
    with RequestCounter() as counter:
        answer = post("component_snooze").json()
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)
    status = kv_status(kv)
    assert datetime.datetime.fromisoformat(status["next_checkin_at"]) >= aki_now().snoozed_until
    assert answer["type"] == 7
    assert all(b["disabled"] for b in answer["data"]["components"][0]["components"])
    assert answer["data"]["content"].startswith("**How is the login page going?**")
    left = aki_now().snoozed_until - timezone.now()
    assert datetime.timedelta(minutes=59) < left <= datetime.timedelta(hours=1)


@time_machine.travel(FRIDAY_AFTERNOON, tick=False)
def test_done_for_today_pauses_until_the_next_working_day(post, checkin, kv):
    with RequestCounter() as counter:
        answer = post("component_dayoff").json()
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)
    assert answer["type"] == 7
    # Monday 7 December, 09:00 in Tokyo.
    session = aki_now()
    assert (session.status, session.paused_until) == (
        "paused", datetime.datetime(2026, 12, 7, 0, 0, tzinfo=datetime.UTC))
    assert "2026-12-07 09:00 (Asia/Tokyo)" in answer["data"]["content"]
    status = kv_status(kv)
    assert (status["status"], status["next_checkin_at"]) == ("paused", "2026-12-07T00:00:00+00:00")
