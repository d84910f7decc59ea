"""``KVCache``: a Django cache backend on Workers KV, a fast cache of data derived from D1.

Reads go through three layers: writes of this process not yet sent, a small in-process
cache (``local_ttl`` seconds, so a hot read spends no API budget), then KV. Writes
update the first two at once and reach KV through a write-behind buffer, because KV
takes one write per second per key:

- a write to a key not written in the last second is sent at once, together with every
  other pending write that is due, as one bulk request;
- a second write to the key within that second waits in the buffer; a later write
  replaces it (the latest value wins) and it goes out once the second has passed:
  on the next cache operation, from a timer thread (``flush_timer``, on by default),
  on ``flush()`` (which waits out the second; the scheduler and tests call it), and
  at interpreter exit. ``close()`` (end of every Django request) sends what is due
  without waiting.

The buffer, the in-process cache and the one-write-per-second bookkeeping are shared
by every ``KVCache`` of the process on the same namespace (Django makes one instance
per thread), so threads coalesce with each other too. Across processes nothing is
coordinated: two processes writing the same key in the same second can still meet
KV's 429.

KV has no compare-and-set and no atomic increment, so ``add()``, ``incr()`` and
``decr()`` raise ``NotImplementedError``: counters live in D1.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import cached_property
from django.utils.module_loading import import_string

from coachbot.d1.budget import make_budget
from coachbot.d1.cloudflare import api_for
from coachbot.d1.errors import OperationalError

from .local import LocalKV
from .rest import (
    BULK_GET_KEYS,
    BULK_WRITE_BYTES,
    BULK_WRITE_KEYS,
    LIST_LIMIT,
    MAX_KEY_BYTES,
    MAX_METADATA_BYTES,
    MAX_VALUE_BYTES,
    MIN_TTL,
    WRITE_INTERVAL,
    KVError,
    RemoteKV,
    ValueTooLarge,
    key_path,
)

log = logging.getLogger("coachbot.kv")

HASHED_HEAD_BYTES = 400  # how much of an over-long key stays readable before its hash
LOCAL_CACHE_MAX = 10_000
FLUSH_ROUNDS = 5


class KVTimeoutClamped(UserWarning):
    """A timeout below KV's minimum TTL of 60 s was raised to 60 s."""


class JSONSerializer:
    """Values as JSON text, so other tools (and people) can read what is in KV."""

    @staticmethod
    def dumps(value: Any) -> str:
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"KV cache values must be JSON-serialisable: {exc}") from None

    @staticmethod
    def loads(text: str) -> Any:
        return json.loads(text)


class Entry(NamedTuple):
    """A value as KV holds it: ``expiration`` is unix seconds, None when it never expires."""

    value: Any
    metadata: dict | None
    expiration: int | None


class Listed(NamedTuple):
    name: str  # the key as stored in KV (prefix, version, key; hashed when over-long)
    expiration: int | None
    metadata: dict | None


@dataclass
class _Write:
    text: str | None  # None: delete
    ttl: int | None = None
    metadata: dict | None = None


class _Namespace:
    """What every KVCache of the process on one namespace shares: target, buffer, local cache."""

    def __init__(self, target, *, priority: int, local_ttl: float, clock, sleep, timer: bool) -> None:
        self.target, self.priority, self.local_ttl = target, priority, local_ttl
        self.clock, self.sleep, self.use_timer = clock, sleep, timer
        self.lock = threading.RLock()
        self.pending: dict[str, _Write] = {}
        self.last_sent: dict[str, float] = {}
        self.local: dict[str, tuple[float, str | None]] = {}  # name -> (until, text or None)
        self.generation = 0  # bumped by every write, so a slow read never caches over it
        self._timer: threading.Timer | None = None

    def call(self, method: str, path: str, **kwargs):
        return self.target.request(method, path, priority=self.priority, **kwargs)

    # -- the in-process cache ---------------------------------------------------------
    def remember(self, name: str, text: str | None, expiration: float | None = None) -> None:
        if self.local_ttl <= 0:
            return
        until = self.clock() + self.local_ttl
        if expiration is not None:
            until = min(until, expiration)
        if len(self.local) >= LOCAL_CACHE_MAX:
            self.local.clear()
        self.local[name] = (until, text)

    def recall(self, name: str) -> tuple[bool, str | None]:
        """(known, text): a pending write, else a fresh local entry; text None = missing."""
        with self.lock:
            if name in self.pending:
                return True, self.pending[name].text
            until, text = self.local.get(name, (0.0, None))
            if until > self.clock():
                return True, text
            self.local.pop(name, None)
            return False, None

    # -- the write-behind buffer ------------------------------------------------------
    def queue(self, writes: dict[str, _Write]) -> None:
        with self.lock:
            self.generation += 1
            for name, write in writes.items():
                self.pending[name] = write
                ttl = write.ttl if write.text is not None else None
                self.remember(name, write.text, None if ttl is None else self.clock() + ttl)
            self.send_due()
            self._arm_timer()

    def send_due(self) -> int:
        """Send every pending write whose key has had its second, in bulk. Returns how many."""
        with self.lock:
            now = self.clock()
            due = {
                name: write for name, write in self.pending.items()
                if now - self.last_sent.get(name, -math.inf) >= WRITE_INTERVAL
            }
            if not due:
                return 0
            for name in due:
                del self.pending[name]
            try:
                refused = self._publish(due)
            except BaseException:
                for name, write in due.items():  # nothing is lost: newer writes win, others stay
                    self.pending.setdefault(name, write)
                raise
            finally:
                # Sent or maybe sent: either way the key's second starts now.
                sent_at = self.clock()
                for name in due:
                    self.last_sent[name] = sent_at
                self.last_sent = {n: t for n, t in self.last_sent.items() if sent_at - t < WRITE_INTERVAL}
            for name in refused:  # KV did not write these: send them again after the second
                self.pending.setdefault(name, due[name])
            if refused:
                log.warning("KV did not write %d key(s); they are retried: %s", len(refused), refused[:5])
            return len(due) - len(refused)

    def send_due_quietly(self) -> None:
        """The flush piggybacked on other operations: a failure leaves the writes pending."""
        if not self.pending:
            return
        try:
            self.send_due()
        except (KVError, OperationalError) as exc:
            log.warning("KV writes stay pending after a failed flush: %s", exc)

    def flush(self, wait: bool = True) -> int:
        """Send every pending write; with `wait`, sleep out the one-second rule until none is left."""
        sent, rounds = self.send_due(), 0
        while wait and self.pending:
            if rounds == FLUSH_ROUNDS:
                raise KVError(f"KV still refuses {len(self.pending)} write(s); they stay pending")
            rounds += 1
            with self.lock:
                now = self.clock()
                delay = min(
                    (self.last_sent.get(n, -math.inf) + WRITE_INTERVAL - now for n in self.pending),
                    default=0.0,
                )
            if delay > 0:
                self.sleep(delay)
            sent += self.send_due()
        return sent

    def _publish(self, due: dict[str, _Write]) -> list[str]:
        puts = [_pair(name, write) for name, write in due.items() if write.text is not None]
        deletes = [name for name, write in due.items() if write.text is None]
        refused: list[str] = []
        for chunk in _chunks_by_size(puts):
            refused += _unsuccessful(self.call("PUT", "bulk", json=chunk))
        for start in range(0, len(deletes), BULK_WRITE_KEYS):
            chunk = deletes[start:start + BULK_WRITE_KEYS]
            refused += _unsuccessful(self.call("POST", "bulk/delete", json=chunk))
        return refused

    def _arm_timer(self) -> None:
        if not self.use_timer or not self.pending or (self._timer and self._timer.is_alive()):
            return
        self._timer = threading.Timer(WRITE_INTERVAL, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        self.send_due_quietly()
        with self.lock:
            self._timer = None
            self._arm_timer()


def _unsuccessful(reply) -> list[str]:
    """The keys a bulk write or delete did not apply (KV says: retry them)."""
    return (reply.envelope().get("result") or {}).get("unsuccessful_keys") or []


def _pair(name: str, write: _Write) -> dict:
    pair: dict[str, Any] = {"key": name, "value": write.text}
    if write.ttl is not None:
        pair["expiration_ttl"] = write.ttl
    if write.metadata is not None:
        pair["metadata"] = write.metadata
    return pair


def _chunks_by_size(pairs: list[dict]) -> Iterator[list[dict]]:
    """Bulk write bodies of at most 10,000 pairs and 100 MB."""
    chunk, size = [], 2
    for pair in pairs:
        pair_size = len(json.dumps(pair, ensure_ascii=False).encode()) + 1
        if chunk and (len(chunk) == BULK_WRITE_KEYS or size + pair_size > BULK_WRITE_BYTES):
            yield chunk
            chunk, size = [], 2
        chunk.append(pair)
        size += pair_size
    if chunk:
        yield chunk


_namespaces: dict[tuple, _Namespace] = {}
_namespaces_lock = threading.Lock()


@atexit.register
def flush_all() -> None:
    """Send every pending write of every namespace (also run at interpreter exit)."""
    for namespace in list(_namespaces.values()):
        try:
            namespace.flush()
        except Exception as exc:  # noqa: BLE001 - at exit, report and go on
            log.error("KV writes lost at exit: %s", exc)


class KVCache(BaseCache):
    """``CACHES[...] = {"BACKEND": "coachbot.kv.KVCache", "LOCATION": ..., "OPTIONS": {...}}``.

    LOCATION is the KV namespace id when OPTIONS has an ``api_token``, else the path of
    the local KV file. OPTIONS:
      api_token, account_id, api_base_url -- Cloudflare (shares the D1 client and budget).
      budget_requests, budget_window, budget_reserve, budget_store -- as for D1.
      local_ttl -- seconds a read is kept in-process (default 5; 0 turns it off).
      priority -- 0 for background work (leaves budget for members), default 1.
      serializer -- dotted path of an object with dumps(value) -> str and loads(str).
      flush_timer -- send deferred writes from a timer thread (default True).
      simulate_propagation, simulate_write_limit, site -- the local KV's simulation.
      clock, sleep -- test hooks (callables).
    """

    def __init__(self, location: str, params: dict) -> None:
        super().__init__(params)
        options = params.get("OPTIONS") or {}
        self.location = location
        serializer = options.get("serializer") or JSONSerializer
        self.serializer = import_string(serializer) if isinstance(serializer, str) else serializer
        self._options = options

    @cached_property
    def _ns(self) -> _Namespace:
        # Built on first use, not in __init__: Django's own cache checks instantiate every
        # cache, and a misconfigured one must reach our system check rather than crash it.
        return _namespace_for(self.location, self._options)

    # -- keys -------------------------------------------------------------------------
    def validate_key(self, key: str) -> None:
        pass  # KV takes any non-empty UTF-8 key; over-long ones are hashed in make_and_validate_key

    def make_and_validate_key(self, key: str, version: int | None = None) -> str:
        return kv_name(self.make_key(key, version=version))

    def _names(self, keys: Iterable[str], version: int | None) -> dict[str, str]:
        return {self.make_and_validate_key(key, version): key for key in keys}

    # -- reads ------------------------------------------------------------------------
    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        name = self.make_and_validate_key(key, version)
        self._ns.send_due_quietly()
        known, text = self._ns.recall(name)
        if not known:
            text = self._fetch(name)
        return default if text is None else self._decode(name, text, default)

    def _fetch(self, name: str) -> str | None:
        generation = self._ns.generation
        reply = self._ns.call("GET", key_path("values", name))
        if reply.is_missing_key:
            text, expiration = None, None
        else:
            if reply.status != 200:
                reply.envelope()  # raises with KV's text
            text, expiration = _text(name, reply.content), reply.headers.get("expiration")
        with self._ns.lock:
            if generation == self._ns.generation:
                self._ns.remember(name, text, float(expiration) if expiration else None)
        return text

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        names = self._names(keys, version)
        self._ns.send_due_quietly()
        texts, missing = {}, []
        for name in names:
            known, text = self._ns.recall(name)
            if known:
                texts[name] = text
            else:
                missing.append(name)
        for start in range(0, len(missing), BULK_GET_KEYS):
            texts.update(self._fetch_many(missing[start:start + BULK_GET_KEYS]))
        found = {}
        for name, text in texts.items():
            value = self._decode(name, text, _MISSING) if text is not None else _MISSING
            if value is not _MISSING:
                found[names[name]] = value
        return found

    def _fetch_many(self, names: list[str]) -> dict[str, str | None]:
        generation = self._ns.generation
        body = self._ns.call("POST", "bulk/get", json={"keys": names, "type": "text"}).envelope()
        values = (body.get("result") or {}).get("values") or {}
        texts = {name: values.get(name) for name in names}
        with self._ns.lock:
            if generation == self._ns.generation:
                for name, text in texts.items():
                    self._ns.remember(name, text)
        return texts

    def has_key(self, key: str, version: int | None = None) -> bool:
        return self.get(key, _MISSING, version=version) is not _MISSING

    def get_with_meta(self, key: str, version: int | None = None) -> Entry | None:
        """The value, metadata and expiry KV holds now (two requests; skips the local caches).

        For the admin's "in sync / stale / missing, age, expiry". Writes still in the
        buffer are sent first if due; a write waiting out its second is not in KV yet.
        """
        name = self.make_and_validate_key(key, version)
        self._ns.send_due_quietly()
        reply = self._ns.call("GET", key_path("values", name))
        if reply.is_missing_key:
            return None
        if reply.status != 200:
            reply.envelope()
        expiration = reply.headers.get("expiration")
        metadata_reply = self._ns.call("GET", key_path("metadata", name))
        metadata = None if metadata_reply.is_missing_key else metadata_reply.envelope().get("result")
        value = self._decode(name, _text(name, reply.content), None)
        return Entry(value, metadata, int(expiration) if expiration else None)

    def iter_keys(self, prefix: str | None = None) -> Iterator[Listed]:
        """Every key in KV under `prefix` (default: this cache's), with expiry and metadata."""
        prefix = self._clear_prefix() if prefix is None else prefix
        cursor = ""
        while True:
            params = {"prefix": prefix, "limit": LIST_LIMIT, **({"cursor": cursor} if cursor else {})}
            body = self._ns.call("GET", "keys", params=params).envelope()
            for item in body.get("result") or []:
                yield Listed(item["name"], item.get("expiration"), item.get("metadata"))
            cursor = (body.get("result_info") or {}).get("cursor") or ""
            if not cursor:  # a page may be empty and still have a cursor: follow it
                return

    # -- writes -----------------------------------------------------------------------
    def set(self, key: str, value: Any, timeout=DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self.set_with_meta(key, value, timeout, version=version)

    def set_with_meta(
        self, key: str, value: Any, timeout=DEFAULT_TIMEOUT, metadata: dict | None = None,
        version: int | None = None,
    ) -> None:
        """``set()`` with KV metadata, e.g. ``{"v": version, "at": written_at}`` (≤ 1024 bytes JSON)."""
        name = self.make_and_validate_key(key, version)
        self._ns.queue({name: self._write(name, value, timeout, metadata)})

    def set_many(self, data: dict[str, Any], timeout=DEFAULT_TIMEOUT, version: int | None = None) -> list:
        """Every key in one bulk request (up to 10,000 keys); returns [] as nothing is refused here."""
        writes = {}
        for key, value in data.items():
            name = self.make_and_validate_key(key, version)
            writes[name] = self._write(name, value, timeout, None)
        self._ns.queue(writes)
        return []

    def _write(self, name: str, value: Any, timeout, metadata: dict | None) -> _Write:
        ttl = self._ttl(timeout)
        if ttl == 0:
            return _Write(None)
        text = self.serializer.dumps(value)
        size = len(text.encode())
        if size > MAX_VALUE_BYTES:
            raise ValueTooLarge(
                f"the value for {name!r} is {size} bytes serialised; KV takes at most {MAX_VALUE_BYTES} (25 MiB)"
            )
        if metadata is not None and len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
            raise ValueTooLarge(f"the metadata for {name!r} exceeds KV's {MAX_METADATA_BYTES} bytes")
        return _Write(text, ttl, metadata)

    def _ttl(self, timeout) -> int | None:
        """KV's ``expiration_ttl`` for a Django timeout: None never expires, 0 (or less) deletes."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return None
        if timeout <= 0:
            return 0
        if timeout < MIN_TTL:
            warnings.warn(
                f"KV keeps values at least {MIN_TTL} s: a timeout of {timeout} s becomes {MIN_TTL} s",
                KVTimeoutClamped, stacklevel=_caller_level(),
            )
            return MIN_TTL
        return math.ceil(timeout)

    def touch(self, key: str, timeout=DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        """A new expiry means writing the value again (KV has no touch): one read, one write."""
        name = self.make_and_validate_key(key, version)
        with self._ns.lock:
            pending = self._ns.pending.get(name)
        if pending is not None:
            if pending.text is None:
                return False
            text, metadata = pending.text, pending.metadata
        else:
            body = self._ns.call("POST", "bulk/get", json={"keys": [name], "withMetadata": True}).envelope()
            found = ((body.get("result") or {}).get("values") or {}).get(name)
            if found is None:
                return False
            text, metadata = found["value"], found.get("metadata")
        ttl = self._ttl(timeout)
        self._ns.queue({name: _Write(text, ttl, metadata) if ttl != 0 else _Write(None)})
        return True

    def delete(self, key: str, version: int | None = None) -> bool:
        """Always True: KV does not say whether the key existed."""
        self._ns.queue({self.make_and_validate_key(key, version): _Write(None)})
        return True

    def delete_many(self, keys: Iterable[str], version: int | None = None) -> None:
        self._ns.queue({name: _Write(None) for name in self._names(keys, version)})

    def clear(self) -> None:
        """Delete every key under this cache's KEY_PREFIX (the whole namespace when it is empty)."""
        prefix = self._clear_prefix()
        self._ns.send_due_quietly()
        names = {listed.name for listed in self.iter_keys(prefix)}
        with self._ns.lock:
            names |= {name for name in self._ns.pending if name.startswith(prefix)}
            for name in [n for n in self._ns.local if n.startswith(prefix)]:
                del self._ns.local[name]
        self._ns.queue({name: _Write(None) for name in names})

    def _clear_prefix(self) -> str:
        return f"{self.key_prefix}:" if self.key_prefix else ""

    def flush(self, wait: bool = True) -> int:
        """Send every pending write now; with `wait` (default) sleep out KV's one-second rule."""
        return self._ns.flush(wait=wait)

    def close(self, **kwargs) -> None:
        """End of a request: send what is due, without waiting (the timer and exit do the rest)."""
        if "_ns" in self.__dict__:  # a cache never used has nothing to send
            self._ns.send_due_quietly()

    # -- what KV cannot do ------------------------------------------------------------
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        raise NotImplementedError(
            "KV has no compare-and-set, so add() cannot be atomic; keep such state in D1"
        )

    def incr(self, key, delta=1, version=None):
        raise NotImplementedError(
            "KV has no atomic increment (last write wins); counters live in D1"
        )

    def decr(self, key, delta=1, version=None):
        raise NotImplementedError(
            "KV has no atomic decrement (last write wins); counters live in D1"
        )

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        """Like Django's, but with ``set()`` (last write wins) where Django uses ``add()``."""
        value = self.get(key, _MISSING, version=version)
        if value is _MISSING:
            value = default() if callable(default) else default
            self.set(key, value, timeout=timeout, version=version)
        return value

    def _decode(self, name: str, text: str | None, default: Any) -> Any:
        if text is None:
            return default
        try:
            return self.serializer.loads(text)
        except ValueError:
            log.warning("KV value of %r is not what this cache writes; treated as a miss", name)
            return default


_MISSING = object()


def kv_name(key: str) -> str:
    """The key as stored: over 512 bytes of UTF-8 -> a readable head plus its SHA-256."""
    raw = key.encode()
    if len(raw) <= MAX_KEY_BYTES:
        return key
    head = raw[:HASHED_HEAD_BYTES].decode("utf-8", errors="ignore")
    return f"{head}#sha256:{hashlib.sha256(raw).hexdigest()}"


def _caller_level() -> int:
    """The warnings stacklevel of the first frame outside this module (the cache's caller)."""
    frame, level = sys._getframe(2), 2  # 1 is the function that warns
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _text(name: str, content: bytes) -> str | None:
    try:
        return content.decode()
    except UnicodeDecodeError:
        log.warning("KV value of %r is not UTF-8 text; treated as a miss", name)
        return None


def _namespace_for(location: str, options: dict) -> _Namespace:
    """The process's shared state for this target (one per namespace, clock and sleep)."""
    clock: Callable[[], float] = options.get("clock") or time.time
    sleep: Callable[[float], None] = options.get("sleep") or time.sleep
    token = options.get("api_token") or ""
    if token:
        identity = ("remote", options.get("api_base_url", ""), options.get("account_id"), location)
    else:
        identity = ("local", location, options.get("site"), float(options.get("simulate_propagation") or 0),
                    bool(options.get("simulate_write_limit")))
    key = (*identity, clock, sleep)
    shape = {
        "priority": int(options.get("priority", 1)),
        "local_ttl": float(options.get("local_ttl", 5)),
        "timer": bool(options.get("flush_timer", True)),
    }
    with _namespaces_lock:
        namespace = _namespaces.get(key)
        if namespace is None:
            target = _target(location, options, clock)
            namespace = _namespaces[key] = _Namespace(target, clock=clock, sleep=sleep, **shape)
        elif shape != {"priority": namespace.priority, "local_ttl": namespace.local_ttl, "timer": namespace.use_timer}:
            # One buffer per namespace keeps the one-write-per-second rule across caches.
            raise ImproperlyConfigured(
                f"two KV caches on {namespace.target.describe()} ask for different priority, "
                "local_ttl or flush_timer; caches on one namespace share these"
            )
        return namespace


def _target(location: str, options: dict, clock):
    for problem in config_problems(location, options):
        raise ImproperlyConfigured(problem)
    if options.get("api_token"):
        return RemoteKV(api_for(options), options["account_id"], location)
    return LocalKV(
        location,
        site=options.get("site"),
        propagation=float(options.get("simulate_propagation") or 0),
        write_limit=bool(options.get("simulate_write_limit")),
        clock=clock,
        budget=make_budget(options),
    )


def config_problems(location: str, options: dict) -> list[str]:
    """What is wrong with a KVCache's LOCATION/OPTIONS, as sentences (empty when fine)."""
    problems = []
    if options.get("api_token"):
        if not location or "/" in location or location.endswith(".sqlite3"):
            problems.append(
                "the KV cache has a Cloudflare API token but no namespace id: set KV_NAMESPACE_ID "
                f"(LOCATION is {location!r})"
            )
        if not options.get("account_id"):
            problems.append("the KV cache has a Cloudflare API token but no account id: set CLOUDFLARE_ACCOUNT_ID")
    elif not location:
        problems.append("the local KV needs a file path as LOCATION (e.g. COACHBOT_DATA_DIR / 'kv.sqlite3')")
    try:
        if float(options.get("local_ttl", 5)) < 0:
            problems.append("OPTIONS['local_ttl'] must be 0 (off) or more seconds")
    except (TypeError, ValueError):
        problems.append(f"OPTIONS['local_ttl'] must be a number, not {options.get('local_ttl')!r}")
    return problems


def plain_key(key: str, key_prefix: str, version: int | None) -> str:
    """A KEY_FUNCTION that keeps KV key names readable: ``prefix:key``, or ``key`` alone.

    Django's default adds ``:1:``; KV's keys are read by people and other tools
    (the seed names them ``session:{id}:last_summary``), so the version is left out.
    """
    return f"{key_prefix}:{key}" if key_prefix else key
