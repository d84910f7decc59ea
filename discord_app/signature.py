"""Ed25519 verification of Discord interaction requests.

Discord signs `X-Signature-Timestamp` + the raw request body with the application's key and
sends the signature in `X-Signature-Ed25519` (hex). It also sends deliberately forged requests
and removes the endpoint URL if one is accepted, so every failure here must end in a 401.
Discord documents no timestamp window; we refuse anything more than `max_age` seconds away
from our clock, so a captured request cannot be replayed later.
"""

import string
import time
from functools import lru_cache

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

SIGNATURE_HEX_LENGTH = 128  # 64 bytes
_HEX = frozenset(string.hexdigits)


class InvalidSignature(Exception):
    """The request did not come from Discord (or not recently): answer 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify_request(
    public_key_hex: str,
    signature_hex: str | None,
    timestamp: str | None,
    body: bytes,
    now: float | None = None,
    max_age: int = 300,
) -> None:
    """Return if Discord signed `timestamp + body` within `max_age` seconds; else raise."""
    if not signature_hex or not timestamp:
        raise InvalidSignature("missing X-Signature-Ed25519 or X-Signature-Timestamp")
    signature = _signature_bytes(signature_hex)
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise InvalidSignature("timestamp is not an integer")
    try:
        _verify_key(public_key_hex).verify(timestamp.encode("ascii") + body, signature)
    except BadSignatureError:
        raise InvalidSignature("signature does not match") from None
    _check_fresh(int(timestamp), time.time() if now is None else now, max_age)


def _signature_bytes(signature_hex: str) -> bytes:
    if not set(signature_hex) <= _HEX:
        raise InvalidSignature("signature is not hex")
    if len(signature_hex) != SIGNATURE_HEX_LENGTH:
        raise InvalidSignature("signature has the wrong length")
    return bytes.fromhex(signature_hex)


def _check_fresh(timestamp: int, now: float, max_age: int) -> None:
    if now - timestamp > max_age:
        raise InvalidSignature("timestamp is too old")
    if timestamp - now > max_age:
        raise InvalidSignature("timestamp is in the future")


@lru_cache(maxsize=4)
def _verify_key(public_key_hex: str) -> VerifyKey:
    # A bad key is a configuration error, not a forged request: fail loudly (500), not 401.
    try:
        return VerifyKey(bytes.fromhex(public_key_hex))
    except (ValueError, TypeError) as exc:
        raise ValueError("the Discord public key is not a 64-character hex Ed25519 key") from exc
