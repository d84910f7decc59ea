"""bootstrap_coach: a first coach with a one-time password in a 0600 file, never a default."""

import io
import stat
import sys

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_app.admin.roles import is_coach


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.COACHBOT_DATA_DIR = tmp_path
    return tmp_path


def run(*args, stdin: str = "") -> str:
    out = io.StringIO()
    old, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("bootstrap_coach", *args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()


@pytest.mark.django_db
def test_it_creates_a_superuser_coach_with_a_random_password_in_a_private_file(data_dir):
    output = run()

    path = data_dir / "first-coach-password.txt"
    assert str(path) in output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().split("password: ")[1].strip()
    user = User.objects.get(username="coach")
    assert user.is_superuser and is_coach(user) and user.check_password(password)
    assert len(password) >= 20


@pytest.mark.django_db
def test_two_runs_make_two_different_passwords(data_dir):
    run()
    first = (data_dir / "first-coach-password.txt").read_text()
    User.objects.all().delete()

    run()

    assert (data_dir / "first-coach-password.txt").read_text() != first


@pytest.mark.django_db
def test_it_does_nothing_when_a_superuser_exists(data_dir):
    User.objects.create_superuser("root", password="x")

    assert "nothing to do" in run()
    assert not (data_dir / "first-coach-password.txt").exists()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_a_password_from_stdin_is_used_and_not_written_anywhere(data_dir):
    run("--password-from-stdin", "--username", "ana", stdin="correct horse battery staple\n")

    assert User.objects.get(username="ana").check_password("correct horse battery staple")
    assert list(data_dir.iterdir()) == []


@pytest.mark.django_db
def test_a_weak_password_from_stdin_is_refused(data_dir):
    with pytest.raises(CommandError):
        run("--password-from-stdin", stdin="123\n")
    assert not User.objects.exists()
