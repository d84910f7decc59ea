"""The members list's actions: a fixed number of requests for any selection."""

import csv
import io

import pytest
from django.contrib.admin import helpers

from coachbot.d1 import RequestCounter
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
    assert (counter.d1_requests, counter.kv_requests) == (3, 0), (counter.d1_requests, counter.kv_requests)  # the list, the selection, one atomic write
    assert statuses(members) == ["paused"] * 50


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
