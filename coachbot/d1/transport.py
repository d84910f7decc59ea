"""Sending statements to D1: the request body, the reply envelope, the two targets.

Both targets speak D1's REST shapes: ``RemoteD1`` posts them to Cloudflare (or to a
loopback runtime), ``LocalD1`` (local.py) answers them in-process from a SQLite
file. Everything above this module is the same code for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .cloudflare import CloudflareAPI, envelope_errors
from .errors import DataError, OperationalError, classify

MAX_SAFE_INTEGER = 2**53  # JSON numbers are doubles on D1's side


@dataclass
class Result:
    columns: list[str]
    rows: list[list]
    changes: int
    last_row_id: int | None


class Target(Protocol):
    def post(self, body: dict, *, read_only: bool, priority: int) -> tuple[int, object]: ...


def request_body(statements: list[tuple[str, list]]) -> dict:
    items = [{"sql": sql, "params": params} for sql, params in statements]
    return items[0] if len(items) == 1 else {"batch": items}


def parse_envelope(status: int, body: object) -> list[Result]:
    """Turn a ``/raw`` reply into results, or raise the DB-API error its text names."""
    if not isinstance(body, dict) or not body.get("success"):
        message = envelope_errors(body) or f"D1 answered HTTP {status} without an error text"
        if status in (401, 403):
            raise OperationalError(
                f"Cloudflare refused the API token (HTTP {status}: {message}); check "
                "CLOUDFLARE_API_TOKEN has D1 edit permission for this account"
            )
        if status == 404 and "database" in message.lower():
            raise OperationalError(f"D1 database not found (HTTP 404: {message}); check D1_DATABASE_ID")
        raise classify(message)(message)
    return [_result(item) for item in body.get("result") or []]


def _result(item: dict) -> Result:
    results = item.get("results") or {}
    meta = item.get("meta") or {}
    last_row_id = meta.get("last_row_id")
    return Result(
        columns=list(results.get("columns") or []),
        rows=[[_decode(v) for v in row] for row in results.get("rows") or []],
        changes=int(meta.get("changes") or 0),
        last_row_id=int(last_row_id) if last_row_id is not None else None,
    )


def _decode(value):
    if isinstance(value, list):  # D1 returns BLOBs as arrays of byte values
        return bytes(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        raise DataError(
            f"D1 returned the integer {value}, beyond ±2^53: JSON rounds it, so its exact "
            "value cannot be read. Store such numbers as text, or SELECT CAST(col AS TEXT)."
        )
    return value


class RemoteD1:
    """D1 over Cloudflare's REST API (always ``/raw``: joins repeat column names)."""

    def __init__(self, api: CloudflareAPI, account_id: str, database_id: str) -> None:
        self.api = api
        self.path = f"/accounts/{account_id}/d1/database/{database_id}/raw"

    def post(self, body: dict, *, read_only: bool, priority: int = 1) -> tuple[int, object]:
        statements = len(body.get("batch", [None]))
        response = self.api.request(
            "POST", self.path, json=body, idempotent=read_only, priority=priority, statements=statements
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {
                "success": False,
                "errors": [{"message": f"non-JSON answer (HTTP {response.status_code}); "
                            "a write may or may not have been applied"}],
            }

    def describe(self) -> str:
        return f"D1 at {self.api.base_url}"
