"""The optional LLM coach: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, …).

Off unless COACH_LLM_URL is set. The model gets a compact prompt and must answer with JSON in
the Reply's shape; anything else (timeout, HTTP error, invalid output) falls back to the rules
coach with a warning that says why. Warnings never contain the API key or the member's words.
"""

import json
import logging
import re
from dataclasses import asdict
from typing import Any

import httpx
from django.conf import settings

from sessions_app.coach.rules import Observations, RulesCoach, observe
from sessions_app.coach.text import clip
from sessions_app.coach.types import UPDATE_KINDS, Coach, Context, Reply, Report, TaskUpdate

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0
RECENT_MESSAGES = 12
_LIMITS = {"summary": 600, "advice": 600, "question": 300}
_ADVICE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LANGUAGES = {"en": "English", "ja": "Japanese"}

SYSTEM_PROMPT = """\
You are coachbot, a warm, concise progress coach in Discord. Every 20 minutes you ask a member \
how their work is going. Answer their report with ONE JSON object with exactly these keys:
"summary": 1-3 short lines restating what they did, plan and are blocked on (max 400 chars);
"advice": one specific, kind piece of advice for right now (max 400 chars);
"question": the next question to ask them (max 200 chars);
"advice_key": a snake_case label for the kind of advice (e.g. smaller_step, blocker_escalate), \
never equal to last_advice_key;
"task_updates": a list of {"kind": "add"|"done"|"block"|"unblock"|"start", "task_id": an id from \
tasks or null for a new task, "title": string, "blocker": string}.
Use the context: if last_plan is not done, ask how it went; celebrate finished tasks; if a \
blocker keeps recurring, suggest escalating or splitting it; after several reports without \
progress, suggest a smaller step; if it is late in their local time, suggest stopping. \
Be specific, never nag, never repeat the last advice. Write every text in {language}."""


class LLMError(Exception):
    """The model could not be used; the message says why, without secrets or member text."""


class LLMCoach:
    """Asks the model, and falls back to the rules coach whenever the answer is unusable."""

    source = "llm"

    def __init__(
        self, url: str, model: str, api_key: str = "", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.fallback = RulesCoach()

    def reply(self, context: Context, report: Report) -> Reply:
        seen = observe(context, report)
        try:
            answer = _post_json(
                self.url, self._payload(context, report, seen), self._headers(), self.timeout
            )
            return parse_answer(answer, context)
        except LLMError as e:
            logger.warning("LLM coach unavailable (%s); the rules coach answers instead.", e)
            return self.fallback.reply(context, report)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _payload(self, context: Context, report: Report, seen: Observations) -> dict[str, Any]:
        language = _LANGUAGES[context.language]
        return {
            "model": self.model,
            "response_format": {"type": "json_object"},
            "temperature": 0.4,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT.replace("{language}", language)},
                {"role": "user", "content": build_prompt(context, report, seen)},
            ],
        }


def get_coach() -> Coach:
    """The LLM coach when COACH_LLM_URL is set, else the rules coach."""
    url = getattr(settings, "COACH_LLM_URL", "")
    if not url:
        return RulesCoach()
    return LLMCoach(
        url=url,
        model=getattr(settings, "COACH_LLM_MODEL", ""),
        api_key=getattr(settings, "COACH_LLM_API_KEY", ""),
        timeout=float(getattr(settings, "COACH_LLM_TIMEOUT", DEFAULT_TIMEOUT)),
    )


def build_prompt(context: Context, report: Report, seen: Observations) -> str:
    """The context as compact JSON: what the model needs and nothing more."""
    local = seen.local_time
    facts = {
        "member": clip(context.member_name, 40),
        "language": context.language,
        "local_time": f"{local:%Y-%m-%d %H:%M} ({context.timezone})",
        "summary": context.summary,
        "recent": [
            {"role": m.role, "kind": m.kind, "content": clip(m.content, 300)}
            for m in context.recent[-RECENT_MESSAGES:]
        ],
        "tasks": [
            {
                "id": t.id,
                "title": clip(t.title, 120),
                "status": t.status,
                "blocker": clip(t.blocker, 120),
            }
            for t in context.tasks
        ],
        "last_plan": seen.last_plan,
        "last_advice_key": context.last_advice_key,
        "signals": {
            "late": seen.late,
            "stalled": seen.stalled,
            "recurring_blocker": seen.recurring_blocker,
            "plan_pending": seen.plan_pending,
            "finished_task_ids": [task.id for task in seen.finished],
        },
        "report": {key: clip(value, 1000) for key, value in asdict(report).items()},
    }
    return json.dumps(facts, ensure_ascii=False, separators=(",", ":"))


def parse_answer(answer: Any, context: Context) -> Reply:
    """A Reply from a chat-completions response, or LLMError naming the first problem."""
    try:
        content = answer["choices"][0]["message"]["content"]
        data = json.loads(_strip_fences(content))
    except (KeyError, IndexError, TypeError, ValueError):
        raise LLMError("the answer is not a chat completion with JSON content") from None
    if not isinstance(data, dict):
        raise LLMError("the JSON content is not an object")
    texts = {name: _text(data, name, limit) for name, limit in _LIMITS.items()}
    return Reply(
        **texts,
        advice_key=_advice_key(data, context.last_advice_key),
        task_updates=_task_updates(data, {task.id for task in context.tasks}),
        source=LLMCoach.source,
    )


def _post_json(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float) -> Any:
    """POST JSON and return the decoded JSON answer: the coach's only HTTP call."""
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
        response.raise_for_status()
        return response.json()
    except httpx.TimeoutException:
        raise LLMError(f"no answer within {timeout:g}s") from None
    except httpx.HTTPStatusError as e:
        raise LLMError(f"HTTP {e.response.status_code}") from None
    except httpx.HTTPError as e:
        raise LLMError(f"request failed: {type(e).__name__}") from None
    except ValueError:
        raise LLMError("the response body is not JSON") from None


def _strip_fences(content: str) -> str:
    """Some models wrap JSON in ```json fences even when asked not to."""
    content = content.strip()
    if content.startswith("```"):
        content = content.strip("`").removeprefix("json").strip()
    return content


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise LLMError(f"field {name!r} is missing or empty")
    if len(value) > limit:
        raise LLMError(f"field {name!r} is longer than {limit} characters")
    return value.strip()


def _advice_key(data: dict[str, Any], last_key: str) -> str:
    key = data.get("advice_key")
    if not isinstance(key, str) or not _ADVICE_KEY.match(key):
        raise LLMError("field 'advice_key' is not a snake_case label")
    if key == last_key:
        raise LLMError("the model repeated the last advice")
    return key


def _task_updates(data: dict[str, Any], task_ids: set[str]) -> list[TaskUpdate]:
    updates = data.get("task_updates")
    if not isinstance(updates, list) or len(updates) > 20:
        raise LLMError("field 'task_updates' is not a list of at most 20 items")
    return [_task_update(item, task_ids) for item in updates]


def _task_update(item: Any, task_ids: set[str]) -> TaskUpdate:
    if not isinstance(item, dict) or item.get("kind") not in UPDATE_KINDS:
        raise LLMError("a task update has no valid kind")
    kind, task_id = item["kind"], item.get("task_id")
    title, blocker = item.get("title", ""), item.get("blocker", "")
    if not isinstance(title, str) or not isinstance(blocker, str):
        raise LLMError("a task update has a non-string title or blocker")
    if len(title) > 200 or len(blocker) > 300:
        raise LLMError("a task update's title or blocker is too long")
    if task_id is not None and task_id not in task_ids:
        raise LLMError("a task update names an unknown task id")
    if task_id is None and kind not in ("add", "block"):
        raise LLMError(f"a {kind!r} task update has no task id")
    if task_id is not None and kind == "add":
        raise LLMError("an 'add' task update names an existing task")
    if task_id is None and not title.strip():
        raise LLMError("a new task has no title")
    return TaskUpdate(kind, task_id, title.strip(), blocker.strip())
