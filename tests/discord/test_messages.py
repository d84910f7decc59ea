"""The check-in DM as Discord receives it."""

from discord_app.messages import checkin_payload, parse_custom_id
from sessions_app.ids import new_id


def test_a_checkin_carries_a_nonce_so_a_resend_cannot_post_it_twice():
    first, second = new_id(), new_id()
    a = checkin_payload(checkin_id=first, question="How is it going?", summary="", locale="en")
    b = checkin_payload(checkin_id=second, question="How is it going?", summary="", locale="en")
    assert a["enforce_nonce"] is True
    assert len(a["nonce"]) <= 25 and a["nonce"] != b["nonce"]
    assert a["nonce"] == checkin_payload(checkin_id=first, question="x", summary="", locale="ja")["nonce"]


def test_the_buttons_carry_the_checkin_id_and_nothing_else():
    checkin = new_id()
    payload = checkin_payload(checkin_id=checkin, question="Q", summary="Focus: API", locale="en")
    ids = [button["custom_id"] for button in payload["components"][0]["components"]]
    assert [parse_custom_id(i) for i in ids] == [(a, checkin) for a in ("report", "ontrack", "snooze", "dayoff")]
    assert payload["allowed_mentions"] == {"parse": []}


def test_a_reminder_is_quiet():
    payload = checkin_payload(checkin_id=new_id(), question="Q", summary="", locale="en", reminder=True)
    assert payload["flags"] & 4096
