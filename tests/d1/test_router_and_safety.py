"""Which tables go to D1, migrating from a fresh data dir, and never testing on a real D1 (issue 2)."""

import copy
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from coachbot.d1 import RequestCounter
from coachbot.routers import D1Router

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("app", ["sessions_app", "d1test"])
def test_coaching_apps_migrate_on_d1_only(app):
    assert D1Router().allow_migrate("d1", app) is True
    assert D1Router().allow_migrate("default", app) is False


@pytest.mark.parametrize("app", ["auth", "admin", "contenttypes", "sessions", "django_q"])
def test_djangos_own_apps_migrate_on_default_only(app):
    assert D1Router().allow_migrate("default", app) is True
    assert D1Router().allow_migrate("d1", app) is False


def manage(data_dir, *args):
    env = {**os.environ, "COACHBOT_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "tests.settings",
           "CLOUDFLARE_API_TOKEN": ""}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_migrate_and_migrate_database_d1_work_from_a_fresh_data_dir(tmp_path):
    default = manage(tmp_path, "migrate", "--no-input")
    d1 = manage(tmp_path, "migrate", "--database", "d1", "--no-input")
    assert default.returncode == 0, default.stderr
    assert d1.returncode == 0, d1.stderr
    assert "Applying d1test.0001_initial... OK" in d1.stdout
    # Django records every app's migrations on both; the router decides where tables go.
    assert tables_in(tmp_path / "coachbot.sqlite3") & {"auth_user", "django_q_task"}
    assert not {t for t in tables_in(tmp_path / "coachbot.sqlite3") if t.startswith(("d1test_", "sessions_app_"))}
    assert not {t for t in tables_in(tmp_path / "d1.sqlite3") if t.startswith(("auth_", "django_q_"))}
    tables = manage(tmp_path, "inspectdb", "--database", "d1")
    assert "class D1TestAuthor" in tables.stdout and "AuthUser" not in tables.stdout


def tables_in(path):
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def remote_copy(url):
    """The d1 connection's class on copied settings that point at ``url`` with a token."""
    d1 = connections["d1"]
    settings_dict = copy.deepcopy(d1.settings_dict)
    settings_dict["OPTIONS"].update(api_token="real-looking-token", api_base_url=url, account_id="acc")
    return type(d1)(settings_dict, alias="d1_copy")


@pytest.mark.parametrize("url", ["https://api.cloudflare.com/client/v4", "http://10.0.0.5:8787/client/v4"])
def test_creating_a_test_db_refuses_a_non_loopback_d1_and_sends_nothing(url):
    connection = remote_copy(url)
    with RequestCounter() as counter, pytest.raises(ImproperlyConfigured, match="refusing to run tests"):
        connection.creation._create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    assert counter.requests == 0
    assert connection.connection is None  # it never even connected
