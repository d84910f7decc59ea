"""Reports through the endpoint: the modal, the coach's reply, replays, the LLM's deferred reply."""

import pytest
from django.core.cache import cache

from coachbot.d1 import RequestCounter
from discord_app import tasks
from sessions_app.models import CheckIn, Message, Session
from tests.support.fake_discord import Reply
from tests.support.fake_llm import GOOD_ANSWER, FakeLLM

from .conftest import APP_ID, CHECKIN_ID, CHECKIN_MESSAGE, DM_CHANNEL, load

pytestmark = pytest.mark.django_db(databases=["default", "d1"])
ORIGINAL = "/webhooks/{app}/{token}/messages/@original"


def original_path(payload):
    return ORIGINAL.format(app=APP_ID, token=payload["token"])


def edits_of_checkin(discord):
    return discord.calls("PATCH", f"/channels/{DM_CHANNEL}/messages/{CHECKIN_MESSAGE}")


@pytest.fixture
def llm(settings):
    """The LLM coach, served by a fake model on loopback."""
    with FakeLLM() as fake:
        settings.COACH_LLM_URL = fake.url
        settings.COACH_LLM_MODEL = "fake"
        yield fake


@pytest.fixture
def queued(monkeypatch):
    """Tasks the view enqueues, kept instead of run: [(func, args)]."""
    calls = []
    monkeypatch.setattr("discord_app.handlers.reports.enqueue", lambda f, *a: calls.append((f, a)))
    return calls


def test_the_report_button_opens_the_modal_without_touching_d1(post, checkin):
    with RequestCounter() as counter:
        response = post("component_report")
    assert counter.requests == 0
    modal = response.json()
    assert modal["type"] == 9
    assert modal["data"]["custom_id"] == f"report:{CHECKIN_ID}"
    labels = modal["data"]["components"]
    assert [c["type"] for c in labels] == [18, 18, 18]
    assert [c["component"]["custom_id"] for c in labels] == ["done", "next", "blockers"]


def test_checkin_command_opens_the_modal_without_touching_d1(post, aki):
    with RequestCounter() as counter:
        response = post("command_checkin_guild")
    assert counter.requests == 0
    assert response.json()["data"]["custom_id"] == "report:now"


def test_a_report_is_coached_in_two_d1_requests_and_answered_at_once(post, checkin):
    with RequestCounter() as counter:
        response = post("modal_report_from_checkin")
    assert counter.d1_requests <= 2
    answer = response.json()
    assert answer["type"] == 4
    assert "flags" not in answer["data"]  # in the DM: a normal message
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    report, reply = Message.objects.order_by("created_at")
    assert "done: Finished the login form" in report.content
    assert reply.content == answer["data"]["content"]
    checkin.refresh_from_db()
    assert checkin.state == CheckIn.State.ANSWERED


def test_the_answered_checkin_loses_its_buttons(post, checkin, discord):
    post("modal_report_from_checkin")
    (edit,) = edits_of_checkin(discord)
    assert all(b["disabled"] for b in edit.json["components"][0]["components"])


def test_a_replayed_report_is_recorded_once(post, checkin):
    first = post("modal_report_from_checkin").json()
    again = post("modal_report_from_checkin").json()
    assert again["data"]["flags"] == 64
    assert Message.objects.count() == 2
    cache.clear()  # another web process, or a cache that forgot: D1 still knows the id
    with RequestCounter() as counter:
        third = post("modal_report_from_checkin").json()
    assert counter.requests == 1
    assert Message.objects.count() == 2
    assert third["data"]["content"] == first["data"]["content"]


def test_the_modal_is_prefilled_with_the_last_next(post, checkin):
    post("modal_report_from_checkin")
    payload = load("component_report")
    payload["id"] = "1300000000000000999"
    with RequestCounter() as counter:
        modal = post(payload).json()
    assert counter.requests == 0
    assert modal["data"]["components"][1]["component"]["value"] == "Deploy to staging"


def test_a_report_from_checkin_in_the_server_is_private_and_closes_the_latest_checkin(
        post, checkin, discord):
    answer = post("modal_report_checkin_command_guild").json()
    assert answer["type"] == 4
    assert answer["data"]["flags"] == 64
    assert len(edits_of_checkin(discord)) == 1
    checkin.refresh_from_db()
    assert checkin.state == CheckIn.State.ANSWERED


def test_answering_a_superseded_checkin_disables_that_one(post, checkin, discord):
    CheckIn.objects.filter(pk=checkin.pk).update(state=CheckIn.State.MISSED)
    CheckIn.objects.create(session=checkin.session, state=CheckIn.State.SENT,
                           channel_id=DM_CHANNEL, message_id="900000000000000031")
    post("modal_report_from_checkin")
    assert len(edits_of_checkin(discord)) == 1  # the clicked (older) message
    assert discord.calls("PATCH", f"/channels/{DM_CHANNEL}/messages/900000000000000031") == []


def test_member_text_never_pings(post, checkin):
    payload = load("modal_report_from_checkin")
    payload["data"]["components"][0]["component"]["value"] = "@everyone look, <@&123> it works"
    answer = post(payload).json()
    assert answer["data"]["allowed_mentions"] == {"parse": []}


def test_an_empty_report_records_nothing(post, checkin):
    payload = load("modal_report_from_checkin")
    for label in payload["data"]["components"]:
        label["component"]["value"] = "  "
    assert post(payload).json()["data"]["flags"] == 64
    assert Message.objects.count() == 0


def test_a_report_from_a_stranger_comes_back_to_them(post, discord):
    answer = post("modal_report_checkin_command_guild").json()
    assert "/coach start" in answer["data"]["content"]
    assert "Fix the flaky test" in answer["data"]["content"]


def test_on_track_is_a_short_report_through_the_same_path(post, checkin, discord):
    with RequestCounter() as counter:
        answer = post("component_ontrack").json()
    assert counter.d1_requests == 2
    assert answer["type"] == 4
    report = Message.objects.get(kind="report")
    assert report.content == "On track"
    assert len(edits_of_checkin(discord)) == 1


# --- The LLM coach: record first, defer, deliver by webhook (or DM) ---------------------


def test_with_the_llm_the_report_is_recorded_before_the_deferral(post, checkin, llm, queued):
    with RequestCounter() as counter:
        response = post("modal_report_from_checkin")
    assert response.json() == {"type": 5, "data": {}}
    assert counter.d1_requests == 2
    assert [m.kind for m in Message.objects.all()] == ["report"]
    assert llm.requests == []  # the model is asked later, by the task
    (func, args), = queued
    assert func is tasks.deliver_reply


def test_the_deferred_reply_is_delivered_by_patching_the_original(post, checkin, llm, queued,
                                                                  discord):
    payload = load("modal_report_from_checkin")
    payload["data"]["components"][0]["component"]["value"] = "@everyone shipped it"
    post(payload)
    (func, args), = queued
    with RequestCounter() as counter:
        func(*args)
    assert counter.d1_requests == 2
    (patch,) = discord.calls("PATCH", original_path(payload))
    assert GOOD_ANSWER["advice"] in patch.json["content"]
    assert patch.json["allowed_mentions"] == {"parse": []}
    assert [m.kind for m in Message.objects.all()] == ["report", "reply"]
    assert Session.objects.get().next_prompt == GOOD_ANSWER["question"]
    assert len(edits_of_checkin(discord)) == 1


def test_with_an_expired_token_the_reply_goes_out_as_a_dm(post, checkin, llm, queued, discord):
    payload = load("modal_report_from_checkin")
    discord.script("PATCH", original_path(payload),
                   Reply(404, {"message": "Unknown interaction", "code": 10062}))
    post(payload)
    (func, args), = queued
    func(*args)
    (dm,) = discord.calls("POST", f"/channels/{DM_CHANNEL}/messages")
    assert GOOD_ANSWER["advice"] in dm.json["content"]
    assert dm.json["allowed_mentions"] == {"parse": []}


def test_a_task_run_twice_delivers_the_same_reply_once_recorded(post, checkin, llm, queued,
                                                                discord):
    post("modal_report_from_checkin")
    (func, args), = queued
    func(*args)
    func(*args)
    assert Message.objects.filter(kind="reply").count() == 1
    assert len(llm.requests) == 1


def test_the_queue_runs_the_deferred_reply_inline_in_sync_mode(post, checkin, llm, discord):
    payload = load("modal_report_from_checkin")
    assert post(payload).json()["type"] == 5
    assert len(discord.calls("PATCH", original_path(payload))) == 1


def test_when_d1_fails_the_member_gets_their_report_back(post, checkin, monkeypatch):
    def down(**kwargs):
        raise ConnectionError("D1 is down")

    monkeypatch.setattr("discord_app.handlers.reports.load_context", down)
    answer = post("modal_report_from_checkin").json()
    assert answer["data"]["flags"] == 64
    assert "try again" in answer["data"]["content"]
    assert "Finished the login form" in answer["data"]["content"]
    assert "Deploy to staging" in answer["data"]["content"]
