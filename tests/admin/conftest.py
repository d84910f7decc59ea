"""The admin's test cast: two coaches (Ana, Ben), a superuser (Root), staff without the role (Sam).

Members are made with bulk_create (one D1 request for a thousand); each coach's first
member gets a conversation, tasks and two weeks of check-ins so every column has data.
"""

import datetime
import itertools

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from sessions_app.admin.roles import coaches_group
from sessions_app.ids import new_id
from sessions_app.models import CheckIn, Message, Session, Summary, Task

PASSWORD = "a-test-password-1"
D1_DATABASES = ["default", "d1"]
_discord_ids = itertools.count(10**17)


def make_user(username: str, *, coach: bool = True, superuser: bool = False) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, is_superuser=superuser)
    if coach:
        user.groups.add(coaches_group())
    return user


@pytest.fixture
def ana(db) -> User:
    """A coach."""
    return make_user("ana")


@pytest.fixture
def ben(db) -> User:
    """Another coach."""
    return make_user("ben")


@pytest.fixture
def root(db) -> User:
    """A superuser: sees every member."""
    return make_user("root", coach=False, superuser=True)


@pytest.fixture
def sam(db) -> User:
    """Staff without the coach role."""
    return make_user("sam", coach=False)


def make_members(coach: User | None, n: int, prefix: str = "member", **fields) -> list[Session]:
    """n members of this coach in one bulk_create; the first one gets a full history."""
    now = timezone.now()
    sessions = [
        Session(id=new_id(), user_id=str(next(_discord_ids)),
                display_name=f"{prefix} {i:04d}", coach_user_id=coach.pk if coach else None,
                timezone="Asia/Tokyo", work_days="1234567", work_start=datetime.time(0, 0),
                work_end=datetime.time(23, 59), last_reply_at=now - datetime.timedelta(hours=i % 50),
                unanswered=i % 7, **fields)
        for i in range(n)
    ]
    Session.objects.bulk_create(sessions)
    if sessions:
        give_history(sessions[0], now)
    return sessions


def give_history(session: Session, now) -> None:
    messages, checkins = [], []
    for day in range(14):
        at = now - datetime.timedelta(days=day, hours=1)
        state = CheckIn.State.MISSED if day % 4 == 3 else CheckIn.State.ANSWERED
        checkins.append(CheckIn(id=new_id(), session=session, state=state, due_at=at, prompt="How is it going?"))
    for i in range(60):
        at = now - datetime.timedelta(minutes=20 * (60 - i))
        role, kind, text = [
            ("coach", "checkin", "How is it going?"),
            ("member", "report", f"done: step {i}\nnext: step {i + 1}"),
            ("coach", "reply", f"Nice, step {i} is done.\n\n**What is next?**"),
        ][i % 3]
        messages.append(Message(id=new_id(), session=session, role=role, kind=kind, content=text, created_at=at))
    Message.objects.bulk_create(messages)
    CheckIn.objects.bulk_create(checkins)
    Task.objects.bulk_create([
        Task(id=new_id(), session=session, title="login page", status=Task.Status.DOING),
        Task(id=new_id(), session=session, title="deploy", status=Task.Status.BLOCKED, blocker="waiting for keys"),
        Task(id=new_id(), session=session, title="write tests", status=Task.Status.DONE, done_at=now),
    ])
    Summary.objects.bulk_create([Summary(session=session, summary="Working on the login page.", version=3)])


def members_url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("admin:sessions_app_session_changelist") + (f"?{query}" if query else "")


def member_url(session: Session, view: str = "change") -> str:
    return reverse(f"admin:sessions_app_session_{view}", args=[session.pk])


@pytest.fixture
def as_user(client):
    """Log the test client in as a user: ``as_user(ana)``."""
    def login(user: User):
        client.force_login(user)
        return client
    return login
