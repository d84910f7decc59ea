"""The admin index as a coach's dashboard: who needs attention, in one D1 request."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from coachbot.d1 import fetch_many
from sessions_app.models import Session, Task

from . import roles

SHOWN = 10
SILENCE = datetime.timedelta(days=2)
STREAK = 3


@dataclass
class Attention:
    blocked: list[Task]
    silent: list[Session]
    unreachable: list[Session]
    unassigned: list[Session]

    @property
    def empty(self) -> bool:
        return not (self.blocked or self.silent or self.unreachable or self.unassigned)


def attention(user, now: datetime.datetime | None = None) -> Attention | None:
    """Members needing attention, for this coach (all of them for a superuser); None for non-coaches."""
    if not roles.is_coach(user):
        return None
    now = now or timezone.now()
    members = roles.scope(Session.objects.all(), user)
    tasks = roles.scope(Task.objects.all(), user, field="session__coach_user_id")
    silent = members.filter(status=Session.Status.ACTIVE).filter(
        unanswered__gte=STREAK) | members.filter(status=Session.Status.ACTIVE, last_reply_at__lt=now - SILENCE)
    blocked, silent, unreachable, unassigned = fetch_many(
        tasks.filter(status=Task.Status.BLOCKED).select_related("session").order_by("updated_at")[:SHOWN],
        silent.order_by("-unanswered", "last_reply_at")[:SHOWN],
        members.filter(status=Session.Status.UNREACHABLE).order_by("-updated_at")[:SHOWN],
        # Only a superuser's scope holds members without a coach.
        members.filter(coach_user_id__isnull=True).order_by("created_at")[:SHOWN],
    )
    return Attention(blocked, silent, unreachable, unassigned)
