"""Play one report through the coach for a made-up member and print the reply.

    python manage.py coach_preview --report "done: x\nnext: y" --locale ja --timezone Asia/Tokyo
    python manage.py coach_preview --member 400000000000000001 --report "blocked: review"

With --member (a Discord user id or a session id) the member's real context is read from
D1 in one request; nothing is written or sent.

A literal "\n" in --report is a line break, so the whole report fits in one shell argument.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sessions_app.coach import Coach, Context, Report, get_coach, parse_report, summarise


class Command(BaseCommand):
    help = "Play a report through the coach for a made-up member and print the reply."

    def add_arguments(self, parser):
        parser.add_argument("--report", required=True, help='e.g. "done: x\\nnext: y"')
        parser.add_argument("--locale", default="en", help='Discord locale, e.g. "ja"')
        parser.add_argument("--timezone", default=settings.TIME_ZONE, help="IANA, e.g. Asia/Tokyo")
        parser.add_argument("--summary", default="", help="the rolling summary so far")
        parser.add_argument("--member", help="a Discord user id or session id: use that member's context")

    def handle(self, *args, **options) -> None:
        if options["member"]:
            context = member_context(options["member"])
        else:
            context = made_up_context(options["locale"], options["timezone"], options["summary"])
        report = parse_report(options["report"].replace("\\n", "\n"))
        self.stdout.write(preview(context, report))


def member_context(member: str) -> Context:
    """A real member's context, read in one D1 request."""
    from sessions_app.coaching import build_context, load_context

    now = timezone.now()
    loaded = load_context(user_id=member, now=now) or load_context(session_id=member, now=now)
    if loaded is None:
        raise CommandError(f"no member with Discord id or session id {member!r}")
    return build_context(loaded, now)


def made_up_context(locale: str, timezone_name: str, summary: str) -> Context:
    """A member with no history: the seam where `--member ID` will load a real one instead."""
    return Context(
        member_name="Sam",
        locale=locale,
        timezone=timezone_name,
        now=timezone.now(),
        summary=summary,
    )


def preview(context: Context, report: Report, coach: Coach | None = None) -> str:
    """The reply to report as Discord would show it, then what the domain would store."""
    reply = (coach or get_coach()).reply(context, report)
    updates = "\n".join(
        f"  {u.kind} {u.task_id or '(new)'} {u.title}" + (f" — {u.blocker}" if u.blocker else "")
        for u in reply.task_updates
    )
    return "\n".join(
        [
            reply.render(),
            "",
            f"--- source: {reply.source}, advice_key: {reply.advice_key}",
            f"--- task updates:\n{updates or '  (none)'}",
            f"--- next summary:\n{summarise(context.summary, report, context.tasks)}",
        ]
    )
