"""The rolling summary stays short, keeps the latest state and forgets the oldest detail."""

from datetime import UTC, datetime, timedelta

from sessions_app.coach import PastMessage, Report, fold_history, is_milestone, summarise
from sessions_app.coach.summary import SUMMARY_LIMIT, read_memory

from .conftest import task


def test_it_summarises_focus_open_tasks_blockers_and_wins():
    tasks = [
        task("1", "Docs"),
        task("2", "Deploy", "blocked", "API key"),
        task("3", "Login", "doing"),
    ]

    summary = summarise("", Report(done="CI setup", next="deploy", blockers="API key"), tasks)

    assert summary == (
        "Focus: deploy\n"
        "Open (3): [doing] Login; [blocked] Deploy — API key; [todo] Docs\n"
        "Blockers: API key (x1)\n"
        "Wins: CI setup"
    )


def test_a_blocker_seen_again_is_counted_not_repeated():
    summary = summarise("", Report(blockers="waiting for the API key"))
    summary = summarise(summary, Report(blockers="Waiting for the API key!"))

    assert read_memory(summary).blockers == [("Waiting for the API key!", 2)]


def test_the_newest_plan_replaces_the_old_focus():
    summary = summarise("Focus: old plan", Report(next="new plan"))

    assert read_memory(summary).focus == "new plan"


def test_without_tasks_it_keeps_the_open_tasks_it_had():
    summary = summarise("", Report(), [task("1", "Docs")])

    assert read_memory(summarise(summary, Report(done="x"))).open == ["[todo] Docs"]


def test_a_summary_it_did_not_write_is_kept_as_notes():
    summary = summarise("The member likes short answers.", Report(done="x"))

    assert read_memory(summary).notes == ["The member likes short answers."]


def test_the_summary_stays_under_the_limit_however_long_the_history():
    summary = ""
    for i in range(500):
        report = Report(
            done=f"task {i} " * 20,
            next=f"plan {i} " * 30,
            blockers=f"blocker {i} " * 10,
            free_text=f"note {i} " * 40,
        )
        summary = summarise(
            summary, report, [task(str(n), f"open task {n} " * 10) for n in range(30)]
        )

    assert len(summary) <= SUMMARY_LIMIT
    assert read_memory(summary).focus.startswith("plan 499")
    assert read_memory(summary).wins[0].startswith("task 499")


def test_folding_3000_messages_stays_under_the_limit_and_keeps_the_latest_state():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    messages = []
    for i in range(1500):
        at = start + timedelta(minutes=20 * i)
        text = f"done: step {i}\nnext: step {i + 1}\nblocked: {'flaky tests' if i % 3 else f'issue {i}'}"
        messages.append(PastMessage("member", "report", text, at))
        messages.append(PastMessage("coach", "reply", "Nice work! " * 50, at))

    summary = fold_history("", messages)

    assert len(messages) == 3000
    assert len(summary) <= SUMMARY_LIMIT
    memory = read_memory(summary)
    assert memory.focus == "step 1500"
    assert memory.wins[0] == "step 1499"
    assert ("flaky tests", 1000) in memory.blockers  # the recurring blocker is remembered
    assert "Nice work" not in summary  # the coach's own words are not memory


def test_folding_again_keeps_what_the_summary_already_knew():
    first = fold_history(
        "", [PastMessage("member", "report", "blocked: API key", datetime.now(UTC))]
    )

    again = fold_history(
        first, [PastMessage("member", "report", "blocked: API key", datetime.now(UTC))]
    )

    assert read_memory(again).blockers == [("API key", 2)]


def test_milestones_come_every_fifty_messages():
    assert [n for n in range(1, 151) if is_milestone(n)] == [50, 100, 150]
    assert not is_milestone(0)
