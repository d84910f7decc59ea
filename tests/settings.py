"""Test settings: the project's, plus a small app of models for the D1 backend's own tests."""

from coachbot.settings import *  # noqa: F403
from coachbot.settings import D1_APPS, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.d1test"]
D1_APPS = [*D1_APPS, "d1test"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
