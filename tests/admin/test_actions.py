"""The members list's actions: a fixed number of requests for any selection."""

import csv
import io

import pytest
from django.contrib.admin import helpers
from django.core.cache import caches

from coachbot.d1 import RequestCounter
from sessions_app import publish
from sessions_app.models import CheckIn, Session
from tests.admin.conftest import D1_DATABASES, make_members, members_url

pytestmark = pytest.mark.django_db(databases=D1_DATABASES)


def run(client, name, members, **extra):
    data = {"action": name, "index": 0, helpers.ACTION_CHECKBOX_NAME: [m.pk for m in members], **extra}
    with RequestCounter() as counter:
        response = client.post(members_url(), data)
        if hasattr(response, "streaming_content"):
            response.body = b"".join(response.streaming_content)
    return response, counter


def statuses(members) -> list[str]:
    by_id = dict(Session.objects.values_list("pk", "status"))
    return [by_id[m.pk] for m in members]


def test_pausing_a_whole_page_of_members_is_three_requests(as_user, ana):
    members = make_members(ana, 100)[:50]

    response, counter = run(as_user(ana), "pause", members)

    assert response.status_code == 302
    # the list, the selection, one atomic write; then their KV status in one bulk write
    assert (counter.d1_requests, counter.kv_requests) == (3, 1), (counter.d1_requests, counter.kv_requests)
    assert statuses(members) == ["paused"] * 50


def kv_status(member) -> dict:
    return caches[publish.KV_CACHE].get(publish.status_key(member.user_id))


def test_the_kv_status_follows_a_pause_and_a_resume(as_user, ana):
    members = make_members(ana, 3)
    client = as_user(ana)

    run(client, "pause", members)
    paused = [kv_status(m) for m in members]
    _, counter = run(client, "resume", members)

    assert [(s["status"], s["next_checkin_at"], s["version"]) for s in paused] == [("paused", None, 2)] * 3
    # a second write to the same keys within KV's second waits in the write-behind buffer
    assert counter.d1_requests == 3 and counter.kv_requests <= 1
    resumed = [kv_status(m) for m in members]
    versions = dict(Session.objects.values_list("user_id", "version"))
    assert [(s["status"], s["unanswered"], s["version"]) for s in resumed] == [
        ("active", 0, versions[m.user_id]) for m in members]
    assert all(s["next_checkin_at"] for s in resumed)


def test_stop_and_mark_reachable_reach_kv_too(as_user, ana):
    active = make_members(ana, 1, "a")
    unreachable = make_members(ana, 1, "u", status="unreachable", status_reason="DMs closed")
    client = as_user(ana)

    run(client, "stop", active)
    run(client, "mark_reachable", unreachable)

    assert [kv_status(m)["status"] for m in active + unreachable] == ["stopped", "active"]


def test_an_action_that_changes_nobody_writes_nothing_to_kv(as_user, ana):
    stopped = make_members(ana, 2, status="stopped")

    _, counter = run(as_user(ana), "pause", stopped)

    assert (counter.d1_requests, counter.kv_requests) == (2, 0)
    assert kv_status(stopped[0]) is None


def test_a_kv_failure_never_fails_the_action(as_user, ana, monkeypatch):
    members = make_members(ana, 2)

    def broken(*args, **kwargs):
        raise ConnectionError("KV is down")

    monkeypatch.setattr(caches[publish.KV_CACHE], "set_many", broken)
    response, counter = run(as_user(ana), "pause", members)

    assert response.status_code == 302 and counter.d1_requests == 3
    assert statuses(members) == ["paused", "paused"]


def test_resume_ends_only_pauses(as_user, ana):
    paused, stopped = make_members(ana, 1, "p", status="paused"), make_members(ana, 1, "s", status="stopped")

    run(as_user(ana), "resume", paused + stopped)

    assert statuses(paused + stopped) == ["active", "stopped"]


def test_stop_and_mark_reachable(as_user, ana):
    active = make_members(ana, 1, "a")
    unreachable = make_members(ana, 1, "u", status="unreachable", status_reason="DMs closed")
    client = as_user(ana)

    run(client, "stop", active)
    run(client, "mark_reachable", unreachable)

    assert statuses(active + unreachable) == ["stopped", "active"]
    assert Session.objects.get(pk=unreachable[0].pk).status_reason == ""


def test_send_now_hands_active_members_to_the_task_cluster(as_user, ana, monkeypatch):
    active, paused = make_members(ana, 2, "a"), make_members(ana, 1, "p", status="paused")
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args: queued.append((func, args)))

    response, counter = run(as_user(ana), "send_checkin_now", active + paused)

    assert counter.requests == 2  # the list, the selection: the claim happens in the task
    (func, (ids,)), = queued
    assert func == "sessions_app.dispatch.send_now_task"
    assert sorted(ids) == sorted(m.pk for m in active)
    assert not CheckIn.objects.filter(state="due").exists()


def test_exporting_250_members_takes_one_request_per_100(as_user, ana):
    members = make_members(ana, 250)
    client = as_user(ana)

    response, counter = run(client, "export_csv", members[:1], select_across="1")

    assert response.status_code == 200
    assert counter.requests == 2 + 3  # the list, the selection, three chunks of conversations
    assert len(list(csv.reader(io.StringIO(response.body.decode())))) == 1 + 60
    assert len(members) == 250


def test_a_formula_in_a_members_words_is_exported_as_text(as_user, ana):
    from sessions_app.models import Message

    member = make_members(ana, 1)[0]
    Message.objects.filter(session=member, kind="report").update(content="=HYPERLINK(\"x\")")

    response, _ = run(as_user(ana), "export_csv", [member])

    assert b"'=HYPERLINK" in response.body
