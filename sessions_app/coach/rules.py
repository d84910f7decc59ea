"""The default coach: deterministic, offline, and built only from what the context holds.

`observe()` reads the situation (the plan named last time, recurring blockers, rounds without
progress, finished tasks, the member's local time); `RulesCoach` turns it into a short reply.
The LLM coach sends the same observations to the model as hints.
"""

from dataclasses import dataclass, field
from datetime import datetime, time

from django.utils import translation
from django.utils.translation import gettext as _

from sessions_app.coach.summary import fold_history, read_memory, summarise
from sessions_app.coach.text import clip, normalise, similar, similarity, split_items
from sessions_app.coach.types import Context, Reply, Report, TaskState, TaskUpdate, parse_report

__all__ = ["Observations", "RulesCoach", "fold_history", "observe", "summarise"]

DEFAULT_END_OF_DAY = time(21, 0)
EARLY_MORNING = time(5, 0)  # before this it is still "late" (the night before)
STALLED_REPORTS = 3
TOO_MANY_OPEN = 6


@dataclass(frozen=True)
class Observations:
    """What the coach noticed about this report, in its context."""

    local_time: datetime
    late: bool
    finished: list[TaskState]  # open tasks this report finishes
    done: list[str]  # done items that match no open task
    next: list[str]
    blockers: list[str]
    last_plan: list[str]  # last time's "next" items
    plan_kept: bool  # every item of last time's plan is done now
    plan_pending: list[str]  # planned last time; not done, planned again or blocked now
    recurring_blocker: str  # a blocker seen before, "" if none
    stalled: bool  # several reports in a row without anything done
    open_after: int  # open tasks once the updates are applied
    task_updates: list[TaskUpdate] = field(default_factory=list)

    @property
    def focus(self) -> str:
        return self.next[0] if self.next else ""


class RulesCoach:
    """Answers every report from the context alone: no network, same input, same reply."""

    source = "rules"

    def reply(self, context: Context, report: Report) -> Reply:
        seen = observe(context, report)
        with translation.override(context.language):
            key, advice = choose_advice(seen, context.last_advice_key)
            return Reply(
                summary=_summary(seen, report),
                advice=advice,
                question=_question(seen, context),
                advice_key=key,
                task_updates=seen.task_updates,
                source=self.source,
            )


def observe(context: Context, report: Report) -> Observations:
    """Everything the coach needs to know about this report, without wording any of it."""
    done_items, next_items = split_items(report.done), split_items(report.next)
    blockers = split_items(report.blockers)
    updates, finished = _task_updates(context, done_items, next_items, blockers)
    last = _last_report(context, report)
    last_plan = split_items(last.next) if last else []
    achieved = done_items + [task.title for task in finished]
    answered = next_items + [u.title for u in updates if u.kind == "block"]
    pending = [p for p in last_plan if not _mentioned(p, achieved + answered)]
    added = sum(1 for u in updates if u.kind == "add" or (u.kind == "block" and not u.task_id))
    local = context.local_now
    return Observations(
        local_time=local,
        late=_is_late(local, context.working_hours_end),
        finished=finished,
        done=[item for item in done_items if not _mentioned(item, [t.title for t in finished])],
        next=next_items,
        blockers=blockers,
        last_plan=last_plan,
        plan_kept=bool(last_plan) and all(_mentioned(p, achieved) for p in last_plan),
        plan_pending=pending,
        recurring_blocker=_recurring_blocker(context, report, blockers),
        stalled=_stalled(context, report),
        open_after=len(context.open_tasks) - len(finished) + added,
        task_updates=updates,
    )


def choose_advice(seen: Observations, last_key: str) -> tuple[str, str]:
    """The most useful advice that was not given last time, as (key, text)."""
    candidates = [c for c in _advice_candidates(seen) if c[0] != last_key]
    return candidates[0]


# --- Advice, summary and question ---------------------------------------------------------


def _advice_candidates(seen: Observations) -> list[tuple[str, str]]:
    """Every advice that fits, best first; the last two always fit, so there is a choice."""
    candidates = []
    if seen.late:
        time_text = seen.local_time.strftime("%H:%M")
        candidates.append(("stop_for_today", _(
            "It's %(time)s where you are — a good place to stop. "
            "Jot down where you left off so tomorrow starts fast."
        ) % {"time": time_text}))  # fmt: skip
    if blocker := _quoted(seen.recurring_blocker):
        candidates.append(("blocker_escalate", _(
            "“%(blocker)s” has come up before. Rather than waiting it out, ask someone who can "
            "unblock it today — with one concrete question."
        ) % {"blocker": blocker}))  # fmt: skip
        candidates.append(("blocker_split", _(
            "“%(blocker)s” keeps coming back. Split off the part you can do without it "
            "and move that forward."
        ) % {"blocker": blocker}))  # fmt: skip
    if seen.stalled:
        candidates.append(("smaller_step", _(
            "A few check-ins without a finished task — make the next step smaller: "
            "something you can finish in 20 minutes."
        )))  # fmt: skip
    if seen.blockers and not seen.recurring_blocker:
        candidates.append(("blocker_ask", _(
            "While this is blocked, send a two-line message to whoever can help, "
            "then switch to something unblocked."
        )))  # fmt: skip
    if seen.open_after >= TOO_MANY_OPEN:
        candidates.append(("limit_wip", _(
            "You have %(count)d open tasks. Pick one to finish before starting anything new."
        ) % {"count": seen.open_after}))  # fmt: skip
    if (seen.finished or seen.done) and not seen.next:
        candidates.append(("keep_momentum", _(
            "Good momentum. Choose the next task now, while the context is still fresh."
        )))  # fmt: skip
    if not seen.next:
        candidates.append(("name_next_step", _(
            "Before you dive back in, write down the very next step in one line — "
            "it makes the next check-in easy."
        )))  # fmt: skip
    elif not seen.late:
        candidates.append(("single_focus", _(
            "Keep the next 20 minutes on one thing: %(task)s."
        ) % {"task": _quoted(seen.focus)}))  # fmt: skip
    candidates.append(("take_break", _(
        "Stand up, stretch, drink some water — a two-minute break keeps the next stretch sharp."
    )))  # fmt: skip
    candidates.append(("note_learning", _(
        "Note one thing you learned this round — it makes the end-of-day summary easy."
    )))  # fmt: skip
    return candidates


def _summary(seen: Observations, report: Report) -> str:
    lines = []
    if seen.finished:
        items = _list(task.title for task in seen.finished)
        lines.append("🎉 " + _("Finished: %(items)s — well done!") % {"items": items})
    if seen.done:
        lines.append("✅ " + _("Done: %(items)s") % {"items": _list(seen.done)})
    if seen.plan_kept:
        lines.append("👏 " + _("Right on the plan from last time."))
    if seen.next:
        lines.append("➡️ " + _("Next: %(items)s") % {"items": _list(seen.next)})
    if seen.blockers:
        lines.append("⛔ " + _("Blocked: %(items)s") % {"items": _list(seen.blockers)})
    if not lines and report.free_text:
        lines.append("📝 " + _("Noted: %(text)s") % {"text": clip(report.free_text, 200)})
    return "\n".join(lines) or _("Thanks for checking in.")


def _question(seen: Observations, context: Context) -> str:
    """The first fitting question that the coach's last message did not already ask."""
    candidates = _question_candidates(seen)
    asked = _last_coach_message(context)
    return next((q for q in candidates if q not in asked), candidates[0])


def _question_candidates(seen: Observations) -> list[str]:
    candidates = []
    if seen.late:
        candidates.append(_("What's the first thing you'll pick up tomorrow?"))
    if seen.plan_pending:
        plan = _list(seen.plan_pending, limit=2)
        candidates.append(_("Last time you planned “%(plan)s” — how did it go?") % {"plan": plan})
    if seen.blockers and not seen.recurring_blocker:  # else the advice already says who to ask
        blocker = _quoted(seen.blockers[0])
        candidates.append(_("Who could help with “%(blocker)s”?") % {"blocker": blocker})
    if seen.stalled or not seen.next:
        candidates.append(_("What's one small thing you could finish in the next 20 minutes?"))
    if seen.focus:
        task = _quoted(seen.focus)
        candidates.append(_("What's the first small step for “%(task)s”?") % {"task": task})
    candidates.append(_("What would make the next 20 minutes feel like a win?"))
    return candidates


def _list(items, limit: int = 4) -> str:
    items = [clip(item, 60) for item in items]
    separator = "、" if translation.get_language() == "ja" else ", "
    more = "…" if len(items) > limit else ""
    return separator.join(items[:limit]) + more


def _quoted(text: str) -> str:
    return clip(text, 80)


# --- Tasks -----------------------------------------------------------------------------------


def _task_updates(
    context: Context, done: list[str], next_items: list[str], blockers: list[str]
) -> tuple[list[TaskUpdate], list[TaskState]]:
    """Done items close open tasks, blockers block the task they name, new plans become tasks."""
    updates, finished = [], []
    for item in done:
        if task := _best_match(item, [t for t in context.open_tasks if t not in finished]):
            finished.append(task)
            updates.append(TaskUpdate("done", task.id, task.title))
    remaining = [task for task in context.open_tasks if task not in finished]
    focus = _focus_task(remaining)
    new_plans = [item for item in next_items if not _best_match(item, remaining)]
    for blocker in blockers:
        if task := _blocked_task(blocker, remaining) or focus:
            focus = None if task is focus else focus  # an unnamed blocker blocks one focus task
            updates.extend(_block_update(task, blocker))
        else:  # a new task that starts blocked: the first new plan, or the blocker itself
            title = new_plans.pop(0) if new_plans else blocker
            updates.append(TaskUpdate("block", None, clip(title, 200), clip(blocker, 300)))
    for item in next_items:
        updates.extend(_plan_update(item, remaining, blockers))
    return _dedupe(updates), finished


def _plan_update(item: str, tasks: list[TaskState], blockers: list[str]) -> list[TaskUpdate]:
    task = _best_match(item, tasks)
    if task is None:
        return [TaskUpdate("add", None, clip(item, 200))]
    if task.status == "todo":
        return [TaskUpdate("start", task.id, task.title)]
    if task.status == "blocked" and not _mentioned(task.blocker, blockers):
        return [TaskUpdate("unblock", task.id, task.title)]
    return []


def _block_update(task: TaskState, blocker: str) -> list[TaskUpdate]:
    blocker = clip(blocker, 300)
    if task.status == "blocked" and similar(task.blocker, blocker):
        return []  # already known
    return [TaskUpdate("block", task.id, task.title, blocker)]


def _dedupe(updates: list[TaskUpdate]) -> list[TaskUpdate]:
    """One update per task (or new title): a block outranks the start that follows it."""
    seen, kept = set(), []
    for update in updates:
        identity = update.task_id or normalise(update.title)
        if identity not in seen:
            seen.add(identity)
            kept.append(update)
    return kept


def _best_match(text: str, tasks: list[TaskState]) -> TaskState | None:
    scored = [(similarity(text, task.title), task) for task in tasks]
    scored = [(score, task) for score, task in scored if score >= 0.6]
    return max(scored, key=lambda pair: pair[0])[1] if scored else None


def _blocked_task(blocker: str, tasks: list[TaskState]) -> TaskState | None:
    """The task a blocker names, or the one already blocked by the same thing."""
    blocked = [
        task for task in tasks if task.status == "blocked" and similar(task.blocker, blocker)
    ]
    return _best_match(blocker, tasks) or (blocked[0] if blocked else None)


def _focus_task(tasks: list[TaskState]) -> TaskState | None:
    doing = [task for task in tasks if task.status == "doing"]
    return max(doing, key=lambda task: task.updated_at) if doing else None


def _mentioned(item: str, others: list[str]) -> bool:
    return any(similar(item, other) for other in others)


# --- History ---------------------------------------------------------------------------------


def _previous_reports(context: Context, report: Report) -> list[Report]:
    """The member's earlier reports in `recent`, oldest first, without this one."""
    reports = [
        parse_report(m.content)
        for m in context.recent
        if m.role == "member" and m.kind in ("report", "reply")
    ]
    if reports and reports[-1] == report:
        reports.pop()  # the domain already stored this report
    return reports


def _last_report(context: Context, report: Report) -> Report | None:
    if context.last_report is not None and context.last_report != report:
        return context.last_report
    previous = _previous_reports(context, report)
    return previous[-1] if previous else None


def _last_coach_message(context: Context) -> str:
    coach_messages = [m.content for m in context.recent if m.role == "coach"]
    return coach_messages[-1] if coach_messages else ""


def _recurring_blocker(context: Context, report: Report, blockers: list[str]) -> str:
    earlier = [task.blocker for task in context.tasks if task.status == "blocked" and task.blocker]
    earlier += [text for text, _times in read_memory(context.summary).blockers]
    for past in _previous_reports(context, report):
        earlier += split_items(past.blockers)
    if context.last_report is not None and context.last_report != report:
        earlier += split_items(context.last_report.blockers)
    return next((b for b in blockers if _mentioned(b, earlier)), "")


def _stalled(context: Context, report: Report) -> bool:
    streak = 0
    for past in reversed([*_previous_reports(context, report), report]):
        if past.done:
            break
        streak += 1
    return streak >= STALLED_REPORTS


def _is_late(local: datetime, end_of_day: time | None) -> bool:
    now = local.time().replace(tzinfo=None)
    return now >= (end_of_day or DEFAULT_END_OF_DAY) or now < EARLY_MORNING
