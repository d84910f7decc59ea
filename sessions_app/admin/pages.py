"""What each admin page reads from D1, each in ONE request (``fetch_many``).

The members list reads its page of rows, the total (a window count on the same
statement) and the per-row aggregates (open tasks, 14 days of check-ins) together:
the aggregates select ``session_id IN (<the page's own subquery>)``, so they need no
first round trip for the ids. The member page reads the member, summary, tasks,
one page of the conversation and the check-ins the same way.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.utils import timezone

from coachbot.d1 import fetch_many
from sessions_app.models import CheckIn, Message, Session, Summary, Task

SPARK_DAYS = 14
TASKS_SHOWN = 200
LOG_PAGE = 50
OPEN_TASK_STATES = (Task.Status.TODO, Task.Status.DOING, Task.Status.BLOCKED)
COUNTED_STATES = (CheckIn.State.ANSWERED, CheckIn.State.MISSED)


def id_list(ids) -> RawSQL:
    """``pk__in=id_list(ids)``: any number of ids as ONE bound parameter (D1 binds at most 100)."""
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(ids))])


@dataclass
class Participation:
    """Answered and missed check-ins per day, oldest day first."""

    days: list[datetime.date]
    answered: list[int]
    missed: list[int]

    @classmethod
    def empty(cls, today: datetime.date) -> Participation:
        days = [today - datetime.timedelta(days=SPARK_DAYS - 1 - i) for i in range(SPARK_DAYS)]
        return cls(days, [0] * SPARK_DAYS, [0] * SPARK_DAYS)

    def add(self, day: datetime.date, state: str, n: int) -> None:
        if day in self.days:
            target = self.answered if state == CheckIn.State.ANSWERED else self.missed
            target[self.days.index(day)] += n


def _since(now: datetime.datetime) -> datetime.datetime:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start - datetime.timedelta(days=SPARK_DAYS - 1)


def _participation_rows(checkins: QuerySet, now) -> QuerySet:
    return (
        checkins.filter(due_at__gte=_since(now), state__in=COUNTED_STATES)
        .annotate(day=TruncDate("due_at", tzinfo=timezone.get_current_timezone()))
        .values("session_id", "day", "state").annotate(n=Count("id")).order_by()
    )


@dataclass
class ListPage:
    rows: list[Session]
    total: int | None  # None when the page is past the end


def fetch_list_page(queryset: QuerySet, offset: int, limit: int, now: datetime.datetime) -> ListPage:
    """One page of members with their aggregates attached, in one request.

    Each row gets ``open_tasks``, ``blocked_tasks`` and ``participation``.
    """
    page_ids = queryset.values("pk")[offset:offset + limit]
    rows, tasks, checkins = fetch_many(
        queryset.annotate(list_total=Window(Count("pk")))[offset:offset + limit],
        Task.objects.filter(session_id__in=page_ids, status__in=OPEN_TASK_STATES)
        .values("session_id", "status").annotate(n=Count("id")).order_by(),
        _participation_rows(CheckIn.objects.filter(session_id__in=page_ids), now),
    )
    today = timezone.localdate(now)
    by_id = {}
    for session in rows:
        session.open_tasks = session.blocked_tasks = 0
        session.participation = Participation.empty(today)
        by_id[session.pk] = session
    for row in tasks:
        session = by_id[row["session_id"]]
        session.open_tasks += row["n"]
        if row["status"] == Task.Status.BLOCKED:
            session.blocked_tasks += row["n"]
    for row in checkins:
        by_id[row["session_id"]].participation.add(row["day"], row["state"], row["n"])
    return ListPage(rows, rows[0].list_total if rows else None)


@dataclass
class MemberPage:
    """Everything the member page shows, read in one request."""

    session: Session
    summary: Summary | None
    tasks: list[Task]
    log: list[Message]  # one page of the conversation, oldest first
    log_total: int | None
    log_page: int
    participation: Participation
    latest_checkin: CheckIn | None
    extra: dict = field(default_factory=dict)

    @property
    def summary_version(self) -> int:
        return self.summary.version if self.summary else 0

    @property
    def log_pages(self) -> int:
        return max(1, -(-(self.log_total or 0) // LOG_PAGE))


def fetch_member_page(sessions: QuerySet, session_id: str, log_page: int, now) -> MemberPage | None:
    """The member (from the already scoped ``sessions``) and their page data; None if out of scope.

    ``log_page`` 1 is the newest ``LOG_PAGE`` messages, 2 the ones before, and so on.
    """
    own = {"session_id": session_id}
    offset = (max(log_page, 1) - 1) * LOG_PAGE
    found, summaries, tasks, log, checkins, latest = fetch_many(
        sessions.filter(pk=session_id)[:1],
        Summary.objects.filter(**own)[:1],
        Task.objects.filter(**own).order_by("-created_at", "-id")[:TASKS_SHOWN],
        Message.objects.filter(**own).annotate(log_total=Window(Count("pk")))
        .order_by("-created_at", "-id")[offset:offset + LOG_PAGE],
        _participation_rows(CheckIn.objects.filter(**own), now),
        CheckIn.objects.filter(**own).order_by("-due_at", "-id")[:1],
    )
    if not found:
        return None
    participation = Participation.empty(timezone.localdate(now))
    for row in checkins:
        participation.add(row["day"], row["state"], row["n"])
    return MemberPage(
        session=found[0],
        summary=summaries[0] if summaries else None,
        tasks=list(reversed(tasks)),
        log=list(reversed(log)),
        log_total=log[0].log_total if log else None,
        log_page=max(log_page, 1),
        participation=participation,
        latest_checkin=latest[0] if latest else None,
    )


def fetch_export_chunk(ids: list[str]) -> tuple[list[Session], dict[str, list[Message]]]:
    """Up to 100 members and their whole conversations, in one request."""
    sessions, messages = fetch_many(
        Session.objects.filter(pk__in=id_list(ids)).order_by("display_name", "id"),
        Message.objects.filter(session_id__in=id_list(ids)).order_by("session_id", "created_at", "id"),
    )
    by_session = defaultdict(list)
    for message in messages:
        by_session[message.session_id].append(message)
    return sessions, by_session
