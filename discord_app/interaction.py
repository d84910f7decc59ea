"""An interaction as Discord sends it, checked strictly, and the responses we send back.

`Interaction.parse()` accepts exactly the shapes Discord documents for the five interaction
types and raises `BadInteraction` (the view answers 400) for anything else: a wrong type,
a missing field, an id that is not a snowflake. Handlers then read plain attributes and
never meet a KeyError or a TypeError caused by the payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from discord_app.messages import EPHEMERAL, text_payload

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT = 1, 4, 5, 7, 8
BOT_DM = 1
MAX_CHOICES = 25
_SNOWFLAKE = re.compile(r"^[0-9]{1,20}$")
_OPTION_VALUE = (str, int, float, bool)


class BadInteraction(ValueError):
    """The body is not an interaction we understand: answer 400."""


@dataclass(frozen=True)
class Interaction:
    """The parts of an interaction coachbot uses."""

    type: int
    id: str = ""
    token: str = ""
    application_id: str = ""
    user_id: str = ""
    display_name: str = ""
    locale: str = "en"
    guild_id: str = ""
    channel_id: str = ""
    in_dm: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    message: dict[str, Any] | None = None

    @classmethod
    def parse(cls, payload: Any) -> Interaction:
        if not isinstance(payload, dict):
            raise BadInteraction("not an object")
        kind = payload.get("type")
        if type(kind) is not int or not PING <= kind <= MODAL_SUBMIT:
            raise BadInteraction("unknown interaction type")
        if kind == PING:
            return cls(type=PING)
        user, member = _user_of(payload)
        data = _dict(payload.get("data"), "data")
        message = payload.get("message")
        if message is not None:
            _dict(message, "message")
            _snowflake(message.get("id"), "message.id")
        return cls(
            type=kind,
            id=_snowflake(payload.get("id"), "id"),
            token=_text(payload.get("token"), "token", 1, 1000),
            application_id=_snowflake(payload.get("application_id"), "application_id"),
            user_id=_snowflake(user.get("id"), "user.id"),
            display_name=_display_name(user, member),
            locale=_optional_text(payload.get("locale"), "locale", 16) or "en",
            guild_id=_optional_snowflake(payload.get("guild_id"), "guild_id"),
            channel_id=_channel_id(payload),
            in_dm=payload.get("context") == BOT_DM or "guild_id" not in payload,
            data=data,
            message=message,
        )

    # --- APPLICATION_COMMAND and AUTOCOMPLETE -------------------------------------------

    @property
    def command(self) -> str:
        """ "coach start", "task add", "status": the command and its sub-command."""
        name = _text(self.data.get("name"), "data.name", 1, 32)
        sub = [o["name"] for o in self._options() if o.get("type") in (1, 2)]
        return " ".join([name, *sub[:1]])

    def options(self) -> dict[str, Any]:
        """Option values by name, sub-command options included."""
        values = {}
        for opt in self._options():
            if opt.get("type") in (1, 2):
                values.update({o["name"]: o.get("value") for o in _options_list(opt.get("options"))})
            else:
                values[opt["name"]] = opt.get("value")
        return values

    def focused(self) -> tuple[str, str]:
        """(option name, what the member has typed so far) for AUTOCOMPLETE."""
        options = list(self._options())
        options += [o for opt in options if opt.get("type") in (1, 2)
                    for o in _options_list(opt.get("options"))]
        for opt in options:
            if opt.get("focused") is True:
                return opt["name"], str(opt.get("value", ""))[:100]
        raise BadInteraction("no focused option")

    def _options(self) -> list[dict[str, Any]]:
        return _options_list(self.data.get("options"))

    # --- MESSAGE_COMPONENT and MODAL_SUBMIT ---------------------------------------------

    @property
    def custom_id(self) -> str:
        return _text(self.data.get("custom_id"), "data.custom_id", 1, 100)

    def fields(self) -> dict[str, str]:
        """Text input values of a modal submit by custom_id (Label-wrapped or in action rows)."""
        values: dict[str, str] = {}
        for top in _list(self.data.get("components"), "data.components"):
            top = _dict(top, "component")
            inner = [top.get("component")] if "component" in top else top.get("components", [])
            for item in _list(inner, "component.components"):
                item = _dict(item, "component")
                if item.get("type") == 4:
                    key = _text(item.get("custom_id"), "custom_id", 1, 100)
                    values[key] = _optional_text(item.get("value"), "value", 4000)
        return values

    @property
    def message_channel_id(self) -> str:
        return str((self.message or {}).get("channel_id") or self.channel_id)

    def as_task_args(self) -> dict[str, Any]:
        """What a deferred task needs to answer this interaction (plain, picklable)."""
        return {
            "id": self.id, "token": self.token, "application_id": self.application_id,
            "user_id": self.user_id, "display_name": self.display_name, "locale": self.locale,
            "guild_id": self.guild_id, "channel_id": self.channel_id, "in_dm": self.in_dm,
        }


# --- Responses ------------------------------------------------------------------------


def pong() -> dict[str, Any]:
    return {"type": PONG}


def reply(text: str, *, ephemeral: bool = False) -> dict[str, Any]:
    return {"type": CHANNEL_MESSAGE, "data": text_payload(text, ephemeral=ephemeral)}


def private(text: str) -> dict[str, Any]:
    return reply(text, ephemeral=True)


def deferred(*, ephemeral: bool = False) -> dict[str, Any]:
    return {"type": DEFERRED_MESSAGE, "data": {"flags": EPHEMERAL} if ephemeral else {}}


def update(content: str, components: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": UPDATE_MESSAGE, "data": {**text_payload(content), "components": components}}


def choices(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    items = [{"name": name[:100], "value": value[:100]} for name, value in pairs[:MAX_CHOICES]]
    return {"type": AUTOCOMPLETE_RESULT, "data": {"choices": items}}


# --- Strict field readers -------------------------------------------------------------


def _user_of(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if "member" in payload:
        member = _dict(payload["member"], "member")
        return _dict(member.get("user"), "member.user"), member
    return _dict(payload.get("user"), "user"), {}


def _display_name(user: dict[str, Any], member: dict[str, Any]) -> str:
    for value in (member.get("nick"), user.get("global_name"), user.get("username")):
        if isinstance(value, str) and value.strip():
            return value.strip()[:100]
    return ""


def _channel_id(payload: dict[str, Any]) -> str:
    channel = payload.get("channel")
    if isinstance(channel, dict) and "id" in channel:
        return _snowflake(channel["id"], "channel.id")
    return _optional_snowflake(payload.get("channel_id"), "channel_id")


def _options_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    options = _list(value, "options")
    for opt in options:
        _dict(opt, "option")
        _text(opt.get("name"), "option.name", 1, 32)
        if "value" in opt and not isinstance(opt["value"], _OPTION_VALUE):
            raise BadInteraction("option value has the wrong type")
        if isinstance(opt.get("value"), str) and len(opt["value"]) > 6000:
            raise BadInteraction("option value too long")
    return options


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInteraction(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadInteraction(f"{what} is not a list")
    return value


def _text(value: Any, what: str, shortest: int, longest: int) -> str:
    if not isinstance(value, str) or not shortest <= len(value) <= longest:
        raise BadInteraction(f"{what} is not a string of {shortest}-{longest} characters")
    return value


def _optional_text(value: Any, what: str, longest: int) -> str:
    return "" if value is None else _text(value, what, 0, longest)


def _snowflake(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SNOWFLAKE.match(value):
        raise BadInteraction(f"{what} is not a snowflake")
    return value


def _optional_snowflake(value: Any, what: str) -> str:
    return "" if value is None else _snowflake(value, what)
