"""The rules coach, conversation by conversation."""

from dataclasses import replace
from datetime import UTC, datetime, time

from sessions_app.coach import PastMessage, Report, RulesCoach, TaskUpdate, parse_report
from sessions_app.coach.types import DISCORD_LIMIT

from .conftest import MORNING, context, task


def test_it_asks_about_the_plan_named_last_time(chat):
    chat.say("done: set up the repo\nnext: write the signup tests")
    reply = chat.say("done: fixed the CI cache")

    assert reply.question == "Last time you planned “write the signup tests” — how did it go?"


def test_it_celebrates_when_the_plan_from_last_time_is_done(chat):
    chat.say("next: write the signup tests")
    reply = chat.say("done: signup tests\nnext: deploy to staging")

    assert "Right on the plan from last time." in reply.summary
    assert "how did it go" not in reply.question
    assert reply.question == "What's the first small step for “deploy to staging”?"


def test_it_does_not_ask_about_a_plan_that_is_still_the_plan(chat):
    chat.say("next: write the signup tests")
    reply = chat.say("next: write the signup tests")

    assert "Last time you planned" not in reply.question


def test_it_finds_the_last_plan_in_recent_messages_when_last_report_is_missing(chat):
    chat.say("next: migrate the billing table")
    ctx = replace(chat.context, last_report=None)

    reply = RulesCoach().reply(ctx, parse_report("done: lunch"))

    assert reply.question == "Last time you planned “migrate the billing table” — how did it go?"


def test_a_repeated_blocker_triggers_escalation_advice(chat):
    first = chat.say("next: deploy\nblocked: waiting for the API key from ops")
    second = chat.say("blocked: Waiting for the  API key from Ops!")

    assert first.advice_key == "blocker_ask"
    assert second.advice_key == "blocker_escalate"
    assert "has come up before" in second.advice
    assert "ask someone who can unblock it today" in second.advice


def test_a_task_already_blocked_by_the_same_thing_counts_as_a_repeat():
    ctx = context(tasks=[task("7", "Deploy to staging", "blocked", "API key from ops")])

    reply = RulesCoach().reply(ctx, parse_report("blocked: still no API key from ops"))

    assert reply.advice_key == "blocker_escalate"
    assert reply.task_updates == []  # nothing new to record: the task is already blocked by it


def test_a_blocker_that_keeps_coming_back_is_escalated_then_split(chat):
    chat.say("blocked: flaky staging database")
    second = chat.say("blocked: flaky staging database")
    third = chat.say("blocked: flaky staging database")

    assert [second.advice_key, third.advice_key] == ["blocker_escalate", "blocker_split"]
    assert "Split off the part you can do without it" in third.advice


def test_a_finished_task_is_celebrated_and_leaves_the_open_list(chat):
    chat.say("next: build the login page; write docs")
    assert chat.open_titles() == ["build the login page", "write docs"]

    reply = chat.say("done: login page")

    assert reply.summary.startswith("🎉 Finished: build the login page — well done!")
    assert TaskUpdate("done", "1", "build the login page") in reply.task_updates
    assert chat.open_titles() == ["write docs"]


def test_a_new_plan_becomes_a_task_and_a_known_one_is_started():
    ctx = context(tasks=[task("1", "Write the release notes")])

    reply = RulesCoach().reply(ctx, parse_report("next: release notes; record the demo video"))

    assert reply.task_updates == [
        TaskUpdate("start", "1", "Write the release notes"),
        TaskUpdate("add", None, "record the demo video"),
    ]


def test_a_blocker_blocks_the_task_in_progress():
    ctx = context(tasks=[task("1", "Payment webhook", "doing"), task("2", "Docs")])

    reply = RulesCoach().reply(ctx, parse_report("blocked: no sandbox credentials"))

    assert reply.task_updates == [
        TaskUpdate("block", "1", "Payment webhook", "no sandbox credentials")
    ]


def test_a_blocker_with_nothing_to_block_adds_a_blocked_task():
    reply = RulesCoach().reply(context(), parse_report("blocked: laptop in repair"))

    assert reply.task_updates == [TaskUpdate("block", None, "laptop in repair", "laptop in repair")]


def test_a_blocked_task_named_as_the_next_step_is_unblocked():
    ctx = context(tasks=[task("3", "Deploy to staging", "blocked", "API key")])

    reply = RulesCoach().reply(ctx, parse_report("done: got the key\nnext: deploy to staging"))

    assert TaskUpdate("unblock", "3", "Deploy to staging") in reply.task_updates


def test_three_reports_without_progress_suggest_a_smaller_step(chat):
    chat.say("next: refactor the scheduler")
    chat.say("still reading the old code")
    reply = chat.say("next: refactor the scheduler")

    assert reply.advice_key == "smaller_step"
    assert "something you can finish in 20 minutes" in reply.advice


def test_progress_in_between_resets_the_count(chat):
    chat.say("next: refactor the scheduler")
    chat.say("done: extracted the job runner")
    chat.say("still reading the old code")
    reply = chat.say("next: refactor the scheduler")

    assert reply.advice_key != "smaller_step"


def test_it_suggests_stopping_after_working_hours_in_the_members_time_zone(late_chat):
    reply = late_chat.say("done: wrote the migration\nnext: review it")

    assert reply.advice_key == "stop_for_today"
    assert reply.advice.startswith("It's 22:10 where you are — a good place to stop.")
    assert reply.question == "What's the first thing you'll pick up tomorrow?"


def test_it_suggests_stopping_after_21_without_working_hours():
    # 21:30 in Tokyo is 12:30 UTC; in UTC itself it would be the middle of the day.
    evening = datetime(2025, 3, 3, 12, 30, tzinfo=UTC)

    tokyo = RulesCoach().reply(context(now=evening), parse_report("done: emails"))
    london = RulesCoach().reply(context(now=evening, timezone="Europe/London"), Report("emails"))

    assert tokyo.advice_key == "stop_for_today"
    assert london.advice_key != "stop_for_today"


def test_it_does_not_suggest_stopping_before_the_end_of_the_working_day():
    ctx = context(now=MORNING.replace(hour=8), working_hours_end=time(19, 0))  # 17:00 in Tokyo

    reply = RulesCoach().reply(ctx, parse_report("done: emails"))

    assert reply.advice_key != "stop_for_today"


def test_advice_is_never_repeated_twice_in_a_row(chat):
    replies = [chat.say("blocked: flaky staging database") for _ in range(6)]
    replies += [chat.say("next: write docs") for _ in range(6)]

    keys = [reply.advice_key for reply in replies]
    assert all(a != b for a, b in zip(keys, keys[1:], strict=False)), keys


def test_it_picks_the_next_best_advice_when_the_best_was_given_last_time(late_chat):
    late_chat.context = replace(late_chat.context, last_advice_key="stop_for_today")

    reply = late_chat.say("done: wrote the migration")

    assert reply.advice_key == "keep_momentum"


def test_too_many_open_tasks_suggest_finishing_one_first():
    tasks = [task(str(i), f"Task number {i}") for i in range(7)]

    reply = RulesCoach().reply(context(tasks=tasks), parse_report("next: task number 3"))

    assert reply.advice_key == "limit_wip"
    assert reply.advice.startswith("You have 7 open tasks.")


def test_a_free_text_report_is_acknowledged():
    reply = RulesCoach().reply(context(), parse_report("Pairing with Ken on the parser"))

    assert reply.summary == "📝 Noted: Pairing with Ken on the parser"
    assert reply.source == "rules"


def test_replies_stay_within_discord_limits_even_with_huge_inputs():
    huge = "x" * 50_000
    tasks = [task(str(i), f"{huge} {i}", "blocked", huge) for i in range(50)]
    ctx = context(tasks=tasks, summary=huge, last_report=Report(next=huge))
    report = Report(done="; ".join([huge] * 10), next=huge, blockers=huge, free_text=huge)

    rendered = RulesCoach().reply(ctx, report).render()

    assert len(rendered) <= DISCORD_LIMIT
    assert rendered.endswith("**")  # the question survives, the summary gave way


def test_replies_in_japanese_for_the_japanese_locale():
    ctx = context(locale="ja", last_report=parse_report("次: テストを書く"))

    reply = RulesCoach().reply(ctx, parse_report("完了: ログイン画面\n次: デプロイ、ドキュメント"))

    assert reply.summary == "✅ やったこと: ログイン画面\n➡️ 次: デプロイ、ドキュメント"
    assert reply.question == "前回は「テストを書く」の予定でしたね。どうなりましたか？"


def test_japanese_late_night_advice_uses_tokyo_time():
    night = datetime(2025, 3, 3, 14, 5, tzinfo=UTC)  # 23:05 in Tokyo

    reply = RulesCoach().reply(context(locale="ja", now=night), parse_report("完了：レビュー"))

    assert reply.advice.startswith("そちらは今 23:05 です。")
    assert reply.question == "明日はまず何から取りかかりますか？"


def test_any_locale_other_than_japanese_gets_english():
    reply = RulesCoach().reply(context(locale="pt-BR"), parse_report("done: emails"))

    assert reply.summary == "✅ Done: emails"


def test_the_same_input_always_gets_the_same_reply():
    ctx = context(tasks=[task("1", "Write docs", "doing")])
    report = parse_report("done: docs\nnext: ship it")

    assert RulesCoach().reply(ctx, report) == RulesCoach().reply(ctx, report)


def test_a_report_already_stored_in_recent_is_not_counted_twice():
    report = parse_report("blocked: waiting for design")
    stored = [PastMessage("member", "report", "blocked: waiting for design", MORNING)]

    reply = RulesCoach().reply(context(recent=stored), report)

    assert reply.advice_key == "blocker_ask"  # a first-time blocker, not a recurring one
