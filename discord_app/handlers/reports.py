"""Reports: the Report button and /checkin open the modal; a submit or "On track" is coached.

Opening the modal is the initial response to the click, so it touches no database: the
"next" field is pre-filled from the local cache. A report costs one D1 read and one atomic
D1 write; with the LLM coach the report is recorded first and the reply follows by webhook.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from discord_app import members
from discord_app.interaction import Interaction, deferred, private, reply
from discord_app.messages import MODAL_PREFIX, report_modal
from discord_app.tasks import deliver_reply, disable_buttons, enqueue
from discord_app.texts import already_handled, not_started
from sessions_app.coach import Report, get_coach
from sessions_app.coaching import OPEN_STATES, Loaded, build_context, load_context, record_report
from sessions_app.models import Message


def open_modal(ix: Interaction, checkin_id: str = "") -> dict:
    return report_modal(checkin_id, ix.locale, members.last_next(ix.user_id))


def checkin_command(ix: Interaction) -> dict:
    return open_modal(ix)


def submit(ix: Interaction) -> dict:
    prefix, _sep, checkin_id = ix.custom_id.partition(":")
    if prefix != MODAL_PREFIX:
        return private(_("This form is no longer in use."))
    values = ix.fields()
    report = Report.from_modal(values.get("done", ""), values.get("next", ""),
                               values.get("blockers", ""))
    if report.is_empty:
        return private(_("There was nothing to record. Write at least one line."))
    return _coach(ix, report, "" if checkin_id == "now" else checkin_id)


def on_track(ix: Interaction, checkin_id: str) -> dict:
    return _coach(ix, Report(free_text=_("On track")), checkin_id)


def _coach(ix: Interaction, report: Report, checkin_id: str) -> dict:
    now = timezone.now()
    loaded = load_context(user_id=ix.user_id, interaction_id=ix.id, now=now)
    if loaded is None:
        return private(f"{not_started()}\n\n{report.as_text()}")  # nothing they wrote is lost
    if loaded.replayed:
        return _replayed(ix, loaded)
    answered = _answered_message(ix, loaded, checkin_id)
    # With the LLM coach the report is recorded now and a task asks for the reply.
    coach_reply = None if settings.COACH_LLM_URL else get_coach().reply(build_context(loaded, now), report)
    record_report(loaded, report, reply=coach_reply, interaction_id=ix.id,
                  checkin_id=checkin_id or None, now=now)
    members.remember_next(ix.user_id, report.next)
    if coach_reply is None:
        enqueue(deliver_reply, ix.as_task_args(), loaded.session.pk, answered)
        return deferred(ephemeral=not ix.in_dm)
    if answered:
        enqueue(disable_buttons, *answered, loaded.session.locale)
    return reply(coach_reply.render(), ephemeral=not ix.in_dm)


def _answered_message(ix: Interaction, loaded: Loaded, checkin_id: str) -> list[str] | None:
    """[channel id, message id, check-in id] of the check-in this report answers, if any."""
    if checkin_id and ix.message:
        return [ix.message_channel_id, ix.message["id"], checkin_id]
    latest = loaded.checkin
    if not latest or latest.state not in OPEN_STATES or not latest.message_id:
        return None
    channel_id = latest.channel_id or loaded.session.channel_id
    if not channel_id or (checkin_id and latest.pk != checkin_id):
        return None
    return [channel_id, latest.message_id, latest.pk]


def _replayed(ix: Interaction, loaded: Loaded) -> dict:
    recorded = next((m for m in loaded.replayed if m.kind == Message.Kind.REPLY), None)
    if recorded:
        return reply(recorded.content, ephemeral=not ix.in_dm)
    return private(already_handled())
