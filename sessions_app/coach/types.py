"""The coach's plain inputs and outputs: no ORM, so the coach runs and tests without a database.

The domain layer turns D1 rows into a Context, calls `coach.reply(context, report)`, stores the
Reply and applies its TaskUpdates. Everything here is immutable and holds aware datetimes.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sessions_app.coach.text import clip

DISCORD_LIMIT = 2000
TASK_STATUSES = ("todo", "doing", "done", "blocked")
OPEN_STATUSES = ("todo", "doing", "blocked")
UPDATE_KINDS = ("add", "done", "block", "unblock", "start")


@dataclass(frozen=True)
class TaskState:
    """One of the member's tasks as the coach sees it."""

    id: str
    title: str
    status: str  # todo | doing | done | blocked
    blocker: str
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class PastMessage:
    """One earlier message of the conversation, from the member or from the coach."""

    role: str  # member | coach
    kind: str  # checkin | report | reply | note
    content: str
    created_at: datetime


@dataclass(frozen=True)
class Report:
    """What the member said this round: done, next and blockers, plus anything else."""

    done: str = ""
    next: str = ""
    blockers: str = ""
    free_text: str = ""

    @classmethod
    def from_modal(cls, done: str, next: str, blockers: str) -> "Report":
        """Build a report from the three fields of the Discord modal."""
        return cls(done=_value(done), next=_value(next), blockers=_value(blockers))

    @property
    def is_empty(self) -> bool:
        return not (self.done or self.next or self.blockers or self.free_text)

    def as_text(self) -> str:
        """The report as labelled lines; parse_report() reads it back unchanged."""
        lines = [f"{label}: {value}" for label, value in self._labelled() if value]
        if self.free_text:
            lines.append(self.free_text)
        return "\n".join(lines)

    def _labelled(self) -> list[tuple[str, str]]:
        return [("done", self.done), ("next", self.next), ("blocked", self.blockers)]


@dataclass(frozen=True)
class Context:
    """Everything the coach may use to answer one report.

    `recent` and `summary` describe the conversation *before* this report; `now` is aware.
    """

    member_name: str
    locale: str  # Discord locale: "ja" means Japanese, anything else English
    timezone: str  # IANA name, e.g. "Asia/Tokyo"
    now: datetime
    summary: str = ""
    recent: list[PastMessage] = field(default_factory=list)  # oldest first, the last N
    tasks: list[TaskState] = field(default_factory=list)  # open ones + recently done
    last_report: Report | None = None
    last_advice_key: str = ""  # so the same advice never comes twice in a row
    working_hours_end: time | None = None
    history_count: int = 0

    @property
    def language(self) -> str:
        return "ja" if self.locale.lower().startswith("ja") else "en"

    @property
    def local_now(self) -> datetime:
        """`now` in the member's time zone (UTC when the zone name is unknown)."""
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return self.now.astimezone(zone)

    @property
    def open_tasks(self) -> list[TaskState]:
        return [task for task in self.tasks if task.is_open]


@dataclass(frozen=True)
class TaskUpdate:
    """A change the domain should apply to the member's tasks.

    kind "block" with task_id None means: add a new task that starts blocked.
    """

    kind: str  # add | done | block | unblock | start
    task_id: str | None
    title: str
    blocker: str = ""


@dataclass(frozen=True)
class Reply:
    """The coach's answer: a short summary, one piece of advice and the next question."""

    summary: str
    advice: str
    question: str
    advice_key: str
    task_updates: list[TaskUpdate] = field(default_factory=list)
    source: str = "rules"  # rules | llm

    def render(self, limit: int = DISCORD_LIMIT) -> str:
        """One Discord message, never longer than limit: the summary gives way first."""
        question = clip(self.question, 300)
        advice = clip(self.advice, 700)
        tail = [f"💡 {advice}" if advice else "", f"**{question}**" if question else ""]
        room = limit - sum(len(part) + 2 for part in tail if part)
        summary = clip(self.summary, room) if room > 0 else ""
        return "\n\n".join(part for part in [summary, *tail] if part)[:limit]


class Coach(Protocol):
    """Anything that can answer a report: RulesCoach, LLMCoach."""

    def reply(self, context: Context, report: Report) -> Reply: ...


# --- Parsing free-form reports -----------------------------------------------------------

_LABELS = {
    "done": ("done", "did", "finished", "completed", "完了", "やったこと", "できたこと", "済み"),
    "next": ("next", "next up", "next steps", "next step", "todo", "to do", "plan", "次", "次にやること", "これから", "予定"),
    "blockers": (
        "blocked", "blocker", "blockers", "stuck",
        "ブロッカー", "詰まり", "詰まっていること", "困りごと",
    ),
}  # fmt: skip
_LABEL_OF = {word: name for name, words in _LABELS.items() for word in words}
_LABEL_WORDS = "|".join(re.escape(word) for word in sorted(_LABEL_OF, key=len, reverse=True))
_LABEL_LINE = re.compile(
    rf"^\s*(?:[-*•・]\s*)?(?P<label>{_LABEL_WORDS})\s*[:：]\s*(?P<value>.*)$", re.IGNORECASE
)
_BULLET = re.compile(r"^\s*[-*•・]\s+(?P<value>.+)$")
_NOTHING = {"", "-", "—", "none", "nothing", "n/a", "na", "no", "なし", "無し", "特になし", "ない"}


def parse_report(text: str) -> Report:
    """Read "done: …", "next: …", "blocked: …" lines (or 完了／次／詰まり, either colon).

    Bullets under a label belong to it; every other line goes to free_text.
    """
    fields: dict[str, list[str]] = {"done": [], "next": [], "blockers": [], "free_text": []}
    current = "free_text"
    for line in text.splitlines():
        if match := _LABEL_LINE.match(line):
            current = _LABEL_OF[match["label"].lower()]
            fields[current].append(match["value"].strip())
        elif (bullet := _BULLET.match(line)) and current != "free_text":
            fields[current].append(bullet["value"].strip())
        elif line.strip():
            current = "free_text"
            fields["free_text"].append(line.strip())
    return Report(
        done=_join(fields["done"]),
        next=_join(fields["next"]),
        blockers=_join(fields["blockers"]),
        free_text="\n".join(fields["free_text"]),
    )


def _join(values: list[str]) -> str:
    return "; ".join(value for value in map(_value, values) if value)


def _value(text: str) -> str:
    text = text.strip()
    return "" if text.casefold().rstrip(".。") in _NOTHING else text
