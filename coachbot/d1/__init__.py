"""A Django database backend for Cloudflare D1 over its REST API, and an embedded local D1.

Use it with ``ENGINE = "coachbot.d1"``. This package imports nothing from the rest of
coachbot, so it can be published on its own. Public helpers:

- ``RequestCounter``: how many D1/KV requests a block of code sent (tests, benchmarks).
- ``queue_update()``: an UPDATE inside ``atomic()`` whose row count nobody waits for.
"""

from .api import RequestCounter, queue_update

__all__ = ["RequestCounter", "queue_update"]
