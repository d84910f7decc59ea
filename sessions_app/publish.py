"""Write-through from D1 to Workers KV, and the admin's view of it.

KV holds copies of derived data under the seed's key names, each with the D1
``version`` it was made from:

- ``session:{id}:last_summary``      the rolling summary
- ``session:{id}:next_prompt``       the next check-in question
- ``user:{discord id}:last_status``  status, streak, next check-in

all with the seed's TTL of 300 s (``KV_TTL``), so one bulk request carries them.

D1 stays the truth: KV is eventually consistent (up to a minute between locations),
so a reader that has D1 at hand compares versions (``fresh_summary``) and never shows
a stale copy as current. Publishing goes through the KV cache's write-behind buffer,
which coalesces writes to one key within KV's one-write-per-second rule and sends
every due key in one bulk request. A failure to publish is logged, never raised: the
member's report is already safe in D1.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from sessions_app import schedule
from sessions_app.models import Session, Summary

log = logging.getLogger("coachbot.publish")

KV_CACHE = "kv"
IN_SYNC, STALE, MISSING, OFF = "in_sync", "stale", "missing", "off"


def _ttl(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


@dataclass(frozen=True)
class KVState:
    """What KV holds for one member, compared with the summary version in D1."""

    state: str  # in_sync | stale | missing | off
    version: int | None = None
    published_at: datetime.datetime | None = None
    expires_at: datetime.datetime | None = None


def summary_key(session_id: str) -> str:
    return f"session:{session_id}:last_summary"


def prompt_key(session_id: str) -> str:
    return f"session:{session_id}:next_prompt"


def status_key(user_id: str) -> str:
    return f"user:{user_id}:last_status"


def _kv():
    """The KV cache, or None while it is not configured."""
    if KV_CACHE not in settings.CACHES:
        return None
    return caches[KV_CACHE]


def member_entries(
    session: Session, summary_text: str, summary_version: int, now: datetime.datetime,
) -> dict[str, dict]:
    """The three KV entries of one member, as of ``now``."""
    expires = (now + datetime.timedelta(seconds=_ttl("KV_TTL", 300))).isoformat()
    return {
        summary_key(session.pk): {
            "summary": summary_text, "version": summary_version, "published_at": now.isoformat(),
            "expires_at": expires,
        },
        **session_entries(session, now),
    }


def session_entries(session: Session, now: datetime.datetime) -> dict[str, dict]:
    """The member's next prompt and status: what a change to the session alone touches.

    The status carries the schedule's next check-in (``schedule.next_checkin_at``).
    """
    stamp = now.isoformat()
    next_checkin_at = schedule.next_checkin_at(session, now)
    return {
        prompt_key(session.pk): {"prompt": session.next_prompt, "version": session.version, "published_at": stamp},
        status_key(session.user_id): {
            "status": session.status, "unanswered": session.unanswered,
            "last_reply_at": session.last_reply_at.isoformat() if session.last_reply_at else None,
            "next_checkin_at": next_checkin_at.isoformat() if next_checkin_at else None,
            "version": session.version, "published_at": stamp,
        },
    }


def schedule_entries(session: Session, last_checkin: str, now: datetime.datetime) -> dict[str, dict]:
    """After a dispatcher tick: the member's next prompt and status (no summary change)."""
    entries = session_entries(session, now)
    entries[status_key(session.user_id)]["last_checkin"] = last_checkin
    return entries


def publish(entries: dict[str, dict]) -> int:
    """Write entries to KV through the write-behind buffer; returns how many were handed over."""
    kv = _kv()
    if kv is None or not entries:
        return 0
    try:
        kv.set_many(entries, timeout=_ttl("KV_TTL", 300))
    except Exception:  # noqa: BLE001 - a cache may fall behind; D1 has the truth
        log.exception("publishing %d KV entries failed; they stay in D1 only", len(entries))
        return 0
    return len(entries)


def publish_report(session: Session, summary_text: str, summary_version: int, now: datetime.datetime) -> int:
    """After a report is recorded: the member's summary, next prompt and status."""
    return publish(member_entries(session, summary_text, summary_version, now))


_READ = object()  # publish_member's default summary: read it from D1


def publish_member(session_id: str, *, summary: Summary | None = _READ, session: Session | None = None,
                   now: datetime.datetime | None = None) -> KVState:
    """Republish one member (after a coach's edit, or the admin's "republish" button).

    What is not passed is read from D1: pass ``session`` and ``summary`` (None: the
    member has none yet) to publish without a request.
    """
    if _kv() is None:
        return KVState(OFF)
    now = now or timezone.now()
    if session is None:
        session = Session.objects.get(pk=session_id)
    if summary is _READ:
        summary = Summary.objects.filter(session_id=session_id).first()
    entries = member_entries(session, summary.summary if summary else "", summary.version if summary else 0, now)
    if not publish(entries):
        return KVState(MISSING)
    value = entries[summary_key(session_id)]
    return KVState(IN_SYNC, value["version"], now, _when(value["expires_at"]))


def publish_sessions(sessions: Iterable[Session], now: datetime.datetime | None = None) -> int:
    """After a coach changed members (pause, resume, a saved member page): each one's next
    prompt and status, in one bulk call."""
    now = now or timezone.now()
    entries: dict[str, dict] = {}
    for session in sessions:
        entries.update(session_entries(session, now))
    return publish(entries)


def publish_all(rows: Iterable[tuple[Session, Summary | None]], now=None) -> int:
    """Many members at once (``kv_publish``): one bulk request per 10,000 keys."""
    now = now or timezone.now()
    entries: dict[str, dict] = {}
    for session, summary in rows:
        entries.update(member_entries(session, summary.summary if summary else "",
                                      summary.version if summary else 0, now))
    return publish(entries)


def kv_state(session_id: str, d1_version: int) -> KVState:
    """The KV copy's state against ``d1_version`` (the summary version in D1); one KV read."""
    kv = _kv()
    if kv is None:
        return KVState(OFF)
    value = kv.get(summary_key(session_id))
    if not isinstance(value, dict):
        return KVState(MISSING)
    version = value.get("version")
    state = IN_SYNC if version == d1_version else STALE
    return KVState(state, version, _when(value.get("published_at")), _when(value.get("expires_at")))


def fresh_summary(session_id: str, d1_summary: Summary | None, kv=None) -> tuple[str, str]:
    """The summary to show, and where it came from ("kv" or "d1").

    The KV copy is used only when it carries D1's current version: a copy that has
    not caught up (KV takes up to a minute to reach every location) is never shown
    as current.
    """
    d1_text = d1_summary.summary if d1_summary else ""
    d1_version = d1_summary.version if d1_summary else 0
    kv = kv if kv is not None else _kv()
    value = kv.get(summary_key(session_id)) if kv is not None else None
    if isinstance(value, dict) and value.get("version") == d1_version:
        return value.get("summary", ""), "kv"
    return d1_text, "d1"


def _when(text: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
