"""Fixtures for the schedule: members in D1, a fake Discord, a client of it, a fixed clock."""

import datetime
import itertools
from collections.abc import Iterator

import pytest

from discord_app.rest import DiscordClient
from sessions_app.models import CheckIn, Session
from tests.support.fake_discord import FakeDiscord

TOKEN = "test-bot-token"
UTC = datetime.UTC
# Monday 9 March 2026, 15:00 UTC: 10:00/11:00 in New York (DST began on the 8th), a working hour in UTC.
MONDAY = datetime.datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
_user_ids = itertools.count(200_000_000_000_000_001)


def at(text: str) -> datetime.datetime:
    """An aware UTC datetime from "2026-03-09 15:00"."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def member(**fields) -> Session:
    """An unsaved member who works 9-18 Monday to Friday in UTC unless told otherwise."""
    user_id = str(next(_user_ids))
    fields.setdefault("display_name", f"member {user_id[-4:]}")
    return Session(user_id=user_id, **fields)


def add_members(n: int, **fields) -> list[Session]:
    """``n`` members saved in D1 in one request."""
    return Session.objects.bulk_create([member(**fields) for _ in range(n)])


def checkins_of(session: Session) -> list[CheckIn]:
    return list(CheckIn.objects.filter(session_id=session.pk).order_by("due_at", "id"))


def reload(session: Session) -> Session:
    return Session.objects.get(pk=session.pk)


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """Discord on a loopback port, enforcing 50 requests per second."""
    fake = FakeDiscord(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def client(fake_discord: FakeDiscord) -> Iterator[DiscordClient]:
    """The real Discord client, talking to the fake; short waits on 5xx."""
    client = DiscordClient(TOKEN, base_url=fake_discord.base_url, backoff=0.01, dm_backoff=0.01,
                           max_wait=5, max_attempts=3)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _schedule_settings(settings):
    """No spread in tests; the documented defaults otherwise."""
    settings.CHECKIN_SPREAD_SECONDS = 0
