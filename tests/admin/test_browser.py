"""A coach's afternoon in a real browser: Debian's chromium, headless, against a live server."""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from sessions_app import publish
from tests.admin.conftest import PASSWORD, make_members, make_user, member_url, members_url

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing: apt-get install chromium"),
    pytest.mark.django_db(transaction=True, databases=["default", "d1"]),
]


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes around it are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


def log_in(browser, live_server, username: str, locale: str = "en-GB"):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale=locale)
    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")
    return page


def test_a_coach_reviews_a_member_edits_the_summary_and_previews_the_coach(browser, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    ana, ben = make_user("ana"), make_user("ben")
    members = make_members(ana, 30)
    others = make_members(ben, 2, "ben's")
    page = log_in(browser, live_server, "ana")

    page.goto(live_server.url + members_url())
    assert page.locator("#result_list tbody tr").count() == 30
    assert page.locator("text=ben's").count() == 0
    page.screenshot(path=ARTIFACTS / "members-list.png", full_page=True)

    page.click("text=member 0000")
    assert page.locator("[data-kv-state]").get_attribute("data-kv-state") == publish.MISSING
    page.fill("#id_summary_text", "Login page nearly done; deploy waits for keys from ops.")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert page.locator("[data-kv-state]").get_attribute("data-kv-state") == publish.IN_SYNC
    assert page.input_value("#id_summary_text") == "Login page nearly done; deploy waits for keys from ops."

    page.fill("#cb-preview-form textarea", "done: login page\nnext: deploy\nblocked: keys from ops")
    page.click("#cb-preview-form button")
    reply = page.wait_for_selector("[data-testid=preview-reply]")
    assert reply.inner_text().strip()
    page.screenshot(path=ARTIFACTS / "member-page.png", full_page=True)

    response = page.goto(live_server.url + member_url(others[0]))
    assert response.status == 404
    assert members


def test_the_members_list_reads_in_japanese(browser, live_server):
    ARTIFACTS.mkdir(exist_ok=True)
    ana = make_user("ana")
    make_members(ana, 12)
    page = log_in(browser, live_server, "ana", locale="ja-JP")

    page.goto(live_server.url + members_url())
    page.screenshot(path=ARTIFACTS / "members-list-ja.png", full_page=True)
    assert page.locator("text=メンバー").count() > 0
    page.goto(live_server.url + "/admin/")
    page.screenshot(path=ARTIFACTS / "dashboard-ja.png", full_page=True)


def test_staff_without_the_coach_role_get_no_member_page(browser, live_server):
    make_user("sam", coach=False)
    ana = make_user("ana")
    member = make_members(ana, 1)[0]
    page = log_in(browser, live_server, "sam")

    assert page.goto(live_server.url + member_url(member)).status in (403, 404)
    assert os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] == "true"
