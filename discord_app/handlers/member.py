"""Opting in and out, /status and /settings."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from discord_app import members, timing
from discord_app.interaction import Interaction, choices, deferred, private
from discord_app.tasks import enqueue, start_coaching
from discord_app.texts import local_time, not_started, relative, schedule
from sessions_app.models import Session
from sessions_app.schedule import next_checkin_at

POPULAR_ZONES = ["UTC", "Asia/Tokyo", "Europe/London", "Europe/Berlin", "America/New_York",
                 "America/Los_Angeles", "Asia/Singapore", "Australia/Sydney"]


def coach_start(ix: Interaction) -> dict:
    # Creating the session and proving a DM arrives take a D1 round trip and a REST call:
    # defer, and let the task edit the answer in.
    enqueue(start_coaching, ix.as_task_args())
    return deferred(ephemeral=not ix.in_dm)


def coach_stop(ix: Interaction) -> dict:
    session = members.find(ix.user_id)
    if session is None or session.status == Session.Status.STOPPED:
        return private(_("Your check-ins are not running. /coach start begins them."))
    members.change(session, timezone.now(), status=Session.Status.STOPPED, status_reason="member")
    return private(_("Check-ins stopped. Your history is kept; /coach start brings them back."))


def status(ix: Interaction) -> dict:
    member = members.find_with_tasks(ix.user_id, summary=True)
    session = member.session
    if session is None:
        return private(not_started())
    lines = [_("**Check-ins:** %(state)s") % {"state": _state(session)},
             _("**Next check-in:** %(when)s") % {"when": _next(session)},
             _("**Schedule:** %(schedule)s") % {"schedule": schedule(session)}]
    if member.summary:
        lines.append(_("**Summary:** %(summary)s") % {"summary": member.summary[:800]})
    lines.append(_("**Open tasks:**") + ("" if member.tasks else " " + _("none")))
    lines += [f"• {task.title}" for task in member.tasks[:15]]
    return private("\n".join(lines))


def _state(session: Session) -> str:
    names = {"active": _("active"), "paused": _("paused"), "stopped": _("stopped"),
             "unreachable": _("unreachable (DMs closed)")}
    now = timezone.now()
    status = session.status
    if status == Session.Status.PAUSED and session.paused_until and session.paused_until <= now:
        status = Session.Status.ACTIVE  # a timed pause that has ended
    text = names.get(status, status)
    if status == Session.Status.PAUSED and session.paused_until:
        text += " · " + _("paused until %(when)s") % {"when": local_time(session, session.paused_until)}
    if session.snoozed_until and session.snoozed_until > now:
        text += " · " + _("snoozed until %(when)s") % {"when": local_time(session, session.snoozed_until)}
    return text


def _next(session: Session) -> str:
    moment = next_checkin_at(session, timezone.now())
    if moment is None:
        return _("none while check-ins are off")
    return f"{local_time(session, moment)} {relative(moment)}"


# --- /settings -------------------------------------------------------------------------


def settings_command(ix: Interaction) -> dict:
    session = members.find(ix.user_id)
    if session is None:
        return private(not_started())
    options = ix.options()
    if not options:
        return private(_("Your schedule: %(schedule)s") % {"schedule": schedule(session)})
    changes, problems = _settings_changes(options, session)
    if problems:
        return private("\n".join(problems))
    members.change(session, timezone.now(), **changes)
    return private(_("Saved. Your schedule: %(schedule)s") % {"schedule": schedule(session)})


def _settings_changes(options: dict, session: Session) -> tuple[dict, list[str]]:
    changes, problems = {}, []
    readers = {
        "timezone": ("timezone", timing.parse_timezone,
                     _("Unknown time zone. Pick one from the list, e.g. Asia/Tokyo.")),
        "work_start": ("work_start", timing.parse_hhmm, _("Use HH:MM for the start, e.g. 09:00.")),
        "work_end": ("work_end", timing.parse_hhmm, _("Use HH:MM for the end, e.g. 18:00.")),
        "work_days": ("work_days", timing.parse_work_days,
                      _("Working days look like mon-fri, 1-5 or mon,wed,fri.")),
        "interval": ("interval_minutes", _interval, _("The interval must be 10 to 240 minutes.")),
    }
    for name, value in options.items():
        if name not in readers:
            continue
        field, read, problem = readers[name]
        try:
            changes[field] = read(value)
        except (timing.Invalid, TypeError, AttributeError):
            problems.append(problem)
    start = changes.get("work_start", session.work_start)
    end = changes.get("work_end", session.work_end)
    if not problems and start == end:  # end before start is fine: an overnight window
        problems.append(_("Your working day can't start and end at the same time."))
    return changes, problems


def _interval(value) -> int:
    if type(value) is not int or not 10 <= value <= 240:
        raise timing.Invalid("interval out of range")
    return value


def timezone_choices(ix: Interaction, typed: str) -> dict:
    typed = typed.strip().casefold()
    if not typed:
        return choices([(z, z) for z in POPULAR_ZONES])
    names = sorted(timing.timezone_names())
    starts = [z for z in names if z.casefold().startswith(typed)]
    contains = [z for z in names if typed in z.casefold() and z not in starts]
    return choices([(z, z) for z in (starts + contains)])
