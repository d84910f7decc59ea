"""Create or update the django-q2 schedule that runs the check-in dispatcher (idempotent)."""

import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NAME = "coachbot: check-ins"
FUNC = "sessions_app.dispatch.dispatch_checkins"
DEFAULT_CRON = "*/20 * * * *"
_EVERY_N_MINUTES = re.compile(r"^\*/(\d+) \* \* \* \*$")


class Command(BaseCommand):
    help = "Create or update the task-queue schedule that sends check-ins (settings.CHECKIN_CRON)."

    def handle(self, *args, **options):
        from django_q.conf import croniter
        from django_q.models import Schedule

        cron = getattr(settings, "CHECKIN_CRON", DEFAULT_CRON)
        if croniter is not None:
            defaults = {"func": FUNC, "schedule_type": Schedule.CRON, "cron": cron, "minutes": None}
        else:
            # django-q2 needs the croniter package for cron expressions; "*/N * * * *" is
            # the same as every N minutes, which it can do without.
            every = _EVERY_N_MINUTES.match(cron)
            if not every:
                raise CommandError(f"CHECKIN_CRON {cron!r} needs the croniter package (pip install croniter)")
            defaults = {"func": FUNC, "schedule_type": Schedule.MINUTES, "minutes": int(every[1]), "cron": None}
        schedule, created = Schedule.objects.update_or_create(name=NAME, defaults=defaults)
        when = f"cron {schedule.cron}" if schedule.cron else f"every {schedule.minutes} minutes"
        self.stdout.write(f"{'Created' if created else 'Updated'} schedule {NAME!r}: {FUNC} {when}")
