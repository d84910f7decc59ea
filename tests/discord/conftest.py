"""Fixtures for the Discord tests: a fake Discord server, a fake clock and a client of both."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.test import Client as DjangoClient
from django.utils import timezone
from nacl.signing import SigningKey

from discord_app.rest import DiscordClient
from sessions_app.models import CheckIn, Session
from tests.support.clock import FakeClock
from tests.support.fake_discord import FakeDiscord

TOKEN = "test-bot-token.Xy9-not-a-real-token"
APP_ID = "1111111111111111111"


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """A fake Discord REST API on a loopback port, accepting TOKEN."""
    fake = FakeDiscord(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that advances only when the client sleeps."""
    return FakeClock(1000.0)


@pytest.fixture
def client(fake_discord: FakeDiscord, clock: FakeClock) -> Iterator[DiscordClient]:
    """A client of the fake server whose waits are instant and recorded in `clock.sleeps`."""
    client = DiscordClient(
        TOKEN, application_id=APP_ID, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep
    )
    yield client
    client.close()


# --- The interactions endpoint: signed requests to the real view ------------------------

FIXTURES = Path(__file__).parent / "fixtures"
URL = "/discord/interactions"
AKI = "400000000000000001"
DM_CHANNEL = "900000000000000020"
CHECKIN_ID = "01JF0000000000000000000001"
CHECKIN_MESSAGE = "900000000000000030"


def load(name: str) -> dict[str, Any]:
    """A recorded interaction payload from fixtures/ (a fresh copy each time)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def sign(key: SigningKey, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """The two headers Discord sends with `body`."""
    timestamp = timestamp or str(int(time.time()))
    signature = key.sign(timestamp.encode() + body).signature.hex()
    return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp}


@pytest.fixture
def signing_key(settings) -> SigningKey:
    """A fresh Ed25519 key pair; its public half is settings.DISCORD_PUBLIC_KEY."""
    key = SigningKey.generate()
    settings.DISCORD_PUBLIC_KEY = key.verify_key.encode().hex()
    return key


@pytest.fixture
def discord(settings, fake_discord: FakeDiscord) -> Iterator[FakeDiscord]:
    """The fake Discord as the project's REST target; django-q tasks run inline."""
    settings.DISCORD_API_BASE_URL = fake_discord.base_url
    settings.DISCORD_BOT_TOKEN = TOKEN
    settings.DISCORD_APPLICATION_ID = APP_ID
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    fake_discord.dm_channels[AKI] = DM_CHANNEL
    cache.clear()
    yield fake_discord
    cache.clear()


@pytest.fixture
def web() -> DjangoClient:
    """Django's test client (`client` here is the Discord REST client)."""
    return DjangoClient()


@pytest.fixture
def post(web, signing_key, discord) -> Callable[..., Any]:
    """post(payload_or_name) -> the view's response, signed like Discord signs it."""

    def post(payload: dict[str, Any] | str, **headers: str):
        if isinstance(payload, str):
            payload = load(payload)
        body = json.dumps(payload).encode()
        return web.post(URL, data=body, content_type="application/json",
                           headers=sign(signing_key, body) | headers)

    return post


@pytest.fixture
def aki() -> Session:
    """A member who opted in from the team's server; her DM channel is known."""
    return Session.objects.create(user_id=AKI, display_name="Aki", guild_id="900000000000000001",
                                  channel_id=DM_CHANNEL, timezone="Asia/Tokyo")


@pytest.fixture
def checkin(aki: Session) -> CheckIn:
    """The check-in DM Aki got a few minutes ago (the one the fixtures click on)."""
    return CheckIn.objects.create(id=CHECKIN_ID, session=aki, state=CheckIn.State.SENT,
                                  prompt="How is the login page going?", channel_id=DM_CHANNEL,
                                  message_id=CHECKIN_MESSAGE, sent_at=timezone.now())


@pytest.fixture
def kv(settings, tmp_path):
    """An empty KV of this test's own: no earlier test's keys, no key written in the last second."""
    settings.CACHES = {**settings.CACHES,
                       "kv": {**settings.CACHES["kv"], "LOCATION": str(tmp_path / "kv.sqlite3")}}
    return caches["kv"]
