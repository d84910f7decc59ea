"""python manage.py register_commands [--guild ID] [--dry-run]

Replaces the application's slash commands with `discord_app.commands.COMMANDS`. Global
commands (the default) are needed for the bot's DMs and can take a while to appear;
`--guild` registers them in one server instantly, which suits development.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from discord_app.commands import all_commands, problems
from discord_app.rest import DiscordError, get_client


class Command(BaseCommand):
    help = "Bulk-overwrite coachbot's slash commands on Discord (globally, or in one guild)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--guild", metavar="ID", help="register in this guild only (instant)")
        parser.add_argument("--dry-run", action="store_true", help="print the JSON, send nothing")

    def handle(self, *args: Any, guild: str | None, dry_run: bool, **options: Any) -> None:
        commands = all_commands()
        if found := problems(commands):
            raise CommandError("Discord would reject these commands:\n" + "\n".join(found))
        if dry_run:
            self.stdout.write(json.dumps(commands, indent=2, ensure_ascii=False))
            return
        try:
            registered = get_client().bulk_overwrite_commands(commands, guild_id=guild)
        except DiscordError as exc:
            raise CommandError(f"Registering the commands failed: {exc}") from exc
        for cmd in registered:
            self.stdout.write(f"/{cmd['name']}  (id {cmd.get('id', '?')})")
        where = f"in guild {guild}" if guild else "globally"
        self.stdout.write(self.style.SUCCESS(f"Registered {len(registered)} commands {where}."))
