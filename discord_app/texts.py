"""Member-facing sentences used by more than one handler (called inside translation.override)."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _

from sessions_app.models import Session
from sessions_app.schedule import zone


def day_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def local_time(session: Session, moment: datetime.datetime) -> str:
    """ "2026-12-04 15:30 (Asia/Tokyo)": a time in the member's own zone."""
    local = moment.astimezone(zone(session))
    return f"{local:%Y-%m-%d %H:%M} ({session.timezone})"


def relative(moment: datetime.datetime) -> str:
    """Discord renders this as "in 2 hours" in the reader's language."""
    return f"<t:{int(moment.timestamp())}:R>"


def schedule(session: Session) -> str:
    names = day_names()
    days = ", ".join(names[int(d) - 1] for d in session.work_days if d in "1234567")
    return _("%(start)s–%(end)s on %(days)s, every %(minutes)d minutes, time zone %(tz)s") % {
        "start": f"{session.work_start:%H:%M}", "end": f"{session.work_end:%H:%M}",
        "days": days or "—", "minutes": session.interval_minutes, "tz": session.timezone,
    }


def welcome(session: Session) -> str:
    return "\n".join([
        _("You're in! I'll check in with you by DM: %(schedule)s.") % {"schedule": schedule(session)},
        _("Change this with /settings, take a break with /pause, stop with /coach stop."),
    ])


def dm_help() -> str:
    return "\n".join([
        _("I couldn't send you a direct message, so check-ins can't reach you."),
        _("Allow DMs from this server (server name → Privacy Settings → Direct Messages), "
          "then run /coach start again."),
    ])


def not_started() -> str:
    return _("You haven't started check-ins yet. Run /coach start first.")


def not_running() -> str:
    return _("Your check-ins are off. Run /coach start to turn them on.")


def failed() -> str:
    return _("Sorry, something went wrong on my side. Please try again in a minute.")


def already_handled() -> str:
    return _("This was already handled.")
