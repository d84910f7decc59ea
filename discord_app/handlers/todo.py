"""/task add, /task done (with autocomplete over open tasks) and /task list."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from discord_app import members
from discord_app.interaction import MAX_CHOICES, Interaction, choices, private
from discord_app.texts import not_started
from sessions_app.models import Task

MAX_TITLE = 200


def add(ix: Interaction) -> dict:
    title = " ".join(str(ix.options().get("title") or "").split())[:MAX_TITLE]
    if not title:
        return private(_("Give the task a title."))
    session = members.find(ix.user_id)
    if session is None:
        return private(not_started())
    members.add_task(session, title, timezone.now())
    return private(_("Added: %(title)s") % {"title": title})


def done(ix: Interaction) -> dict:
    wanted = str(ix.options().get("task") or "").strip()
    member = members.find_with_tasks(ix.user_id)
    if member.session is None:
        return private(not_started())
    task = _pick(member.tasks, wanted)
    if task is None:
        return private(_("I couldn't find that open task. Pick one from the list."))
    members.finish_task(member.session, task, timezone.now())
    return private(_("Done: %(title)s 🎉") % {"title": task.title})


def _pick(tasks: list[Task], wanted: str) -> Task | None:
    """By id (what autocomplete sends), else by title typed out in full or in part."""
    folded = wanted.casefold()
    for match in (lambda t: t.pk == wanted, lambda t: t.title.casefold() == folded):
        found = [t for t in tasks if match(t)]
        if found:
            return found[0]
    partial = [t for t in tasks if folded and folded in t.title.casefold()]
    return partial[0] if len(partial) == 1 else None


def list_open(ix: Interaction) -> dict:
    member = members.find_with_tasks(ix.user_id)
    if member.session is None:
        return private(not_started())
    if not member.tasks:
        return private(_("No open tasks. Add one with /task add."))
    lines = [_("Your open tasks:")]
    lines += [f"• {t.title}" + (f" ({t.get_status_display()})" if t.status != "todo" else "")
              for t in member.tasks[:30]]
    return private("\n".join(lines))


def task_choices(ix: Interaction, typed: str) -> dict:
    tasks = members.open_tasks_matching(ix.user_id, typed.strip(), MAX_CHOICES)
    return choices([(t.title, t.pk) for t in tasks])
