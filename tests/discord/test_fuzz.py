"""Thousands of random, broken and mutated requests: never a 500, never a row, never a REST call."""

import copy
import json
import random
import time

import pytest

from sessions_app.models import CheckIn, Message, Session, Summary, Task

from .conftest import FIXTURES, URL, load, sign

pytestmark = pytest.mark.django_db(databases=["default", "d1"])
SEED = 20261204
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))
WEIRD = [None, True, False, 0, -1, 2, 5, 99, 2**64, 2**70, -(2**63), 1e308, float("inf"), 0.5, "",
         "x", "1", "０１２", "1" * 30, "a" * 5000, "🙂", [], [None], [{}], {}, {"id": None},
         {"type": 1}, "@everyone"]
REQUIRED = [("type",), ("id",), ("token",), ("application_id",), ("data",), ("data", "name"),
            ("data", "custom_id"), ("data", "options"), ("data", "components"), ("user",),
            ("member",), ("member", "user"), ("user", "id"), ("member", "user", "id"), ("message",),
            ("message", "id"), ("locale",), ("guild_id",)]


@pytest.fixture
def quiet(monkeypatch, settings, fake_discord):
    """Nothing may leave: REST goes to a recording fake, tasks are caught before the queue."""
    settings.DISCORD_API_BASE_URL = fake_discord.base_url
    queued = []
    monkeypatch.setattr("discord_app.tasks.async_task", lambda *a, **k: queued.append(a))
    return fake_discord, queued


def all_rows() -> int:
    return sum(m.objects.count() for m in (Session, Message, Summary, Task, CheckIn))


def paths(node, prefix=()):
    """Every key path in a JSON tree."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


def parent_of(tree, path):
    for key in path[:-1]:
        tree = tree[key]
    return tree


def mutate(rng: random.Random, payload: dict) -> dict:
    payload = copy.deepcopy(payload)
    payload["id"] = str(rng.randrange(10**17, 10**19))
    every = list(paths(payload))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(every) if rng.random() < 0.6 else rng.choice(REQUIRED)
        try:
            parent = parent_of(payload, path)
            if rng.random() < 0.3 and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = rng.choice(WEIRD)
        except (KeyError, IndexError, TypeError):
            continue
    return payload


def garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 300))
    if kind == 1:
        body = json.dumps(load(rng.choice(NAMES))).encode()
        return body[: rng.randrange(0, len(body))]
    if kind == 2:  # any JSON value but a PING
        return json.dumps(rng.choice([w for w in WEIRD if w != {"type": 1}])).encode()
    if kind == 3:
        return (b"[" * rng.randrange(1, 20000)) + (b"]" * rng.randrange(0, 3))
    return b'{"type": %d, "id": "%d", "data": %s}' % (
        rng.choice([-2, -1, 0, 2, 3, 4, 5, 6, 7]), rng.randrange(10**20), rng.choice([b"1", b"[]", b'"x"', b"{}"]))


def headers_garbage(rng: random.Random, key, body: bytes) -> dict:
    good = sign(key, body)
    choice = rng.randrange(6)
    if choice == 0:
        return {}
    if choice == 1:
        return good | {"X-Signature-Ed25519": rng.randbytes(64).hex()}
    if choice == 2:
        return good | {"X-Signature-Timestamp": rng.choice(["", "-5", "1e9", "１２３", "0x10",
                                                             str(int(time.time()) - 400), "9" * 40])}
    if choice == 3:
        return good | {"X-Signature-Ed25519": rng.choice(["", "g" * 128, "ab", "🙂" * 64])}
    if choice == 4:
        return {"X-Signature-Ed25519": good["X-Signature-Ed25519"]}
    return sign(key, body + b"x")


def test_nothing_thrown_at_the_endpoint_causes_a_500_or_a_write(web, signing_key, quiet, caplog):
    rng = random.Random(SEED)
    fake, queued = quiet
    statuses = {}
    for n in range(3000):
        if n % 3 == 0:  # unsigned or badly signed: must stop at the signature
            body = garbage(rng) if rng.random() < 0.5 else json.dumps(mutate(rng, load(rng.choice(NAMES)))).encode()
            headers, allowed = headers_garbage(rng, signing_key, body), {401, 413}
        elif n % 3 == 1:  # signed garbage: must stop at the parser
            body = garbage(rng)
            headers, allowed = sign(signing_key, body), {400, 413}
        else:  # signed, mutated real payloads: may be answered, must not write
            body = json.dumps(mutate(rng, load(rng.choice(NAMES)))).encode()
            headers, allowed = sign(signing_key, body), {200, 400}
        response = web.post(URL, data=body, content_type="application/json", headers=headers)
        assert response.status_code in allowed, (n, body[:200], response.content[:200])
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert all_rows() == 0
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []  # no apologies
    assert fake.requests == []
    assert statuses.get(200, 0) > 100 and statuses.get(400, 0) > 1000  # both paths were exercised
    assert all(args[0].__name__ == "start_coaching" for args in queued)  # no rows: /coach start is deferred
