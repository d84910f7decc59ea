"""Run one check-in tick by hand, with a progress bar; ``--dry-run`` only says what it would do."""

from collections import Counter

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from coachbot.d1 import RequestCounter, fetch_many
from sessions_app import dispatch, schedule
from sessions_app.management.progress import ProgressBar
from sessions_app.models import CheckIn, Session


class Command(BaseCommand):
    help = "Send the check-ins due now (one dispatcher tick); --dry-run lists who would get one and why not."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Read only: send and change nothing.")
        parser.add_argument("--spread", type=float, default=None,
                            help="Seconds to spread the sends over (default: CHECKIN_SPREAD_SECONDS).")

    def handle(self, *args, dry_run=False, spread=None, **options):
        now = timezone.now()
        with RequestCounter() as counter:
            decisions = self.evaluate(now)
            if not dry_run:
                tick = dispatch.claim(now)
                bar = ProgressBar(len(tick.claimed), self.stderr._out)
                dispatch.send(tick, spread=spread, on_outcome=bar.step)
                dispatch.publish_after_tick(tick)
        skipped = Counter(d.reason for _s, d in decisions if not d.due)
        due = [(s, d) for s, d in decisions if d.due]
        if dry_run:
            for session, decision in due:
                self.stdout.write(f"would send {decision.kind} to {session} ({session.user_id})")
        else:
            for outcome in tick.outcomes:
                detail = f": {outcome.error}" if outcome.error else ""
                self.stdout.write(f"{outcome.result} {outcome.checkin_id} (member {outcome.session_id}){detail}")
            if tick.stopped:
                self.stderr.write(f"stopped early: {tick.stopped}")
        for reason, n in skipped.most_common():
            self.stdout.write(f"skipped {n}: {reason}")
        verb = "would send" if dry_run else "sent"
        sent = len(due) if dry_run else tick.count("sent")
        self.stdout.write(f"{verb} {sent}; skipped {sum(skipped.values())}; {counter.requests} D1/KV requests")

    def evaluate(self, now):
        """Every member the schedule might ask, with its decision: one D1 request."""
        sessions, open_checkins = fetch_many(
            Session.objects.filter(Q(status="active") | Q(status="paused")),
            CheckIn.objects.filter(state=CheckIn.State.DUE).only("id", "session_id", "state"),
        )
        waiting = {c.session_id: c for c in open_checkins}
        return [(s, schedule.decide(s, now, waiting.get(s.pk))) for s in sessions]
