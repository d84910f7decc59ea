"""Create the first coach account (a superuser) when there is none; never a default password.

    python manage.py bootstrap_coach                        # random one-time password, kept in a 0600 file
    echo 'a long passphrase' | python manage.py bootstrap_coach --password-from-stdin

Safe to run at every start: with a superuser present it only makes sure the "coaches"
group exists.
"""

import os
import secrets
import sys

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sessions_app.admin.roles import coaches_group

PASSWORD_FILE = "first-coach-password.txt"


class Command(BaseCommand):
    help = "Create the first coach account (a superuser) if none exists."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="coach", help="the account's name (default: coach)")
        parser.add_argument("--email", default="", help="the account's email address")
        parser.add_argument("--password-from-stdin", action="store_true",
                            help="read the password from standard input instead of generating one")

    def handle(self, *args, username, email, password_from_stdin, **options):
        group = coaches_group()
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A coach account exists already; nothing to do.")
            return
        password = self._stdin_password(username) if password_from_stdin else secrets.token_urlsafe(18)
        user = User.objects.create_superuser(username=username, email=email, password=password)
        user.groups.add(group)
        if password_from_stdin:
            self.stdout.write(self.style.SUCCESS(f"Created the coach account {username!r}."))
            return
        path = self._write_password(username, password)
        self.stdout.write(self.style.SUCCESS(
            f"Created the coach account {username!r}. Its one-time password is in {path} "
            "(readable by you only): log in at /admin/, change it, then delete the file."
        ))

    def _stdin_password(self, username: str) -> str:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            password_validation.validate_password(password, get_user_model()(username=username))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        return password

    def _write_password(self, username: str, password: str):
        path = settings.COACHBOT_DATA_DIR / PASSWORD_FILE
        if path.exists():
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"username: {username}\npassword: {password}\n")
        return path
