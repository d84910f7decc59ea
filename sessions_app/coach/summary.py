"""The rolling summary: the coach's compressed memory of one member, never over 1,500 characters.

It is rewritten, not appended to: each report updates the latest state and the oldest detail
goes first. Labelled lines, the same in every language, so the next round can read it back:

    Focus: write the signup tests
    Open (3): [doing] Build login page; [blocked] Deploy — API key; Write docs
    Blockers: API key (x3); code review (x1)
    Wins: login page; CI setup
    Notes: pairing with Ken tomorrow
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sessions_app.coach.text import clip, one_line, similar, split_items
from sessions_app.coach.types import PastMessage, Report, TaskState, parse_report

SUMMARY_LIMIT = 1500
FOLD_EVERY = 50  # messages between two folds of the history into the summary
_KEEP = {"open": 8, "blockers": 5, "wins": 8, "notes": 4}
_STATUS_ORDER = {"doing": 0, "blocked": 1, "todo": 2}
_COUNTED = re.compile(r"^(?P<text>.*) \(x(?P<count>\d+)\)$")
_OPEN = re.compile(r"^Open(?: \(\d+\))?$")


@dataclass
class Memory:
    """The summary as data; lists hold the newest item first."""

    focus: str = ""
    open: list[str] = field(default_factory=list)
    open_count: int = 0
    blockers: list[tuple[str, int]] = field(default_factory=list)  # (text, times seen)
    wins: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def summarise(previous_summary: str, report: Report, tasks: list[TaskState] | None = None) -> str:
    """The next rolling summary: the previous one updated with this report and the task list.

    Pass tasks=None to keep the open tasks the previous summary listed.
    """
    memory = read_memory(previous_summary)
    remember(memory, report)
    if tasks is not None:
        open_tasks = sorted((t for t in tasks if t.is_open), key=_task_order)
        memory.open = [_task_item(task) for task in open_tasks]
        memory.open_count = len(open_tasks)
    return render_memory(memory)


def fold_history(summary: str, messages: Iterable[PastMessage]) -> str:
    """Fold older messages (oldest first) into the summary, e.g. every FOLD_EVERY messages.

    Only the member's words carry state; the coach's own messages are already reflected.
    """
    memory = read_memory(summary)
    for message in messages:
        if message.role == "member":
            remember(memory, parse_report(message.content))
    return render_memory(memory)


def is_milestone(history_count: int) -> bool:
    """True when the history has just reached a multiple of FOLD_EVERY messages."""
    return history_count > 0 and history_count % FOLD_EVERY == 0


def remember(memory: Memory, report: Report) -> None:
    """Update memory in place with one report."""
    if report.next:
        memory.focus = _item(report.next, 160)
    for blocker in split_items(report.blockers):
        _count_blocker(memory, _item(blocker))
    for win in split_items(report.done):
        memory.wins = _push(memory.wins, _item(win), _KEEP["wins"])
    if report.free_text:
        memory.notes = _push(memory.notes, _item(report.free_text, 160), _KEEP["notes"])


def read_memory(summary: str) -> Memory:
    """Parse a summary written by render_memory(); foreign lines become the oldest notes."""
    memory = Memory()
    for line in summary.splitlines():
        label, _, value = line.partition(": ")
        if label == "Focus":
            memory.focus = value
        elif _OPEN.match(label):
            memory.open = _items(value)
            memory.open_count = len(memory.open)
        elif label == "Blockers":
            memory.blockers = [_read_counted(item) for item in _items(value)]
        elif label == "Wins":
            memory.wins = _items(value)
        elif label == "Notes":
            memory.notes = _items(value)
        elif line.strip():
            memory.notes.append(_item(line, 160))
    memory.notes = memory.notes[: _KEEP["notes"]]
    return memory


def render_memory(memory: Memory, limit: int = SUMMARY_LIMIT) -> str:
    """The summary text, dropping the oldest items of the longest section until it fits."""
    text = _render(memory)
    while len(text) > limit and _drop_oldest(memory):
        text = _render(memory)
    return clip(text, limit)


def _render(memory: Memory) -> str:
    lines = []
    if memory.focus:
        lines.append(f"Focus: {memory.focus}")
    if memory.open:
        lines.append(f"Open ({max(memory.open_count, len(memory.open))}): {'; '.join(memory.open)}")
    if memory.blockers:
        lines.append("Blockers: " + "; ".join(f"{text} (x{n})" for text, n in memory.blockers))
    if memory.wins:
        lines.append("Wins: " + "; ".join(memory.wins))
    if memory.notes:
        lines.append("Notes: " + "; ".join(memory.notes))
    return "\n".join(lines)


def _drop_oldest(memory: Memory) -> bool:
    sections = [memory.notes, memory.wins, memory.open, memory.blockers]
    longest = max(sections, key=lambda items: sum(len(str(item)) for item in items))
    if not longest:
        return False
    longest.pop()
    return True


def _count_blocker(memory: Memory, blocker: str) -> None:
    seen = next((entry for entry in memory.blockers if similar(entry[0], blocker)), None)
    times = seen[1] + 1 if seen else 1
    others = [entry for entry in memory.blockers if entry is not seen]
    memory.blockers = [(blocker, times), *others][: _KEEP["blockers"]]


def _push(items: list[str], item: str, keep: int) -> list[str]:
    return [item, *(old for old in items if not similar(old, item, 0.9))][:keep]


def _task_order(task: TaskState) -> tuple[int, float]:
    return _STATUS_ORDER.get(task.status, 3), -task.updated_at.timestamp()


def _task_item(task: TaskState) -> str:
    blocker = f" — {task.blocker}" if task.status == "blocked" and task.blocker else ""
    return _item(f"[{task.status}] {task.title}{blocker}")


def _item(text: str, limit: int = 80) -> str:
    """One list item: a single line without the "; " that separates items."""
    return clip(one_line(text).replace(";", ",").replace("；", "、"), limit)


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split("; ") if item.strip()]


def _read_counted(item: str) -> tuple[str, int]:
    if match := _COUNTED.match(item):
        return match["text"], int(match["count"])
    return item, 1
