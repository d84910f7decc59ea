"""`manage.py coach_preview` plays a report through the coach and prints the reply."""

from io import StringIO

import time_machine
from django.core.management import call_command

from sessions_app.coach import RulesCoach, parse_report
from sessions_app.management.commands.coach_preview import preview

from .conftest import MORNING, context, task


def run(*args: str) -> str:
    """The command's output for Aki in Tokyo, unless the args say otherwise."""
    out = StringIO()
    call_command("coach_preview", "--timezone", "Asia/Tokyo", *args, stdout=out)
    return out.getvalue()


@time_machine.travel(MORNING, tick=False)
def test_it_prints_the_reply_the_task_updates_and_the_next_summary(settings):
    settings.COACH_LLM_URL = ""

    output = run("--report", r"done: set up CI\nnext: write the signup tests")

    assert output.startswith("✅ Done: set up CI\n➡️ Next: write the signup tests\n\n💡 ")
    assert "--- source: rules, advice_key: single_focus" in output
    assert "  add (new) write the signup tests" in output
    assert "Focus: write the signup tests\nWins: set up CI" in output


@time_machine.travel(MORNING.replace(hour=13), tick=False)
def test_it_speaks_japanese_in_the_members_time_zone(settings):
    settings.COACH_LLM_URL = ""

    output = run("--report", "完了: レビュー", "--locale", "ja")

    assert output.startswith("✅ やったこと: レビュー\n\n💡 そちらは今 22:00 です。")


@time_machine.travel(MORNING, tick=False)
def test_it_starts_from_the_given_summary(settings):
    settings.COACH_LLM_URL = ""

    output = run("--report", "blocked: API key", "--summary", "Blockers: API key (x2)")

    assert "advice_key: blocker_escalate" in output
    assert "Blockers: API key (x3)" in output


def test_preview_takes_any_context_so_a_real_member_can_be_loaded_later():
    ctx = context(tasks=[task("7", "Merger memo", "doing")])

    output = preview(ctx, parse_report("done: merger memo"), coach=RulesCoach())

    assert output.startswith("🎉 Finished: Merger memo — well done!")
    assert "  done 7 Merger memo" in output
