"""The seam between the coaches' admin and what sits outside D1: the KV copy and dispatch.

- ``publish_member()`` copies a member's summary to Workers KV after a coach saved it
  (or on "republish"); ``kv_state()`` says whether that copy matches D1.
- ``send_checkins_now()`` asks for check-ins right away.

KV is reached through Django's cache API under the alias ``KV_CACHE`` (coachbot.kv's
KVCache in settings). Where that alias is not configured every function here is
harmless: nothing is written and the state says "off".
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from sessions_app.ids import new_id
from sessions_app.models import CheckIn, Session, Summary

log = logging.getLogger("coachbot.publish")

KV_CACHE = "kv"
MEMBER_TTL = datetime.timedelta(days=7)

IN_SYNC, STALE, MISSING, OFF = "in_sync", "stale", "missing", "off"


@dataclass(frozen=True)
class KVState:
    """What KV holds for one member, compared with the summary version in D1."""

    state: str  # in_sync | stale | missing | off
    version: int | None = None
    published_at: datetime.datetime | None = None
    expires_at: datetime.datetime | None = None


def member_key(session_id: str) -> str:
    return f"session:{session_id}:last_summary"  # the seed's key name


def _kv():
    """The KV cache, or None while it is not configured."""
    if KV_CACHE not in settings.CACHES:
        return None
    return caches[KV_CACHE]


def publish_member(session_id: str, *, summary: Summary | None = None, now=None) -> KVState:
    """Copy the member's current summary to KV; one KV write (plus one D1 read without ``summary``)."""
    kv = _kv()
    if kv is None:
        return KVState(OFF)
    if summary is None:
        summary = Summary.objects.filter(session_id=session_id).first()
    now = now or timezone.now()
    expires = now + MEMBER_TTL
    value = {
        "session_id": session_id,
        "version": summary.version if summary else 0,
        "summary": summary.summary if summary else "",
        "published_at": now.isoformat(),
        "expires_at": expires.isoformat(),
    }
    kv.set(member_key(session_id), value, timeout=MEMBER_TTL.total_seconds())
    return KVState(IN_SYNC, value["version"], now, expires)


def kv_state(session_id: str, d1_version: int) -> KVState:
    """The KV copy's state against ``d1_version`` (the summary version in D1); one KV read."""
    kv = _kv()
    if kv is None:
        return KVState(OFF)
    value = kv.get(member_key(session_id))
    if not isinstance(value, dict):
        return KVState(MISSING)
    version = value.get("version")
    state = IN_SYNC if version == d1_version else STALE
    return KVState(state, version, _when(value.get("published_at")), _when(value.get("expires_at")))


def _when(text: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def send_checkins_now(sessions: list[Session], now=None) -> str:
    """Ask these members now. Returns "sent" when dispatch sent them, "queued" when the next tick will.

    Without ``sessions_app.dispatch.send_now`` a due CheckIn is written for each member
    (one request), which the dispatcher's next tick sends.
    """
    ids = [s.pk for s in sessions]
    try:
        from sessions_app.dispatch import send_now
    except ImportError:
        send_now = None
    if send_now is not None:
        send_now(ids)
        return "sent"
    now = now or timezone.now()
    CheckIn.objects.bulk_create([
        CheckIn(id=new_id(), session=s, kind=CheckIn.Kind.PROMPT, state=CheckIn.State.DUE,
                prompt=s.next_prompt, due_at=now)
        for s in sessions
    ])
    return "queued"
