"""The schedule's rules as pure functions: no database, no Discord."""

import datetime

import pytest

from sessions_app.schedule import (
    NOTICE,
    PROMPT,
    REMINDER,
    decide,
    done_for_today_until,
    gap,
    in_working_hours,
    is_due,
    next_checkin_at,
)
from tests.schedule.conftest import at, member

T = datetime.time


# --- Working hours in the member's own time zone -------------------------------------


@pytest.mark.parametrize(("utc", "inside"), [
    ("2026-03-06 13:30", False),  # Friday before the change: 08:30 EST
    ("2026-03-06 14:00", True),   # 09:00 EST
    ("2026-03-06 22:59", True),   # 17:59 EST
    ("2026-03-06 23:00", False),  # 18:00 EST
    ("2026-03-09 12:30", False),  # Monday after the change: 08:30 EDT
    ("2026-03-09 13:00", True),   # 09:00 EDT
    ("2026-03-09 21:59", True),   # 17:59 EDT
    ("2026-03-09 22:00", False),  # 18:00 EDT
])
def test_it_follows_new_york_working_hours_across_the_march_change(utc, inside):
    assert in_working_hours(member(timezone="America/New_York"), at(utc)) is inside


@pytest.mark.parametrize(("utc", "inside"), [
    ("2026-10-30 13:00", True),   # Friday: 09:00 EDT
    ("2026-10-30 12:59", False),
    ("2026-11-02 13:00", False),  # Monday after the change: 08:00 EST
    ("2026-11-02 14:00", True),   # 09:00 EST
    ("2026-11-02 22:59", True),   # 17:59 EST
    ("2026-11-02 23:00", False),
])
def test_it_follows_new_york_working_hours_across_the_november_change(utc, inside):
    assert in_working_hours(member(timezone="America/New_York"), at(utc)) is inside


def test_next_checkin_after_a_weekend_with_a_dst_change_is_monday_nine_local():
    session = member(timezone="America/New_York", last_prompt_at=at("2026-03-06 22:50"))
    assert next_checkin_at(session, at("2026-03-07 12:00")) == at("2026-03-09 13:00")
    session = member(timezone="America/New_York", last_prompt_at=at("2026-10-30 21:50"))
    assert next_checkin_at(session, at("2026-10-31 12:00")) == at("2026-11-02 14:00")


def test_a_start_time_skipped_by_dst_means_the_moment_the_clocks_jump():
    session = member(timezone="America/New_York", work_start=T(2, 30), work_end=T(5, 0), work_days="7")
    # Sunday 8 March 2026: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    assert next_checkin_at(session, at("2026-03-08 00:00")) == at("2026-03-08 07:30")
    assert in_working_hours(session, at("2026-03-08 07:00"))  # 03:00 EDT, inside 02:30-05:00


def test_kiritimati_works_on_monday_while_it_is_sunday_in_utc():
    session = member(timezone="Pacific/Kiritimati")  # UTC+14
    assert is_due(session, at("2026-03-08 19:00")) == (True, "due")  # Sun 19:00 UTC = Mon 09:00
    assert is_due(session, at("2026-03-08 18:59")) == (False, "outside working hours")
    # Friday 18:00 there is Friday 04:00 UTC; later on Friday in UTC it is their Saturday.
    assert not in_working_hours(session, at("2026-03-13 04:00"))
    assert next_checkin_at(session, at("2026-03-13 04:00")) == at("2026-03-15 19:00")


def test_pago_pago_works_on_friday_while_it_is_saturday_in_utc():
    session = member(timezone="Pacific/Pago_Pago")  # UTC-11
    assert in_working_hours(session, at("2026-03-14 04:59"))  # Fri 17:59 local
    assert not in_working_hours(session, at("2026-03-14 05:00"))
    assert not in_working_hours(session, at("2026-03-14 20:00"))  # Sat 09:00 local
    assert next_checkin_at(session, at("2026-03-14 05:00")) == at("2026-03-16 20:00")  # Mon 09:00


def test_an_overnight_window_belongs_to_the_day_it_starts():
    session = member(work_start=T(22, 0), work_end=T(6, 0), work_days="5")  # Friday nights
    assert in_working_hours(session, at("2026-03-13 23:00"))  # Friday 23:00
    assert in_working_hours(session, at("2026-03-14 05:00"))  # Saturday 05:00, Friday's shift
    assert not in_working_hours(session, at("2026-03-14 23:00"))  # Saturday night
    assert not in_working_hours(session, at("2026-03-13 05:00"))  # Friday morning: Thursday's


def test_no_working_days_means_no_next_checkin():
    assert next_checkin_at(member(work_days=""), at("2026-03-09 10:00")) is None


# --- Interval, reminder, back-off, silence -----------------------------------------------


def test_the_interval_must_pass_since_the_last_prompt_or_reply():
    session = member(last_prompt_at=at("2026-03-09 10:00"), last_reply_at=at("2026-03-09 10:10"))
    assert is_due(session, at("2026-03-09 10:29")) == (False, "interval not passed")
    assert is_due(session, at("2026-03-09 10:30")) == (True, "due")
    assert next_checkin_at(session, at("2026-03-09 10:12")) == at("2026-03-09 10:30")


def test_one_unanswered_prompt_gets_one_gentle_reminder_after_an_interval():
    session = member(last_prompt_at=at("2026-03-09 10:00"), unanswered=1)
    assert is_due(session, at("2026-03-09 10:19")) == (False, "interval not passed")
    assert decide(session, at("2026-03-09 10:20")).kind == REMINDER


def test_no_reminder_for_a_prompt_from_another_day():
    session = member(last_prompt_at=at("2026-03-06 17:50"), unanswered=1)
    assert decide(session, at("2026-03-09 09:00")).kind == PROMPT


def test_the_wait_doubles_per_further_miss_up_to_the_cap():
    session = member(interval_minutes=20)
    assert [gap(session, u).total_seconds() / 60 for u in range(7)] == [20, 20, 40, 80, 160, 240, 240]
    session = member(interval_minutes=300)
    assert gap(session, 4).total_seconds() / 60 == 300  # never shorter than the interval


def test_the_cap_is_a_setting(settings):
    settings.CHECKIN_BACKOFF_CAP_MINUTES = 60
    assert gap(member(interval_minutes=20), 5).total_seconds() / 60 == 60


@pytest.mark.parametrize(("unanswered", "wait"), [(2, 40), (3, 80), (4, 160), (5, 240)])
def test_a_member_who_keeps_missing_waits_longer(unanswered, wait):
    session = member(last_prompt_at=at("2026-03-09 09:00"), unanswered=unanswered,
                     work_end=T(23, 0))
    last = at("2026-03-09 09:00")
    assert is_due(session, last + datetime.timedelta(minutes=wait - 1)) == (False, "waiting (back-off)")
    assert decide(session, last + datetime.timedelta(minutes=wait)).kind == PROMPT


def test_after_the_last_miss_the_next_message_is_the_pause_notice(settings):
    session = member(last_prompt_at=at("2026-03-09 09:00"), unanswered=6, work_end=T(23, 0))
    assert decide(session, at("2026-03-09 13:00")).kind == NOTICE
    settings.CHECKIN_MAX_UNANSWERED = 8
    assert decide(session, at("2026-03-09 13:00")).kind == PROMPT


def test_a_member_paused_for_silence_gets_nothing_until_they_answer():
    session = member(status="paused", status_reason="silence", unanswered=6,
                     last_prompt_at=at("2026-03-09 09:00"))
    assert is_due(session, at("2026-03-10 10:00")) == (False, "paused until they come back")
    assert next_checkin_at(session, at("2026-03-10 10:00")) is None


# --- Snooze, pause, done for today, status ---------------------------------------------


def test_snoozed_members_are_not_due_until_the_snooze_ends():
    session = member(snoozed_until=at("2026-03-09 11:00"))
    assert is_due(session, at("2026-03-09 10:59")) == (False, "snoozed")
    assert is_due(session, at("2026-03-09 11:00")) == (True, "due")
    assert next_checkin_at(session, at("2026-03-09 10:00")) == at("2026-03-09 11:00")


def test_a_snooze_past_working_hours_waits_for_the_next_working_day():
    session = member(snoozed_until=at("2026-03-13 19:00"))  # Friday evening
    assert next_checkin_at(session, at("2026-03-13 17:30")) == at("2026-03-16 09:00")


def test_a_timed_pause_resumes_by_itself_with_a_fresh_count():
    session = member(status="paused", paused_until=at("2026-03-10 09:00"), unanswered=4,
                     last_prompt_at=at("2026-03-09 16:00"))
    assert is_due(session, at("2026-03-10 08:59")) == (False, "paused")
    assert next_checkin_at(session, at("2026-03-09 17:00")) == at("2026-03-10 09:00")
    decision = decide(session, at("2026-03-10 09:00"))
    assert decision.due and decision.kind == PROMPT


def test_a_pause_without_an_end_waits_for_the_member():
    session = member(status="paused")
    assert not is_due(session, at("2026-03-09 10:00"))[0]
    assert next_checkin_at(session, at("2026-03-09 10:00")) is None


@pytest.mark.parametrize("status", ["stopped", "unreachable"])
def test_stopped_and_unreachable_members_are_never_due(status):
    assert is_due(member(status=status), at("2026-03-09 10:00")) == (False, status)
    assert next_checkin_at(member(status=status), at("2026-03-09 10:00")) is None


def test_done_for_today_pauses_until_the_next_working_day():
    friday = at("2026-03-13 15:00")
    assert done_for_today_until(member(), friday) == at("2026-03-16 09:00")
    ny = member(timezone="America/New_York")
    assert done_for_today_until(ny, at("2026-03-06 20:00")) == at("2026-03-09 13:00")  # EDT by then
    kiri = member(timezone="Pacific/Kiritimati")
    assert done_for_today_until(kiri, at("2026-03-09 01:00")) == at("2026-03-09 19:00")  # Tue 09:00


def test_an_unsent_claimed_checkin_blocks_a_new_one():
    class Open:
        state = "due"

    assert is_due(member(), at("2026-03-09 10:00"), Open()) == (False, "a check-in is waiting to be sent")
