"""The Discord REST client: every HTTP request coachbot makes to Discord goes through
`DiscordClient.request()`, so rate limits, retries and error mapping live in one place and
tests fake one thing.

What Discord expects from a well-behaved client (see shared/reference/discord.md):
- Rate limits are learned from response headers, never hard-coded. A bucket is the
  `X-RateLimit-Bucket` hash plus the top-level resource (channel, guild, webhook id+token).
- 50 requests per second per bot across all routes, except interaction webhooks. We pace
  ourselves under DISCORD_MAX_RPS in a sliding window instead of waiting for a global 429.
- A 429 means the request was not processed: wait `retry_after` and send it again.
- 10,000 invalid responses (401, 403, non-"shared" 429) in 10 minutes ban the IP; we stop
  far earlier. A 429 without a JSON body is that ban (or a Cloudflare one): stop at once.
- A message POST that failed with 5xx may still have been delivered: never retried here.

The bot token goes into the Authorization header and nowhere else: not into logs, not into
exception text. Log lines name route templates, never paths (webhook paths hold tokens).
"""

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://discord.com/api/v10"
DEFAULT_MAX_RPS = 45
DEFAULT_MAX_INVALID = 5000
INVALID_WINDOW = 600.0  # Discord's 10-minute window for invalid requests
NO_MENTIONS = {"parse": []}

# JSON error codes we act on (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_INTERACTION = 10062
UNAUTHORIZED = 40001
OPENING_DMS_TOO_FAST = 40003
ALREADY_ACKNOWLEDGED = 40060
CANNOT_DM_USER = 50007
NO_MUTUAL_GUILD = 50278

_MAJOR_PARAMS = ("channel_id", "guild_id", "webhook_id", "webhook_token")


def _user_agent() -> str:
    try:
        ours = version("coachbot")
    except PackageNotFoundError:
        ours = "0"
    return f"DiscordBot (https://github.com/coachbot/coachbot, {ours})"


# --- Errors -----------------------------------------------------------------------------


class DiscordError(Exception):
    """A Discord call that failed.

    `permanent`: the same call will fail the same way; don't retry it.
    `retryable`: the caller may try again later (its outbox decides when).
    `maybe_sent`: the request may have been processed although it failed (5xx on a POST,
    read timeout): retrying could deliver a message twice.
    `unreachable`: the member can't be DMed (DMs closed, no mutual server): stop sending.
    """

    unreachable = False

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        permanent: bool = False,
        *,
        retryable: bool | None = None,
        maybe_sent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        label = f"HTTP {status}" if status else "no response"
        super().__init__(f"Discord {label}" + (f" code {code}" if code else "") + f": {message}")
        self.status = status
        self.code = code
        self.message = message
        self.permanent = permanent
        self.retryable = (not permanent) if retryable is None else retryable
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after


class DiscordAuthError(DiscordError):
    """401 / 40001: the bot token is wrong. The client stops sending until restarted."""


class DiscordBanned(DiscordError):
    """A 429 without a JSON body: Discord's edge or Cloudflare banned our IP. Cooling down."""


class DiscordRateLimited(DiscordError):
    """We would have to wait longer than `max_wait`, or retried 429s too often."""


class TooManyInvalidRequests(DiscordRateLimited):
    """Our own invalid-request budget is spent; sending more would risk an IP ban."""


class DiscordUnreachable(DiscordError):
    """50007 / 50278: this member can't receive DMs from the bot."""

    unreachable = True


class UnknownChannel(DiscordError):
    """10003: the channel (e.g. a cached DM channel id) no longer exists."""


class UnknownInteraction(DiscordError):
    """10062: the interaction token expired (15 minutes); fall back to a DM."""


class AlreadyAcknowledged(DiscordError):
    """40060: the interaction already has its initial response."""


_ERRORS_BY_CODE: dict[int, type[DiscordError]] = {
    CANNOT_DM_USER: DiscordUnreachable,
    NO_MUTUAL_GUILD: DiscordUnreachable,
    UNKNOWN_CHANNEL: UnknownChannel,
    UNKNOWN_INTERACTION: UnknownInteraction,
    ALREADY_ACKNOWLEDGED: AlreadyAcknowledged,
    UNAUTHORIZED: DiscordAuthError,
}


# --- Routes and rate-limit bookkeeping --------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One endpoint call: `Route("PATCH", "/channels/{channel_id}/messages/{message_id}", ...)`."""

    method: str
    template: str
    params: dict[str, str] = field(default_factory=dict)
    retry_safe: bool | None = None  # None: safe unless POST

    @property
    def path(self) -> str:
        quoted = {name: quote(str(value), safe="") for name, value in self.params.items()}
        return self.template.format(**quoted)

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def major(self) -> str:
        return "/".join(str(self.params[p]) for p in _MAJOR_PARAMS if p in self.params)

    @property
    def is_interaction(self) -> bool:
        """Interaction webhooks: not bound by the global limit, authorised by their token."""
        return self.template.startswith(("/webhooks/", "/interactions/"))

    @property
    def idempotent(self) -> bool:
        return self.method != "POST" if self.retry_safe is None else self.retry_safe

    def __str__(self) -> str:
        return self.key  # never the path: webhook paths contain interaction tokens


class _RollingWindow:
    """Timestamps of events in the last `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._times: deque[float] = deque()

    def count(self, now: float) -> int:
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        return len(self._times)

    def add(self, now: float) -> None:
        self._times.append(now)

    def expiry(self, n: int) -> float:
        """When the `n`-th oldest event (1-based) leaves the window."""
        return self._times[n - 1] + self.seconds


class _Pacer:
    """At most `limit` requests per rolling second, however Discord times their arrival.

    A request holds its slot from the moment it is let through until one second after its
    response: wherever in between Discord counted it, it has left Discord's window before
    its slot is used again. (Counting at send time lets network jitter squeeze more than
    `limit` arrivals into one of Discord's seconds.)
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._done = _RollingWindow(1.0)

    def wait(self, now: float) -> float:
        excess = self.in_flight + self._done.count(now) - self.limit + 1
        if excess <= 0:
            return 0.0
        if excess > self._done.count(now):
            return 0.01  # only a response still in flight can free a slot
        return self._done.expiry(excess) - now

    def take(self) -> None:
        self.in_flight += 1

    def release(self, now: float) -> None:
        self.in_flight -= 1
        self._done.add(now)


@dataclass
class _Bucket:
    remaining: int | None = None  # None: unknown, go ahead
    reset_at: float = 0.0

    def wait(self, now: float) -> float:
        return self.reset_at - now if self.remaining == 0 and now < self.reset_at else 0.0

    def take(self, now: float) -> None:
        if now >= self.reset_at:
            self.remaining = None
        elif self.remaining:
            self.remaining -= 1


# --- The client -------------------------------------------------------------------------


class DiscordClient:
    """Thread-safe; one per process (see `get_client`). Tests pass `base_url`, `clock`, `sleep`."""

    def __init__(
        self,
        token: str,
        *,
        application_id: str = "",
        base_url: str = DEFAULT_BASE_URL,
        max_rps: int = DEFAULT_MAX_RPS,
        max_invalid: int = DEFAULT_MAX_INVALID,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        dm_backoff: float = 2.0,
        ban_cooldown: float = 600.0,
        timeout: float = 10.0,
    ) -> None:
        self._token = token
        self.application_id = str(application_id)
        self.max_rps, self.max_invalid = max_rps, max_invalid
        self.max_wait, self.max_attempts = max_wait, max_attempts
        self.backoff, self.dm_backoff, self.ban_cooldown = backoff, dm_backoff, ban_cooldown
        self._clock, self._sleep = clock, sleep
        self.pid = os.getpid()
        self._http = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": _user_agent()},
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        self._lock = threading.Lock()
        self._hashes: dict[str, str] = {}  # route key -> X-RateLimit-Bucket
        self._buckets: dict[str, _Bucket] = {}
        self._pacer = _Pacer(max_rps)
        self._invalid = _RollingWindow(INVALID_WINDOW)
        self._global_until = 0.0
        self._banned_until = 0.0
        self._auth_failed = False

    @classmethod
    def from_settings(cls) -> "DiscordClient":
        return cls(
            getattr(settings, "DISCORD_BOT_TOKEN", ""),
            application_id=getattr(settings, "DISCORD_APPLICATION_ID", ""),
            base_url=getattr(settings, "DISCORD_API_BASE_URL", DEFAULT_BASE_URL),
            max_rps=int(getattr(settings, "DISCORD_MAX_RPS", DEFAULT_MAX_RPS)),
            max_invalid=int(getattr(settings, "DISCORD_MAX_INVALID_REQUESTS", DEFAULT_MAX_INVALID)),
        )

    def __repr__(self) -> str:
        return f"<DiscordClient {self._http.base_url}>"

    def close(self) -> None:
        self._http.close()

    # --- Endpoints ----------------------------------------------------------------------

    def open_dm(self, user_id: str) -> str:
        """The DM channel id with `user_id` (Discord returns the existing one if any)."""
        # A POST, but opening an existing DM again is harmless, so retrying a 5xx is fine.
        route = Route("POST", "/users/@me/channels", retry_safe=True)
        return str(self.request(route, json={"recipient_id": str(user_id)})["id"])

    def send_message(self, channel_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        route = Route("POST", "/channels/{channel_id}/messages", {"channel_id": channel_id})
        return self.request(route, json=_no_pings(payload))

    def recent_messages(self, channel_id: str, limit: int = 10) -> list[dict[str, Any]]:
        """The channel's latest messages, newest first."""
        route = Route("GET", "/channels/{channel_id}/messages", {"channel_id": channel_id})
        return self.request(route, params={"limit": str(limit)}) or []

    def edit_message(
        self, channel_id: str, message_id: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        params = {"channel_id": channel_id, "message_id": message_id}
        route = Route("PATCH", "/channels/{channel_id}/messages/{message_id}", params)
        return self.request(route, json=_no_pings(payload))

    def send_dm(
        self, user_id: str, payload: dict[str, Any], channel_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Send a DM; returns (channel id to cache, message). Re-opens a stale channel once."""
        if channel_id:
            try:
                return channel_id, self.send_message(channel_id, payload)
            except UnknownChannel:
                log.info("Cached DM channel is gone; opening the DM again")
        channel_id = self.open_dm(user_id)
        return channel_id, self.send_message(channel_id, payload)

    def edit_original(
        self, application_id: str, token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the (deferred) initial response of an interaction."""
        params = {"webhook_id": application_id, "webhook_token": token}
        route = Route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", params)
        return self.request(route, json=_no_pings(payload))

    def followup(self, application_id: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a follow-up message to an interaction (within its 15 minutes)."""
        params = {"webhook_id": application_id, "webhook_token": token}
        route = Route("POST", "/webhooks/{webhook_id}/{webhook_token}", params)
        return self.request(route, json=_no_pings(payload), params={"wait": "true"})

    def bulk_overwrite_commands(
        self, payload: list[dict[str, Any]], guild_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Replace the application's slash commands, globally or in one guild."""
        if not self.application_id:
            raise DiscordError(0, None, "DISCORD_APPLICATION_ID is not set", permanent=True)
        params = {"application_id": self.application_id}
        template = "/applications/{application_id}/commands"
        if guild_id:
            params["guild_id"] = str(guild_id)
            template = "/applications/{application_id}/guilds/{guild_id}/commands"
        return self.request(Route("PUT", template, params), json=payload)

    # --- The one function that talks to Discord ------------------------------------------

    def request(self, route: Route, json: Any = None, params: dict[str, str] | None = None) -> Any:
        """Send `route`, honouring rate limits; return the decoded JSON (None for 204)."""
        for attempt in range(self.max_attempts):
            self._wait_turn(route)
            try:
                response = self._send(route, json, params)
            except httpx.TransportError as exc:
                delay = self._transport_retry_delay(route, exc, attempt)
            else:
                if response.status_code < 300:
                    return _decoded(route, response)
                delay = self._retry_delay(route, response, attempt)
            if delay > 0:
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _send(self, route: Route, json: Any, params: dict[str, str] | None) -> httpx.Response:
        headers = {"Authorization": f"Bot {self._token}"} if self._token else {}
        response = None
        try:
            response = self._http.request(
                route.method, route.path, json=json, params=params, headers=headers
            )
            return response
        finally:
            with self._lock:
                now = self._clock()
                if not route.is_interaction:
                    self._pacer.release(now)
                if response is not None:
                    self._learn(route, response, now)

    # --- Before sending: wait for our turn, or refuse ------------------------------------

    def _wait_turn(self, route: Route) -> None:
        while (delay := self._reserve(route)) > 0:
            if delay > self.max_wait:
                raise DiscordRateLimited(
                    429, None, f"{route} is rate limited for {delay:.1f}s", retry_after=delay
                )
            log.debug("Waiting %.3fs before %s", delay, route)
            self._sleep(delay)

    def _reserve(self, route: Route) -> float:
        """Seconds to wait before `route` may go; 0.0 means a slot was taken for it now."""
        with self._lock:
            now = self._clock()
            self._refuse_if_closed(route, now)
            bucket = self._bucket(route)
            delay = bucket.wait(now)
            if not route.is_interaction:
                delay = max(delay, self._global_until - now, self._pacer.wait(now))
            if delay > 0:
                return delay
            bucket.take(now)
            if not route.is_interaction:
                self._pacer.take()
            return 0.0

    def _refuse_if_closed(self, route: Route, now: float) -> None:
        if not self._token and not route.is_interaction:
            raise DiscordAuthError(0, None, "DISCORD_BOT_TOKEN is not set", permanent=True)
        if self._auth_failed:
            raise DiscordAuthError(
                401, None, "the bot token was rejected; fix DISCORD_BOT_TOKEN", permanent=True
            )
        if now < self._banned_until:
            left = self._banned_until - now
            raise DiscordBanned(
                429, None, f"banned by Discord's edge; cooling down {left:.0f}s", retry_after=left
            )
        invalid = self._invalid.count(now)
        if invalid >= self.max_invalid:
            raise TooManyInvalidRequests(
                0,
                None,
                f"refusing to send: {invalid} invalid requests in 10 minutes",
                retryable=True,
            )

    def invalid_requests_last_10min(self) -> int:
        with self._lock:
            return self._invalid.count(self._clock())

    def _bucket(self, route: Route) -> _Bucket:
        key = f"{self._hashes.get(route.key, route.key)}:{route.major}"
        return self._buckets.setdefault(key, _Bucket())

    # --- After a response: learn from its headers ----------------------------------------

    def _learn(self, route: Route, response: httpx.Response, now: float) -> None:
        headers = response.headers
        if bucket_hash := headers.get("X-RateLimit-Bucket"):
            self._hashes[route.key] = bucket_hash
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        reset_after = _number(headers.get("X-RateLimit-Reset-After"))
        if remaining is not None and reset_after is not None:
            bucket = self._bucket(route)
            bucket.remaining, bucket.reset_at = int(remaining), now + reset_after
        if _is_invalid(response):
            self._invalid.add(now)
        if len(self._buckets) > 10_000:
            self._buckets = {k: b for k, b in self._buckets.items() if b.reset_at > now}

    # --- Errors: retry (return a delay) or raise ------------------------------------------

    def _retry_delay(self, route: Route, response: httpx.Response, attempt: int) -> float:
        last = attempt + 1 >= self.max_attempts
        if response.status_code == 429:
            self._on_429(route, response)
            if last:
                raise DiscordRateLimited(429, None, f"{route} still rate limited", retryable=True)
            return 0.0  # _wait_turn waits out the bucket or the global pause
        error = _error_from(response, self._token)
        if isinstance(error, DiscordAuthError):
            self._auth_failed = True  # a bad token stays bad: stop before we earn a ban
            log.error("Discord rejected the bot token; no more requests until it is fixed")
        if error.code == OPENING_DMS_TOO_FAST and not last:
            # Not processed: Discord wants us to slow down before opening more DMs.
            log.warning("Opening DMs too fast; backing off")
            return error.retry_after or self.dm_backoff * 2**attempt
        if response.status_code >= 500:
            if route.idempotent and not last:
                log.warning("Discord %s on %s; retrying", response.status_code, route)
                return self.backoff * 2**attempt
            error.retryable, error.maybe_sent = True, not route.idempotent
        raise error

    def _on_429(self, route: Route, response: httpx.Response) -> None:
        body = _json_or_none(response)
        with self._lock:
            now = self._clock()
            if not isinstance(body, dict):
                self._banned_until = now + max(_retry_after_header(response), self.ban_cooldown)
                log.error("Discord answered 429 without JSON: edge ban; stopping all requests")
                raise DiscordBanned(
                    429,
                    None,
                    "banned by Discord's edge (429 without JSON)",
                    retry_after=self.ban_cooldown,
                )
            retry_after = float(body.get("retry_after") or _retry_after_header(response) or 1.0)
            if body.get("global") or response.headers.get("X-RateLimit-Global"):
                log.warning("Global rate limit: pausing all requests for %.2fs", retry_after)
                self._global_until = max(self._global_until, now + retry_after)
            else:
                log.info("Rate limited on %s for %.2fs", route, retry_after)
                bucket = self._bucket(route)
                bucket.remaining, bucket.reset_at = 0, max(bucket.reset_at, now + retry_after)

    def _transport_retry_delay(
        self, route: Route, exc: httpx.TransportError, attempt: int
    ) -> float:
        # A connect error means nothing was sent, so even a POST may be tried again.
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if (route.idempotent or never_sent) and attempt + 1 < self.max_attempts:
            log.warning("%s on %s; retrying", type(exc).__name__, route)
            return self.backoff * 2**attempt
        raise DiscordError(
            0, None, f"{type(exc).__name__} on {route}", retryable=True, maybe_sent=not never_sent
        ) from exc


def _no_pings(payload: dict[str, Any]) -> dict[str, Any]:
    """Member text must never ping anyone, unless the caller says otherwise explicitly."""
    if "allowed_mentions" in payload:
        return payload
    return {**payload, "allowed_mentions": NO_MENTIONS}


def _is_invalid(response: httpx.Response) -> bool:
    """Whether Discord counts this response towards its 10,000-per-10-minutes IP ban."""
    if response.status_code in (401, 403):
        return True
    return response.status_code == 429 and response.headers.get("X-RateLimit-Scope") != "shared"


def _decoded(route: Route, response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise DiscordError(
            response.status_code, None, f"{route} answered with invalid JSON", maybe_sent=True
        ) from None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after_header(response: httpx.Response) -> float:
    return _number(response.headers.get("Retry-After")) or 0.0


def _error_from(response: httpx.Response, token: str) -> DiscordError:
    body = _json_or_none(response)
    body = body if isinstance(body, dict) else {}
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = str(body.get("message") or response.reason_phrase or "error")
    if token:
        message = message.replace(token, "[token]")
    cls = _ERRORS_BY_CODE.get(
        code or 0, DiscordAuthError if response.status_code == 401 else DiscordError
    )
    permanent = 400 <= response.status_code < 500 and code != OPENING_DMS_TOO_FAST
    retry_after = (
        body.get("retry_after") if isinstance(body.get("retry_after"), int | float) else None
    )
    return cls(response.status_code, code, message, permanent, retry_after=retry_after)


# --- The process-wide client ------------------------------------------------------------

_client: DiscordClient | None = None
_client_lock = threading.Lock()


def get_client() -> DiscordClient:
    """The client of this process, built from settings (again after a fork)."""
    global _client
    with _client_lock:
        if _client is None or _client.pid != os.getpid():
            _client = DiscordClient.from_settings()
        return _client


def reset_client() -> None:
    """Forget the process-wide client; the next `get_client()` reads the settings again."""
    global _client
    with _client_lock:
        if _client is not None and _client.pid == os.getpid():
            _client.close()
        _client = None


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting.startswith("DISCORD_"):
        reset_client()
