"""Test settings: the project's, plus a small app of models for the D1 backend's own tests."""

import os

from coachbot.settings import *  # noqa: F403
from coachbot.settings import CACHES, COACHBOT_DATA_DIR, D1_APPS, DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.d1test"]
D1_APPS = [*D1_APPS, "d1test"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Nothing in a test may reach Discord or an LLM: unless a test points them at its own
# loopback server, they point at a closed loopback port.
DISCORD_API_BASE_URL = "http://127.0.0.1:9/api/v10"
DISCORD_BOT_TOKEN = "test-bot-token"
DISCORD_APPLICATION_ID = "100000000000000001"
COACH_LLM_URL = ""
# Stock Django SQLite, the reference the D1 backend's date SQL is compared with (tests/d1).
DATABASES = {  # noqa: F405
    **DATABASES,  # noqa: F405
    "sqlite_ref": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "TEST": {"DEPENDENCIES": []}},
}

# One local D1 test file per test process, so parallel runs never delete each other's.
DATABASES["d1"]["TEST"]["NAME"] = str(COACHBOT_DATA_DIR / f"test_d1_{os.getpid()}.sqlite3")

# Per-process cache in tests (production shares it through the default database or Redis).
CACHES["default"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}

# The local KV: one file per test process, and no timer thread flushing writes in the
# background (it would land inside another test's request count); tests/conftest.py
# flushes pending KV writes after each test instead.
CACHES["kv"]["LOCATION"] = str(COACHBOT_DATA_DIR / f"test_kv_{os.getpid()}.sqlite3")
CACHES["kv"]["OPTIONS"] = {**CACHES["kv"]["OPTIONS"], "flush_timer": False}
