"""Workers KV as a Django cache backend (``BACKEND = "coachbot.kv.KVCache"``).

KV is a fast, eventually consistent cache of data derived from D1 (TTLs of 60-600 s),
never the truth. It talks to KV's REST API through the same Cloudflare client and
budget as D1 (rest.py), or, with no API token, to an embedded local KV in a SQLite
file that answers the same shapes and can simulate KV's consistency (local.py). The
cache (cache.py) adds JSON values, an in-process first-level cache and a write-behind
buffer that keeps KV's one-write-per-second-per-key rule.
"""

from .cache import (
    Entry,
    JSONSerializer,
    KVCache,
    KVTimeoutClamped,
    Listed,
    flush_all,
    kv_name,
    plain_key,
)
from .local import LocalKV
from .rest import KVError, RemoteKV, ValueTooLarge

__all__ = [
    "Entry",
    "JSONSerializer",
    "KVCache",
    "KVError",
    "KVTimeoutClamped",
    "Listed",
    "LocalKV",
    "RemoteKV",
    "ValueTooLarge",
    "flush_all",
    "kv_name",
    "plain_key",
]
