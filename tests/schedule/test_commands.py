"""setup_schedule and dispatch_checkins."""

import io

import pytest
import time_machine
from django.core.management import call_command

from sessions_app.models import CheckIn
from tests.schedule.conftest import MONDAY, add_members

pytestmark = pytest.mark.django_db(databases=["default", "d1"])


def test_setup_schedule_creates_one_schedule_and_updates_it_in_place(settings):
    from django_q.models import Schedule

    call_command("setup_schedule", stdout=io.StringIO())
    settings.CHECKIN_CRON = "*/15 * * * *"
    out = io.StringIO()
    call_command("setup_schedule", stdout=out)
    (schedule,) = Schedule.objects.filter(func="sessions_app.dispatch.dispatch_checkins")
    assert (schedule.schedule_type, schedule.cron) == (Schedule.CRON, "*/15 * * * *")
    assert "Updated" in out.getvalue()


def test_setup_schedule_refuses_a_broken_cron(settings):
    from django.core.management.base import CommandError

    settings.CHECKIN_CRON = "every twenty minutes"
    with pytest.raises(CommandError, match="not a valid cron expression"):
        call_command("setup_schedule", stdout=io.StringIO())


@time_machine.travel(MONDAY, tick=False)
def test_dry_run_says_who_would_be_asked_and_why_not_and_sends_nothing(fake_discord, settings):
    settings.DISCORD_API_BASE_URL = fake_discord.base_url
    add_members(3)
    add_members(2, timezone="Asia/Tokyo")
    add_members(1, status="paused")
    out = io.StringIO()
    call_command("dispatch_checkins", "--dry-run", stdout=out)
    text = out.getvalue()
    assert text.count("would send prompt") == 3
    assert "skipped 2: outside working hours" in text
    assert "skipped 1: paused until they come back" in text
    assert not fake_discord.requests and not CheckIn.objects.exists()


@time_machine.travel(MONDAY, tick=False)
def test_dispatch_checkins_sends_with_a_progress_bar(fake_discord, settings):
    settings.DISCORD_API_BASE_URL = fake_discord.base_url
    add_members(4)
    out, err = io.StringIO(), io.StringIO()
    call_command("dispatch_checkins", "--spread", "0", stdout=out, stderr=err)
    assert out.getvalue().count("sent ") >= 4 and "sent 4;" in out.getvalue()
    assert "[" + "#" * 40 + "] 4/4" in err.getvalue()
    assert CheckIn.objects.filter(state="sent").count() == 4
