"""Deferred work of interactions, run by django-q2 after the initial response has left.

Each task answers through the interaction's webhook (`edit_original`, valid for 15 minutes)
and falls back to a plain DM when the token has expired. Tasks are safe to run twice: a
reply already recorded is delivered again, not computed again.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from discord_app import members
from discord_app.messages import disabled_payload, language, text_payload
from discord_app.rest import DiscordError, DiscordUnreachable, UnknownInteraction, get_client
from discord_app.texts import dm_help, welcome
from sessions_app.coach import get_coach, parse_report
from sessions_app.coaching import Loaded, build_context, load_context, record_reply
from sessions_app.models import Message, Session

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1420070400000
YOUNG_INTERACTION = 5.0  # seconds: our deferral may still be on its way to Discord


def enqueue(func, *args: Any) -> None:
    """Run `func(*args)` on the django-q2 cluster (inline when Q_CLUSTER["sync"] is set)."""
    sync = bool(settings.Q_CLUSTER.get("sync", False))
    # save=False: successful results (whose args hold interaction tokens) are not kept.
    async_task(func, *args, sync=sync, save=False)


# --- /coach start ---------------------------------------------------------------------


def start_coaching(ix: dict[str, Any]) -> None:
    """Create or reactivate the session, prove a DM reaches the member, then answer."""
    with translation.override(language(ix["locale"])):
        now = timezone.now()
        session = members.find(ix["user_id"])
        fields = _start_fields(ix, session)
        reachable, channel_id = _first_dm(ix, session)
        if channel_id:
            fields["channel_id"] = channel_id
        if not reachable:
            fields.update(status=Session.Status.UNREACHABLE, status_reason="DMs closed (50007/50278)")
        session = members.start(session, fields, now)
        answer(ix, text_payload(welcome(session) if reachable else dm_help()), session.channel_id)


def _start_fields(ix: dict[str, Any], session: Session | None) -> dict[str, Any]:
    fields = {"status": Session.Status.ACTIVE, "status_reason": "", "locale": ix["locale"],
              "display_name": ix["display_name"] or ix["user_id"], "unanswered": 0,
              "paused_until": None, "snoozed_until": None}
    if ix["guild_id"]:
        fields["guild_id"] = ix["guild_id"]
    if session is None:
        fields.update(user_id=ix["user_id"], platform="discord")
    return fields


def _first_dm(ix: dict[str, Any], session: Session | None) -> tuple[bool, str]:
    """(reachable, DM channel id). In the bot's DM the answer itself is the proof."""
    if ix["in_dm"]:
        return True, ix["channel_id"]
    cached = session.channel_id if session else None
    payload = text_payload(_("Hi! This is where your check-ins will arrive. 👋"))
    try:
        channel_id, _message = get_client().send_dm(ix["user_id"], payload, channel_id=cached)
    except DiscordUnreachable:
        return False, ""
    except DiscordError as exc:
        log.warning("First DM not sent (%s); the first check-in will try again", exc)
        return True, ""
    return True, channel_id


# --- The LLM coach's deferred reply ----------------------------------------------------


def deliver_reply(ix: dict[str, Any], session_id: str, answered: list[str] | None) -> None:
    """Compute the coach's reply to a report recorded by the view, record it, deliver it."""
    now = timezone.now()
    loaded = load_context(session_id=session_id, interaction_id=ix["id"], now=now)
    if loaded is None or not loaded.replayed:
        log.error("Deferred reply: no report recorded for this interaction")
        return
    report = next(m for m in loaded.replayed if m.kind == Message.Kind.REPORT)
    recorded = next((m for m in loaded.replayed if m.kind == Message.Kind.REPLY), None)
    text = recorded.content if recorded else _reply_to(loaded, report, now)
    answer(ix, text_payload(text), loaded.session.channel_id)
    if answered:
        disable_buttons(*answered, loaded.session.locale)


def _reply_to(loaded: Loaded, report: Message, now) -> str:
    # The coach sees the conversation as it was before this report, as on the direct path.
    before = dataclasses.replace(
        loaded, recent=[m for m in loaded.recent if m.id != report.id],
        history_count=max(0, loaded.history_count - 1), replayed=[],
    )
    reply = get_coach().reply(build_context(before, now), parse_report(report.content))
    return record_reply(before, report, reply, now).reply.content


# --- Buttons ---------------------------------------------------------------------------


def disable_buttons(channel_id: str, message_id: str, checkin_id: str, locale: str) -> None:
    """Grey out the buttons of an answered check-in."""
    try:
        get_client().edit_message(channel_id, message_id, disabled_payload(checkin_id, locale))
    except DiscordError as exc:
        log.info("Could not disable the buttons of check-in %s: %s", checkin_id, exc)


# --- Answering a deferred interaction --------------------------------------------------


def answer(ix: dict[str, Any], payload: dict[str, Any], channel_id: str | None = None) -> None:
    """Replace the deferred response; when the token is gone, send the same text as a DM."""
    client = get_client()
    for attempt in range(2):
        try:
            client.edit_original(ix["application_id"], ix["token"], payload)
            return
        except UnknownInteraction:
            if attempt or _age(ix["id"]) > YOUNG_INTERACTION:
                break
            time.sleep(1.0)  # the deferral may not have reached Discord yet
    log.info("Interaction token expired; answering by DM instead")
    try:
        client.send_dm(ix["user_id"], payload, channel_id=channel_id or None)
    except DiscordUnreachable:
        log.warning("Could not answer the member: DMs are closed")


def _age(snowflake: str) -> float:
    created_ms = (int(snowflake) >> 22) + DISCORD_EPOCH_MS
    return time.time() - created_ms / 1000
