"""Write-through from D1 to KV: coalesced, in bulk, and never served stale."""

import datetime

import pytest
from django.core.cache import caches
from django.core.management import call_command

from coachbot.d1 import RequestCounter
from coachbot.kv import KVCache
from sessions_app import publish
from sessions_app.coach import parse_report
from sessions_app.coaching import coach_report
from sessions_app.models import Session, Summary
from tests.kv.conftest import FakeClock as Clock

pytestmark = pytest.mark.django_db(databases=["default", "d1"])
NOW = datetime.datetime(2026, 12, 3, 1, 0, tzinfo=datetime.UTC)


@pytest.fixture
def member():
    """A member with a summary at version 1."""
    session = Session.objects.create(user_id="500000000000000001", display_name="Mio", next_prompt="How's the API?")
    Summary.objects.create(session=session, summary="Focus: the API", version=1)
    return session


def test_a_report_publishes_the_seeds_three_keys_with_d1_versions(member):
    coach_report(user_id=member.user_id, report=parse_report("done: API\nnext: docs"), interaction_id="i1", now=NOW)
    kv = caches["kv"]
    summary = Summary.objects.get(session=member)
    member.refresh_from_db()
    assert kv.get(f"session:{member.pk}:last_summary")["version"] == summary.version == 2
    assert kv.get(f"session:{member.pk}:last_summary")["summary"] == summary.summary
    assert kv.get(f"session:{member.pk}:next_prompt")["prompt"] == member.next_prompt
    status = kv.get(f"user:{member.user_id}:last_status")
    assert (status["status"], status["unanswered"], status["version"]) == ("active", 0, member.version)


def test_a_burst_of_ten_edits_in_one_second_is_at_most_two_kv_writes_and_the_last_wins(member, settings, tmp_path):
    clock = Clock()
    settings.CACHES = {**settings.CACHES, "kv": {
        "BACKEND": "coachbot.kv.KVCache", "LOCATION": str(tmp_path / "kv.sqlite3"),
        "KEY_FUNCTION": "coachbot.kv.plain_key",
        "OPTIONS": {"clock": clock, "sleep": clock.sleep, "flush_timer": False, "simulate_write_limit": True},
    }}
    with RequestCounter() as counter:
        for n in range(10):
            clock.now += 0.09
            publish.publish_member(member.pk, session=member, summary=Summary(session=member, summary=f"edit {n}", version=n + 2))
        caches["kv"].flush()
    assert counter.kv_requests <= 2
    reader = KVCache(str(tmp_path / "kv.sqlite3"), {"OPTIONS": {"clock": clock, "local_ttl": 0, "site": "reader",
                                                               "flush_timer": False}, "KEY_FUNCTION": "coachbot.kv.plain_key"})
    assert reader.get(f"session:{member.pk}:last_summary")["summary"] == "edit 9"


def test_two_hundred_members_are_published_in_one_request():
    sessions = Session.objects.bulk_create([
        Session(user_id=str(600000000000000000 + n), display_name=f"m{n}") for n in range(200)
    ])
    with RequestCounter() as counter:
        published = publish.publish_all((s, None) for s in sessions)
    assert published == 600
    assert counter.kv_requests == 1


def test_with_a_30s_propagation_delay_a_read_after_an_edit_shows_d1_not_stale_kv(member, settings, tmp_path):
    clock = Clock()
    options = {"clock": clock, "sleep": clock.sleep, "flush_timer": False, "simulate_propagation": 30, "local_ttl": 0}
    location = str(tmp_path / "kv.sqlite3")
    settings.CACHES = {**settings.CACHES, "kv": {
        "BACKEND": "coachbot.kv.KVCache", "LOCATION": location, "KEY_FUNCTION": "coachbot.kv.plain_key",
        "OPTIONS": {**options, "site": "web"}}}
    elsewhere = KVCache(location, {"KEY_FUNCTION": "coachbot.kv.plain_key", "OPTIONS": {**options, "site": "worker"}})
    publish.publish_member(member.pk, session=member)  # version 1 everywhere
    clock.now += 60
    edited = Summary(session=member, summary="Focus: the docs (a coach's edit)", version=2)
    Summary.objects.filter(session=member).update(summary=edited.summary, version=2)
    publish.publish_member(member.pk, session=member, summary=edited)
    clock.now += 5  # well inside the 30 s the copy takes to reach other locations

    assert elsewhere.get(f"session:{member.pk}:last_summary")["version"] == 1  # KV elsewhere is stale
    d1_summary = Summary.objects.get(session=member)
    assert publish.fresh_summary(member.pk, d1_summary, kv=elsewhere) == (edited.summary, "d1")
    clock.now += 30
    assert publish.fresh_summary(member.pk, d1_summary, kv=elsewhere) == (edited.summary, "kv")


def test_kv_publish_republishes_everyone_in_bulk(capsys):
    first = Session.objects.create(user_id="700000000000000999", display_name="Rin", status="stopped")
    Summary.objects.create(session=first, summary="Focus: the API", version=3)
    Session.objects.bulk_create([Session(user_id=str(700000000000000000 + n), display_name=f"m{n}") for n in range(30)])
    call_command("kv_publish", "--all")
    out = capsys.readouterr()
    assert "published 93 entries for 31 members" in out.out
    assert "(1 to KV)" in out.out
    assert "31 members published" in out.err
    assert caches["kv"].get(f"session:{first.pk}:last_summary") | {"published_at": None, "expires_at": None} == {
        "summary": "Focus: the API", "version": 3, "published_at": None, "expires_at": None}
    call_command("kv_publish")
    assert "for 30 members" in capsys.readouterr().out  # without --all, the stopped member is left out


def test_without_kv_publishing_does_nothing(member, settings):
    settings.CACHES = {k: v for k, v in settings.CACHES.items() if k != "kv"}
    assert publish.publish_member(member.pk, session=member).state == publish.OFF
    assert publish.publish({"a": {}}) == 0
