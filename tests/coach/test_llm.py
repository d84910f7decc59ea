"""The LLM coach against a real HTTP server on loopback, and its fallback to the rules coach."""

import json
import logging

import pytest

from sessions_app.coach import LLMCoach, RulesCoach, TaskUpdate, get_coach, parse_report
from tests.support.fake_llm import GOOD_ANSWER

from .conftest import API_KEY, context, task

MEMBER_WORDS = "done: the secret merger memo\nnext: call Dana about it"


def ask(tasks=()):
    """Aki's report, full of private words, to whichever coach the settings choose."""
    ctx = context(
        tasks=list(tasks), summary="Focus: merger memo", last_report=parse_report("next: draft")
    )
    return get_coach().reply(ctx, parse_report(MEMBER_WORDS))


def test_without_a_url_the_rules_coach_answers(settings):
    settings.COACH_LLM_URL = ""

    assert isinstance(get_coach(), RulesCoach)


def test_with_a_url_the_llm_coach_answers(llm_settings):
    coach = get_coach()

    assert isinstance(coach, LLMCoach)
    assert coach.timeout == 0.5


def test_a_good_answer_is_used(llm_settings, fake_llm):
    fake_llm.answer = GOOD_ANSWER | {
        "task_updates": [{"kind": "done", "task_id": "7", "title": "Merger memo", "blocker": ""}]
    }

    reply = ask(tasks=[task("7", "Merger memo", "doing")])

    assert reply.source == "llm"
    assert reply.advice == GOOD_ANSWER["advice"]
    assert reply.advice_key == "staging_first"
    assert reply.task_updates == [TaskUpdate("done", "7", "Merger memo", "")]


def test_it_posts_the_context_to_chat_completions_and_asks_for_json(llm_settings, fake_llm):
    ask(tasks=[task("7", "Merger memo", "doing")])

    [request] = fake_llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "coach-test-model"
    assert request.body["response_format"] == {"type": "json_object"}
    system, user = request.body["messages"]
    assert "Write every text in English" in system["content"]
    facts = json.loads(user["content"])
    assert facts["local_time"] == "2025-03-03 10:00 (Asia/Tokyo)"
    assert facts["summary"] == "Focus: merger memo"
    assert facts["tasks"] == [{"id": "7", "title": "Merger memo", "status": "doing", "blocker": ""}]
    assert facts["last_plan"] == ["draft"]
    assert facts["report"]["next"] == "call Dana about it"
    assert facts["signals"]["plan_pending"] == ["draft"]


def test_it_asks_for_japanese_when_the_member_speaks_japanese(llm_settings, fake_llm):
    get_coach().reply(context(locale="ja"), parse_report("完了: レビュー"))

    assert "Write every text in Japanese" in fake_llm.requests[0].body["messages"][0]["content"]


def test_the_api_key_is_sent_as_a_bearer_token(llm_settings, fake_llm):
    ask()

    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_no_api_key_means_no_authorization_header(llm_settings, fake_llm):
    llm_settings.COACH_LLM_API_KEY = ""

    ask()

    assert "authorization" not in fake_llm.requests[0].headers


def test_a_slow_model_falls_back_to_the_rules_coach(llm_settings, fake_llm, caplog):
    fake_llm.behaviour = "slow"

    reply = ask()

    assert reply.source == "rules"
    assert reply.question == "Last time you planned “draft” — how did it go?"
    assert "no answer within 0.5s" in caplog.text


def test_an_http_error_falls_back_to_the_rules_coach(llm_settings, fake_llm, caplog):
    fake_llm.behaviour = "error"

    assert ask().source == "rules"
    assert "LLM coach unavailable (HTTP 500)" in caplog.text


def test_garbage_falls_back_to_the_rules_coach(llm_settings, fake_llm, caplog):
    fake_llm.behaviour = "garbage"

    assert ask().source == "rules"
    assert "the response body is not JSON" in caplog.text


def test_content_that_is_not_json_falls_back(llm_settings, fake_llm, caplog):
    fake_llm.answer = "Sure! Here is some advice: take a break."

    assert ask().source == "rules"
    assert "not a chat completion with JSON content" in caplog.text


def test_json_in_code_fences_is_accepted(llm_settings, fake_llm):
    fake_llm.answer = "```json\n" + json.dumps(GOOD_ANSWER) + "\n```"

    assert ask().source == "llm"


def test_nobody_listening_falls_back(settings, caplog):
    settings.COACH_LLM_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing answers

    assert get_coach().reply(context(), parse_report("done: x")).source == "rules"
    assert "request failed: ConnectError" in caplog.text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"advice": ""}, "field 'advice' is missing or empty"),
        ({"summary": None}, "field 'summary' is missing or empty"),
        ({"question": 42}, "field 'question' is missing or empty"),
        ({"advice": "x" * 601}, "field 'advice' is longer than 600 characters"),
        ({"advice_key": "Escalate Now!"}, "'advice_key' is not a snake_case label"),
        ({"advice_key": "smaller_step"}, "the model repeated the last advice"),
        ({"task_updates": "none"}, "'task_updates' is not a list"),
        ({"task_updates": [{"kind": "delete", "task_id": "7"}]}, "no valid kind"),
        ({"task_updates": [{"kind": "done", "task_id": "99"}]}, "unknown task id"),
        (
            {"task_updates": [{"kind": "done", "task_id": None}]},
            "'done' task update has no task id",
        ),
        (
            {"task_updates": [{"kind": "add", "task_id": None, "title": " "}]},
            "a new task has no title",
        ),
        (
            {"task_updates": [{"kind": "add", "task_id": "7", "title": "x"}]},
            "names an existing task",
        ),
        ({"task_updates": [{"kind": "block", "task_id": "7", "blocker": 3}]}, "non-string"),
    ],
)
def test_invalid_fields_fall_back_to_the_rules_coach(
    llm_settings, fake_llm, caplog, change, reason
):
    fake_llm.answer = GOOD_ANSWER | change
    ctx = context(tasks=[task("7", "Merger memo", "doing")], last_advice_key="smaller_step")

    reply = get_coach().reply(ctx, parse_report("done: memo"))

    assert reply.source == "rules"
    assert reason in caplog.text


def test_a_json_list_instead_of_an_object_falls_back(llm_settings, fake_llm, caplog):
    fake_llm.answer = [GOOD_ANSWER]

    assert ask().source == "rules"
    assert "the JSON content is not an object" in caplog.text


@pytest.mark.parametrize("behaviour", ["good", "slow", "error", "garbage"])
def test_warnings_never_contain_the_api_key_or_the_members_words(
    llm_settings, fake_llm, caplog, behaviour
):
    fake_llm.behaviour = behaviour
    fake_llm.answer = GOOD_ANSWER | {"advice": ""}  # even a good server gives a bad answer
    caplog.set_level(logging.DEBUG)

    ask()

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert API_KEY not in caplog.text
    assert "merger" not in caplog.text.lower()
    assert "Dana" not in caplog.text
