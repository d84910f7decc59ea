"""Every admin page spends the same few D1 requests for 10 members as for 1,000."""

import pytest

from coachbot.d1 import RequestCounter
from tests.admin.conftest import D1_DATABASES, make_members, member_url, members_url

pytestmark = pytest.mark.django_db(databases=D1_DATABASES)

LIST_MAX, PAGE_MAX = 3, 4


def requests_for(client, url, method="get", **data) -> tuple[int, object]:
    with RequestCounter() as counter:
        response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    return counter.requests, response


@pytest.mark.parametrize("members", [10, 1000])
def test_the_members_list_costs_one_request_whatever_the_number_of_members(as_user, ana, members):
    make_members(ana, members)
    client = as_user(ana)

    requests, response = requests_for(client, members_url())

    assert response.status_code == 200
    assert requests == 1 <= LIST_MAX
    assert len(response.context["cl"].result_list) == min(members, 50)
    assert response.context["cl"].result_count == members


@pytest.mark.parametrize("members", [10, 1000])
def test_a_filtered_searched_later_page_costs_the_same(as_user, root, ana, members):
    make_members(ana, members)
    client = as_user(root)

    requests, response = requests_for(
        client, members_url(coach=ana.pk, unanswered=1, blocked="no", state="active", q="member", p=2 if members > 100 else 1))

    assert response.status_code == 200
    assert requests == 1


@pytest.mark.parametrize("members", [10, 1000])
def test_the_member_page_costs_one_d1_request_and_one_kv_read_whatever_the_history(as_user, ana, members):
    first = make_members(ana, members)[0]
    client = as_user(ana)

    requests, response = requests_for(client, member_url(first))

    assert response.status_code == 200
    assert requests == 2 <= PAGE_MAX
    assert response.context["page"].log_total == 60


@pytest.mark.parametrize("members", [10, 1000])
def test_the_dashboard_costs_one_request(as_user, root, ana, members):
    make_members(ana, members)
    make_members(None, 3, prefix="new")

    requests, response = requests_for(as_user(root), "/admin/")

    assert response.status_code == 200
    assert requests == 1
    assert len(response.context["attention"].unassigned) == 3
