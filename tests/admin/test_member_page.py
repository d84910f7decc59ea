"""The member page: timeline, summary editor, tasks, notes, preview, KV state."""

import pytest
from django.core.cache import caches

from coachbot.d1 import RequestCounter
from sessions_app import publish
from sessions_app.models import Message, Session, Summary, Task
from tests.admin.conftest import D1_DATABASES, make_members, member_url

pytestmark = pytest.mark.django_db(databases=D1_DATABASES)


@pytest.fixture
def kv():
    """The project's KV cache (the local KV file in tests)."""
    return caches[publish.KV_CACHE]


@pytest.fixture
def no_kv(settings):
    """A deployment without the KV cache configured."""
    settings.CACHES = {k: v for k, v in settings.CACHES.items() if k != publish.KV_CACHE}


@pytest.fixture
def member(ana):
    """Ana's member with 60 messages, three tasks and a summary at version 3."""
    return make_members(ana, 2)[0]


def form_data(response, **changes) -> dict:
    """The change form's current values (and its inline's), with ``changes`` applied."""
    data = {}
    for form in [response.context["adminform"].form,
                 *(f for fs in response.context["inline_admin_formsets"] for f in [fs.formset.management_form, *fs.formset.forms])]:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            key = form.add_prefix(name)
            data[key] = value.pk if hasattr(value, "pk") else value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_timeline_shows_the_newest_page_oldest_first(as_user, ana, member):
    response = as_user(ana).get(member_url(member))

    page = response.context["page"]
    assert [m.created_at for m in page.log] == sorted(m.created_at for m in page.log)
    assert len(page.log) == 50 and page.log_pages == 2
    assert b"step 59" in response.content


def test_older_messages_are_one_page_back(as_user, ana, member):
    response = as_user(ana).get(member_url(member) + "?log=2")

    assert len(response.context["page"].log) == 10
    assert b"step 5 is done" in response.content and b"step 59" not in response.content


def test_saving_the_summary_is_one_atomic_request_and_bumps_the_version(as_user, ana, member, kv):
    client = as_user(ana)
    page = client.get(member_url(member))
    data = form_data(page, summary_text="Ana's rewrite: login page first, then deploy.")

    with RequestCounter() as counter:
        response = client.post(member_url(member), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    # the page's read, one atomic batch, then the KV write
    assert (counter.d1_requests, counter.kv_requests, counter.early_flushes) == (2, 1, 0)
    summary = Summary.objects.get(session=member)
    assert (summary.summary, summary.version, summary.edited_by, summary.editor_user_id) == (
        "Ana's rewrite: login page first, then deploy.", 4, "coach", ana.pk)
    assert publish.kv_state(member.pk, 4).state == publish.IN_SYNC


def test_a_summary_the_bot_changed_meanwhile_is_not_overwritten(as_user, ana, member):
    client = as_user(ana)
    data = form_data(client.get(member_url(member)), summary_text="mine")
    Summary.objects.filter(session=member).update(summary="the bot's", version=4)

    response = client.post(member_url(member), data)

    assert response.status_code == 200
    assert "summary_text" in response.context["adminform"].form.errors
    assert Summary.objects.get(session=member).summary == "the bot's"


def test_a_first_summary_is_created_at_version_one(as_user, ana):
    second = make_members(ana, 2)[1]
    client = as_user(ana)
    data = form_data(client.get(member_url(second)), summary_text="New here.")

    client.post(member_url(second), data)

    assert Summary.objects.get(session=second).version == 1


def test_tasks_are_edited_added_and_deleted_in_the_same_batch(as_user, ana, member):
    client = as_user(ana)
    page = client.get(member_url(member))
    tasks = page.context["inline_admin_formsets"][0].formset.forms
    deploy = next(i for i, f in enumerate(tasks) if f.instance.title == "deploy")
    login = next(i for i, f in enumerate(tasks) if f.instance.title == "login page")
    extra = len(tasks) - 1
    data = form_data(page, **{
        f"tasks-{deploy}-status": "doing", f"tasks-{deploy}-blocker": "",
        f"tasks-{login}-DELETE": "on",
        f"tasks-{extra}-title": "write the release note", f"tasks-{extra}-status": "todo",
    })

    with RequestCounter() as counter:
        response = client.post(member_url(member), data)

    assert response.status_code == 302
    assert counter.requests == 2 and counter.early_flushes == 0
    titles = dict(Task.objects.filter(session=member).values_list("title", "status"))
    assert titles == {"deploy": "doing", "write tests": "done", "write the release note": "todo"}


def test_changing_a_field_writes_only_that_field_and_the_version(as_user, ana, member):
    client = as_user(ana)
    data = form_data(client.get(member_url(member)), status_reason="on holiday", status="paused")
    Session.objects.filter(pk=member.pk).update(unanswered=6)  # the scheduler, meanwhile

    client.post(member_url(member), data)

    member.refresh_from_db()
    assert (member.status, member.status_reason, member.unanswered, member.version) == ("paused", "on holiday", 6, 2)


def test_a_coach_cannot_reassign_members_but_a_superuser_can(as_user, ana, ben, root, member):
    client = as_user(ana)
    client.post(member_url(member), form_data(client.get(member_url(member)), coach_user_id=ben.pk))
    member.refresh_from_db()
    assert member.coach_user_id == ana.pk

    client = as_user(root)
    client.post(member_url(member), form_data(client.get(member_url(member)), coach_user_id=ben.pk))
    member.refresh_from_db()
    assert member.coach_user_id == ben.pk


def test_a_private_note_joins_the_conversation(as_user, ana, member):
    with RequestCounter() as counter:
        response = as_user(ana).post(member_url(member, "note"), {"note": "Ask about the keys on Monday."})

    assert response.status_code == 302 and counter.requests == 2
    note = Message.objects.get(session=member, kind="note")
    assert (note.role, note.author_user_id, note.content) == ("coach", ana.pk, "Ask about the keys on Monday.")


def test_the_preview_answers_without_writing_anything(as_user, ana, member):
    before = Message.objects.count(), Summary.objects.get(session=member).version

    with RequestCounter() as counter:
        response = as_user(ana).post(member_url(member, "preview"), {"report": "done: login page\nnext: deploy"},
                                     headers={"X-Requested-With": "fetch"})

    assert response.status_code == 200 and counter.requests == 1
    assert b'data-testid="preview-reply"' in response.content
    assert (Message.objects.count(), Summary.objects.get(session=member).version) == before


def test_the_kv_state_reads_missing_then_in_sync_after_republish(as_user, ana, member, kv):
    client = as_user(ana)
    assert client.get(member_url(member)).context["kv"].state == publish.MISSING

    client.post(member_url(member, "republish"))

    state = client.get(member_url(member)).context["kv"]
    assert (state.state, state.version) == (publish.IN_SYNC, 3)


def test_a_bot_edit_after_publishing_reads_stale(as_user, ana, member, kv):
    client = as_user(ana)
    client.post(member_url(member, "republish"))
    Summary.objects.filter(session=member).update(version=4)

    assert client.get(member_url(member)).context["kv"].state == publish.STALE


def test_without_kv_the_page_says_so_and_republish_writes_nothing(as_user, ana, member, no_kv):
    client = as_user(ana)

    assert client.get(member_url(member)).context["kv"].state == publish.OFF
    assert client.post(member_url(member, "republish"), follow=True).status_code == 200


def test_saving_a_status_change_publishes_the_members_kv_status_after_the_batch(as_user, ana, member, kv):
    client = as_user(ana)
    data = form_data(client.get(member_url(member)), status="paused", status_reason="on holiday")

    with RequestCounter() as counter:
        response = client.post(member_url(member), data)

    assert response.status_code == 302
    assert (counter.d1_requests, counter.kv_requests) == (2, 1)  # the page's read, one atomic batch; one KV write
    member.refresh_from_db()
    status = kv.get(publish.status_key(member.user_id))
    assert (status["status"], status["next_checkin_at"], status["version"]) == ("paused", None, member.version)
    assert kv.get(publish.summary_key(member.pk)) is None  # the summary did not change: not republished


def test_saving_the_summary_and_the_status_publishes_both_with_the_new_versions(as_user, ana, member, kv):
    client = as_user(ana)
    data = form_data(client.get(member_url(member)), status="stopped", summary_text="Stopped for now.")

    with RequestCounter() as counter:
        client.post(member_url(member), data)

    assert (counter.d1_requests, counter.kv_requests) == (2, 1)
    member.refresh_from_db()
    assert kv.get(publish.status_key(member.user_id))["version"] == member.version == 2
    assert kv.get(publish.summary_key(member.pk))["version"] == 4


def test_a_kv_failure_never_fails_saving_the_member_page(as_user, ana, member, kv, monkeypatch):
    client = as_user(ana)
    data = form_data(client.get(member_url(member)), status="paused")

    def broken(*args, **kwargs):
        raise ConnectionError("KV is down")

    monkeypatch.setattr(kv, "set_many", broken)
    response = client.post(member_url(member), data)

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == "paused"


def test_republishing_is_one_d1_read_and_one_kv_write(as_user, ana, member, kv):
    client = as_user(ana)

    with RequestCounter() as counter:
        client.post(member_url(member, "republish"))

    assert (counter.d1_requests, counter.kv_requests) == (1, 1)
    assert kv.get(publish.status_key(member.user_id))["version"] == member.version


def test_a_report_landing_between_the_pages_read_and_its_save_fails_the_whole_save(as_user, ana, member, kv,
                                                                                 monkeypatch):
    import threading

    from django.db import connections

    from sessions_app.admin.members import SessionAdmin

    client = as_user(ana)
    data = form_data(client.get(member_url(member)), summary_text="mine", status="paused")
    save_model = SessionAdmin.save_model

    def bot_writes_first(self, request, obj, form, change):
        def bot():  # another process: its own connection, committed at once
            Summary.objects.filter(session=member).update(summary="the bot's", version=4)
            connections.close_all()
        thread = threading.Thread(target=bot)
        thread.start()
        thread.join()
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(SessionAdmin, "save_model", bot_writes_first)
    response = client.post(member_url(member), data)

    assert response.status_code == 302
    summary = Summary.objects.get(session=member)
    assert (summary.summary, summary.version) == ("the bot's", 4)
    assert Session.objects.get(pk=member.pk).status == "active"  # nothing of the save applied
    assert publish.kv_state(member.pk, 4).state != publish.IN_SYNC  # and nothing published
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("changed while you were saving" in m for m in messages)
