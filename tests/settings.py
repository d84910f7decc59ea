"""Test settings: the project's, plus a small app of models for the D1 backend's own tests."""

from coachbot.settings import *  # noqa: F403
from coachbot.settings import D1_APPS, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.d1test"]
D1_APPS = [*D1_APPS, "d1test"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Nothing in a test may reach Discord or an LLM: unless a test points them at its own
# loopback server, they point at a closed loopback port.
DISCORD_API_BASE_URL = "http://127.0.0.1:9/api/v10"
DISCORD_BOT_TOKEN = "test-bot-token"
DISCORD_APPLICATION_ID = "100000000000000001"
COACH_LLM_URL = ""
