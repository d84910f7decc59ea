"""Who is a coach, and which members each coach may see.

A coach is an active staff user in the "coaches" group, or a superuser. A coach sees
only the members assigned to them (``Session.coach_user_id``); a superuser sees all.
Users live in ``default`` and members in D1, so the link is a plain user id.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet

COACHES_GROUP = "coaches"


def is_coach(user) -> bool:
    """True for superusers and active staff in the coaches group (one local query, cached)."""
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    if not hasattr(user, "_is_coach"):
        user._is_coach = user.groups.filter(name=COACHES_GROUP).exists()
    return user._is_coach


def coaches_group() -> Group:
    group, _created = Group.objects.get_or_create(name=COACHES_GROUP)
    return group


def coach_users() -> QuerySet:
    """Everyone members can be assigned to, from the local database."""
    return (
        get_user_model().objects.filter(is_active=True, is_staff=True)
        .filter(Q(is_superuser=True) | Q(groups__name=COACHES_GROUP)).distinct().order_by("username")
    )


def coach_names() -> dict[int, str]:
    return {u.pk: u.get_username() for u in coach_users()}


def scope(queryset: QuerySet, user, field: str = "coach_user_id") -> QuerySet:
    """The rows of ``queryset`` this user may see: everything for a superuser, own members for a coach."""
    if not is_coach(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    return queryset.filter(**{field: user.pk})


def may_see(user, session) -> bool:
    return is_coach(user) and (user.is_superuser or session.coach_user_id == user.pk)
