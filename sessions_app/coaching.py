"""A member's report, from D1 to the coach and back: two requests per interaction.

``load_context`` reads everything the coach needs in ONE request (a batch of
SELECTs), however long the history is. ``record_report`` writes the report, the
reply, task changes, the new summary, the session's counters and the check-in's
state in ONE atomic batch: no statement in it needs a result, because every key is
made by the app and every update is queued (``coachbot.d1.queue_update``).
"""

from __future__ import annotations

import copy
import datetime
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone

from coachbot.d1 import fetch_many, queue_update
from sessions_app.coach import (
    Context,
    PastMessage,
    Reply,
    Report,
    TaskState,
    TaskUpdate,
    fold_history,
    get_coach,
    is_milestone,
    parse_report,
    summarise,
)
from sessions_app.ids import new_id
from sessions_app.models import CheckIn, Message, Session, Summary, Task

log = logging.getLogger("coachbot.coaching")

D1 = "d1"
RECENT_MESSAGES = 20
DONE_TASKS_KEPT = datetime.timedelta(days=7)
OPEN_STATES = (CheckIn.State.DUE, CheckIn.State.SENT, CheckIn.State.MISSED)
AUTO_PAUSE_REASON = "silence"  # set by the schedule after several unanswered check-ins


@dataclass
class Loaded:
    """What one request brought back for one member."""

    session: Session
    summary: Summary | None
    recent: list[Message]  # oldest first
    tasks: list[Task]
    checkin: CheckIn | None  # the latest
    history_count: int
    replayed: list[Message]  # the report (and reply) an interaction id already recorded

    @property
    def summary_text(self) -> str:
        return self.summary.summary if self.summary else ""

    @property
    def summary_version(self) -> int:
        return self.summary.version if self.summary else 0

    @property
    def open_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.status != Task.Status.DONE]


@dataclass
class Recorded:
    report: Message
    reply: Message | None
    summary: str
    summary_version: int
    replay: bool = False


def load_context(
    *, session_id: str | None = None, user_id: str | None = None,
    interaction_id: str | None = None, now: datetime.datetime | None = None,
) -> Loaded | None:
    """Everything the coach needs about one member, in one D1 request."""
    now = now or timezone.now()
    if session_id:
        own = {"session_id": session_id}
        sessions = Session.objects.filter(pk=session_id)
    else:
        own = {"session__platform": "discord", "session__user_id": user_id}
        sessions = Session.objects.filter(platform="discord", user_id=user_id)
    replays = Message.objects.none()
    if interaction_id:
        replays = Message.objects.filter(**own).filter(
            Q(interaction_id=interaction_id)
            | Q(in_reply_to__in=Message.objects.filter(interaction_id=interaction_id).values("id"))
        )
    session_rows, summaries, recent, tasks, checkins, counts, replayed = fetch_many(
        sessions[:1],
        Summary.objects.filter(**own)[:1],
        Message.objects.filter(**own).order_by("-created_at", "-id")[:RECENT_MESSAGES],
        Task.objects.filter(**own).filter(~Q(status=Task.Status.DONE) | Q(done_at__gte=now - DONE_TASKS_KEPT))[:200],
        CheckIn.objects.filter(**own).order_by("-due_at", "-id")[:1],
        Message.objects.filter(**own).values("session_id").annotate(n=Count("id")).values_list("n", flat=True),
        replays if interaction_id else Message.objects.filter(pk__in=[]),
    )
    if not session_rows:
        return None
    return Loaded(
        session=session_rows[0],
        summary=summaries[0] if summaries else None,
        recent=list(reversed(recent)),
        tasks=tasks,
        checkin=checkins[0] if checkins else None,
        history_count=counts[0] if counts else 0,
        replayed=sorted(replayed, key=lambda m: (m.created_at, m.id)),
    )


def build_context(loaded: Loaded, now: datetime.datetime) -> Context:
    """The coach's view of a member (plain data, no ORM)."""
    session = loaded.session
    reports = [m for m in loaded.recent if m.kind == Message.Kind.REPORT]
    return Context(
        member_name=session.display_name,
        locale=session.locale,
        timezone=session.timezone,
        now=now,
        summary=loaded.summary_text,
        recent=[PastMessage(m.role, m.kind, m.content, m.created_at) for m in loaded.recent],
        tasks=[_task_state(t) for t in loaded.tasks],
        last_report=parse_report(reports[-1].content) if reports else None,
        last_advice_key=session.last_advice_key,
        working_hours_end=session.work_end,
        history_count=loaded.history_count,
    )


def _task_state(task: Task) -> TaskState:
    return TaskState(task.id, task.title, task.status, task.blocker, task.created_at, task.updated_at, task.done_at)


def record_report(
    loaded: Loaded, report: Report, *, reply: Reply | None, interaction_id: str | None = None,
    checkin_id: str | None = None, now: datetime.datetime | None = None,
) -> Recorded:
    """Write a report (and the coach's reply, when there is one) as one atomic D1 batch.

    Idempotent on ``interaction_id``: a replayed interaction records nothing and gets
    back what the first one recorded.
    """
    if loaded.replayed:
        return _replay(loaded)
    now = now or timezone.now()
    session = loaded.session
    report_message = Message(
        id=new_id(), session=session, role=Message.Role.MEMBER, kind=Message.Kind.REPORT,
        content=report.as_text(), interaction_id=interaction_id, created_at=now,
    )
    summary_text, summary_version = loaded.summary_text, loaded.summary_version
    reply_message = None
    try:
        with transaction.atomic(using=D1):
            messages = [report_message]
            if reply is not None:
                reply_message = _reply_message(session, reply, report_message, now)
                messages.append(reply_message)
                summary_text = _apply_reply(loaded, report, reply, now)
                summary_version += 1
            Message.objects.bulk_create(messages)
            _mark_answered(loaded, checkin_id, now, reply)
    except IntegrityError:
        # A concurrent delivery of the same interaction won the race: answer like a replay.
        again = interaction_id and load_context(session_id=session.pk, interaction_id=interaction_id)
        if again and again.replayed:
            return _replay(again)
        raise
    _publish_after(loaded, reply, summary_text, summary_version, now)
    return Recorded(report_message, reply_message, summary_text, summary_version)


def _publish_after(loaded: Loaded, reply: Reply | None, summary_text: str, summary_version: int, now) -> None:
    """Write the member's new state through to KV (after the D1 batch committed)."""
    from sessions_app import publish

    session = copy.copy(loaded.session)
    session.last_reply_at, session.unanswered, session.version = now, 0, session.version + 1
    if reply is not None:
        session.next_prompt = reply.question
    if session.status == Session.Status.PAUSED and session.status_reason == AUTO_PAUSE_REASON:
        session.status = Session.Status.ACTIVE
    publish.publish_report(session, summary_text, summary_version, now)


def record_reply(loaded: Loaded, report_message: Message, reply: Reply, now: datetime.datetime | None = None) -> Recorded:
    """The deferred half: the coach's reply to a report recorded earlier, one atomic batch."""
    now = now or timezone.now()
    report = parse_report(report_message.content)
    message = _reply_message(loaded.session, reply, report_message, now)
    with transaction.atomic(using=D1):
        Message.objects.bulk_create([message])
        summary_text = _apply_reply(loaded, report, reply, now)
        queue_update(Session.objects.filter(pk=loaded.session.pk), last_advice_key=reply.advice_key,
                     next_prompt=reply.question, version=F("version") + 1, updated_at=now)
    version = loaded.summary_version + 1
    _publish_after(loaded, reply, summary_text, version, now)
    return Recorded(report_message, message, summary_text, version)


def _reply_message(session: Session, reply: Reply, report_message: Message, now) -> Message:
    return Message(
        id=new_id(), session=session, role=Message.Role.COACH, kind=Message.Kind.REPLY,
        content=reply.render(), in_reply_to=report_message.id,
        created_at=now + datetime.timedelta(microseconds=1),
    )


def _apply_reply(loaded: Loaded, report: Report, reply: Reply, now) -> str:
    """Queue the task changes and the new summary; return the summary text."""
    tasks = _apply_task_updates(loaded, reply.task_updates, now)
    previous = loaded.summary_text
    if is_milestone(loaded.history_count + 2):
        older = [PastMessage(m.role, m.kind, m.content, m.created_at) for m in loaded.recent]
        previous = fold_history(previous, older)
    text = summarise(previous, report, [_task_state(t) for t in tasks])
    version = loaded.summary_version + 1
    Summary.objects.bulk_create(
        [Summary(session=loaded.session, summary=text, version=version,
                 edited_by=Summary.Editor.BOT, editor_user_id=None, updated_at=now)],
        update_conflicts=True, unique_fields=["session"],
        update_fields=["summary", "version", "edited_by", "editor_user_id", "updated_at"],
    )
    return text


def _apply_task_updates(loaded: Loaded, updates: list[TaskUpdate], now) -> list[Task]:
    """Queue the coach's task changes; return the task list as it will be afterwards."""
    tasks = {t.id: t for t in loaded.tasks}
    created = []
    for update in updates:
        task = tasks.get(update.task_id) if update.task_id else None
        if task is None:
            if update.kind not in ("add", "block"):
                continue
            task = Task(id=new_id(), session=loaded.session, title=update.title[:200], created_at=now)
            created.append(task)
            tasks[task.id] = task
        _change_task(task, update, now)
        if task not in created:
            queue_update(Task.objects.filter(pk=task.pk), status=task.status, blocker=task.blocker,
                         updated_at=now, done_at=task.done_at)
    if created:
        Task.objects.bulk_create(created)
    return list(tasks.values())


def _change_task(task: Task, update: TaskUpdate, now) -> None:
    status = {
        "add": Task.Status.TODO, "start": Task.Status.DOING, "done": Task.Status.DONE,
        "block": Task.Status.BLOCKED, "unblock": Task.Status.DOING,
    }[update.kind]
    task.status = status
    task.blocker = update.blocker if status == Task.Status.BLOCKED else ""
    task.done_at = now if status == Task.Status.DONE else None
    task.updated_at = now


def _mark_answered(loaded: Loaded, checkin_id: str | None, now, reply: Reply | None) -> None:
    """A reply resets the unanswered streak, ends a pause for silence, answers the check-in."""
    changes = {
        "last_reply_at": now, "unanswered": 0, "version": F("version") + 1, "updated_at": now,
        "status": Case(When(status=Session.Status.PAUSED, status_reason=AUTO_PAUSE_REASON,
                            then=Value(Session.Status.ACTIVE)), default=F("status")),
    }
    if reply is not None:
        changes.update(last_advice_key=reply.advice_key, next_prompt=reply.question)
    queue_update(Session.objects.filter(pk=loaded.session.pk), **changes)
    target = checkin_id or (loaded.checkin.pk if loaded.checkin and loaded.checkin.state in OPEN_STATES else None)
    if target:
        queue_update(CheckIn.objects.filter(pk=target, state__in=OPEN_STATES),
                     state=CheckIn.State.ANSWERED, answered_at=now)


def _replay(loaded: Loaded) -> Recorded:
    report = next(m for m in loaded.replayed if m.kind == Message.Kind.REPORT)
    reply = next((m for m in loaded.replayed if m.kind == Message.Kind.REPLY), None)
    summary, version = loaded.summary_text, loaded.summary_version
    return Recorded(report, reply, summary, version, replay=True)


def coach_report(
    *, user_id: str | None = None, session_id: str | None = None, report: Report,
    interaction_id: str | None = None, checkin_id: str | None = None, now: datetime.datetime | None = None,
) -> tuple[Recorded, Reply | None] | None:
    """A report in, the coach's reply out: one read request, one atomic write request."""
    now = now or timezone.now()
    loaded = load_context(session_id=session_id, user_id=user_id, interaction_id=interaction_id, now=now)
    if loaded is None:
        return None
    if loaded.replayed:
        return _replay(loaded), None
    reply = get_coach().reply(build_context(loaded, now), report)
    recorded = record_report(loaded, report, reply=reply, interaction_id=interaction_id,
                             checkin_id=checkin_id, now=now)
    return recorded, reply
