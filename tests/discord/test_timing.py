"""Reading what members type into /pause and /settings."""

import datetime

import pytest

from discord_app.timing import Invalid, parse_hhmm, parse_pause, parse_timezone, parse_work_days
from sessions_app.models import Session

NOW = datetime.datetime(2026, 12, 4, 6, 0, tzinfo=datetime.UTC)  # Friday 15:00 in Tokyo


@pytest.mark.parametrize("text, days", [
    ("mon-fri", "12345"), ("1-5", "12345"), ("mon,wed,fri", "135"), ("Mon, Wed", "13"),
    ("sat-mon", "167"), ("monday-thursday", "1234"), ("7", "7"), ("月-金", "12345"),
])
def test_it_reads_working_days(text, days):
    assert parse_work_days(text) == days


@pytest.mark.parametrize("text", ["", "someday", "0-5", "mon-fri-sun", "8", "m"])
def test_it_refuses_days_it_cannot_read(text):
    with pytest.raises(Invalid):
        parse_work_days(text)


@pytest.mark.parametrize("text, time", [("09:00", datetime.time(9)), ("9:30", datetime.time(9, 30)),
                                        ("1830", datetime.time(18, 30)), ("23:59", datetime.time(23, 59))])
def test_it_reads_hh_mm(text, time):
    assert parse_hhmm(text) == time


@pytest.mark.parametrize("text", ["24:00", "9", "noon", "12:60", "-1:00"])
def test_it_refuses_times_it_cannot_read(text):
    with pytest.raises(Invalid):
        parse_hhmm(text)


@pytest.mark.parametrize("text, length", [
    ("2h", datetime.timedelta(hours=2)), ("3d", datetime.timedelta(days=3)),
    ("1h30m", datetime.timedelta(minutes=90)), ("45 minutes", datetime.timedelta(minutes=45)),
    ("for 2 hours", datetime.timedelta(hours=2)), ("1w", datetime.timedelta(weeks=1)),
    ("2時間", datetime.timedelta(hours=2)),
])
def test_it_reads_durations(text, length):
    assert parse_pause(text, NOW, Session(timezone="Asia/Tokyo")) == NOW + length


def test_until_tomorrow_means_the_start_of_tomorrows_work():
    session = Session(timezone="Asia/Tokyo", work_start=datetime.time(9, 30))
    until = parse_pause("until tomorrow", NOW, session)
    assert until == datetime.datetime(2026, 12, 5, 0, 30, tzinfo=datetime.UTC)


@pytest.mark.parametrize("text", ["", "a while", "0m", "2x", "999d", "2h and then some"])
def test_it_refuses_durations_it_cannot_read(text):
    with pytest.raises(Invalid):
        parse_pause(text, NOW, Session())


def test_time_zones_are_checked_against_the_zone_database():
    assert parse_timezone("asia/tokyo") == "Asia/Tokyo"
    with pytest.raises(Invalid):
        parse_timezone("Mars/Olympus")
