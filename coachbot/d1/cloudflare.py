"""The one HTTP client for Cloudflare's API (D1 and KV share it, and its budget).

Retry policy, from d1.md: Cloudflare's own SDK retries POSTs blindly, so a write
that committed can be applied twice. Here a request is sent again only when that is
provably safe:
- HTTP 429: Cloudflare refused it, nothing ran; wait ``retry-after`` (bounded).
- connect errors: the request never left this machine.
- 5xx and read timeouts: only for requests the caller marks ``idempotent``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from .budget import Budget, Unlimited, make_budget, spend
from .errors import BudgetExhausted, OperationalError

log = logging.getLogger("coachbot.d1.cloudflare")

USER_AGENT = "coachbot-d1/0.1 (+httpx)"
DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"


@dataclass
class CloudflareAPI:
    base_url: str
    token: str = field(repr=False)
    budget: Budget = field(default_factory=Unlimited)
    timeout: float = 35.0
    max_wait: float = 30.0  # longest 429 wait before giving up and raising
    retries: int = 3
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None  # tests may inject one

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(self.timeout, connect=10.0),
            transport=self.transport,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        priority: int = 1,
        statements: int = 1,
        service: str = "d1",
        **kwargs,
    ) -> httpx.Response:
        """Send one API request; pace, count, and retry only where it is safe."""
        attempt = 0
        while True:
            attempt += 1
            spend(self.budget, priority, statements, service)
            try:
                response = self._client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if attempt > self.retries:
                    raise OperationalError(f"cannot reach Cloudflare at {self.base_url}: {exc}") from None
                self._backoff(attempt, "connect error")
                continue
            except httpx.TransportError as exc:
                if idempotent and attempt <= self.retries:
                    self._backoff(attempt, type(exc).__name__)
                    continue
                raise OperationalError(
                    f"Cloudflare request failed after it was sent ({type(exc).__name__}); "
                    "a write may or may not have been applied, so it is not retried"
                ) from None
            if response.status_code == 429 and service == "kv" and "retry-after" not in response.headers:
                return response  # KV's one-write-per-second-per-key rule, not the account's limit
            if response.status_code == 429:
                self._wait_out_429(response, attempt)
                continue
            if response.status_code >= 500 and idempotent and attempt <= self.retries:
                self._backoff(attempt, f"HTTP {response.status_code}")
                continue
            return response

    def _wait_out_429(self, response: httpx.Response, attempt: int) -> None:
        retry_after = _retry_after(response)
        self.budget.block_until(time.time() + retry_after)
        if retry_after > self.max_wait or attempt > self.retries:
            raise BudgetExhausted(
                f"Cloudflare API rate limit reached (HTTP 429); retry after {retry_after:.0f} s"
            )
        log.warning("Cloudflare answered 429; waiting %.1f s as told", retry_after)
        self.sleep(retry_after)

    def _backoff(self, attempt: int, why: str) -> None:
        delay = min(0.25 * 2 ** (attempt - 1), 4.0)
        log.warning("Cloudflare request retried in %.2f s (%s)", delay, why)
        self.sleep(delay)

    def close(self) -> None:
        self._client.close()


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return 300.0  # Cloudflare's lock-out lasts five minutes


_clients: dict[tuple, CloudflareAPI] = {}
_clients_lock = threading.Lock()


def shared_api(base_url: str, token: str, budget_factory: Callable[[], Budget]) -> CloudflareAPI:
    """One client (one connection pool, one budget) per base URL and token per process."""
    key = (base_url.rstrip("/"), token)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = CloudflareAPI(base_url, token, budget=budget_factory())
        return _clients[key]


def api_for(options: dict) -> CloudflareAPI:
    """The shared client for D1's or KV's OPTIONS: same token and base URL, same budget."""
    budget_options = {**options}
    base_url = options.get("api_base_url") or DEFAULT_BASE_URL
    return shared_api(base_url, options["api_token"], lambda: make_budget(budget_options))


def envelope_errors(body: object) -> str:
    """The error text of a Cloudflare envelope, joined; empty when there is none."""
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors") or []
    return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
