"""A fake of Discord's REST API: a real HTTP server on 127.0.0.1 that the real client talks to.

It records every request, answers the handful of endpoints coachbot uses the way Discord
does (including rate-limit headers and its 50 requests/second global limit), and can be
scripted per route for the failures we must survive:

    fake = FakeDiscord().start()
    fake.script("POST", "/channels/5/messages", Reply(429, {"message": "...", "retry_after": 0.2}))
    ...
    fake.stop()
"""

import hashlib
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PREFIX = "/api/v10"
RATE_LIMITED = {"message": "You are being rate limited.", "retry_after": 0.3, "global": True}
CANNOT_DM = {"message": "Cannot send messages to this user", "code": 50007}
UNKNOWN_CHANNEL = {"message": "Unknown Channel", "code": 10003}
UNAUTHORIZED = {"message": "401: Unauthorized", "code": 0}
EDGE_BAN_HTML = (
    b"<html><head><title>Error 1015</title></head><body>You are being rate limited</body></html>"
)


@dataclass
class Reply:
    """A scripted answer. `headers` replace the default rate-limit headers; `raw` skips them."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bool = False


def html_ban() -> Reply:
    """Cloudflare's answer to a banned IP: 429 with an HTML page and no rate-limit headers."""
    return Reply(429, body=EDGE_BAN_HTML, content_type="text/html", raw=True)


def rate_limited(retry_after: float, *, is_global: bool = False) -> Reply:
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }
    headers = {
        "Retry-After": str(retry_after),
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return Reply(429, body, headers=headers, raw=is_global)


@dataclass
class Recorded:
    method: str
    path: str  # without /api/v10 and without the query string
    query: str
    headers: dict[str, str]
    json: Any
    at: float  # time.monotonic() when the request arrived
    status: int = 0


@dataclass(frozen=True)
class _Endpoint:
    method: str
    pattern: re.Pattern[str]
    handler: str
    interaction: bool = False  # interaction webhooks: no bot auth, no global limit

    @property
    def bucket_hash(self) -> str:
        return hashlib.md5(f"{self.method} {self.pattern.pattern}".encode()).hexdigest()

    def major(self, match: re.Match[str]) -> str:
        groups = match.groupdict()
        return "/".join(
            groups[k] for k in ("channel_id", "guild_id", "webhook_id", "token") if k in groups
        )


def _endpoint(method: str, pattern: str, handler: str, interaction: bool = False) -> _Endpoint:
    return _Endpoint(method, re.compile(pattern + "$"), handler, interaction)


ENDPOINTS = [
    _endpoint("POST", r"/users/@me/channels", "open_dm"),
    _endpoint("POST", r"/channels/(?P<channel_id>\d+)/messages", "create_message"),
    _endpoint("GET", r"/channels/(?P<channel_id>\d+)/messages", "list_messages"),
    _endpoint(
        "PATCH", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", "edit_message"
    ),
    _endpoint(
        "PATCH",
        r"/webhooks/(?P<webhook_id>\d+)/(?P<token>[^/]+)/messages/@original",
        "edit_message",
        True,
    ),
    _endpoint("POST", r"/webhooks/(?P<webhook_id>\d+)/(?P<token>[^/]+)", "create_message", True),
    _endpoint("PUT", r"/applications/(?P<application_id>\d+)/commands", "put_commands"),
    _endpoint(
        "PUT",
        r"/applications/(?P<application_id>\d+)/guilds/(?P<guild_id>\d+)/commands",
        "put_commands",
    ),
]


class FakeDiscord:
    """Discord's REST API for one bot token. Thread-safe; answers concurrently."""

    def __init__(
        self,
        token: str = "test-bot-token",
        *,
        global_limit: int | None = 50,
        bucket_limit: int = 50,
        bucket_window: float = 1.0,
    ) -> None:
        self.token = token
        self.global_limit = global_limit
        self.bucket_limit, self.bucket_window = bucket_limit, bucket_window
        self.requests: list[Recorded] = []
        self.unreachable_users: set[str] = set()  # their DM channels answer 50007
        self.unknown_channels: set[str] = set()  # answer 10003
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.history: dict[str, list[dict]] = defaultdict(list)  # channel id -> messages, oldest first
        self._scripts: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._global_window: deque[float] = deque()
        self._buckets: dict[str, deque[float]] = defaultdict(deque)
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- Lifecycle ----------------------------------------------------------------------

    def start(self) -> "FakeDiscord":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PREFIX}"

    # --- Scripting and inspection -------------------------------------------------------

    def script(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next requests to `method path` (e.g. "/channels/5/messages") with `replies`."""
        with self._lock:
            self._scripts[(method, path)].extend(replies)

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def dm_channel_for(self, user_id: str) -> str:
        with self._lock:
            return self._dm_channel(user_id)

    # --- Answering ----------------------------------------------------------------------

    def answer(self, record: Recorded) -> Reply:
        with self._lock:
            self.requests.append(record)
            reply = self._answer(record)
            record.status = reply.status
            return reply

    def _answer(self, record: Recorded) -> Reply:
        found = self._route(record.method, record.path)
        if found is None:
            return Reply(404, {"message": "404: Not Found", "code": 0})
        endpoint, match = found
        if not endpoint.interaction and record.headers.get("authorization") != f"Bot {self.token}":
            return Reply(401, UNAUTHORIZED)
        if not endpoint.interaction and self._over_global_limit(record.at):
            return rate_limited(RATE_LIMITED["retry_after"], is_global=True)
        bucket = f"{endpoint.bucket_hash}:{endpoint.major(match)}"
        scripted = self._scripts.get((record.method, record.path))
        if scripted:
            return self._with_bucket_headers(scripted.popleft(), bucket, record.at, consume=False)
        if self._bucket_used(bucket, record.at) >= self.bucket_limit:
            return self._with_bucket_headers(
                rate_limited(self._bucket_reset_after(bucket, record.at)),
                bucket,
                record.at,
                consume=False,
            )
        reply = getattr(self, f"_{endpoint.handler}")(record, **match.groupdict())
        return self._with_bucket_headers(reply, bucket, record.at, consume=True)

    def _route(self, method: str, path: str) -> tuple[_Endpoint, re.Match[str]] | None:
        for endpoint in ENDPOINTS:
            if endpoint.method == method and (match := endpoint.pattern.match(path)):
                return endpoint, match
        return None

    # --- Rate limits --------------------------------------------------------------------

    def _over_global_limit(self, now: float) -> bool:
        window = self._global_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if self.global_limit is not None and len(window) >= self.global_limit:
            return True
        window.append(now)
        return False

    def _bucket_used(self, bucket: str, now: float) -> int:
        times = self._buckets[bucket]
        while times and times[0] <= now - self.bucket_window:
            times.popleft()
        return len(times)

    def _bucket_reset_after(self, bucket: str, now: float) -> float:
        times = self._buckets[bucket]
        return round(times[0] + self.bucket_window - now, 3) if times else self.bucket_window

    def _with_bucket_headers(self, reply: Reply, bucket: str, now: float, consume: bool) -> Reply:
        if consume:
            self._buckets[bucket].append(now)
        if reply.raw:
            return reply
        used = self._bucket_used(bucket, now)
        reset_after = self._bucket_reset_after(bucket, now)
        defaults = {
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(max(self.bucket_limit - used, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.split(":")[0],
        }
        reply.headers = {**defaults, **reply.headers}
        return reply

    # --- Endpoints ----------------------------------------------------------------------

    def _dm_channel(self, user_id: str) -> str:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = str(next(self._ids))
        return self.dm_channels[user_id]

    def _open_dm(self, record: Recorded) -> Reply:
        user_id = str((record.json or {}).get("recipient_id", ""))
        if not user_id.isdigit():
            return Reply(400, {"message": "Invalid Form Body", "code": 50035})
        channel_id = self._dm_channel(user_id)
        return Reply(200, {"id": channel_id, "type": 1, "recipients": [{"id": user_id}]})

    def _create_message(self, record: Recorded, channel_id: str = "", **ids: str) -> Reply:
        if channel_id in self.unknown_channels:
            return Reply(404, UNKNOWN_CHANNEL)
        if any(self.dm_channels.get(user) == channel_id for user in self.unreachable_users):
            return Reply(403, CANNOT_DM)
        message = {"id": str(next(self._ids)), "channel_id": channel_id, **(record.json or {})}
        message.pop("nonce", None)  # Discord does not return it in a channel's history
        self.history[channel_id].append(message)
        return Reply(200, message)

    def _list_messages(self, record: Recorded, channel_id: str = "", **ids: str) -> Reply:
        if channel_id in self.unknown_channels:
            return Reply(404, UNKNOWN_CHANNEL)
        limit = re.search(r"(?:^|&)limit=(\d+)", record.query)
        return Reply(200, list(reversed(self.history[channel_id]))[: int(limit[1]) if limit else 50])

    def _edit_message(
        self, record: Recorded, channel_id: str = "", message_id: str = "@original", **ids: str
    ) -> Reply:
        if channel_id in self.unknown_channels:
            return Reply(404, UNKNOWN_CHANNEL)
        return Reply(200, {"id": message_id, "channel_id": channel_id, **(record.json or {})})

    def _put_commands(
        self, record: Recorded, application_id: str, guild_id: str | None = None
    ) -> Reply:
        commands = [
            {
                **command,
                "id": str(next(self._ids)),
                "application_id": application_id,
                "version": "1",
            }
            | ({"guild_id": guild_id} if guild_id else {})
            for command in record.json or []
        ]
        return Reply(200, commands)


def _handler_for(fake: FakeDiscord) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like Discord
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def do_request(self) -> None:
            at = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            record = Recorded(
                self.command,
                path.removeprefix(API_PREFIX),
                query,
                {k.lower(): v for k, v in self.headers.items()},
                _json_or_none(raw),
                at,
            )
            self._write(fake.answer(record))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_request

        def _write(self, reply: Reply) -> None:
            body = reply.body if reply.body is not None else json.dumps(reply.json).encode()
            if reply.status == 204:
                body = b""
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
