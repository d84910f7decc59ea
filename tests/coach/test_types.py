"""Reading reports and rendering replies."""

from sessions_app.coach import Reply, Report, TaskUpdate, parse_report
from sessions_app.coach.types import DISCORD_LIMIT


def test_it_reads_an_english_report():
    report = parse_report("done: login page\nnext: signup tests\nblocked: API key")

    assert report == Report(done="login page", next="signup tests", blockers="API key")


def test_it_reads_a_japanese_report():
    report = parse_report("完了: ログイン画面\n次: テスト\n詰まり: APIキー待ち")

    assert report == Report(done="ログイン画面", next="テスト", blockers="APIキー待ち")


def test_it_reads_full_width_colons_and_other_japanese_labels():
    report = parse_report("やったこと：設計レビュー\n次にやること：実装\nブロッカー：承認待ち")

    assert report == Report(done="設計レビュー", next="実装", blockers="承認待ち")


def test_it_reads_mixed_lines_and_keeps_the_rest_as_free_text():
    text = "Good morning!\nDONE: fixed CI\n次: デプロイ\nblocker: review\nfeeling slow today"

    report = parse_report(text)

    assert report == Report(
        done="fixed CI",
        next="デプロイ",
        blockers="review",
        free_text="Good morning!\nfeeling slow today",
    )


def test_bullets_under_a_label_belong_to_it():
    report = parse_report("done:\n- login page\n- signup form\nnext: tests\nthanks")

    assert report.done == "login page; signup form"
    assert report.next == "tests"
    assert report.free_text == "thanks"


def test_repeated_labels_are_joined():
    assert parse_report("done: a\ndone: b").done == "a; b"


def test_none_and_nashi_mean_no_blocker():
    assert parse_report("blocked: none").blockers == ""
    assert parse_report("詰まり: なし").blockers == ""
    assert parse_report("blockers: N/A.").blockers == ""


def test_a_label_inside_a_sentence_is_not_a_label():
    report = parse_report("I think next: is the hard part")

    assert report == Report(free_text="I think next: is the hard part")


def test_a_modal_report_is_cleaned_like_a_typed_one():
    report = Report.from_modal("  login page ", "tests", "none")

    assert report == Report(done="login page", next="tests", blockers="")


def test_a_report_round_trips_through_its_text():
    report = Report(done="a; b", next="c", blockers="d", free_text="hello")

    assert parse_report(report.as_text()) == report


def test_a_reply_renders_summary_advice_and_question():
    reply = Reply(
        "✅ Done: docs",
        "Take a break.",
        "What's next?",
        "take_break",
        [TaskUpdate("add", None, "x")],
    )

    assert reply.render() == "✅ Done: docs\n\n💡 Take a break.\n\n**What's next?**"


def test_a_huge_reply_is_cut_politely_below_the_discord_limit():
    reply = Reply("word " * 1000, "advice " * 500, "why " * 200 + "?", "k")

    rendered = reply.render()

    assert len(rendered) <= DISCORD_LIMIT
    assert rendered.count("…") == 3  # each part says it was shortened
    assert rendered.startswith("word word")
    assert "\n\n💡 advice advice" in rendered


def test_a_reply_without_spaces_is_still_cut_below_the_limit():
    reply = Reply("字" * 5000, "助" * 5000, "問" * 5000, "k")

    assert len(reply.render()) <= DISCORD_LIMIT
