"""The members list's filters. None of them reads D1 to build its choices."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sessions_app.models import Session, Task

from . import roles
from .display import STATE_LABELS

UNASSIGNED = "none"


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return list(STATE_LABELS.items())

    def queryset(self, request, queryset):
        now = timezone.now()
        snoozed = Q(status=Session.Status.ACTIVE, snoozed_until__gt=now)
        match self.value():
            case "active":
                return queryset.filter(status=Session.Status.ACTIVE).exclude(snoozed)
            case "snoozed":
                return queryset.filter(snoozed)
            case "paused" | "stopped" | "unreachable" as status:
                return queryset.filter(status=status)
        return queryset


class CoachFilter(admin.SimpleListFilter):
    """Superusers only: members of one coach, or those with no coach yet."""

    title = _("coach")
    parameter_name = "coach"

    def lookups(self, request, model_admin):
        return [(UNASSIGNED, _("no coach yet")), *((str(pk), name) for pk, name in roles.coach_names().items())]

    def queryset(self, request, queryset):
        value = self.value()
        if value == UNASSIGNED:
            return queryset.filter(coach_user_id__isnull=True)
        if value and value.isdigit():
            return queryset.filter(coach_user_id=int(value))
        return queryset


class UnansweredFilter(admin.SimpleListFilter):
    title = _("unanswered in a row")
    parameter_name = "unanswered"
    THRESHOLDS = (1, 3, 5, 10)

    def lookups(self, request, model_admin):
        return [(str(n), _("%(n)d or more") % {"n": n}) for n in self.THRESHOLDS]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(unanswered__gte=int(value))
        return queryset


class BlockedFilter(admin.SimpleListFilter):
    title = _("blocked tasks")
    parameter_name = "blocked"

    def lookups(self, request, model_admin):
        return [("yes", _("has blocked tasks")), ("no", _("no blocked tasks"))]

    def queryset(self, request, queryset):
        blocked = Exists(Task.objects.filter(session_id=OuterRef("pk"), status=Task.Status.BLOCKED))
        if self.value() == "yes":
            return queryset.filter(blocked)
        if self.value() == "no":
            return queryset.filter(~blocked)
        return queryset
