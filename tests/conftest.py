"""Shared fixtures. ``--d1-target=cloudflare`` runs the D1 tests on Cloudflare's runtime."""

import contextlib

import pytest
from django.conf import settings

from coachbot.d1 import RequestCounter
from coachbot.kv import flush_all
from tests.support.cfruntime import cfruntime_available, running_cfruntime


def pytest_addoption(parser):
    parser.addoption(
        "--d1-target",
        choices=["local", "cloudflare"],
        default="local",
        help="run the d1 database on the embedded local D1 (default) or on Cloudflare's "
        "runtime (miniflare on loopback)",
    )


def pytest_report_header(config):
    return f"d1 target: {config.getoption('--d1-target')}"


@pytest.fixture(scope="session")
def cfruntime():
    """Cloudflare's local runtime (workerd via miniflare), started once per session."""
    ok, why = cfruntime_available()
    if not ok:
        pytest.skip(why)
    with running_cfruntime() as runtime:
        yield runtime


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request):
    """Point the d1 alias at Cloudflare's runtime when asked to."""
    if request.config.getoption("--d1-target") != "cloudflare":
        return
    runtime = request.getfixturevalue("cfruntime")
    d1 = settings.DATABASES["d1"]
    d1["NAME"] = runtime.database_id
    d1["OPTIONS"].update(
        api_token=runtime.token, account_id=runtime.account_id, api_base_url=runtime.url
    )


@pytest.fixture
def d1_target(request) -> str:
    """Which D1 the tests run on: "local" or "cloudflare"."""
    return request.config.getoption("--d1-target")


@pytest.fixture
def count_requests():
    """A RequestCounter context manager: ``with count_requests() as c: ...; c.requests``."""
    return RequestCounter


@pytest.fixture(autouse=True)
def _send_pending_kv_writes():
    """KV writes a test left in the write-behind buffer go out before the next test starts."""
    yield
    with contextlib.suppress(Exception):  # a test that broke KV on purpose must not fail the next
        flush_all()
