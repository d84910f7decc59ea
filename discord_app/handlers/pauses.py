"""Fewer check-ins for a while: /pause, /resume, /snooze and the Snooze / Done-for-today buttons.

As sessions_app.schedule reads them: a pause is status "paused", timed when `paused_until`
is set (it then ends by itself, like "done for today"), open-ended until /resume otherwise;
a snooze only sets `snoozed_until`.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from discord_app import members, timing
from discord_app.interaction import Interaction, private, update
from discord_app.messages import buttons
from discord_app.texts import local_time, not_running, not_started
from sessions_app.models import Session
from sessions_app.schedule import done_for_today_until

RUNNING = (Session.Status.ACTIVE, Session.Status.PAUSED)
DEFAULT_SNOOZE = 60  # minutes: /snooze without an option, and the Snooze 1h button


def _running(ix: Interaction) -> tuple[Session | None, dict | None]:
    """The member's session if check-ins run, else the answer that says why not."""
    session = members.find(ix.user_id)
    if session is None:
        return None, private(not_started())
    if session.status not in RUNNING:
        return None, private(not_running())
    return session, None


def pause(ix: Interaction) -> dict:
    session, refusal = _running(ix)
    if refusal:
        return refusal
    now, duration = timezone.now(), ix.options().get("duration")
    try:
        until = timing.parse_pause(str(duration), now, session) if duration else None
    except timing.Invalid:
        return private(_("I can't read that duration. Try 30m, 2h, 3d or until tomorrow."))
    members.change(session, now, status=Session.Status.PAUSED, status_reason="member",
                   paused_until=until)
    if until is None:
        return private(_("Check-ins paused. /resume brings them back."))
    return private(_("Check-ins paused until %(when)s.") % {"when": local_time(session, until)})


def resume(ix: Interaction) -> dict:
    session, refusal = _running(ix)
    if refusal:
        return refusal
    members.change(session, timezone.now(), status=Session.Status.ACTIVE, status_reason="",
                   paused_until=None, snoozed_until=None)
    return private(_("Check-ins resumed."))


def snooze(ix: Interaction) -> dict:
    session, refusal = _running(ix)
    if refusal:
        return refusal
    minutes = ix.options().get("minutes", DEFAULT_SNOOZE)
    if type(minutes) is not int or not 5 <= minutes <= 480:
        return private(_("Snooze for 5 to 480 minutes."))
    now = timezone.now()
    until = now + datetime.timedelta(minutes=minutes)
    members.change(session, now, snoozed_until=until)
    return private(_("Snoozed until %(when)s.") % {"when": local_time(session, until)})


# --- Buttons on a check-in: answer by updating that message ---------------------------


def snooze_button(ix: Interaction, checkin_id: str) -> dict:
    session, refusal = _running(ix)
    if refusal:
        return refusal
    now = timezone.now()
    until = now + datetime.timedelta(minutes=DEFAULT_SNOOZE)  # the button says "Snooze 1h"
    members.change(session, now, snoozed_until=until)
    note = _("😴 Snoozed until %(when)s.") % {"when": local_time(session, until)}
    return _close(ix, checkin_id, note)


def done_for_today(ix: Interaction, checkin_id: str) -> dict:
    session, refusal = _running(ix)
    if refusal:
        return refusal
    now = timezone.now()
    until = done_for_today_until(session, now) or now + datetime.timedelta(days=1)
    members.change(session, now, status=Session.Status.PAUSED, status_reason="done for today",
                   paused_until=until)
    note = _("🌙 Done for today. See you at %(when)s.") % {"when": local_time(session, until)}
    return _close(ix, checkin_id, note)


def _close(ix: Interaction, checkin_id: str, note: str) -> dict:
    """UPDATE_MESSAGE: the check-in keeps its text, gains a note, and its buttons grey out."""
    original = (ix.message or {}).get("content")
    original = original if isinstance(original, str) else ""
    content = f"{original[: 1990 - len(note)]}\n\n{note}" if original else note
    return update(content, buttons(checkin_id, ix.locale, disabled=True))
