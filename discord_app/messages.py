"""What coachbot sends to Discord: check-in DMs with buttons, the report modal, replies.

Button and modal ``custom_id``s carry a check-in id and nothing else (they come back
verbatim in the interaction; member data never goes there). Every payload that can
contain member text has ``allowed_mentions: {"parse": []}``, so an ``@everyone``
written by a member pings no one.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

NO_MENTIONS = {"parse": []}
SUPPRESS_NOTIFICATIONS = 4096
EPHEMERAL = 64
ACTIONS = ("report", "ontrack", "snooze", "dayoff")
MODAL_PREFIX = "report"
SUMMARY_BRIEF = 300


def language(locale: str | None) -> str:
    """Discord's locale ("ja", "en-US", ...) as one of the languages we write."""
    return "ja" if (locale or "").lower().startswith("ja") else "en"


def custom_id(action: str, checkin_id: str) -> str:
    return f"ci:{action}:{checkin_id}"


def parse_custom_id(value: str) -> tuple[str, str] | None:
    """("report", "01H...") from "ci:report:01H...", or None for anything else."""
    parts = value.split(":")
    if len(parts) == 3 and parts[0] == "ci" and parts[1] in ACTIONS and parts[2]:
        return parts[1], parts[2]
    return None


def default_question(locale: str) -> str:
    with translation.override(language(locale)):
        return _("How is it going? What have you done since last time, and what's next?")


def checkin_payload(*, checkin_id: str, question: str, summary: str, locale: str,
                    reminder: bool = False) -> dict:
    """The check-in DM: the question, the last summary in brief, four buttons."""
    with translation.override(language(locale)):
        lines = [f"**{question or default_question(locale)}**"]
        if reminder:
            lines.insert(0, _("A gentle reminder, no pressure:"))
        brief = _brief(summary)
        if brief:
            lines.append(_("Last time: %(summary)s") % {"summary": brief})
        payload = {
            "content": "\n".join(lines)[:2000],
            "components": buttons(checkin_id, locale),
            "allowed_mentions": NO_MENTIONS,
            # Discord returns the message already created with this nonce (for a few
            # minutes) instead of posting it twice: a check-in re-sent after a crash or an
            # uncertain failure does not reach the member twice. A ULID's first character
            # is '0' until the year 10889, so its last 25 fit Discord's 25-character limit.
            "nonce": checkin_id[-25:],
            "enforce_nonce": True,
        }
    if reminder:
        payload["flags"] = SUPPRESS_NOTIFICATIONS
    return payload


def buttons(checkin_id: str, locale: str, disabled: bool = False) -> list[dict]:
    with translation.override(language(locale)):
        specs = [
            ("report", _("Report"), 1),
            ("ontrack", _("On track"), 3),
            ("snooze", _("Snooze 1h"), 2),
            ("dayoff", _("Done for today"), 2),
        ]
        row = [
            {"type": 2, "style": style, "label": label, "custom_id": custom_id(action, checkin_id),
             "disabled": disabled}
            for action, label, style in specs
        ]
    return [{"type": 1, "components": row}]


def disabled_payload(checkin_id: str, locale: str) -> dict:
    """An edit that greys out the buttons of a superseded check-in."""
    return {"components": buttons(checkin_id, locale, disabled=True)}


def text_payload(text: str, *, ephemeral: bool = False) -> dict:
    payload = {"content": text[:2000], "allowed_mentions": NO_MENTIONS}
    if ephemeral:
        payload["flags"] = EPHEMERAL
    return payload


def report_modal(checkin_id: str, locale: str, next_prefill: str = "") -> dict:
    """The report form (interaction response type 9): three optional paragraph inputs."""
    with translation.override(language(locale)):
        fields = [
            ("done", _("Done since last time"), _("What moved forward?"), ""),
            ("next", _("Next"), _("What will you do next?"), next_prefill),
            ("blockers", _("Blockers"), _("Anything in your way? (optional)"), ""),
        ]
        components = [
            {
                "type": 18,
                "label": label[:45],
                "component": {
                    "type": 4, "custom_id": key, "style": 2, "required": False,
                    "max_length": 1000, "placeholder": placeholder[:100],
                    **({"value": value[:1000]} if value else {}),
                },
            }
            for key, label, placeholder, value in fields
        ]
        return {
            "type": 9,
            "data": {"custom_id": f"{MODAL_PREFIX}:{checkin_id or 'now'}", "title": _("Progress report")[:45],
                     "components": components},
        }


def _brief(summary: str) -> str:
    text = " ".join((summary or "").split())
    return text if len(text) <= SUMMARY_BRIEF else text[: SUMMARY_BRIEF - 1] + "…"
