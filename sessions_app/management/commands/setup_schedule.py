"""Create or update the django-q2 schedule that runs the check-in dispatcher (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NAME = "coachbot: check-ins"
FUNC = "sessions_app.dispatch.dispatch_checkins"
DEFAULT_CRON = "*/20 * * * *"


class Command(BaseCommand):
    help = "Create or update the task-queue schedule that sends check-ins (settings.CHECKIN_CRON)."

    def handle(self, *args, **options):
        from croniter import croniter
        from django_q.models import Schedule

        cron = getattr(settings, "CHECKIN_CRON", DEFAULT_CRON)
        if not croniter.is_valid(cron):
            raise CommandError(f"CHECKIN_CRON {cron!r} is not a valid cron expression (e.g. '*/20 * * * *')")
        defaults = {"func": FUNC, "schedule_type": Schedule.CRON, "cron": cron, "minutes": None, "repeats": -1}
        schedule, created = Schedule.objects.update_or_create(name=NAME, defaults=defaults)
        self.stdout.write(f"{'Created' if created else 'Updated'} schedule {NAME!r}: {FUNC} cron {schedule.cron}")
