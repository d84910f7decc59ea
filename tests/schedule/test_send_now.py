"""A coach's "send a check-in now": claimed in one request, sent at once, the member's choices kept."""

import datetime

import pytest
import time_machine

from coachbot.d1 import RequestCounter
from sessions_app import dispatch
from sessions_app.models import CheckIn
from tests.schedule.conftest import MONDAY, add_members, reload

pytestmark = pytest.mark.django_db(databases=["default", "d1"])
SATURDAY_NIGHT = datetime.datetime(2026, 3, 7, 23, 0, tzinfo=datetime.UTC)


@time_machine.travel(SATURDAY_NIGHT, tick=False)
def test_it_asks_chosen_members_at_once_even_outside_their_hours(client, fake_discord):
    members = add_members(3)
    with RequestCounter() as counter:
        tick = dispatch.send_now_task([m.pk for m in members], client=client)
    assert tick.count("sent") == 3
    assert len([r for r in fake_discord.calls("POST") if r.path.endswith("/messages")]) == 3
    assert counter.d1_requests == 2  # the claim, the results
    assert all(reload(m).unanswered == 1 for m in members)


@time_machine.travel(MONDAY, tick=False)
def test_it_never_asks_a_member_who_paused_snoozed_or_stopped(client, fake_discord):
    paused, = add_members(1, status="paused")
    snoozed, = add_members(1, snoozed_until=MONDAY + datetime.timedelta(hours=1))
    stopped, = add_members(1, status="stopped")
    tick = dispatch.send_now_task([paused.pk, snoozed.pk, stopped.pk], client=client)
    assert tick.claimed == [] and not CheckIn.objects.exists()


@time_machine.travel(MONDAY, tick=False)
def test_it_does_not_stack_on_a_check_in_still_waiting_to_go_out(client, fake_discord):
    member, = add_members(1)
    dispatch.claim(MONDAY)  # claimed by a tick, not sent yet
    tick = dispatch.send_now_task([member.pk], client=client)
    assert tick.claimed == []
    assert CheckIn.objects.filter(session_id=member.pk).count() == 1


def test_the_admin_queues_it_for_the_task_cluster(monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args: queued.append((func, args)))
    dispatch.send_now(["a", "b"])
    assert queued == [("sessions_app.dispatch.send_now_task", (["a", "b"],))]
