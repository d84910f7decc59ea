"""The interactions endpoint: Discord POSTs every command, click, form and autocomplete here.

Order matters: size, then the Ed25519 signature over the raw body (401), then JSON and
shape (400), then the interaction, at most once per id. Anything that changes data is
answered at most once per interaction id (the report path is also idempotent in D1).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from discord_app.handlers import changes_something, handle
from discord_app.interaction import MODAL_SUBMIT, PING, BadInteraction, Interaction, pong, private
from discord_app.messages import language
from discord_app.signature import InvalidSignature, verify_request
from discord_app.texts import already_handled, failed

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # Discord's largest payloads (modals of 5 x 4,000 chars) fit easily
MAX_TIMESTAMP_DIGITS = 20
SEEN_SECONDS = 900  # the 15 minutes an interaction token lives


@csrf_exempt
@require_POST
def interactions(request: HttpRequest) -> HttpResponse:
    if _declared_length(request) > MAX_BODY or len(request.body) > MAX_BODY:
        return HttpResponse("Payload too large", status=413)
    if not _public_key_is_valid():
        # Unconfigured (the embedded default) or garbled (system check coachbot.E010).
        return HttpResponse("Interactions are not configured: set DISCORD_PUBLIC_KEY", status=503)
    try:
        _verify(request)
    except InvalidSignature as exc:
        log.info("Rejected an interaction: %s", exc.reason)
        return HttpResponse("Invalid request signature", status=401)
    try:
        ix = Interaction.parse(_json(request.body))
        return JsonResponse(_answer(ix))
    except BadInteraction as exc:
        log.info("Bad interaction payload: %s", exc)
        return HttpResponse("Bad request", status=400)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return MAX_BODY + 1


def _public_key_is_valid() -> bool:
    try:
        return len(bytes.fromhex(settings.DISCORD_PUBLIC_KEY)) == 32
    except ValueError:
        return False


def _verify(request: HttpRequest) -> None:
    timestamp = request.headers.get("X-Signature-Timestamp")
    if timestamp and len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise InvalidSignature("timestamp is too long")
    verify_request(settings.DISCORD_PUBLIC_KEY, request.headers.get("X-Signature-Ed25519"),
                   timestamp, request.body)


def _json(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadInteraction("body is not JSON") from None


def _answer(ix: Interaction) -> dict:
    if ix.type == PING:
        return pong()
    with translation.override(language(ix.locale)):
        if changes_something(ix) and not cache.add(f"ix:{ix.id}", 1, SEEN_SECONDS):
            return private(already_handled())
        try:
            return handle(ix)
        except BadInteraction:
            raise
        except Exception:
            log.exception("Interaction %s failed", ix.id)
            return _apology(ix)


def _apology(ix: Interaction) -> dict:
    """An answer even when D1 or the queue fails; a report comes back so it is not lost."""
    text = failed()
    if ix.type == MODAL_SUBMIT:
        written = "\n".join(v for v in ix.fields().values() if v)
        text = f"{text}\n\n{written}"
    return private(text)
