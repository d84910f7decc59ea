"""When a member is asked: the check-in rules as pure functions over a Session and ``now``.

``now`` is an aware datetime (UTC). Nothing here touches the database or Discord; the
dispatcher (sessions_app.dispatch) claims due members with the same rules written as
SQL (``due_sql``), and tests hold the two to each other.

The rules, in order:

1. Status: ``active``; or ``paused`` with ``paused_until`` passed (a timed pause such
   as "done for today" resumes by itself, with a fresh unanswered count). A pause
   without an end (a member's own, or the one for silence) waits for the member.
2. Not snoozed (``snoozed_until`` in the past or unset).
3. Inside working hours on a working day, in the member's own time zone (wall-clock
   time, so DST changes and zones across the date line need no special case). A
   window that ends before it starts (22:00-06:00) runs overnight and belongs to the
   day it starts on.
4. The gap since the last prompt or reply has passed. The gap is the interval while
   nothing is unanswered; after an unanswered prompt it is one interval (then one
   gentle *reminder*, sent without a notification), then it doubles per further miss,
   up to ``CHECKIN_BACKOFF_CAP_MINUTES``.
5. After ``CHECKIN_MAX_UNANSWERED`` check-ins in a row without an answer, the next one
   due is a polite *notice* instead, and the member is paused for silence
   (``coaching.AUTO_PAUSE_REASON``): told once, then nothing until they answer.
6. No check-in claimed but not yet sent (the outbox sends that one first).

A reply resets the count and ends a pause for silence (sessions_app.coaching).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

UTC = datetime.UTC

PROMPT, REMINDER, NOTICE = "prompt", "reminder", "notice"
SEARCH_DAYS = 9  # working days repeat weekly; a day either side covers overnight windows


def max_unanswered() -> int:
    return int(getattr(settings, "CHECKIN_MAX_UNANSWERED", 6))


def backoff_cap() -> datetime.timedelta:
    return datetime.timedelta(minutes=int(getattr(settings, "CHECKIN_BACKOFF_CAP_MINUTES", 240)))


@dataclass(frozen=True)
class Decision:
    """What the schedule says about one member right now."""

    due: bool
    reason: str
    kind: str | None = None  # PROMPT, REMINDER or NOTICE when due


# --- Small facts ------------------------------------------------------------------------


def zone(session) -> ZoneInfo:
    """The member's time zone; an unknown name counts as UTC (as in the SQL)."""
    try:
        return ZoneInfo(session.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def effective_unanswered(session, now: datetime.datetime) -> int:
    """Unanswered check-ins that still count: a timed pause that ended starts afresh."""
    return 0 if _resumes(session, now) else session.unanswered


def gap(session, unanswered: int) -> datetime.timedelta:
    """How long to wait after the last prompt or reply, given the misses in a row."""
    interval = datetime.timedelta(minutes=session.interval_minutes or 1)
    if unanswered <= 1:
        return interval
    doubled = interval * (2 ** min(unanswered - 1, 20))
    return max(interval, min(doubled, backoff_cap()))


def last_activity(session) -> datetime.datetime | None:
    times = [t for t in (session.last_prompt_at, session.last_reply_at) if t is not None]
    return max(times) if times else None


def _resumes(session, now: datetime.datetime) -> bool:
    return session.status == "paused" and session.paused_until is not None and session.paused_until <= now


def _works_on(session, day: datetime.date) -> bool:
    return str(day.isoweekday()) in (session.work_days or "")


def windows(session, around: datetime.datetime, days: int = SEARCH_DAYS):
    """The member's working windows as (start, end) in UTC, from the day before ``around``."""
    tz = zone(session)
    first = around.astimezone(tz).date() - datetime.timedelta(days=1)
    overnight = session.work_end <= session.work_start
    for offset in range(days):
        day = first + datetime.timedelta(days=offset)
        if not _works_on(session, day):
            continue
        end_day = day + datetime.timedelta(days=1) if overnight else day
        start = _instant(day, session.work_start, tz)
        end = _instant(end_day, session.work_end, tz)
        yield start, end


def _instant(day: datetime.date, at: datetime.time, tz: ZoneInfo) -> datetime.datetime:
    """A local wall-clock time as UTC. A time skipped by DST (02:30 in March) means the
    moment the clocks jump past it; a repeated one (01:30 in November), its first pass."""
    return datetime.datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def in_working_hours(session, now: datetime.datetime) -> bool:
    """Local wall-clock time inside the window of a working day."""
    local = now.astimezone(zone(session))
    t = local.time().replace(tzinfo=None)
    start, end = session.work_start, session.work_end
    if start < end:
        return start <= t < end and _works_on(session, local.date())
    if t >= start:  # overnight window, evening part
        return _works_on(session, local.date())
    if t < end:  # overnight window, after midnight: it started yesterday
        return _works_on(session, local.date() - datetime.timedelta(days=1))
    return False


def next_working_instant(session, after: datetime.datetime) -> datetime.datetime | None:
    """The first moment at or after ``after`` inside working hours, or None (no working days)."""
    for start, end in windows(session, after):
        if end > after:
            return max(start, after)
    return None


# --- The rules --------------------------------------------------------------------------


def decide(session, now: datetime.datetime, open_checkin=None) -> Decision:
    """Whether ``session`` is due at ``now``, why (not), and for what kind of message.

    ``open_checkin``: the member's latest check-in if it is still claimed and unsent
    (state "due"); then nothing new is due.
    """
    if session.status == "paused" and not _resumes(session, now):
        return Decision(False, "paused until they come back" if session.paused_until is None else "paused")
    if session.status not in ("active", "paused"):
        return Decision(False, session.status)
    if session.snoozed_until is not None and session.snoozed_until > now:
        return Decision(False, "snoozed")
    if open_checkin is not None and getattr(open_checkin, "state", None) == "due":
        return Decision(False, "a check-in is waiting to be sent")
    if not in_working_hours(session, now):
        return Decision(False, "outside working hours")
    unanswered = effective_unanswered(session, now)
    last = last_activity(session)
    if last is not None and now < last + gap(session, unanswered):
        return Decision(False, "waiting (back-off)" if unanswered > 1 else "interval not passed")
    return Decision(True, "due", _kind(session, now, unanswered))


def _kind(session, now: datetime.datetime, unanswered: int) -> str:
    if unanswered >= max_unanswered():
        return NOTICE
    if unanswered == 1 and session.last_prompt_at is not None:
        tz = zone(session)
        if session.last_prompt_at.astimezone(tz).date() == now.astimezone(tz).date():
            return REMINDER
    return PROMPT


def is_due(session, now: datetime.datetime, open_checkin=None) -> tuple[bool, str]:
    """(True, "due") or (False, why not): see the module docstring for the rules."""
    decision = decide(session, now, open_checkin)
    return decision.due, decision.reason


def next_checkin_at(session, now: datetime.datetime) -> datetime.datetime | None:
    """The earliest moment the schedule would send this member something, or None.

    None means nothing comes until the member acts: stopped, unreachable, paused with
    no end (their own pause or the one for silence), or no working days. The
    dispatcher runs on a cron (every 20 minutes by default), so the check-in goes out
    at the first tick at or after this moment.
    """
    if session.status in ("stopped", "unreachable"):
        return None
    if session.status == "paused" and session.paused_until is None:
        return None
    candidate = now
    resumed = session.status == "paused"
    if resumed:
        candidate = max(candidate, session.paused_until)
    if session.snoozed_until is not None:
        candidate = max(candidate, session.snoozed_until)
    unanswered = 0 if resumed else session.unanswered
    last = last_activity(session)
    if last is not None:
        candidate = max(candidate, last + gap(session, unanswered))
    return next_working_instant(session, candidate)


def done_for_today_until(session, now: datetime.datetime) -> datetime.datetime | None:
    """Where "done for today" pauses to (``paused_until``): the next working window
    that starts after the member's current local day, or None with no working days."""
    tz = zone(session)
    tomorrow = now.astimezone(tz).date() + datetime.timedelta(days=1)
    midnight = datetime.datetime.combine(tomorrow, datetime.time(0), tzinfo=tz).astimezone(UTC)
    for start, _end in windows(session, now):
        if start >= midnight:
            return start
    return None
