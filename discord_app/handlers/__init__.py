"""Which function answers which interaction: one per command, button, modal and autocomplete.

`handle()` runs inside `translation.override(language(ix.locale))`, so every handler
writes its texts with plain gettext. Shapes we recognise but don't handle (an old command,
a button of an earlier version) get a polite ephemeral answer, never an error.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext as _

from discord_app.handlers import member, pauses, reports, todo
from discord_app.interaction import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    Interaction,
    choices,
    private,
)
from discord_app.messages import parse_custom_id

Handler = Callable[[Interaction], dict]

COMMANDS: dict[str, Handler] = {
    "coach start": member.coach_start,
    "coach stop": member.coach_stop,
    "checkin": reports.checkin_command,
    "status": member.status,
    "task add": todo.add,
    "task done": todo.done,
    "task list": todo.list_open,
    "pause": pauses.pause,
    "resume": pauses.resume,
    "snooze": pauses.snooze,
    "settings": member.settings_command,
}

BUTTONS: dict[str, Callable[[Interaction, str], dict]] = {
    "report": reports.open_modal,
    "ontrack": reports.on_track,
    "snooze": pauses.snooze_button,
    "dayoff": pauses.done_for_today,
}

AUTOCOMPLETES: dict[tuple[str, str], Callable[[Interaction, str], dict]] = {
    ("task done", "task"): todo.task_choices,
    ("settings", "timezone"): member.timezone_choices,
}


def handle(ix: Interaction) -> dict:
    if ix.type == APPLICATION_COMMAND:
        handler = COMMANDS.get(ix.command)
        return handler(ix) if handler else private(_("I don't know that command any more."))
    if ix.type == MESSAGE_COMPONENT:
        return _button(ix)
    if ix.type == AUTOCOMPLETE:
        name, typed = ix.focused()
        complete = AUTOCOMPLETES.get((ix.command, name))
        return complete(ix, typed) if complete else choices([])
    if ix.type == MODAL_SUBMIT:
        return reports.submit(ix)
    raise AssertionError(f"unhandled interaction type {ix.type}")  # parse() allows no other


def _button(ix: Interaction) -> dict:
    parsed = parse_custom_id(ix.custom_id)
    if parsed is None:
        return private(_("This button no longer works."))
    action, checkin_id = parsed
    return BUTTONS[action](ix, checkin_id)


def changes_something(ix: Interaction) -> bool:
    """Whether answering `ix` may write: those interactions are handled at most once."""
    if ix.type in (MODAL_SUBMIT, APPLICATION_COMMAND):
        return ix.type == MODAL_SUBMIT or ix.command not in ("checkin", "status", "task list")
    if ix.type == MESSAGE_COMPONENT:
        parsed = parse_custom_id(ix.custom_id)
        return parsed is not None and parsed[0] != "report"
    return False
