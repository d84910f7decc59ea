"""Times as members write them: "2h", "until tomorrow", "mon-fri", "09:30", "Asia/Tokyo".

Pure functions, no database. When check-ins happen is sessions_app.schedule's business;
this module only reads what members type into /pause and /settings.
"""

from __future__ import annotations

import datetime
import re
from functools import lru_cache
from zoneinfo import available_timezones

from sessions_app.schedule import zone

_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_JA_DAYS = {"月": 1, "火": 2, "水": 3, "木": 4, "金": 5, "土": 6, "日": 7}
_UNITS = {"m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1, "h": 60, "hr": 60, "hrs": 60,
          "hour": 60, "hours": 60, "d": 1440, "day": 1440, "days": 1440, "w": 10080,
          "week": 10080, "weeks": 10080, "分": 1, "時間": 60, "日": 1440, "週間": 10080}
_PART = re.compile(r"(\d{1,4})\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")")
_TOMORROW = {"tomorrow", "until tomorrow", "明日", "明日まで"}
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:：]?([0-5]\d)$")
MAX_PAUSE = datetime.timedelta(days=90)


class Invalid(ValueError):
    """A value the member typed that we can't use; the message is for logs, not members."""


@lru_cache(maxsize=1)
def timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_timezone(text: str) -> str:
    name = text.strip()
    if name not in timezone_names():
        folded = {tz.casefold(): tz for tz in timezone_names()}
        name = folded.get(name.casefold(), "")
    if not name:
        raise Invalid("unknown time zone")
    return name


def parse_hhmm(text: str) -> datetime.time:
    match = _HHMM.match(text.strip())
    if not match:
        raise Invalid("not HH:MM")
    return datetime.time(int(match[1]), int(match[2]))


def parse_work_days(text: str) -> str:
    """ "mon-fri", "1-5", "mon,wed,fri", "sat-mon", "月-金" as ISO weekday digits ("12345")."""
    days: set[int] = set()
    for part in re.split(r"[,\s、]+", text.strip().lower()):
        if not part:
            continue
        ends = re.split(r"[-–~〜]", part)
        if len(ends) == 1:
            days.add(_day(ends[0]))
        elif len(ends) == 2:
            days.update(_day_range(_day(ends[0]), _day(ends[1])))
        else:
            raise Invalid("bad day range")
    if not days:
        raise Invalid("no days")
    return "".join(str(d) for d in sorted(days))


def _day(text: str) -> int:
    text = text.strip().rstrip(".")
    if text.isdigit() and 1 <= int(text) <= 7:
        return int(text)
    for number, name in enumerate(_FULL_NAMES, start=1):
        if len(text) >= 3 and name.startswith(text):
            return number
    if text.removesuffix("曜日").removesuffix("曜") in _JA_DAYS:
        return _JA_DAYS[text.removesuffix("曜日").removesuffix("曜")]
    raise Invalid("unknown day")


def _day_range(first: int, last: int) -> list[int]:
    span = (last - first) % 7
    return [(first - 1 + i) % 7 + 1 for i in range(span + 1)]


def parse_pause(text: str, now: datetime.datetime, session) -> datetime.datetime:
    """When a pause of "2h", "3d", "1h30m" or "until tomorrow" ends (aware, UTC-comparable)."""
    text = " ".join(text.strip().lower().split())
    if text in _TOMORROW:
        local = now.astimezone(zone(session))
        tomorrow = local.date() + datetime.timedelta(days=1)
        return datetime.datetime.combine(tomorrow, session.work_start, tzinfo=local.tzinfo)
    text = text.removeprefix("for ").replace(" ", "")
    parts = _PART.findall(text)
    if not parts or _PART.sub("", text):
        raise Invalid("not a duration")
    minutes = sum(int(n) * _UNITS[unit] for n, unit in parts)
    length = datetime.timedelta(minutes=minutes)
    if not datetime.timedelta(minutes=1) <= length <= MAX_PAUSE:
        raise Invalid("duration out of range")
    return now + length
