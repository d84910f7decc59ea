"""Time-zone shifts as SQL that uses only SQLite's built-in date functions.

Django's sqlite3 backend converts time zones in Python functions registered on the
connection; D1 cannot run those. A fixed offset is a ``'+540 minutes'`` modifier.
A zone with daylight saving time becomes a CASE over its transitions (computed
here with zoneinfo, for the years around now), comparing the stored UTC text.
"""

from __future__ import annotations

import datetime
import functools
import re
import zoneinfo

UTC = datetime.UTC
FIRST_YEAR, LAST_YEAR = 1990, 2045  # the span exact for DST zones; outside it, the nearest offset
_OFFSET_NAME = re.compile(r"^([+-])(\d{1,2})(?::?(\d{2}))?$")


@functools.lru_cache(maxsize=64)
def transitions(tzname: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """(offset in minutes before the first transition, ((utc text, offset after), ...))."""
    fixed = _fixed_offset(tzname)
    if fixed is not None:
        return fixed, ()
    zone = zoneinfo.ZoneInfo(tzname)
    start = datetime.datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    first = _minutes(zone, start)
    changes, previous, day = [], first, start
    end = datetime.datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + datetime.timedelta(days=1)
        offset = _minutes(zone, following)
        if offset != previous:
            instant = _bisect(zone, day, following, previous)
            changes.append((instant.strftime("%Y-%m-%d %H:%M:%S"), offset))
            previous = offset
        day = following
    return first, tuple(changes)


def _fixed_offset(tzname: str) -> int | None:
    if tzname in ("UTC", "GMT", "Etc/UTC", "Z"):
        return 0
    match = _OFFSET_NAME.match(tzname)
    if match:
        sign, hours, minutes = match.groups()
        total = int(hours) * 60 + int(minutes or 0)
        return total if sign == "+" else -total
    return None


def _minutes(zone: zoneinfo.ZoneInfo, when: datetime.datetime) -> int:
    return int(when.astimezone(zone).utcoffset().total_seconds() // 60)


def _bisect(zone, low: datetime.datetime, high: datetime.datetime, before: int) -> datetime.datetime:
    while high - low > datetime.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _minutes(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def modifier_sql(tzname: str, column_sql: str, params: tuple) -> tuple[str, tuple]:
    """A date-function modifier that shifts ``column_sql`` (UTC text) into ``tzname``."""
    first, changes = transitions(tzname)
    if not changes:
        return f"'{first:+d} minutes'", ()
    whens = " ".join(f"WHEN {column_sql} < '{at}' THEN '{offset:+d} minutes'" for at, offset in _pairs(first, changes))
    return f"(CASE {whens} ELSE '{changes[-1][1]:+d} minutes' END)", params * len(changes)


def _pairs(first: int, changes):
    offsets = [first] + [offset for _, offset in changes[:-1]]
    return [(at, offset) for (at, _), offset in zip(changes, offsets, strict=True)]
