"""Cloudflare requests per page of the coaches' admin, with 10 and with 1,000 members.

Run: .venv/bin/python bench/admin.py   (on a throwaway local D1 and local KV). Prints a
table, then one JSON line.

"requests" is what coachbot sends (D1, plus KV on the member page, after a save and after
an action that changes members).
"statements" is the baseline: the same pages on a peer engine that sends one request
per statement (django-cf's REST engine) would send one request for each of them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["COACHBOT_DATA_DIR"] = tempfile.mkdtemp(prefix="coachbot-bench-admin-")
os.environ["CLOUDFLARE_API_TOKEN"] = ""
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.contrib.admin import helpers  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from coachbot.d1 import RequestCounter  # noqa: E402
from sessions_app.models import CheckIn, Message, Session, Summary, Task  # noqa: E402
from tests.admin.conftest import make_members, make_user, member_url, members_url  # noqa: E402

SIZES = (10, 1000)


def counted(action) -> tuple[int, int]:
    with RequestCounter() as counter:
        response = action()
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        assert response.status_code in (200, 302), response.status_code
    return counter.requests, counter.statements


def form_of(client, url) -> dict:
    response = client.get(url)
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value not in (None, False):
                data[form.add_prefix(name)] = getattr(value, "pk", value)
    return data


def measure(size: int, coach) -> dict[str, tuple[int, int]]:
    for model in (Message, Task, CheckIn, Summary, Session):
        model.objects.all().delete()
    members = make_members(coach, size)
    client = Client()
    client.force_login(coach)
    first = members[0]
    figures = {
        "members list": counted(lambda: client.get(members_url())),
        "members list, filtered, page 2": counted(
            lambda: client.get(members_url(unanswered=1, blocked="no", q="member", p=2 if size > 50 else 1))),
        "member page": counted(lambda: client.get(member_url(first))),
        "dashboard (admin index)": counted(lambda: client.get("/admin/")),
    }
    data = form_of(client, member_url(first)) | {"summary_text": f"Rewritten by the coach ({size})."}
    figures["member page: save summary + tasks"] = counted(lambda: client.post(member_url(first), data))
    figures["preview a reply"] = counted(
        lambda: client.post(member_url(first, "preview"), {"report": "done: x\nnext: y"}))
    page = [m.pk for m in members[:50]]
    figures["action: pause 50 members"] = counted(lambda: client.post(members_url(), {
        "action": "pause", "index": 0, helpers.ACTION_CHECKBOX_NAME: page}))
    figures[f"export CSV of all {size} members"] = counted(lambda: client.post(members_url(), {
        "action": "export_csv", "index": 0, "select_across": "1", helpers.ACTION_CHECKBOX_NAME: page[:1]}))
    return figures


def main() -> None:
    setup_test_environment()
    call_command("migrate", verbosity=0)
    call_command("migrate", database="d1", verbosity=0)
    coach = make_user("bench-coach")
    results = {size: measure(size, coach) for size in SIZES}
    names = list(results[SIZES[0]])
    width = max(len(n.replace(str(SIZES[0]), "N")) for n in names)
    print(f"{'page':<{width}}  " + "  ".join(f"{f'{s} members: requests / statements':>34}" for s in SIZES))
    for i, name in enumerate(names):
        label = name.replace(str(SIZES[0]), "N")
        cells = []
        for size in SIZES:
            requests, statements = list(results[size].values())[i]
            cells.append(f"{requests:>15} / {statements:<16}")
        print(f"{label:<{width}}  " + "  ".join(cells))
    print(json.dumps({
        str(size): {name.replace(str(size), "N"): {"requests": r, "statements_one_request_each": s}
                    for name, (r, s) in figures.items()}
        for size, figures in results.items()
    }))


if __name__ == "__main__":
    main()
