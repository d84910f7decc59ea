"""The check-in dispatcher: one tick = claim, send, record, publish.

Each step does one unit and can be called on its own (tests freeze time and call them):

1. ``claim(now)`` — ONE D1 request, an atomic batch. It expires stale unsent check-ins,
   takes back unsent ones whose dispatcher died (the outbox), inserts a check-in for
   every member due now (the rules of sessions_app.schedule, written as SQL), marks
   their previous unanswered check-in missed, moves their counters, and SELECTs what
   this tick must send. D1 runs one request at a time, so two dispatchers ticking at
   the same moment cannot both claim a member: the second one's INSERT sees the first
   one's open check-in. ``claim_key`` (unique: session + the state it was claimed
   from) guards the same thing at the schema level.
2. ``send(claimed)`` — DMs through the one Discord client, spread over the first part
   of the window with jitter, a few in flight at once (the client paces under
   DISCORD_MAX_RPS). Greys out the buttons of the check-in a new one supersedes.
3. ``record(outcomes)`` — results in batches of ~100 per request, every row travelling
   in one JSON parameter (D1 allows 100 bound parameters per statement).
4. ``publish_after_tick(tick)`` — each member's next check-in and status to KV, in one
   bulk call, when the KV cache exists.

A tick therefore costs 1 + ceil(N / CHECKIN_RESULTS_BATCH) D1 requests, plus one KV call.
It runs at priority 0: it waits when only the interactions' reserve is left.
"""

from __future__ import annotations

import datetime
import json
import logging
import queue
import random
import threading
import time
import zoneinfo
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from coachbot.d1.dbapi import convert
from discord_app import messages
from discord_app.rest import (
    UNKNOWN_USER,
    DiscordAuthError,
    DiscordBanned,
    DiscordError,
    TooManyInvalidRequests,
    get_client,
)
from sessions_app import publish, schedule
from sessions_app.coaching import AUTO_PAUSE_REASON
from sessions_app.ids import new_id
from sessions_app.models import Session

log = logging.getLogger("coachbot.dispatch")

D1 = "d1"
UTC = datetime.UTC


def _setting(name: str, default):
    return type(default)(getattr(settings, name, default))


def spread_seconds() -> float:
    return _setting("CHECKIN_SPREAD_SECONDS", 180.0)


# --- What a tick works with -------------------------------------------------------------


@dataclass
class Claimed:
    """One check-in this tick must send, with what sending it needs."""

    checkin_id: str
    kind: str
    attempts: int
    session: Session  # as it is after the claim
    recovered: bool  # claimed by an earlier tick that never sent it (the outbox)
    summary: str
    previous_id: str | None = None  # the check-in it supersedes, when still showing buttons
    previous_channel_id: str = ""
    previous_message_id: str = ""


@dataclass
class Outcome:
    """What happened to one check-in: sent, retry (not sent, try again), failed, unreachable."""

    checkin_id: str
    session_id: str
    result: str
    message_id: str = ""
    channel_id: str = ""
    sent_at: datetime.datetime | None = None
    prompt: str = ""
    error: str = ""
    recovered: bool = False


@dataclass
class Tick:
    tick_id: str
    now: datetime.datetime
    claimed: list[Claimed] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str = ""  # why sending stopped early (bad token, ban), if it did

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)


# --- 1. Claim ---------------------------------------------------------------------------


def _db_time(value: datetime.datetime) -> str:
    """A datetime as Django's SQLite backend stores it: naive UTC text."""
    return str(value.astimezone(UTC).replace(tzinfo=None))


def _parse_time(value) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value).replace(tzinfo=UTC)


def zone_offsets(now: datetime.datetime) -> str:
    """Every IANA zone's UTC offset at ``now`` in seconds, as JSON: D1 has no tz database,
    but the offset in force at this instant makes wall-clock time exact in SQL."""
    offsets = {}
    for name in zoneinfo.available_timezones():
        try:
            offsets[name] = int(now.astimezone(zoneinfo.ZoneInfo(name)).utcoffset().total_seconds())
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # pragma: no cover - broken tzdata
            continue
    return json.dumps(offsets, separators=(",", ":"))


# The schedule's rules (sessions_app.schedule.decide) as SQL over sessions ``s`` joined
# with ``tz`` (name, off): keep the two in step; tests/schedule compare them.
_LOCAL = "datetime(%(now)s, printf('%%+d seconds', coalesce(tz.off, 0)))"
_ISO_DAY = "(((CAST(strftime('%%w', {day}) AS INTEGER) + 6) %% 7) + 1)"
_CANDIDATES = f"""
WITH tz(name, off) AS (SELECT key, value FROM json_each(%(zones)s)),
cand AS (
  SELECT s.id AS sid, s.last_prompt_at AS lp, s.work_start AS ws, s.work_end AS we,
         s.work_days AS wd, s.interval_minutes AS iv, coalesce(tz.off, 0) AS off,
         CASE WHEN s.status = 'paused' THEN 0 ELSE s.unanswered END AS u,
         nullif(max(coalesce(s.last_prompt_at, ''), coalesce(s.last_reply_at, '')), '') AS last,
         {_LOCAL} AS loc
  FROM sessions s LEFT JOIN tz ON tz.name = s.timezone
  WHERE (s.status = 'active'
         OR (s.status = 'paused' AND s.paused_until IS NOT NULL AND s.paused_until <= %(now)s))
    AND (s.snoozed_until IS NULL OR s.snoozed_until <= %(now)s)
    AND NOT EXISTS (SELECT 1 FROM checkins o WHERE o.session_id = s.id AND o.state = 'due')
),
due AS (
  SELECT cand.*,
         CASE WHEN u >= %(max_unanswered)s THEN 'notice'
              WHEN u = 1 AND lp IS NOT NULL
                   AND date(lp, printf('%%+d seconds', off)) = date(loc) THEN 'reminder'
              ELSE 'prompt' END AS kind
  FROM cand
  WHERE CASE WHEN ws < we THEN time(loc) >= ws AND time(loc) < we
                               AND instr(wd, {_ISO_DAY.format(day="loc")}) > 0
             WHEN time(loc) >= ws THEN instr(wd, {_ISO_DAY.format(day="loc")}) > 0
             WHEN time(loc) < we THEN instr(wd, {_ISO_DAY.format(day="date(loc, '-1 day')")}) > 0
             ELSE 0 END
    AND (last IS NULL
         OR strftime('%%Y-%%m-%%d %%H:%%M:%%f', last, printf('%%+d minutes',
                max(iv, min(iv * (1 << min(max(u - 1, 0), 20)), %(cap)s))))
            <= strftime('%%Y-%%m-%%d %%H:%%M:%%f', %(now)s))
)"""

_CLAIM_NEW = _CANDIDATES + """
INSERT INTO checkins (id, session_id, kind, state, prompt, due_at, channel_id, message_id,
                      attempts, error, claimed_by, claimed_at, claim_key)
SELECT %(id_prefix)s || printf('%%010d', row_number() OVER (ORDER BY sid)), sid, kind, 'due', '',
       %(now)s, '', '', 0, '', %(tick)s, %(now)s, sid || '/' || coalesce(lp, '-') || '/' || u
FROM due WHERE true
ON CONFLICT DO NOTHING"""

_NEW_CLAIMS = "SELECT session_id FROM checkins WHERE claimed_by = %(tick)s AND due_at = %(now)s"

_EXPIRE = """UPDATE checkins SET state = 'failed', error = 'expired: not sent in time'
       WHERE state = 'due' AND due_at <= %(expired)s"""
# The outbox: claimed earlier but never sent (the dispatcher died): take it back.
_TAKE_BACK = """UPDATE checkins SET claimed_by = %(tick)s, claimed_at = %(now)s
       WHERE state = 'due' AND (claimed_at IS NULL OR claimed_at <= %(stale)s)"""
# A coach's "send a check-in now": these members, whatever their interval or hours, but
# never one who paused, snoozed, stopped or cannot be reached (the member's choice wins).
_CLAIM_CHOSEN = """
INSERT INTO checkins (id, session_id, kind, state, prompt, due_at, channel_id, message_id,
                      attempts, error, claimed_by, claimed_at, claim_key)
SELECT %(id_prefix)s || printf('%%010d', row_number() OVER (ORDER BY s.id)), s.id, 'prompt', 'due', '',
       %(now)s, '', '', 0, '', %(tick)s, %(now)s,
       s.id || '/' || coalesce(s.last_prompt_at, '-') || '/' || s.unanswered
FROM sessions s
WHERE s.id IN (SELECT value FROM json_each(%(chosen)s)) AND s.status = 'active'
  AND (s.snoozed_until IS NULL OR s.snoozed_until <= %(now)s)
  AND NOT EXISTS (SELECT 1 FROM checkins o WHERE o.session_id = s.id AND o.state = 'due')
ON CONFLICT DO NOTHING"""
_AFTER_CLAIM = [
    # The previous check-in of a member asked again went unanswered.
    f"""UPDATE checkins SET state = 'missed'
        WHERE state = 'sent' AND session_id IN ({_NEW_CLAIMS})""",
    # Asked (a prompt or the reminder): one more unanswered; a timed pause is over.
    f"""UPDATE sessions SET last_prompt_at = %(now)s, paused_until = NULL,
          unanswered = CASE WHEN status = 'paused' THEN 1 ELSE unanswered + 1 END,
          status_reason = CASE WHEN status = 'paused' THEN '' ELSE status_reason END,
          status = 'active', version = version + 1, updated_at = %(now)s
        WHERE id IN ({_NEW_CLAIMS} AND kind IN ('prompt', 'reminder'))""",
    # Too many in a row: pause for silence (the notice about to go out says so, once).
    f"""UPDATE sessions SET status = 'paused', status_reason = %(silence)s, paused_until = NULL,
          last_prompt_at = %(now)s, version = version + 1, updated_at = %(now)s
        WHERE id IN ({_NEW_CLAIMS} AND kind = 'notice')""",
    # What this tick sends: its new claims and what it took back from the outbox.
    """SELECT c.id, c.kind, c.attempts, c.due_at < %(now)s, p.id, p.state, p.channel_id, p.message_id,
              coalesce(sm.summary, ''), s.id, s.user_id, s.channel_id, s.locale, s.next_prompt,
              s.status, s.status_reason, s.timezone, s.work_start, s.work_end, s.work_days,
              s.interval_minutes, s.snoozed_until, s.paused_until, s.last_prompt_at,
              s.last_reply_at, s.unanswered, s.version
       FROM checkins c
       JOIN sessions s ON s.id = c.session_id
       LEFT JOIN summaries sm ON sm.session_id = s.id
       LEFT JOIN checkins p ON p.id = (
         SELECT q.id FROM checkins q WHERE q.session_id = c.session_id AND q.id != c.id
           AND q.due_at <= c.due_at ORDER BY q.due_at DESC, q.id DESC LIMIT 1)
       WHERE c.claimed_by = %(tick)s AND c.state = 'due' AND c.claimed_at = %(now)s
       ORDER BY c.id""",
]
_CLAIM_STATEMENTS = [_EXPIRE, _TAKE_BACK, _CLAIM_NEW, *_AFTER_CLAIM]
_CLAIM_CHOSEN_STATEMENTS = [_CLAIM_CHOSEN, *_AFTER_CLAIM]


def claim(now: datetime.datetime | None = None, tick_id: str | None = None) -> Tick:
    """Claim every due member and every orphaned unsent check-in: one D1 request."""
    return _claim(_CLAIM_STATEMENTS, now, tick_id)


def claim_chosen(session_ids: list[str], now: datetime.datetime | None = None) -> Tick:
    """Claim these members now (a coach's "send a check-in now"): one D1 request."""
    return _claim(_CLAIM_CHOSEN_STATEMENTS, now, None, chosen=json.dumps(list(session_ids)))


def _claim(statements: list[str], now, tick_id, **extra) -> Tick:
    now = now or timezone.now()
    tick = Tick(tick_id or new_id(), now)
    grace = max(_setting("CHECKIN_OUTBOX_GRACE_SECONDS", 600.0), spread_seconds() + 120)
    values = {
        "now": _db_time(now),
        "tick": tick.tick_id,
        "id_prefix": tick.tick_id[:16],
        "zones": zone_offsets(now),
        "max_unanswered": schedule.max_unanswered(),
        "cap": int(schedule.backoff_cap().total_seconds() // 60),
        "silence": AUTO_PAUSE_REASON,
        "stale": _db_time(now - datetime.timedelta(seconds=grace)),
        "expired": _db_time(now - datetime.timedelta(minutes=_setting("CHECKIN_OUTBOX_MAX_AGE_MINUTES", 60))),
        **extra,
    }
    results = _send_batch([(sql, values) for sql in statements])
    tick.claimed = [_claimed(row) for row in results[-1].rows]
    log.info("tick %s claimed %d check-ins", tick.tick_id, len(tick.claimed))
    return tick


def _send_batch(statements: list[tuple[str, dict]]):
    """One request to D1: the statements as one atomic batch, every result back."""
    connection = connections[D1]
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection.connection.send([convert(sql, params) for sql, params in statements])


_SESSION_COLUMNS = (
    "id", "user_id", "channel_id", "locale", "next_prompt", "status", "status_reason", "timezone",
    "work_start", "work_end", "work_days", "interval_minutes", "snoozed_until", "paused_until",
    "last_prompt_at", "last_reply_at", "unanswered", "version",
)
_TIMES = {"snoozed_until", "paused_until", "last_prompt_at", "last_reply_at"}


def _claimed(row) -> Claimed:
    (checkin_id, kind, attempts, recovered, prev_id, prev_state, prev_channel, prev_message, summary), rest = (
        row[:9], row[9:])
    values = dict(zip(_SESSION_COLUMNS, rest, strict=True))
    for name in _TIMES:
        values[name] = _parse_time(values[name])
    for name in ("work_start", "work_end"):
        values[name] = datetime.time.fromisoformat(values[name])
    superseded = prev_state == "missed" and bool(prev_message)
    return Claimed(
        checkin_id=checkin_id, kind=kind, attempts=int(attempts or 0), session=Session(**values),
        recovered=bool(recovered),
        summary=summary or "", previous_id=prev_id if superseded else None,
        previous_channel_id=(prev_channel or "") if superseded else "",
        previous_message_id=(prev_message or "") if superseded else "",
    )


# --- 2. Send ----------------------------------------------------------------------------


def payload_for(item: Claimed) -> dict:
    """The DM for a claimed check-in: the question (the coach's last one, or the default)
    with the last summary in brief; a reminder and the pause notice come without a ping."""
    session = item.session
    if item.kind == schedule.NOTICE:
        return pause_notice(item.checkin_id, session.locale)
    return messages.checkin_payload(
        checkin_id=item.checkin_id, question=question_for(item), summary=item.summary,
        locale=session.locale, reminder=item.kind == schedule.REMINDER,
    )


def question_for(item: Claimed) -> str:
    return item.session.next_prompt or messages.default_question(item.session.locale)


def pause_notice(checkin_id: str, locale: str) -> dict:
    """Told once, politely, when check-ins pause for silence; the Report button resumes."""
    with translation.override(messages.language(locale)):
        text = _(
            "I haven't heard from you for a while, so I'll stop checking in for now. "
            "No worries at all: whenever you want to pick up again, press Report and "
            "I'll start asking again."
        )
    report_only = [dict(row, components=row["components"][:1]) for row in messages.buttons(checkin_id, locale)]
    return {
        "content": text, "components": report_only, "allowed_mentions": messages.NO_MENTIONS,
        "flags": messages.SUPPRESS_NOTIFICATIONS,
    }


class _Stop(Exception):
    """Sending must stop for everyone (bad token, banned): the rest stays in the outbox."""


def send_one(client, item: Claimed, now: Callable[[], datetime.datetime] = timezone.now) -> Outcome:
    """Send one check-in and grey out the one it supersedes; never raises but ``_Stop``."""
    session = item.session
    outcome = Outcome(item.checkin_id, session.id, "retry", recovered=item.recovered)
    payload = payload_for(item)
    outcome.prompt = payload["content"] if item.kind == schedule.NOTICE else question_for(item)
    try:
        delivered = _already_delivered(client, item) if item.recovered else None
        if delivered:
            channel_id, message = delivered["channel_id"], delivered
        else:
            channel_id, message = client.send_dm(session.user_id, payload, channel_id=session.channel_id or None)
    except (DiscordAuthError, DiscordBanned, TooManyInvalidRequests) as exc:
        outcome.error = str(exc)[:300]
        raise _Stop(outcome) from exc
    except DiscordError as exc:
        outcome.error = str(exc)[:300]
        if exc.unreachable or exc.code == UNKNOWN_USER:
            outcome.result = "unreachable"
        elif exc.maybe_sent:
            # Discord may have delivered it (5xx or a timeout on a POST). Sending it again
            # could DM the member twice, so it is recorded as failed, never re-sent.
            outcome.result = "failed"
            outcome.error = ("uncertain, not re-sent: " + outcome.error)[:300]
        elif exc.retryable:
            outcome.result = "retry"
        else:
            outcome.result = "failed"
        return outcome
    except Exception as exc:  # noqa: BLE001 - unknown: it may have gone out, so no retry
        log.exception("sending check-in %s failed", item.checkin_id)
        outcome.result, outcome.error = "failed", f"uncertain, not re-sent: {exc}"[:300]
        return outcome
    outcome.result, outcome.channel_id = "sent", str(channel_id)
    outcome.message_id, outcome.sent_at = str(message.get("id", "")), now()
    _disable_previous(client, item)
    return outcome


def _already_delivered(client, item: Claimed) -> dict | None:
    """A check-in taken back from the outbox may have gone out before its sender died (its
    result was not saved yet): look for it in the member's DM, by the check-in id its
    buttons carry, before sending it again. If the look fails, sending goes on; the
    message's nonce still stops Discord from posting it twice within a few minutes."""
    marker = messages.custom_id("report", item.checkin_id)
    try:
        # Opening a DM that exists returns it: the sender may have opened it before dying.
        channel_id = item.session.channel_id or client.open_dm(item.session.user_id)
        recent = client.recent_messages(channel_id)
    except (DiscordAuthError, DiscordBanned, TooManyInvalidRequests):
        raise
    except DiscordError as exc:
        log.info("could not check the DM of check-in %s before re-sending: %s", item.checkin_id, exc)
        return None
    for message in recent:
        ids = [c.get("custom_id") for row in message.get("components") or [] for c in row.get("components") or []]
        if marker in ids:
            return {**message, "channel_id": message.get("channel_id") or channel_id}
    return None


def _disable_previous(client, item: Claimed) -> None:
    if not item.previous_message_id:
        return
    try:
        client.edit_message(item.previous_channel_id, item.previous_message_id,
                            messages.disabled_payload(item.previous_id, item.session.locale))
    except DiscordError as exc:  # cosmetic: the old buttons still answer the member
        log.info("could not disable check-in %s: %s", item.previous_id, exc)


def send(
    tick: Tick,
    *,
    client=None,
    spread: float | None = None,
    workers: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_outcome: Callable[[Outcome], None] | None = None,
    record_every: int | None = None,
    record_seconds: float | None = None,
) -> Tick:
    """Send the claimed check-ins, recording results as they come (step 3 inside)."""
    client = client or get_client()
    spread = spread_seconds() if spread is None else spread
    workers = workers or _setting("CHECKIN_SEND_WORKERS", 8)
    record_every = record_every or _setting("CHECKIN_RESULTS_BATCH", 100)
    record_seconds = record_seconds or _setting("CHECKIN_RECORD_EVERY_SECONDS", 60.0)
    # Jitter: each member at a random moment of the spread, not all in one burst.
    moments = [random.uniform(0, spread) if spread > 0 else 0.0 for _ in tick.claimed]
    plan = sorted(zip(moments, tick.claimed, strict=True), key=lambda pair: pair[0])
    done: queue.Queue = queue.Queue()
    stop = threading.Event()
    started = time.monotonic()
    lock = threading.Lock()
    next_index = [0]

    def worker() -> None:
        while not stop.is_set():
            with lock:
                if next_index[0] >= len(plan):
                    return
                at, item = plan[next_index[0]]
                next_index[0] += 1
            wait = started + at - time.monotonic()
            if wait > 0:
                sleep(wait)
            if stop.is_set():
                return
            try:
                done.put(send_one(client, item))
            except _Stop as exc:
                tick.stopped = exc.args[0].error
                stop.set()
                done.put(exc.args[0])

    pending: list[Outcome] = []
    oldest = None
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(plan) or 1))) as pool:
        futures = [pool.submit(worker) for _ in range(min(workers, len(plan)))]
        while True:
            alive = any(not f.done() for f in futures)
            try:
                outcome = done.get(timeout=0.05 if alive else 0)
            except queue.Empty:
                if not alive and done.empty():
                    break
                outcome = None
            if outcome is not None:
                tick.outcomes.append(outcome)
                pending.append(outcome)
                oldest = oldest or time.monotonic()
                if on_outcome:
                    on_outcome(outcome)
            if pending and (len(pending) >= record_every or time.monotonic() - oldest >= record_seconds):
                record(pending, tick.now)
                pending, oldest = [], None
        for future in futures:
            future.result()
    if pending:
        record(pending, tick.now)
    if tick.stopped:
        log.error("tick %s stopped sending: %s; the rest stays in the outbox", tick.tick_id, tick.stopped)
    return tick


# --- 3. Record --------------------------------------------------------------------------

_ROWS = """(SELECT json_extract(value, '$.c') AS c, json_extract(value, '$.s') AS s,
                   json_extract(value, '$.r') AS r, json_extract(value, '$.m') AS m,
                   json_extract(value, '$.ch') AS ch, json_extract(value, '$.at') AS at,
                   json_extract(value, '$.p') AS p, json_extract(value, '$.e') AS e,
                   json_extract(value, '$.late') AS late
            FROM json_each(%(rows)s)) AS j"""

_RECORD_STATEMENTS = [
    # Sent: keep the message id (its buttons get disabled later). A member who answered
    # before this was written keeps "answered".
    f"""UPDATE checkins SET state = CASE WHEN checkins.state = 'due' THEN 'sent' ELSE checkins.state END,
          message_id = j.m, channel_id = j.ch, sent_at = j.at, prompt = j.p,
          attempts = checkins.attempts + 1, error = ''
        FROM {_ROWS} WHERE checkins.id = j.c AND j.r = 'sent'""",
    # Not sent: try again from the outbox, up to CHECKIN_MAX_ATTEMPTS.
    f"""UPDATE checkins SET attempts = checkins.attempts + 1, error = j.e,
          state = CASE WHEN checkins.attempts + 1 >= %(max_attempts)s THEN 'failed' ELSE 'due' END
        FROM {_ROWS} WHERE checkins.id = j.c AND j.r = 'retry' AND checkins.state = 'due'""",
    # Failed for good, or maybe delivered (not re-sent), or the member can't be DMed.
    f"""UPDATE checkins SET state = 'failed', attempts = checkins.attempts + 1, error = j.e
        FROM {_ROWS} WHERE checkins.id = j.c AND j.r IN ('failed', 'unreachable')
          AND checkins.state = 'due'""",
    # The member can't be DMed (DMs closed, no mutual server): stop, and the coach sees why.
    f"""UPDATE sessions SET status = 'unreachable', status_reason = substr(j.e, 1, 200),
          version = sessions.version + 1, updated_at = %(now)s
        FROM {_ROWS} WHERE sessions.id = j.s AND j.r = 'unreachable'""",
    # A check-in the outbox sent late: the interval counts from when it really went out.
    f"""UPDATE sessions SET last_prompt_at = j.at, updated_at = %(now)s
        FROM {_ROWS} WHERE sessions.id = j.s AND j.r = 'sent' AND j.late = 1
          AND j.at > sessions.last_prompt_at""",
    # The DM channel, cached so it is opened once.
    f"""UPDATE sessions SET channel_id = j.ch, version = sessions.version + 1, updated_at = %(now)s
        FROM {_ROWS} WHERE sessions.id = j.s AND j.r = 'sent' AND j.ch != ''
          AND sessions.channel_id != j.ch""",
]


def record(outcomes: list[Outcome], now: datetime.datetime) -> None:
    """Write a batch of outcomes: one D1 request, however many rows."""
    if not outcomes:
        return
    rows = json.dumps([
        {"c": o.checkin_id, "s": o.session_id, "r": o.result, "m": o.message_id,
         "ch": o.channel_id, "at": _db_time(o.sent_at) if o.sent_at else None,
         "p": o.prompt, "e": o.error, "late": int(o.recovered)}
        for o in outcomes
    ])
    values = {"rows": rows, "now": _db_time(now), "max_attempts": _setting("CHECKIN_MAX_ATTEMPTS", 3)}
    _send_batch([(sql, values) for sql in _RECORD_STATEMENTS])


# --- 4. Publish -------------------------------------------------------------------------


def publish_after_tick(tick: Tick) -> int:
    """Each member's next prompt and last status to KV (``publish.schedule_entries``), in one bulk call."""
    results = {o.checkin_id: o for o in tick.outcomes}
    entries = {}
    for item in tick.claimed:
        outcome = results.get(item.checkin_id)
        session = item.session
        if outcome is not None and outcome.result == "unreachable":
            session.status = Session.Status.UNREACHABLE
        entries.update(publish.schedule_entries(session, outcome.result if outcome else "due", tick.now))
    return publish.publish(entries)


# --- The tick ---------------------------------------------------------------------------


def run_tick(now: datetime.datetime | None = None, **send_options) -> Tick:
    """One dispatcher tick, at background priority. django-q's schedule calls this."""
    connection = connections[D1]
    connection.set_priority(0)
    try:
        tick = claim(now)
        send(tick, **send_options)
        publish_after_tick(tick)
    finally:
        connection.set_priority(1)
    log.info("tick %s: %d sent, %d to retry, %d failed, %d unreachable", tick.tick_id,
             tick.count("sent"), tick.count("retry"), tick.count("failed"), tick.count("unreachable"))
    return tick


def send_now(session_ids: list[str]) -> None:
    """Queue a coach's "send a check-in now" for the task cluster (the web request returns at once)."""
    from django_q.tasks import async_task

    async_task("sessions_app.dispatch.send_now_task", list(session_ids))


def send_now_task(session_ids: list[str], now: datetime.datetime | None = None, **send_options) -> Tick:
    """Claim the chosen members (one request), send without spreading, record, publish."""
    tick = claim_chosen(session_ids, now)
    send(tick, spread=0, **send_options)
    publish_after_tick(tick)
    log.info("send-now %s: %d asked, %d sent", tick.tick_id, len(session_ids), tick.count("sent"))
    return tick


def dispatch_checkins() -> str:
    """The scheduled task (django-q): returns a one-line summary for the task's result."""
    tick = run_tick()
    return (f"{len(tick.claimed)} claimed, {tick.count('sent')} sent, {tick.count('retry')} to retry, "
            f"{tick.count('failed')} failed, {tick.count('unreachable')} unreachable")
