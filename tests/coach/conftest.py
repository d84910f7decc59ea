"""The coach's test cast: one member, Aki in Tokyo, and a conversation that plays out like the bot.

`Conversation` does what the domain will do around the coach: builds the Context, applies the
TaskUpdates, stores both messages and rolls the summary, so scenario tests read like chats.
"""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from sessions_app.coach import (
    Coach,
    Context,
    PastMessage,
    Reply,
    RulesCoach,
    TaskState,
    TaskUpdate,
    parse_report,
    summarise,
)
from tests.support.fake_llm import FakeLLM

# 10:00 in Tokyo, the middle of Aki's working day.
MORNING = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
API_KEY = "sk-test-0123456789abcdef-secret"


def task(id: str, title: str, status: str = "todo", blocker: str = "") -> TaskState:
    """A task created a day before MORNING."""
    created = MORNING - timedelta(days=1)
    return TaskState(id, title, status, blocker, created, created)


def context(**overrides) -> Context:
    """Aki's context at MORNING with no history; override any field."""
    fields = {"member_name": "Aki", "locale": "en", "timezone": "Asia/Tokyo", "now": MORNING}
    return Context(**(fields | overrides))


class Conversation:
    """A member reporting every 20 minutes to a coach, with the domain's bookkeeping faked."""

    def __init__(self, coach: Coach | None = None, **context_fields) -> None:
        self.coach = coach or RulesCoach()
        self.context = context(**context_fields)
        self.replies: list[Reply] = []

    def say(self, text: str) -> Reply:
        report = parse_report(text)
        reply = self.coach.reply(self.context, report)
        self.replies.append(reply)
        tasks = self._apply(reply.task_updates)
        now = self.context.now
        self.context = replace(
            self.context,
            now=now + timedelta(minutes=20),
            summary=summarise(self.context.summary, report, tasks),
            recent=[
                *self.context.recent,
                PastMessage("member", "report", text, now),
                PastMessage("coach", "reply", reply.render(), now),
            ][-20:],
            tasks=tasks,
            last_report=report,
            last_advice_key=reply.advice_key,
            history_count=self.context.history_count + 2,
        )
        return reply

    def open_titles(self) -> list[str]:
        return [t.title for t in self.context.tasks if t.is_open]

    def _apply(self, updates: list[TaskUpdate]) -> list[TaskState]:
        tasks = {t.id: t for t in self.context.tasks}
        now = self.context.now
        for update in updates:
            if update.task_id is None:
                status = "blocked" if update.kind == "block" else "todo"
                new_id = str(len(tasks) + 1)
                tasks[new_id] = TaskState(new_id, update.title, status, update.blocker, now, now)
                continue
            old = tasks[update.task_id]
            tasks[old.id] = replace(old, updated_at=now, **_changes(update, now))
        return list(tasks.values())


def _changes(update: TaskUpdate, now: datetime) -> dict:
    return {
        "done": {"status": "done", "done_at": now},
        "block": {"status": "blocked", "blocker": update.blocker},
        "unblock": {"status": "doing", "blocker": ""},
        "start": {"status": "doing"},
    }[update.kind]


@pytest.fixture
def chat() -> Conversation:
    """Aki, in Tokyo at 10:00, talking to the rules coach."""
    return Conversation()


@pytest.fixture
def late_chat() -> Conversation:
    """Aki in Tokyo at 22:10, who usually stops at 18:00."""
    evening = datetime(2025, 3, 3, 13, 10, tzinfo=UTC)
    return Conversation(now=evening, working_hours_end=time(18, 0))


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """An OpenAI-compatible server on loopback that answers well until told otherwise."""
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture
def llm_settings(settings, fake_llm: FakeLLM):
    """COACH_LLM_* pointing at the fake server, with a short timeout."""
    settings.COACH_LLM_URL = fake_llm.url
    settings.COACH_LLM_MODEL = "coach-test-model"
    settings.COACH_LLM_API_KEY = API_KEY
    settings.COACH_LLM_TIMEOUT = 0.5
    return settings
