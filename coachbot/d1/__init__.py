"""A Django database backend for Cloudflare D1 over its REST API, and an embedded local D1.

Use it with ``ENGINE = "coachbot.d1"``. This package imports nothing from the rest of
coachbot, so it can be published on its own. Public helpers:

- ``RequestCounter``: how many D1/KV requests a block of code sent (tests, benchmarks).
- ``queue_update()``: an UPDATE inside ``atomic()`` whose row count nobody waits for.
- ``fetch_many()``: several querysets evaluated in one request (a batch of SELECTs).
"""

from .api import RequestCounter, fetch_many, queue_update

__all__ = ["RequestCounter", "fetch_many", "queue_update"]
