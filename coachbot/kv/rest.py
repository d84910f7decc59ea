"""KV's REST shapes: the limits, the reply, the error type, and the remote target.

Both targets answer the same requests (`method`, a path below the namespace such as
``values/<percent-encoded key>`` or ``bulk/get``, and httpx's ``params``/``content``/
``json``/``files``) with the same ``Reply``: ``RemoteKV`` sends them to Cloudflare (or
to the loopback runtime) through the one Cloudflare client, ``LocalKV`` (local.py)
answers them in-process from a SQLite file. Everything above is the same code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

from coachbot.d1.cloudflare import CloudflareAPI, envelope_errors

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_TTL = 60
BULK_GET_KEYS = 100
BULK_WRITE_KEYS = 10_000
BULK_WRITE_BYTES = 100_000_000
LIST_LIMIT = 1000
WRITE_INTERVAL = 1.0  # KV takes one write per second per key


class KVError(Exception):
    """KV refused a request, or the cache refused to send one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ValueTooLarge(KVError, ValueError):
    """A value or its metadata exceeds KV's size limit (refused before sending)."""


@dataclass
class Reply:
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def envelope(self) -> dict:
        """The JSON envelope; raise ``KVError`` with KV's own text unless it succeeded."""
        try:
            body = json.loads(self.content)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("success"):
            return body
        raise error_for(self.status, body)

    @property
    def is_missing_key(self) -> bool:
        """The 404 of a key that does not exist (not of a namespace that does not)."""
        if self.status != 404:
            return False
        try:
            codes = [e.get("code") for e in json.loads(self.content).get("errors", [])]
        except (ValueError, AttributeError):
            return False
        return 10009 in codes


def error_for(status: int, body: object) -> KVError:
    message = envelope_errors(body) or f"KV answered HTTP {status} without an error text"
    if status in (401, 403):
        return KVError(
            f"Cloudflare refused the API token (HTTP {status}: {message}); check that "
            "CLOUDFLARE_API_TOKEN has Workers KV Storage edit permission",
            status,
        )
    if status == 404 and "Could not route" in message:
        return KVError(f"KV namespace not found (HTTP 404: {message}); check KV_NAMESPACE_ID", status)
    if status in (413, 414):
        return ValueTooLarge(message, status)
    return KVError(f"KV answered HTTP {status}: {message}", status)


def key_path(kind: str, key: str) -> str:
    """``values/<key>`` with the key percent-encoded (``a/b:c d`` -> ``a%2Fb:c%20d``)."""
    return f"{kind}/{quote(key, safe=':')}"


class RemoteKV:
    """KV over Cloudflare's REST API, through the client (and budget) D1 uses."""

    def __init__(self, api: CloudflareAPI, account_id: str, namespace_id: str) -> None:
        self.api = api
        self.prefix = f"/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/"

    def request(self, method: str, path: str, *, priority: int = 1, **kwargs) -> Reply:
        # Every KV request may be retried on 5xx: reads change nothing, and writes are
        # idempotent by construction (a PUT of the same value, or a DELETE, applied
        # twice leaves the same state as once). No KV call increments anything.
        sent = {name: value for name, value in kwargs.items() if value is not None}
        response = self.api.request(
            method, self.prefix + path, idempotent=True, priority=priority, service="kv", **sent
        )
        return Reply(response.status_code, response.content, dict(response.headers))

    def describe(self) -> str:
        return f"KV at {self.api.base_url}{self.prefix}"
