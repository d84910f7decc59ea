"""D1 reads and writes for interactions: at most one read request and one atomic write each.

Reads go through `fetch_many` (several SELECTs, one request); writes are queued inside
`transaction.atomic(using="d1")` so they travel as one batch. Every write to a session
increments its `version`. A change of status or schedule is then written through to KV
(`user:{id}:last_status`), as a report is: at most one KV request, never an error.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q

from coachbot.d1 import fetch_many, queue_update
from sessions_app import publish
from sessions_app.ids import new_id
from sessions_app.models import Session, Summary, Task

D1 = "d1"
MAX_TASKS = 200
PREFILL_SECONDS = 7 * 24 * 3600


@dataclass
class Member:
    """One member's session with what a command shows: summary text and open tasks."""

    session: Session | None
    summary: str = ""
    tasks: list[Task] | None = None


def _sessions(user_id: str):
    return Session.objects.filter(platform="discord", user_id=user_id)


def _open_tasks(user_id: str):
    return Task.objects.filter(session__platform="discord", session__user_id=user_id).filter(
        ~Q(status=Task.Status.DONE)
    )


def find(user_id: str) -> Session | None:
    """The member's session (one request)."""
    rows = list(_sessions(user_id)[:1])
    return rows[0] if rows else None


def find_with_tasks(user_id: str, *, summary: bool = False) -> Member:
    """The session, its open tasks and (optionally) its summary, in one request."""
    summaries = Summary.objects.filter(session__platform="discord", session__user_id=user_id)
    sessions, tasks, found = fetch_many(
        _sessions(user_id)[:1],
        _open_tasks(user_id)[:MAX_TASKS],
        summaries[:1] if summary else Summary.objects.none(),
    )
    if not sessions:
        return Member(None)
    return Member(sessions[0], found[0].summary if found else "", tasks)


def open_tasks_matching(user_id: str, typed: str, limit: int) -> list[Task]:
    """Open tasks whose title contains `typed`, newest first (one request)."""
    tasks = _open_tasks(user_id)
    if typed:
        tasks = tasks.filter(title__icontains=typed)
    return list(tasks.order_by("-created_at", "-id")[:limit])


def change(session: Session, now: datetime.datetime, **changes) -> None:
    """Apply `changes` to the session, save them as one atomic request, publish the status."""
    for name, value in changes.items():
        setattr(session, name, value)
    with transaction.atomic(using=D1):
        _bump(session, now, **changes)
    publish.publish_sessions([session], now)  # after the commit; a KV failure is logged, not raised


def _bump(session: Session, now: datetime.datetime, **changes) -> None:
    """Queue `changes` with the version increment; `session.version` follows D1's."""
    queue_update(Session.objects.filter(pk=session.pk), version=F("version") + 1, updated_at=now,
                 **changes)
    session.version += 1


def start(session: Session | None, fields: dict, now: datetime.datetime) -> Session:
    """Create the member's session, or change `fields` of the existing one (one atomic request)."""
    with transaction.atomic(using=D1):
        if session is None:
            session = Session(id=new_id(), created_at=now, updated_at=now, **fields)
            Session.objects.bulk_create([session])
        else:
            for name, value in fields.items():
                setattr(session, name, value)
            _bump(session, now, **fields)
    publish.publish_sessions([session], now)
    return session


def add_task(session: Session, title: str, now: datetime.datetime) -> Task:
    task = Task(id=new_id(), session=session, title=title, created_at=now, updated_at=now)
    with transaction.atomic(using=D1):
        Task.objects.bulk_create([task])
        _bump(session, now)
    return task


def finish_task(session: Session, task: Task, now: datetime.datetime) -> None:
    with transaction.atomic(using=D1):
        queue_update(Task.objects.filter(pk=task.pk), status=Task.Status.DONE, blocker="",
                     done_at=now, updated_at=now)
        _bump(session, now)


# --- The pre-filled "next" of the report modal (no D1 before a modal) ------------------


def remember_next(user_id: str, text: str) -> None:
    if text:
        cache.set(f"coach:next:{user_id}", text[:1000], PREFILL_SECONDS)


def last_next(user_id: str) -> str:
    value = cache.get(f"coach:next:{user_id}", "")
    return value if isinstance(value, str) else ""
