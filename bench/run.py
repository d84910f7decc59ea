"""D1 requests per operation: coachbot's backend vs. one request per statement (what peers do).

Run: .venv/bin/python bench/run.py   (on a throwaway local D1; the counts are the same on
Cloudflare's runtime, since a request is a request). Prints a table, then one JSON line.

The baseline is the same backend with queueing switched off: every statement leaves
as its own request, the moment it runs, as django-cf's REST engine sent them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["COACHBOT_DATA_DIR"] = tempfile.mkdtemp(prefix="coachbot-bench-")
os.environ["CLOUDFLARE_API_TOKEN"] = ""
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from coachbot.d1 import RequestCounter, cascade_delete, dbapi, queue_update  # noqa: E402
from tests.d1test.models import Author, Book, Review  # noqa: E402

D1 = connections["d1"]


BASELINE = False  # while True, a figure is the number of statements: one request each for peers


@contextlib.contextmanager
def one_request_per_statement():
    """The baseline: atomic() starts no queue, so each statement is sent as it runs, and
    every statement counts as a request (peers have no batches, not even for reads)."""
    global BASELINE
    begin = dbapi.Connection.begin
    dbapi.Connection.begin = lambda self: None
    BASELINE = True
    try:
        yield
    finally:
        dbapi.Connection.begin = begin
        BASELINE = False


def fresh_d1() -> int:
    """Delete the local D1 file and migrate the D1 apps again; the requests it took."""
    D1.close()
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(D1.settings_dict["NAME"] + suffix)
    D1.connect()
    return counted(lambda: call_command("migrate", database="d1", verbosity=0))


def counted(action) -> int:
    """D1 requests the action sent (KV writes are not D1's and peers have none)."""
    with RequestCounter() as counter:
        action()
    return counter.statements if BASELINE else counter.d1_requests


def family(name: str) -> Author:
    author = Author.objects.create(name=name)
    Book.objects.bulk_create([Book(id=f"{name}-{i}", author=author, title="t") for i in range(3)])
    Review.objects.bulk_create([Review(book_id=f"{name}-{i}", stars=4) for i in range(3) for _ in range(2)])
    return author


def change(author: Author) -> None:
    with transaction.atomic(using="d1"):
        Book.objects.create(id=f"{author.name}-new", author=author, title="new")
        queue_update(Book.objects.filter(author=author), pages=10)
        Review.objects.bulk_create([Review(book_id=f"{author.name}-new", stars=5)])


def admin_figures() -> dict[str, int | None]:
    from django.contrib import admin

    from sessions_app.models import Session

    if Session not in admin.site._registry:
        return {"admin changelist": None, "admin change view": None}
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", "b@example.com", "pw")
    session = Session.objects.create(user_id="100000000000000001", display_name="Member One")
    client = Client()
    client.force_login(user)
    figures = {}
    for label, url in [("admin changelist", "/admin/sessions_app/session/"),
                       ("admin change view", f"/admin/sessions_app/session/{session.pk}/change/")]:
        with RequestCounter() as counter:
            status = client.get(url).status_code
        figures[label] = (counter.statements if BASELINE else counter.d1_requests) if status == 200 else None
    return figures


def measure() -> dict[str, int | None]:
    figures = {"migrate --database d1 (fresh)": fresh_d1()}
    figures["save() of a new row"] = counted(lambda: Author(name="new").save())
    author = family("ann")
    figures["a change inside atomic()"] = counted(lambda: change(author))
    cid = family("cid")
    # coachbot deletes with cascade_delete(); peers only have Django's delete().
    figures["cascade delete (1 + 3 + 6 rows)"] = counted(cid.delete if BASELINE else lambda: cascade_delete(cid))
    bob = family("bob")
    figures["cascade delete via Django's obj.delete()"] = counted(bob.delete)
    figures["bulk_create of 1,000 rows"] = counted(
        lambda: Author.objects.bulk_create([Author(name=f"m{i}") for i in range(1000)]))
    figures.update(admin_figures())
    return figures


def main() -> None:
    setup_test_environment()
    ours = measure()
    with one_request_per_statement():
        peers = measure()
    width = max(map(len, ours))
    print(f"{'operation':<{width}}  {'coachbot':>8}  {'1 req/statement':>15}")
    for name in ours:
        print(f"{name:<{width}}  {_cell(ours[name]):>8}  {_cell(peers[name]):>15}")
    print(json.dumps({"coachbot": ours, "one_request_per_statement": peers}))


def _cell(value: int | None) -> str:
    return "n/a" if value is None else str(value)


if __name__ == "__main__":
    main()
