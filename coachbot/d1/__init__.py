"""A Django database backend for Cloudflare D1 over its REST API, and an embedded local D1.

Use it with ``ENGINE = "coachbot.d1"``. This package imports nothing from the rest of
coachbot, so it can be published on its own. Public helpers:

- ``RequestCounter``: how many D1/KV requests a block of code sent (tests, benchmarks).
- ``queue_update()``: an UPDATE inside ``atomic()`` whose row count nobody waits for.
- ``cascade_delete()``: ``delete()`` with its cascade as one atomic request.
- ``fetch_many()``: several querysets evaluated in one request (a batch of SELECTs).
"""

from .api import RequestCounter, cascade_delete, fetch_many, queue_update

__all__ = ["RequestCounter", "cascade_delete", "fetch_many", "queue_update"]
