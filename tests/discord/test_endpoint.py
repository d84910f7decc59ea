"""The endpoint: only Discord's signed, fresh, well-formed requests get through."""

import json
import time

import pytest

from sessions_app.models import Message, Session, Task

from .conftest import URL, load, sign

pytestmark = pytest.mark.django_db(databases=["default", "d1"])


def rows() -> int:
    return Session.objects.count() + Message.objects.count() + Task.objects.count()


def test_it_answers_a_ping_with_a_pong(post):
    response = post("ping")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"type": 1}


@pytest.mark.parametrize("path", [URL, URL + "/"])
def test_it_is_served_with_and_without_the_slash(web, signing_key, discord, path):
    body = json.dumps(load("ping")).encode()
    response = web.post(path, data=body, content_type="application/json",
                           headers=sign(signing_key, body))
    assert response.status_code == 200


def test_it_refuses_get(web, discord):
    assert web.get(URL).status_code == 405


def forged(key, body):
    headers = sign(key, body)
    flipped = "0" if headers["X-Signature-Ed25519"][0] != "0" else "1"
    headers["X-Signature-Ed25519"] = flipped + headers["X-Signature-Ed25519"][1:]
    return headers


def stale(key, body):
    return sign(key, body, str(int(time.time()) - 301))


def future(key, body):
    return sign(key, body, str(int(time.time()) + 301))


def other_body(key, body):
    return sign(key, body + b" ")


def garbled(key, body):
    return {"X-Signature-Ed25519": "zz" * 64, "X-Signature-Timestamp": "yesterday"}


def short_signature(key, body):
    return sign(key, body) | {"X-Signature-Ed25519": "ab" * 10}


def huge_timestamp(key, body):
    return sign(key, body, "9" * 5000)


def unsigned(key, body):
    return {}


def no_timestamp(key, body):
    return {"X-Signature-Ed25519": sign(key, body)["X-Signature-Ed25519"]}


@pytest.mark.parametrize("headers", [forged, stale, future, other_body, garbled, short_signature,
                                     huge_timestamp, unsigned, no_timestamp])
def test_it_rejects_a_request_discord_did_not_sign_just_now(web, signing_key, discord, aki,
                                                              headers):
    body = json.dumps(load("modal_report_from_checkin")).encode()
    before = rows()
    response = web.post(URL, data=body, content_type="application/json",
                           headers=headers(signing_key, body))
    assert response.status_code == 401
    assert rows() == before
    assert discord.requests == []


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b'"ping"', b"\xff\xfe", b"[" * 5000,
                                  b'{"type": 1e999}', b'{"type": "1"}', b'{"type": true}',
                                  b'{"type": 99}', b'{"type": 2}', b'{"type": 2, "id": 5}',
                                  b'{"id": "1" }'])
def test_it_answers_400_to_signed_garbage(web, signing_key, discord, body):
    response = web.post(URL, data=body, content_type="application/json",
                           headers=sign(signing_key, body))
    assert response.status_code == 400
    assert rows() == 0


def test_it_answers_413_to_a_huge_body(web, signing_key, discord):
    body = json.dumps({"type": 1, "padding": "x" * 70_000}).encode()
    response = web.post(URL, data=body, content_type="application/json",
                           headers=sign(signing_key, body))
    assert response.status_code == 413


def test_an_unknown_command_gets_a_polite_ephemeral_answer(post):
    payload = load("command_status_dm")
    payload["data"]["name"] = "dance"
    response = post(payload)
    assert response.status_code == 200
    assert response.json()["data"]["flags"] == 64


def test_a_button_of_another_app_version_gets_a_polite_answer(post):
    payload = load("component_report")
    payload["data"]["custom_id"] = "legacy:thing"
    assert post(payload).json()["type"] == 4


@pytest.mark.parametrize("key", ["", "not-hex", "ab" * 16])
def test_without_a_valid_public_key_it_answers_503_not_500(web, settings, key):
    settings.DISCORD_PUBLIC_KEY = key
    response = web.post("/discord/interactions", data=b'{"type": 1}', content_type="application/json",
                        HTTP_X_SIGNATURE_ED25519="00" * 64, HTTP_X_SIGNATURE_TIMESTAMP="1")
    assert response.status_code == 503
