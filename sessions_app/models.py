"""The coaching data, kept in D1 (see coachbot.routers): the seed's schema, extended.

Tables keep the seed's names (sessions, messages, summaries) plus tasks and checkins.
Keys are app-made ULIDs (sessions_app.ids) and Discord ids are text: D1 carries
numbers as JSON doubles, which round snowflakes.
"""

import datetime

from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from sessions_app.ids import new_id


def _id_field():
    return models.CharField(
        primary_key=True, max_length=26, default=new_id, editable=False,
        help_text=_("Sortable id made by the app (a ULID)."),
    )


class Session(models.Model):
    """One member's coaching relationship: who, where, when to ask, and how it is going."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        STOPPED = "stopped", _("stopped")
        UNREACHABLE = "unreachable", _("unreachable")

    id = _id_field()
    platform = models.CharField(max_length=16, default="discord", help_text=_("Where the member is reached."))
    user_id = models.CharField(max_length=32, help_text=_("The member's Discord user id (a snowflake, as text)."))
    guild_id = models.CharField(max_length=32, blank=True, help_text=_("The Discord server the member started from."))
    channel_id = models.CharField(max_length=32, blank=True, help_text=_("The DM channel id, cached so it is opened once."))
    display_name = models.CharField(max_length=100, help_text=_("The member's name as Discord showed it."))
    locale = models.CharField(max_length=10, default="en", help_text=_("Discord locale; 'ja' gets Japanese."))
    coach_user_id = models.IntegerField(
        null=True, blank=True, db_index=True,
        help_text=_("The coach responsible: a user id of the web admin (no cross-database key)."),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE,
                              help_text=_("Whether check-ins are sent."))
    status_reason = models.CharField(max_length=200, blank=True,
                                     help_text=_("Why the member is paused, stopped or unreachable."))
    timezone = models.CharField(max_length=64, default="UTC", help_text=_("IANA time zone of the member."))
    work_start = models.TimeField(default=datetime.time(9, 0), help_text=_("Local time check-ins may start."))
    work_end = models.TimeField(default=datetime.time(18, 0), help_text=_("Local time check-ins stop."))
    work_days = models.CharField(max_length=7, default="12345",
                                 help_text=_("ISO weekdays check-ins are sent on (1 = Monday ... 7 = Sunday)."))
    interval_minutes = models.PositiveSmallIntegerField(default=20, help_text=_("Minutes between check-ins."))
    snoozed_until = models.DateTimeField(null=True, blank=True, help_text=_("No check-ins before this time."))
    paused_until = models.DateTimeField(null=True, blank=True,
                                        help_text=_("A pause that ends by itself (e.g. 'done for today')."))
    last_prompt_at = models.DateTimeField(null=True, blank=True, help_text=_("When the last check-in was sent."))
    last_reply_at = models.DateTimeField(null=True, blank=True, help_text=_("When the member last reported."))
    unanswered = models.PositiveSmallIntegerField(default=0, help_text=_("Check-ins in a row without an answer."))
    next_prompt = models.TextField(blank=True, help_text=_("The question the next check-in asks (the coach's last question)."))
    last_advice_key = models.CharField(max_length=40, blank=True,
                                       help_text=_("The last advice given, so it is not repeated."))
    version = models.PositiveIntegerField(default=1, help_text=_("Incremented on every change (compare-and-set, caches)."))
    created_at = models.DateTimeField(default=dj_timezone.now, help_text=_("When the member opted in."))
    updated_at = models.DateTimeField(default=dj_timezone.now, help_text=_("Last change."))

    class Meta:
        db_table = "sessions"
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [models.UniqueConstraint(fields=["platform", "user_id"], name="one_session_per_member")]
        indexes = [models.Index(fields=["status", "last_prompt_at"], name="sessions_due")]

    def __str__(self) -> str:
        return self.display_name or self.user_id


class Message(models.Model):
    """One line of the conversation: a check-in, a member's report, a coach reply or note."""

    class Role(models.TextChoices):
        MEMBER = "member", _("member")
        COACH = "coach", _("coach")

    class Kind(models.TextChoices):
        CHECKIN = "checkin", _("check-in")
        REPORT = "report", _("report")
        REPLY = "reply", _("reply")
        NOTE = "note", _("coach note")

    id = _id_field()
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages",
                                help_text=_("Whose conversation this is."))
    role = models.CharField(max_length=8, choices=Role.choices, help_text=_("Who wrote it."))
    kind = models.CharField(max_length=8, choices=Kind.choices, help_text=_("What it is."))
    content = models.TextField(help_text=_("The text."))
    # NULL, not "": messages without an interaction must not clash on the unique index.
    interaction_id = models.CharField(  # noqa: DJ001
        max_length=32, null=True, blank=True, unique=True,
        help_text=_("The Discord interaction that carried it: a replay never records twice."),
    )
    in_reply_to = models.CharField(max_length=26, blank=True, help_text=_("The report a reply answers."))
    author_user_id = models.IntegerField(null=True, blank=True, help_text=_("The admin user who wrote a note."))
    created_at = models.DateTimeField(default=dj_timezone.now, help_text=_("When it was written."))

    class Meta:
        db_table = "messages"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"], name="messages_session_time")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.content[:60]}"


class Summary(models.Model):
    """The rolling summary the coach builds on; coaches may edit it."""

    class Editor(models.TextChoices):
        BOT = "bot", _("the bot")
        COACH = "coach", _("a coach")

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True,
                                   related_name="summary", help_text=_("Whose summary."))
    summary = models.TextField(blank=True, help_text=_("The compressed story so far (at most 1,500 characters)."))
    version = models.PositiveIntegerField(default=1, help_text=_("Incremented on every edit; published with KV copies."))
    edited_by = models.CharField(max_length=8, choices=Editor.choices, default=Editor.BOT,
                                 help_text=_("Who wrote the current text."))
    editor_user_id = models.IntegerField(null=True, blank=True, help_text=_("The coach who last edited it."))
    updated_at = models.DateTimeField(default=dj_timezone.now, help_text=_("Last change."))

    class Meta:
        db_table = "summaries"
        verbose_name_plural = _("summaries")

    def __str__(self) -> str:
        return self.summary[:60]


class Task(models.Model):
    """A piece of the member's work: the "last task status" the coach builds on."""

    class Status(models.TextChoices):
        TODO = "todo", _("to do")
        DOING = "doing", _("doing")
        DONE = "done", _("done")
        BLOCKED = "blocked", _("blocked")

    id = _id_field()
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="tasks", help_text=_("Whose task."))
    title = models.CharField(max_length=200, help_text=_("What the task is."))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.TODO, help_text=_("Where it stands."))
    blocker = models.TextField(blank=True, help_text=_("What blocks it, when blocked."))
    created_at = models.DateTimeField(default=dj_timezone.now, help_text=_("When it was named."))
    updated_at = models.DateTimeField(default=dj_timezone.now, help_text=_("Last change."))
    done_at = models.DateTimeField(null=True, blank=True, help_text=_("When it was finished."))

    class Meta:
        db_table = "tasks"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "status"], name="tasks_session_status")]

    def __str__(self) -> str:
        return self.title


class CheckIn(models.Model):
    """One prompt to one member. The schedule's outbox: claimed, sent, then answered or missed."""

    class State(models.TextChoices):
        DUE = "due", _("due")
        SENT = "sent", _("sent")
        ANSWERED = "answered", _("answered")
        MISSED = "missed", _("missed")
        FAILED = "failed", _("failed")

    class Kind(models.TextChoices):
        PROMPT = "prompt", _("prompt")
        REMINDER = "reminder", _("reminder")
        NOTICE = "notice", _("pause notice")  # told once when check-ins pause for silence

    id = _id_field()
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="checkins", help_text=_("Who is asked."))
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PROMPT,
                            help_text=_("A prompt, the one gentle reminder after an unanswered prompt, or the pause notice."))
    state = models.CharField(max_length=8, choices=State.choices, default=State.DUE, help_text=_("Where it stands."))
    prompt = models.TextField(blank=True, help_text=_("The question sent."))
    due_at = models.DateTimeField(default=dj_timezone.now, help_text=_("When it was claimed to be sent."))
    sent_at = models.DateTimeField(null=True, blank=True, help_text=_("When Discord accepted it."))
    answered_at = models.DateTimeField(null=True, blank=True, help_text=_("When the member answered."))
    channel_id = models.CharField(max_length=32, blank=True, help_text=_("The DM channel it went to."))
    message_id = models.CharField(max_length=32, blank=True, help_text=_("The Discord message id, to disable its buttons later."))
    attempts = models.PositiveSmallIntegerField(default=0, help_text=_("Send attempts so far."))
    error = models.CharField(max_length=300, blank=True, help_text=_("The last send error."))
    claimed_by = models.CharField(max_length=40, blank=True, help_text=_("The dispatcher tick that claimed it."))
    claimed_at = models.DateTimeField(
        null=True, blank=True,
        help_text=_("When a dispatcher last took it to send; an old unsent claim is taken again."),
    )
    claim_key = models.CharField(  # noqa: DJ001 - NULL once settled, outside the partial unique index
        max_length=80, null=True, blank=True,
        help_text=_("The session state it was claimed from: two dispatchers can never claim the same turn."),
    )

    class Meta:
        db_table = "checkins"
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["claim_key"], condition=models.Q(claim_key__isnull=False),
                                    name="checkins_claim_once"),
        ]
        indexes = [
            models.Index(fields=["state", "due_at"], name="checkins_outbox"),
            models.Index(fields=["session", "due_at"], name="checkins_session_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.state} {self.due_at:%Y-%m-%d %H:%M}"
