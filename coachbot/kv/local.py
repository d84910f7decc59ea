"""The embedded local KV: a SQLite file that answers KV's REST shapes and keeps KV's rules.

It is what ``coachbot.kv`` talks to when no API token is configured, and the fast test
target. It refuses what KV refuses, with Cloudflare's texts (kv.md, cfruntime/README.md):
TTL below 60 s -> 400, a key over 512 bytes -> 414, a value over 25 MiB -> 413, a missing
key -> 404 ``get: 'key not found'``; expired keys disappear.

Optionally it simulates what Cloudflare's runtime does not (both off by default):

- ``propagation`` seconds: every instance is one *site* (by default one per process).
  A write is visible at once at the site that made it and elsewhere only after the
  delay; before that, other sites read the value it replaced. A lookup that finds
  nothing is remembered at that site for the delay (KV caches negative lookups), until
  the site itself writes the key.
- ``write_limit``: a second write (PUT or DELETE) to a key within one second is refused
  with HTTP 429 (``retry-after: 1``); in a bulk request such keys come back in
  ``unsuccessful_keys`` while the others are written. The 429's text is our own.

Writes are kept as versions (one row per write, a NULL value for a delete) so a site can
read the newest version visible to it; versions no site can see any more are pruned.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from coachbot.d1.budget import Budget, Unlimited, spend

from .rest import (
    BULK_GET_KEYS,
    BULK_WRITE_KEYS,
    LIST_LIMIT,
    MAX_KEY_BYTES,
    MAX_METADATA_BYTES,
    MAX_VALUE_BYTES,
    MIN_TTL,
    WRITE_INTERVAL,
    Reply,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv_versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    value BLOB,                -- NULL: the key was deleted
    expiration INTEGER,        -- unix seconds; NULL: never
    metadata TEXT,             -- JSON; NULL: none
    written_at REAL NOT NULL,
    site TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_versions_key ON kv_versions (key, seq);
CREATE TABLE IF NOT EXISTS kv_misses (
    site TEXT NOT NULL, key TEXT NOT NULL, until REAL NOT NULL, PRIMARY KEY (site, key)
);
CREATE TABLE IF NOT EXISTS kv_last_write (key TEXT PRIMARY KEY, at REAL NOT NULL);
"""
# The newest version of each key that `site` can see at `now` (params: site, now - delay).
_VISIBLE = """
    SELECT key, value, expiration, metadata FROM kv_versions AS v
    WHERE seq = (SELECT max(seq) FROM kv_versions AS w
                 WHERE w.key = v.key AND (w.site = :site OR w.written_at <= :seen))
"""


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: int = 10001) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class LocalKV:
    def __init__(
        self,
        path: str | Path,
        *,
        site: str | None = None,
        propagation: float = 0.0,
        write_limit: bool = False,
        clock: Callable[[], float] = time.time,
        budget: Budget | None = None,
    ) -> None:
        self.path = str(path)
        self.site = site or f"pid-{os.getpid()}"
        self.propagation = float(propagation)
        self.write_limit = bool(write_limit)
        self.clock = clock
        self.budget = budget or Unlimited()
        self.requests = 0  # every request this instance answered (the server-side count)
        self.writes = 0  # of which PUT/DELETE/bulk writes
        self._lock = threading.RLock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def describe(self) -> str:
        return f"local KV at {self.path} (site {self.site})"

    def close(self) -> None:
        self.db.close()

    # -- the REST shapes --------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        priority: int = 1,
        params: dict | None = None,
        content: bytes | None = None,
        json: object = None,  # noqa: A002 - httpx's name
        files: dict | None = None,
    ) -> Reply:
        spend(self.budget, priority, service="kv")
        body = _round_trip(json)
        head, _, rest = path.partition("/")
        route = f"{method} {head}{'/' if rest else ''}"
        with self._lock:
            self.requests += 1
            try:
                return self._route(route, unquote(rest), params or {}, content, body, files)
            except _Refused as exc:
                headers = {"retry-after": "1"} if exc.status == 429 else {}
                return _failure(exc.status, exc.code, str(exc), headers)

    def _route(self, route, key, params, content, body, files) -> Reply:
        if route == "PUT values/":
            value, metadata = _form(files) if files is not None else (content or b"", None)
            return self._put_one(key, value, params, metadata)
        if route == "GET values/":
            return self._get_value(key)
        if route == "DELETE values/":
            self._write(key, None, None, None, single=True)
            return _success({})
        if route == "GET metadata/":
            found = self._lookup(key)
            if found is None:
                raise _Refused(404, "get: 'key not found'", 10009)
            return _success(_loads(found[2]))
        if route == "GET keys":
            return self._list(params)
        if route == "PUT bulk":
            return self._bulk_put(body)
        if route == "POST bulk/" and key == "delete":
            return self._bulk_delete(body)
        if route == "POST bulk/" and key == "get":
            return self._bulk_get(body)
        raise _Refused(404, "No route for that URI", 7000)

    # -- writes -----------------------------------------------------------------------
    def _put_one(self, key, value: bytes, expiry: dict, metadata) -> Reply:
        expiration = self._expiration(expiry)
        self._check(key, value, metadata)
        self._write(key, value, expiration, metadata, single=True)
        return _success({})

    def _bulk_put(self, pairs) -> Reply:
        if not isinstance(pairs, list) or len(pairs) > BULK_WRITE_KEYS:
            raise _Refused(400, f"A bulk write takes a list of at most {BULK_WRITE_KEYS} pairs.")
        prepared = []
        for pair in pairs:  # validate everything first: a refused request writes nothing
            value = pair.get("value", "")
            value = base64.b64decode(value) if pair.get("base64") else str(value).encode()
            expiration = self._expiration(pair)
            self._check(pair.get("key", ""), value, pair.get("metadata"))
            prepared.append((pair["key"], value, expiration, pair.get("metadata")))
        refused = [key for key, *rest in prepared if not self._write(key, *rest)]
        return _success({"successful_key_count": len(prepared) - len(refused), "unsuccessful_keys": refused})

    def _bulk_delete(self, keys) -> Reply:
        if not isinstance(keys, list) or len(keys) > BULK_WRITE_KEYS:
            raise _Refused(400, f"A bulk delete takes a list of at most {BULK_WRITE_KEYS} keys.")
        for key in keys:
            _check_key(key)
        refused = [key for key in keys if not self._write(key, None, None, None)]
        return _success({"successful_key_count": len(keys) - len(refused), "unsuccessful_keys": refused})

    def _write(self, key, value, expiration, metadata, *, single=False) -> bool:
        """Record one write; False (or 429 when `single`) if the write limit refuses it."""
        _check_key(key)
        now = self.clock()
        if self.write_limit and not self._may_write(key, now):
            if single:
                raise _Refused(429, f"Too many writes to {key!r}: KV takes one write per second per key.")
            return False
        self.writes += 1
        self.db.execute(
            "INSERT INTO kv_versions (key, value, expiration, metadata, written_at, site) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, value, expiration, None if metadata is None else json.dumps(metadata), now, self.site),
        )
        self.db.execute("DELETE FROM kv_misses WHERE site = ? AND key = ?", (self.site, key))
        self._prune(key, now)
        return True

    def _may_write(self, key: str, now: float) -> bool:
        row = self.db.execute("SELECT at FROM kv_last_write WHERE key = ?", (key,)).fetchone()
        if row and now - row[0] < WRITE_INTERVAL:
            return False
        self.db.execute("INSERT OR REPLACE INTO kv_last_write (key, at) VALUES (?, ?)", (key, now))
        return True

    def _prune(self, key: str, now: float) -> None:
        """Drop the versions of `key` that no site can read any more, and expired rows."""
        seen_everywhere = self.db.execute(
            "SELECT max(seq) FROM kv_versions WHERE key = ? AND written_at <= ?",
            (key, now - self.propagation),
        ).fetchone()[0]
        if seen_everywhere is not None:
            self.db.execute("DELETE FROM kv_versions WHERE key = ? AND seq < ?", (key, seen_everywhere))
            self.db.execute(
                "DELETE FROM kv_versions WHERE key = ? AND seq = ? AND value IS NULL", (key, seen_everywhere)
            )
        self.db.execute("DELETE FROM kv_versions WHERE expiration <= ?", (int(now),))
        self.db.execute("DELETE FROM kv_misses WHERE until <= ?", (now,))
        self.db.execute("DELETE FROM kv_last_write WHERE at <= ?", (now - WRITE_INTERVAL,))

    def _expiration(self, source: dict) -> int | None:
        """Absolute expiry from ``expiration_ttl`` (which wins) or ``expiration``."""
        now = self.clock()
        ttl, at = source.get("expiration_ttl"), source.get("expiration")
        if ttl not in (None, ""):
            ttl = _number(ttl, "expiration_ttl")
            if ttl < MIN_TTL:
                raise _Refused(400, f"Invalid expiration_ttl of {ttl}. Expiration TTL must be at least {MIN_TTL}.")
            return int(now) + ttl
        if at not in (None, ""):
            at = _number(at, "expiration")
            if at < now + MIN_TTL:
                raise _Refused(
                    400, f"Invalid expiration of {at}. Expiration times must be at least {MIN_TTL} seconds in the future."
                )
            return at
        return None

    def _check(self, key: str, value: bytes, metadata) -> None:
        _check_key(key)
        if len(value) > MAX_VALUE_BYTES:
            raise _Refused(413, f"Value length of {len(value)} exceeds limit of {MAX_VALUE_BYTES}.")
        if metadata is not None:
            size = len(json.dumps(metadata).encode())
            if size > MAX_METADATA_BYTES:
                raise _Refused(413, f"Metadata length of {size} exceeds limit of {MAX_METADATA_BYTES}.")

    # -- reads ------------------------------------------------------------------------
    def _lookup(self, key: str) -> tuple[bytes, int | None, str | None] | None:
        """(value, expiration, metadata) of `key` as this site sees it now, or None."""
        _check_key(key)
        now = self.clock()
        miss = self.db.execute(
            "SELECT until FROM kv_misses WHERE site = ? AND key = ?", (self.site, key)
        ).fetchone()
        if miss and miss[0] > now:
            return None
        row = self.db.execute(
            _VISIBLE + " AND key = :key", {"site": self.site, "seen": now - self.propagation, "key": key}
        ).fetchone()
        if row is None or row[1] is None or (row[2] is not None and row[2] <= now):
            if self.propagation > 0:
                self.db.execute(
                    "INSERT OR REPLACE INTO kv_misses (site, key, until) VALUES (?, ?, ?)",
                    (self.site, key, now + self.propagation),
                )
            return None
        return row[1], row[2], row[3]

    def _get_value(self, key: str) -> Reply:
        found = self._lookup(key)
        if found is None:
            raise _Refused(404, "get: 'key not found'", 10009)
        value, expiration, _ = found
        headers = {"content-type": "application/octet-stream"}
        if expiration is not None:
            headers["expiration"] = str(expiration)
        return Reply(200, bytes(value), headers)

    def _bulk_get(self, body) -> Reply:
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not keys or len(keys) > BULK_GET_KEYS:
            raise _Refused(400, f"A bulk get takes between 1 and {BULK_GET_KEYS} keys.")
        as_json, with_metadata = body.get("type", "text") == "json", bool(body.get("withMetadata"))
        values = {}
        for key in keys:
            found = self._lookup(key)
            if found is None:
                values[key] = None
                continue
            value = bytes(found[0]).decode("utf-8", errors="replace")
            if as_json:
                value = _json_value(key, value)
            values[key] = {"value": value, "metadata": _loads(found[2])} if with_metadata else value
        return _success({"values": values})

    def _list(self, params: dict) -> Reply:
        prefix = params.get("prefix") or ""
        after = base64.urlsafe_b64decode(params["cursor"]).decode() if params.get("cursor") else ""
        limit = min(max(int(params.get("limit") or LIST_LIMIT), 1), LIST_LIMIT)
        now = self.clock()
        rows = self.db.execute(
            _VISIBLE + " AND substr(key, 1, :n) = :prefix AND key > :after AND value IS NOT NULL"
            " AND (expiration IS NULL OR expiration > :now) ORDER BY key LIMIT :limit",
            {"site": self.site, "seen": now - self.propagation, "n": len(prefix), "prefix": prefix,
             "after": after, "now": now, "limit": limit + 1},
        ).fetchall()
        more = len(rows) > limit
        result = []
        for key, _, expiration, metadata in rows[:limit]:
            entry = {"name": key}
            if expiration is not None:
                entry["expiration"] = expiration
            if metadata is not None:
                entry["metadata"] = json.loads(metadata)
            result.append(entry)
        cursor = base64.urlsafe_b64encode(result[-1]["name"].encode()).decode() if more else ""
        body = {"result": result, "success": True, "errors": [], "messages": [],
                "result_info": {"count": len(result), "cursor": cursor}}
        return Reply(200, json.dumps(body).encode(), {"content-type": "application/json"})


def _check_key(key: str) -> None:
    if not isinstance(key, str) or key in ("", ".", ".."):
        raise _Refused(400, 'Key names must not be empty, "." or "..".')
    size = len(key.encode())
    if size > MAX_KEY_BYTES:
        raise _Refused(414, f"UTF-8 encoded length of {size} exceeds key length limit of {MAX_KEY_BYTES}.")


def _form(files: dict) -> tuple[bytes, object]:
    """The ``value`` and ``metadata`` parts of a multipart PUT, as httpx's ``files=`` gives them."""
    def part(name):
        item = files.get(name)
        data = item[1] if isinstance(item, tuple) else item
        return data.encode() if isinstance(data, str) else data

    metadata = part("metadata")
    return part("value") or b"", None if metadata is None else json.loads(metadata)


def _number(value, name: str) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise _Refused(400, f"Invalid {name} of {value}.") from None


def _json_value(key: str, text: str):
    try:
        return json.loads(text)
    except ValueError:
        raise _Refused(400, f"The value of {key!r} is not valid JSON.") from None


def _loads(text: str | None):
    return None if text is None else json.loads(text)


def _round_trip(body):
    """Exactly what would travel over HTTP (tuples become lists, and so on)."""
    return None if body is None else json.loads(json.dumps(body))


def _success(result) -> Reply:
    body = {"result": result, "success": True, "errors": [], "messages": []}
    return Reply(200, json.dumps(body).encode(), {"content-type": "application/json"})


def _failure(status: int, code: int, message: str, headers: dict | None = None) -> Reply:
    body = {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}
    return Reply(status, json.dumps(body).encode(), {"content-type": "application/json", **(headers or {})})
