"""Each coach sees and changes only their own members; staff without the role see none."""

import csv
import io

import pytest
from django.contrib.admin import helpers

from sessions_app.models import CheckIn, Message, Session
from tests.admin.conftest import D1_DATABASES, make_members, member_url, members_url

pytestmark = pytest.mark.django_db(databases=D1_DATABASES)


@pytest.fixture
def cast(ana, ben):
    """Three members of Ana's, two of Ben's, one without a coach."""
    return {"ana": make_members(ana, 3, "ana's"), "ben": make_members(ben, 2, "ben's"),
            "none": make_members(None, 1, "new")}


def action(client, name, members, **extra):
    data = {"action": name, "index": 0, helpers.ACTION_CHECKBOX_NAME: [m.pk for m in members], **extra}
    return client.post(members_url(), data)


def names(response) -> set[str]:
    return {s.display_name for s in response.context["cl"].result_list}


def test_a_coach_lists_only_their_own_members(as_user, ana, cast):
    assert names(as_user(ana).get(members_url())) == {m.display_name for m in cast["ana"]}


def test_a_superuser_lists_everyone_and_can_filter_the_unassigned(as_user, root, cast):
    client = as_user(root)

    assert len(names(client.get(members_url()))) == 6
    assert names(client.get(members_url(coach="none"))) == {"new 0000"}


@pytest.mark.parametrize("param", ["coach", "coach_user_id", "coach_user_id__exact"])
def test_a_coach_cannot_reach_another_coachs_members_through_the_query_string(as_user, ana, ben, cast, param):
    response = as_user(ana).get(members_url(**{param: ben.pk}), follow=True)

    assert b"ben&#x27;s" not in response.content and b"ben's" not in response.content


@pytest.mark.parametrize("view", ["change", "preview", "note", "republish", "history"])
def test_another_coachs_member_is_a_404_on_every_member_view(as_user, ana, cast, view):
    client = as_user(ana)
    url = member_url(cast["ben"][0], view)

    response = client.post(url, {"note": "x", "report": "done: x"}) if view in ("preview", "note", "republish") else client.get(url)

    assert response.status_code == 404
    assert not Message.objects.filter(kind="note").exists()


def test_an_unassigned_member_is_a_404_for_a_coach(as_user, ana, cast):
    assert as_user(ana).get(member_url(cast["none"][0])).status_code == 404


@pytest.mark.parametrize("name", ["pause", "stop", "send_checkin_now", "export_csv"])
def test_an_action_on_another_coachs_member_is_refused_whole(as_user, ana, cast, name):
    response = action(as_user(ana), name, [cast["ana"][0], cast["ben"][0]])

    assert response.status_code == 404
    assert set(Session.objects.values_list("status", flat=True)) == {"active"}
    assert not CheckIn.objects.filter(state="due").exists()


def test_the_export_holds_only_the_chosen_members(as_user, ana, cast):
    response = action(as_user(ana), "export_csv", cast["ana"])

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert {row[0] for row in rows[1:]} == {"ana's 0000"}
    assert len(rows) == 1 + 60  # the header and ana's first member's conversation


def test_staff_without_the_coach_role_see_nothing_of_members(as_user, sam, cast):
    client = as_user(sam)

    assert client.get(members_url()).status_code == 403
    assert client.get(member_url(cast["ana"][0])).status_code in (403, 404)
    assert client.post(member_url(cast["ana"][0], "preview"), {"report": "done: x"}).status_code == 403
    index = client.get("/admin/")
    assert b"Members needing attention" not in index.content and b"sessions_app" not in index.content


def test_the_dashboard_shows_a_coach_only_their_own_members(as_user, ana, cast):
    Session.objects.filter(pk__in=[cast["ana"][1].pk, cast["ben"][1].pk]).update(status="unreachable", status_reason="DMs closed")

    attention = as_user(ana).get("/admin/").context["attention"]

    assert [s.pk for s in attention.unreachable] == [cast["ana"][1].pk]
    assert attention.unassigned == []
    assert [t.title for t in attention.blocked] == ["deploy"]
