"""Small HTML pieces for the admin's columns: status badges, "how long ago", the sparkline."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from sessions_app import schedule
from sessions_app.models import Session

from .pages import Participation

BAR_WIDTH, BAR_GAP, HALF = 5, 1, 10


def member_state(session: Session, now: datetime.datetime) -> str:
    """active | snoozed | paused | stopped | unreachable."""
    if session.status == Session.Status.ACTIVE and session.snoozed_until and session.snoozed_until > now:
        return "snoozed"
    return session.status


STATE_LABELS = {  # with a context: Django's own catalogues translate a bare "active" otherwise
    "active": pgettext_lazy("member status", "active"),
    "snoozed": pgettext_lazy("member status", "snoozed"),
    "paused": pgettext_lazy("member status", "paused"),
    "stopped": pgettext_lazy("member status", "stopped"),
    "unreachable": pgettext_lazy("member status", "unreachable"),
}


def status_badge(session: Session, now: datetime.datetime) -> str:
    state = member_state(session, now)
    label = STATE_LABELS.get(state, state)
    detail = ""
    if state == "snoozed":
        detail = _("until %(time)s") % {"time": local_time(session, session.snoozed_until)}
    elif state == "paused" and session.paused_until:
        detail = _("until %(time)s") % {"time": local_time(session, session.paused_until)}
    if session.status_reason and state in ("paused", "stopped", "unreachable"):
        detail = f"{session.status_reason} {detail}".strip()
    return format_html(
        '<span class="cb-badge cb-{}">{}</span>{}', state, label,
        format_html(' <span class="cb-detail">{}</span>', detail) if detail else "",
    )


def ago(when: datetime.datetime | None, now: datetime.datetime) -> str:
    if when is None:
        return format_html('<span class="cb-muted">{}</span>', _("never"))
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        when.isoformat(), timezone.localtime(when).strftime("%Y-%m-%d %H:%M"),
        _("%(time)s ago") % {"time": timesince(when, now, depth=1)},
    )


def local_time(session: Session, when: datetime.datetime) -> str:
    """``when`` on the member's clock: "14:20" today, "Tue 09:00" within a week, else a date."""
    zone = schedule.zone(session)
    local = when.astimezone(zone)
    today = timezone.now().astimezone(zone).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if abs((local.date() - today).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def next_checkin(session: Session, now: datetime.datetime) -> str:
    when = schedule.next_checkin_at(session, now)
    if when is None:
        return "—"
    return format_html(
        '{} <span class="cb-muted">{}</span>', local_time(session, when), session.timezone,
    )


def sparkline(p: Participation) -> str:
    """Answered check-ins as green bars up, missed as red bars down; one pair per day."""
    width = len(p.days) * (BAR_WIDTH + BAR_GAP)
    top = max([1, *p.answered, *p.missed])
    bars = []
    for i, (answered, missed) in enumerate(zip(p.answered, p.missed, strict=True)):
        x = i * (BAR_WIDTH + BAR_GAP)
        if answered:
            h = max(2, round(HALF * answered / top))
            bars.append((x, HALF - h, BAR_WIDTH, h, "cb-ok"))
        if missed:
            h = max(2, round(HALF * missed / top))
            bars.append((x, HALF + 1, BAR_WIDTH, h, "cb-miss"))
    label = _("%(answered)d answered, %(missed)d missed in %(days)d days") % {
        "answered": sum(p.answered), "missed": sum(p.missed), "days": len(p.days),
    }
    return format_html(
        '<svg class="cb-spark" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<title>{}</title><line x1="0" y1="{}" x2="{}" y2="{}" class="cb-axis"/>{}</svg>',
        width, 2 * HALF + 1, width, 2 * HALF + 1, label, label, HALF + 0.5, width, HALF + 0.5,
        format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" class="{}"/>', bars),
    )
