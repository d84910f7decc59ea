"""Fixtures for the D1 backend's tests: the live connection, what it sends, strict mode."""

import pytest
from django.db import connections


@pytest.fixture
def d1():
    """The d1 connection, connected."""
    connection = connections["d1"]
    connection.ensure_connection()
    return connection


@pytest.fixture
def sent(d1, monkeypatch):
    """Every request body the d1 connection posts from now on, as lists of SQL texts."""
    target = d1.connection.target
    post, bodies = target.post, []

    def recording_post(body, **kwargs):
        bodies.append([item["sql"] for item in body.get("batch", [body])])
        return post(body, **kwargs)

    monkeypatch.setattr(target, "post", recording_post)
    return bodies


@pytest.fixture
def strict(d1):
    """OPTIONS["strict_atomic"] = True on the live connection, restored after the test."""
    d1.connection.strict = True
    yield d1
    d1.connection.strict = False
