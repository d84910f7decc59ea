"""Republish members' summaries, next prompts and statuses to Workers KV, in bulk.

    python manage.py kv_publish            # active and paused members
    python manage.py kv_publish --all      # every member, stopped and unreachable too

Reads members from D1 one page of 500 at a time (members and their summaries in one
request per page) and hands the entries to the KV cache, which sends them in bulk
requests of up to 10,000 keys.
"""

from django.core.management.base import BaseCommand

from coachbot.d1 import RequestCounter, fetch_many
from sessions_app import publish
from sessions_app.management.progress import ProgressBar
from sessions_app.models import Session, Summary

PAGE = 500


class Command(BaseCommand):
    help = "Republish every member's KV entries (summary, next prompt, status) in bulk."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="include stopped and unreachable members")

    def handle(self, *args, **options):
        if publish._kv() is None:
            self.stderr.write("KV is not configured (CACHES['kv']): nothing to publish.")
            return
        members = Session.objects.order_by("pk")
        if not options["all"]:
            members = members.filter(status__in=[Session.Status.ACTIVE, Session.Status.PAUSED])
        published, last = 0, ""
        progress = ProgressBar(None, self.stderr._out, label="members published")
        with RequestCounter() as counter:
            while True:
                page_ids = members.filter(pk__gt=last).values_list("pk", flat=True)[:PAGE]
                sessions, summaries = fetch_many(
                    members.filter(pk__gt=last)[:PAGE],
                    Summary.objects.filter(session_id__in=page_ids),
                )
                if not sessions:
                    break
                by_session = {s.session_id: s for s in summaries}
                page_published = publish.publish_all((s, by_session.get(s.pk)) for s in sessions)
                published += page_published
                progress.step(n=page_published // 3)
                last = sessions[-1].pk
            publish._kv().flush()
        progress.close()
        self.stdout.write(
            f"published {published} entries for {published // 3} members "
            f"in {counter.requests} requests ({counter.kv_requests} to KV)"
        )
