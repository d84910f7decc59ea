"""Fixtures for the Discord tests: a fake Discord server, a fake clock and a client of both."""

from collections.abc import Iterator

import pytest

from discord_app.rest import DiscordClient
from tests.support.fake_discord import FakeDiscord

TOKEN = "test-bot-token.Xy9-not-a-real-token"
APP_ID = "1111111111111111111"


class FakeClock:
    """A monotonic clock that only moves when someone sleeps; remembers every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """A fake Discord REST API on a loopback port, accepting TOKEN."""
    fake = FakeDiscord(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that advances only when the client sleeps."""
    return FakeClock()


@pytest.fixture
def client(fake_discord: FakeDiscord, clock: FakeClock) -> Iterator[DiscordClient]:
    """A client of the fake server whose waits are instant and recorded in `clock.sleeps`."""
    client = DiscordClient(
        TOKEN, application_id=APP_ID, base_url=fake_discord.base_url, clock=clock, sleep=clock.sleep
    )
    yield client
    client.close()
