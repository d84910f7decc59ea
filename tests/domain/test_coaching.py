"""The coaching domain: two D1 requests per report, and a coach that remembers."""

import datetime

import pytest
from django.utils import timezone

from coachbot.d1 import RequestCounter
from sessions_app.coach import Report, parse_report
from sessions_app.coaching import build_context, coach_report, load_context, record_report
from sessions_app.models import CheckIn, Message, Session, Summary, Task
from tests.support.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db(databases=["d1"])
MORNING = datetime.datetime(2026, 12, 3, 1, 0, tzinfo=datetime.UTC)  # 10:00 in Tokyo


@pytest.fixture
def aki():
    """A member in Tokyo who opted in."""
    return Session.objects.create(user_id="400000000000000001", display_name="Aki", timezone="Asia/Tokyo")


def report(session, text, n, minutes=20):
    """Member sends report number n, `minutes` apart, through the real path."""
    now = MORNING + datetime.timedelta(minutes=minutes * n)
    recorded, reply = coach_report(user_id=session.user_id, report=parse_report(text),
                                   interaction_id=f"ix-{n}", now=now)
    return recorded, reply


def add_history(session, count):
    start = MORNING - datetime.timedelta(days=30)
    Message.objects.bulk_create([
        Message(session=session, role="member" if i % 2 == 0 else "coach",
                kind="report" if i % 2 == 0 else "reply",
                content=f"done: step {i}\nnext: step {i + 1}", created_at=start + datetime.timedelta(minutes=i))
        for i in range(count)
    ])


@pytest.mark.parametrize("history", [3, 3000])
def test_load_context_is_one_request_however_long_the_history(aki, history):
    add_history(aki, history)
    with RequestCounter() as counter:
        loaded = load_context(user_id=aki.user_id, now=MORNING)
    assert counter.requests == 1
    assert loaded.history_count == history
    assert len(loaded.recent) == min(history, 20)
    assert loaded.recent[-1].content.startswith(f"done: step {history - 1}")


@pytest.mark.parametrize("history", [3, 3000])
def test_recording_a_report_is_one_atomic_request_with_no_early_flush(aki, history):
    add_history(aki, history)
    loaded = load_context(user_id=aki.user_id, now=MORNING)
    reply = __import__("sessions_app.coach", fromlist=["get_coach"]).get_coach().reply(
        build_context(loaded, MORNING), parse_report("done: a\nnext: b"))
    with RequestCounter() as counter:
        record_report(loaded, parse_report("done: a\nnext: b"), reply=reply, interaction_id="ix", now=MORNING)
    assert (counter.d1_requests, counter.early_flushes, counter.kv_requests) == (1, 0, 1)
    assert Message.objects.filter(session=aki).count() == history + 2


def test_a_whole_report_costs_two_d1_requests_and_one_kv_write(aki):
    with RequestCounter() as counter:
        report(aki, "done: set up the repo\nnext: login page", 1)
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)


def test_it_asks_about_the_plan_named_last_time(aki):
    report(aki, "done: set up the repo\nnext: the login page", 1)
    _, reply = report(aki, "done: wrote some tests", 2)
    assert "login page" in (reply.question + reply.advice + reply.summary)


def test_a_repeated_blocker_triggers_advice_to_escalate(aki):
    report(aki, "next: deploy\nblocked: waiting for API keys", 1)
    _, reply = report(aki, "next: deploy\nblocked: waiting for API keys", 2)
    assert "waiting for API keys" in reply.advice
    assert Task.objects.get(session=aki, title__icontains="deploy").status == "blocked"


def test_a_finished_task_is_celebrated_and_leaves_the_open_list(aki):
    report(aki, "next: the login page", 1)
    assert Task.objects.filter(session=aki, status="todo").count() == 1
    _, reply = report(aki, "done: the login page\nnext: the signup page", 2)
    done = Task.objects.get(session=aki, title__icontains="login")
    assert done.status == "done" and done.done_at is not None
    assert "login page" in reply.render()
    loaded = load_context(user_id=aki.user_id, now=MORNING + datetime.timedelta(hours=1))
    assert [t.title for t in loaded.open_tasks] == ["the signup page"]


def test_the_summary_stays_bounded_however_long_the_history(aki):
    add_history(aki, 3000)
    for n in range(1, 30):
        report(aki, f"done: feature {n} with a long description of what happened " * 3 + f"\nnext: feature {n + 1}", n)
    summary = Summary.objects.get(session=aki)
    assert len(summary.summary) <= 1500
    assert summary.version == 29


def test_a_replayed_interaction_records_nothing_new(aki):
    first, _ = report(aki, "done: x\nnext: y", 1)
    rows = Message.objects.count()
    with RequestCounter() as counter:
        again, reply = report(aki, "done: something else", 1)
    assert counter.requests == 1
    assert again.replay and reply is None
    assert again.report.id == first.report.id and again.reply.id == first.reply.id
    assert Message.objects.count() == rows


def test_a_failing_batch_leaves_nothing_behind(aki):
    report(aki, "done: x\nnext: y", 1)
    other = Session.objects.create(user_id="400000000000000002", display_name="Ben")
    Message.objects.create(session=other, role="member", kind="report", content="x", interaction_id="taken")
    loaded = load_context(user_id=aki.user_id, now=MORNING)
    before = (Message.objects.filter(session=aki).count(), Summary.objects.get(session=aki).version,
              Task.objects.filter(session=aki).count())
    reply = __import__("sessions_app.coach", fromlist=["get_coach"]).get_coach().reply(
        build_context(loaded, MORNING), parse_report("next: brand new task"))
    with pytest.raises(Exception, match="UNIQUE"):
        # the interaction id clashes with another member's message: no replay of ours exists
        record_report(loaded, parse_report("next: brand new task"), reply=reply, interaction_id="taken", now=MORNING)
    after = (Message.objects.filter(session=aki).count(), Summary.objects.get(session=aki).version,
             Task.objects.filter(session=aki).count())
    assert after == before


def test_a_report_answers_the_open_checkin_and_resets_the_streak(aki):
    checkin = CheckIn.objects.create(session=aki, state="sent")
    Session.objects.filter(pk=aki.pk).update(unanswered=3)
    report(aki, "done: x", 1)
    checkin.refresh_from_db()
    aki.refresh_from_db()
    assert checkin.state == "answered" and checkin.answered_at is not None
    assert aki.unanswered == 0 and aki.next_prompt
    assert aki.version > 1


def test_a_report_ends_a_pause_for_silence_but_not_a_chosen_pause(aki):
    Session.objects.filter(pk=aki.pk).update(status="paused", status_reason="silence")
    report(aki, "done: back", 1)
    aki.refresh_from_db()
    assert aki.status == "active"
    Session.objects.filter(pk=aki.pk).update(status="paused", status_reason="vacation")
    report(aki, "done: one more", 2)
    aki.refresh_from_db()
    assert aki.status == "paused"


def test_the_context_carries_the_last_report_and_local_time(aki):
    report(aki, "done: a\nnext: b", 1)
    loaded = load_context(user_id=aki.user_id, now=MORNING)
    context = build_context(loaded, MORNING)
    assert context.last_report == Report(done="a", next="b")
    assert context.local_now.hour == 10
    assert context.working_hours_end == datetime.time(18, 0)


@pytest.fixture
def llm(settings):
    """A loopback server playing an OpenAI-compatible endpoint, configured as the coach."""
    with FakeLLM() as server:
        settings.COACH_LLM_URL = server.url
        settings.COACH_LLM_MODEL = "test-model"
        settings.COACH_LLM_TIMEOUT = 0.5
        yield server


def test_the_llm_coach_answers_when_it_answers_well(aki, llm):
    _, reply = report(aki, "done: login page\nnext: deploy", 1)
    assert reply.source == "llm"
    assert len(llm.requests) == 1


@pytest.mark.parametrize("behaviour", ["slow", "garbage"])
def test_the_llm_coach_falls_back_to_the_rules(aki, llm, behaviour):
    llm.behaviour = behaviour
    recorded, reply = report(aki, "done: login page\nnext: deploy", 1)
    assert reply.source == "rules"
    assert recorded.reply.content == reply.render()


def test_loading_an_unknown_member_returns_none():
    assert load_context(user_id="404", now=timezone.now()) is None
