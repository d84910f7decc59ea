"""coachbot's slash commands, as the JSON Discord's bulk-overwrite endpoint takes.

Every command works in the team's server and in the bot's DM (`contexts` 0 and 1) and is
installed to the server only (`integration_types` 0). English is the default; `ja` is
localised. `problems()` checks the set against Discord's limits before anything is sent.
"""

import json
import re
from typing import Any

# Application command option types.
SUB_COMMAND = 1
STRING = 3
INTEGER = 4

CHAT_INPUT = 1
GUILD, BOT_DM = 0, 1
GUILD_INSTALL = 0

NAME_RE = re.compile(r"^[-_\w]{1,32}$")
MAX_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_COMMAND_CHARS = 4000  # names, descriptions and values of a command, all locales
MAX_GLOBAL_COMMANDS = 100


def option(kind: int, name: str, en: str, ja: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "name": name,
        "description": en,
        "description_localizations": {"ja": ja},
        **extra,
    }


def command(name: str, en: str, ja: str, *options: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": CHAT_INPUT,
        "name": name,
        "description": en,
        "description_localizations": {"ja": ja},
        "contexts": [GUILD, BOT_DM],
        "integration_types": [GUILD_INSTALL],
        "options": list(options),
    }


def sub(name: str, en: str, ja: str, *options: dict[str, Any]) -> dict[str, Any]:
    return option(SUB_COMMAND, name, en, ja, options=list(options))


COMMANDS: list[dict[str, Any]] = [
    command(
        "coach",
        "Start or stop your check-ins",
        "チェックインを開始・停止します",
        sub("start", "Start regular check-ins in your DMs", "DMで定期的なチェックインを開始します"),
        sub("stop", "Stop your check-ins", "チェックインを停止します"),
    ),
    command(
        "checkin",
        "Check in now: tell your coach how it is going",
        "今すぐチェックイン：進み具合をコーチに伝えます",
    ),
    command(
        "status",
        "Your schedule, open tasks and next check-in",
        "スケジュール、未完了のタスク、次のチェックインを表示します",
    ),
    command(
        "task",
        "Manage your tasks",
        "タスクを管理します",
        sub(
            "add",
            "Add a task",
            "タスクを追加します",
            option(
                STRING,
                "title",
                "What you want to get done",
                "やりたいこと",
                required=True,
                max_length=200,
            ),
        ),
        sub(
            "done",
            "Mark a task as done",
            "タスクを完了にします",
            option(
                STRING,
                "task",
                "The task you finished",
                "完了したタスク",
                required=True,
                autocomplete=True,
            ),
        ),
        sub("list", "List your open tasks", "未完了のタスクを一覧表示します"),
    ),
    command(
        "pause",
        "Pause your check-ins for a while",
        "チェックインをしばらく一時停止します",
        option(
            STRING,
            "duration",
            "How long: 2h, 3d, until tomorrow (default: until /resume)",
            "期間：2h、3d、until tomorrow など（省略時は /resume まで）",
            max_length=40,
        ),
    ),
    command("resume", "Resume your check-ins", "チェックインを再開します"),
    command(
        "snooze",
        "Snooze the next check-in",
        "次のチェックインを延期します",
        option(
            INTEGER,
            "minutes",
            "Minutes to snooze (5–480)",
            "延期する分数（5〜480）",
            min_value=5,
            max_value=480,
        ),
    ),
    command(
        "settings",
        "Your time zone, working hours and check-in interval",
        "タイムゾーン、勤務時間、チェックイン間隔を設定します",
        option(
            STRING,
            "timezone",
            "Your time zone, e.g. Asia/Tokyo",
            "タイムゾーン（例：Asia/Tokyo）",
            autocomplete=True,
            max_length=64,
        ),
        option(
            STRING,
            "work_start",
            "When your working day starts, HH:MM",
            "始業時刻（HH:MM）",
            min_length=4,
            max_length=5,
        ),
        option(
            STRING,
            "work_end",
            "When your working day ends, HH:MM",
            "終業時刻（HH:MM）",
            min_length=4,
            max_length=5,
        ),
        option(
            STRING,
            "work_days",
            "Your working days, e.g. mon-fri or mon,wed,fri",
            "勤務日（例：mon-fri、mon,wed,fri）",
            max_length=40,
        ),
        option(
            INTEGER,
            "interval",
            "Minutes between check-ins (10–240)",
            "チェックインの間隔（分、10〜240）",
            min_value=10,
            max_value=240,
        ),
    ),
]


def all_commands() -> list[dict[str, Any]]:
    """A fresh copy of the command set, ready for `bulk_overwrite_commands`."""
    return json.loads(json.dumps(COMMANDS))


# --- Discord's limits -------------------------------------------------------------------


def problems(commands: list[dict[str, Any]]) -> list[str]:
    """Everything in `commands` that Discord would reject; empty when all is well."""
    found = []
    if len(commands) > MAX_GLOBAL_COMMANDS:
        found.append(f"{len(commands)} commands; Discord allows {MAX_GLOBAL_COMMANDS}")
    found += _duplicates([c["name"] for c in commands], "command")
    for cmd in commands:
        found += _entry_problems(cmd, f"/{cmd.get('name')}")
        if _chars(cmd) > MAX_COMMAND_CHARS:
            found.append(f"/{cmd['name']}: more than {MAX_COMMAND_CHARS} characters")
    return found


def _entry_problems(entry: dict[str, Any], where: str) -> list[str]:
    found = []
    name = entry.get("name", "")
    if not NAME_RE.match(name) or name != name.lower():
        found.append(f"{where}: name {name!r} must be 1-32 lowercase letters, digits, - or _")
    descriptions = [
        entry.get("description", ""),
        *entry.get("description_localizations", {}).values(),
    ]
    for text in descriptions:
        if not 1 <= len(text) <= MAX_DESCRIPTION:
            found.append(f"{where}: description {text!r} must be 1-{MAX_DESCRIPTION} characters")
    found += _options_problems(entry.get("options", []), where)
    return found


def _options_problems(options: list[dict[str, Any]], where: str) -> list[str]:
    found = []
    if len(options) > MAX_OPTIONS:
        found.append(f"{where}: more than {MAX_OPTIONS} options")
    found += _duplicates([o["name"] for o in options], f"{where} option")
    required = [bool(o.get("required")) for o in options]
    if required != sorted(required, reverse=True):
        found.append(f"{where}: required options must come before optional ones")
    for opt in options:
        found += _option_problems(opt, f"{where} {opt.get('name')}")
    return found


def _option_problems(opt: dict[str, Any], where: str) -> list[str]:
    found = _entry_problems(opt, where)
    if opt.get("autocomplete") and opt.get("choices"):
        found.append(f"{where}: autocomplete and choices exclude each other")
    if opt.get("min_value", float("-inf")) > opt.get("max_value", float("inf")):
        found.append(f"{where}: min_value is above max_value")
    if not 0 <= opt.get("min_length", 0) <= opt.get("max_length", 6000) <= 6000:
        found.append(f"{where}: min_length/max_length must satisfy 0 <= min <= max <= 6000")
    return found


def _duplicates(names: list[str], what: str) -> list[str]:
    return [f"duplicate {what} name {n!r}" for n in sorted(set(names)) if names.count(n) > 1]


def _chars(entry: dict[str, Any]) -> int:
    """Characters Discord counts towards a command's 4,000: names, descriptions, values."""
    total = len(entry.get("name", "")) + len(entry.get("description", ""))
    total += sum(len(v) for v in entry.get("description_localizations", {}).values())
    total += sum(
        len(str(c.get("name", ""))) + len(str(c.get("value", ""))) for c in entry.get("choices", [])
    )
    return total + sum(_chars(o) for o in entry.get("options", []))
