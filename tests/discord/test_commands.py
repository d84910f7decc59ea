"""The slash-command set stays within Discord's limits and registers through the client."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from discord_app import commands
from discord_app.commands import all_commands, problems

from .conftest import APP_ID, TOKEN


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


def walk(entries: list[dict]):
    for entry in entries:
        yield entry
        yield from walk(entry.get("options", []))


def test_the_command_set_is_within_discords_limits():
    assert problems(all_commands()) == []


def test_it_defines_the_commands_coachbot_handles():
    assert set(by_name(all_commands())) == {
        "coach",
        "checkin",
        "status",
        "task",
        "pause",
        "resume",
        "snooze",
        "settings",
    }


def test_every_command_works_in_the_server_and_the_bot_dm():
    for command in all_commands():
        assert command["contexts"] == [0, 1]
        assert command["integration_types"] == [0]
        assert command["type"] == 1


def test_every_name_and_description_has_a_japanese_description():
    for entry in walk(all_commands()):
        assert entry["description_localizations"]["ja"]


def test_coach_and_task_are_subcommands():
    found = by_name(all_commands())
    assert set(by_name(found["coach"]["options"])) == {"start", "stop"}
    task = by_name(found["task"]["options"])
    assert set(task) == {"add", "done", "list"}
    assert all(o["type"] == commands.SUB_COMMAND for o in task.values())
    assert task["add"]["options"][0]["required"]
    assert task["done"]["options"][0]["autocomplete"]


def test_snooze_and_interval_are_bounded_integers():
    found = by_name(all_commands())
    minutes = found["snooze"]["options"][0]
    assert (minutes["type"], minutes["min_value"], minutes["max_value"]) == (
        commands.INTEGER,
        5,
        480,
    )
    interval = by_name(found["settings"]["options"])["interval"]
    assert (interval["min_value"], interval["max_value"]) == (10, 240)


def test_settings_options_are_all_optional():
    options = by_name(all_commands())["settings"]["options"]
    assert [o["name"] for o in options] == [
        "timezone",
        "work_start",
        "work_end",
        "work_days",
        "interval",
    ]
    assert not any(o.get("required") for o in options)
    assert options[0]["autocomplete"]


def test_all_commands_returns_a_copy():
    all_commands()[0]["name"] = "changed"
    assert all_commands()[0]["name"] == "coach"


@pytest.mark.parametrize(
    "change, complaint",
    [
        (lambda c: c.update(name="Coach"), "lowercase"),
        (lambda c: c.update(name="x" * 33), "1-32"),
        (lambda c: c.update(description="x" * 101), "1-100"),
        (lambda c: c.update(description=""), "1-100"),
        (lambda c: c["description_localizations"].update(ja="あ" * 101), "1-100"),
        (lambda c: c["options"][0].update(name="has space"), "name"),
        (
            lambda c: c.update(options=[{**c["options"][0], "name": f"o{i}"} for i in range(26)]),
            "25 options",
        ),
    ],
)
def test_problems_catches_what_discord_would_reject(change, complaint):
    command = all_commands()[0]
    change(command)
    assert any(complaint in p for p in problems([command]))


def test_problems_catches_required_options_after_optional_ones():
    settings_command = by_name(all_commands())["settings"]
    settings_command["options"][-1]["required"] = True
    assert any("required options" in p for p in problems([settings_command]))


def test_problems_catches_duplicate_command_names():
    assert any("duplicate" in p for p in problems(all_commands() + all_commands()[:1]))


# --- register_commands ------------------------------------------------------------------


@pytest.fixture
def discord_settings(settings, fake_discord):
    """Point the process-wide client at the fake Discord."""
    settings.DISCORD_BOT_TOKEN = TOKEN
    settings.DISCORD_APPLICATION_ID = APP_ID
    settings.DISCORD_API_BASE_URL = fake_discord.base_url
    return settings


def run(*args: str) -> str:
    out = StringIO()
    call_command("register_commands", *args, stdout=out)
    return out.getvalue()


def test_dry_run_prints_valid_json_within_discords_limits(discord_settings, fake_discord):
    printed = json.loads(run("--dry-run"))
    assert printed == all_commands()
    assert problems(printed) == []
    assert fake_discord.requests == []


def test_it_puts_the_global_command_set(discord_settings, fake_discord):
    out = run()
    put = fake_discord.calls("PUT", f"/applications/{APP_ID}/commands")
    assert len(put) == 1 and put[0].json == all_commands()
    assert "/coach" in out and "Registered 8 commands globally" in out


def test_it_puts_a_guild_command_set(discord_settings, fake_discord):
    out = run("--guild", "777")
    assert fake_discord.calls("PUT", f"/applications/{APP_ID}/guilds/777/commands")
    assert "in guild 777" in out


def test_it_reports_a_failure_without_the_token(discord_settings, fake_discord):
    discord_settings.DISCORD_BOT_TOKEN = "wrong-token-zq81"
    with pytest.raises(CommandError) as info:
        run()
    assert "401" in str(info.value) and "wrong-token-zq81" not in str(info.value)
